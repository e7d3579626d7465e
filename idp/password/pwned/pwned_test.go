package pwned

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/password"
)

func sha1Hex(pw string) string {
	s := sha1.Sum([]byte(pw))
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

// fakeHIBP speaks the range API: GET /range/{5 hex}, "SUFFIX:COUNT" lines,
// padded with count-0 lines when asked. It records every request line and
// header set it saw, so a test can check that nothing but the prefix left.
type fakeHIBP struct {
	mu       sync.Mutex
	requests []string // method, path, query and body of each request
	padding  []bool

	known  map[string]int // full SHA-1 (upper hex) → count
	pad    []string       // full SHA-1s answered with count 0 (padding)
	status int            // 0: 200
	body   string         // when set, the answer instead of the lines
	hang   chan struct{}  // when set, the handler waits on it (or the client)
}

func (f *fakeHIBP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body bytes.Buffer
	_, _ = body.ReadFrom(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.RequestURI()+" "+body.String())
	f.padding = append(f.padding, r.Header.Get("Add-Padding") == "true")
	f.mu.Unlock()
	if f.hang != nil {
		select {
		case <-f.hang:
		case <-r.Context().Done():
		}
		return
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	if f.body != "" {
		fmt.Fprint(w, f.body)
		return
	}
	prefix := strings.TrimPrefix(r.URL.Path, "/range/")
	for h, n := range f.known {
		if strings.HasPrefix(h, prefix) {
			fmt.Fprintf(w, "%s:%d\r\n", h[5:], n)
		}
	}
	for _, h := range f.pad {
		if strings.HasPrefix(h, prefix) {
			fmt.Fprintf(w, "%s:0\r\n", strings.ToLower(h[5:])) // case does not matter
		}
	}
	// Unrelated suffixes, as the real service sends hundreds.
	fmt.Fprint(w, "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:2\r\n")
}

func (f *fakeHIBP) seen() ([]string, []bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...), append([]bool(nil), f.padding...)
}

var onlyPrefix = regexp.MustCompile(`^GET /range/[0-9A-F]{5} $`)

func TestBreached(t *testing.T) {
	const hit, miss, padded = "hunter2-but-longer", "plinth-tuba-87-quasar", "padded-only-password"
	tests := []struct {
		name    string
		fake    *fakeHIBP
		pw      string
		want    bool
		wantErr string
	}{
		{"hit", &fakeHIBP{known: map[string]int{sha1Hex(hit): 12}}, hit, true, ""},
		{"miss", &fakeHIBP{known: map[string]int{sha1Hex(hit): 12}}, miss, false, ""},
		{"a padding line is no hit", &fakeHIBP{pad: []string{sha1Hex(padded)}}, padded, false, ""},
		{"500", &fakeHIBP{status: 500}, hit, false, "answered 500"},
		{"429", &fakeHIBP{status: 429}, hit, false, "answered 429"},
		{"not the range format", &fakeHIBP{body: "<html>hello</html>\n"}, hit, false, "not in the range format"},
		{"timeout", &fakeHIBP{hang: make(chan struct{})}, hit, false, "no answer within"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.fake)
			t.Cleanup(srv.Close)
			if tt.fake.hang != nil {
				t.Cleanup(func() { close(tt.fake.hang) })
			}
			c := &Client{BaseURL: srv.URL + "/", Timeout: 50 * time.Millisecond, HTTP: srv.Client()}
			got, err := c.Breached(context.Background(), tt.pw)
			if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Breached = %v, %v; want %v, error %q", got, err, tt.want, tt.wantErr)
			}
			h := sha1Hex(tt.pw)
			if err != nil && (strings.Contains(err.Error(), h[:5]) || strings.Contains(err.Error(), srv.URL)) {
				t.Fatalf("error %q names the prefix or the URL", err)
			}
			reqs, padding := tt.fake.seen()
			if len(reqs) != 1 || !onlyPrefix.MatchString(reqs[0]) || reqs[0] != "GET /range/"+h[:5]+" " || !padding[0] {
				t.Fatalf("the service saw %q (padding %v); want one GET of /range/%s with Add-Padding", reqs, padding, h[:5])
			}
		})
	}
}

// TestCheckerFailsOpen drives password.Checker through this client against
// a service that is down or slow: the password is accepted, a warning with
// the detail is logged, and neither the password nor the prefix is in it.
func TestCheckerFailsOpen(t *testing.T) {
	const pw = "plinth-tuba-87-quasar"
	for _, tc := range []struct {
		name   string
		fake   *fakeHIBP
		detail string
	}{
		{"500", &fakeHIBP{status: 500}, "answered 500 Internal Server Error"},
		{"slow", &fakeHIBP{hang: make(chan struct{})}, "no answer within 50ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.fake)
			t.Cleanup(srv.Close)
			if tc.fake.hang != nil {
				t.Cleanup(func() { close(tc.fake.hang) })
			}
			var logs bytes.Buffer
			c := &password.Checker{Breach: &Client{BaseURL: srv.URL, Timeout: 50 * time.Millisecond},
				Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			if err := c.Check(context.Background(), password.Policy{BreachCheck: true}, pw); err != nil {
				t.Fatalf("Check with the service %s = %v; want nil (fail open)", tc.name, err)
			}
			l := logs.String()
			if !strings.Contains(l, "level=WARN") || !strings.Contains(l, tc.detail) {
				t.Fatalf("log %q; want a warning with %q", l, tc.detail)
			}
			if strings.Contains(l, pw) || strings.Contains(l, sha1Hex(pw)[:5]) {
				t.Fatalf("log %q holds the password or its hash prefix", l)
			}
		})
	}
}

// TestCheckerBreachedEndToEnd: a hit through the real client is refused
// with the breached rule; a miss passes.
func TestCheckerBreachedEndToEnd(t *testing.T) {
	const hit, miss = "hunter2-but-longer", "plinth-tuba-87-quasar"
	fake := &fakeHIBP{known: map[string]int{sha1Hex(hit): 3}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	c := &password.Checker{Breach: &Client{BaseURL: srv.URL}, Logger: slog.New(slog.DiscardHandler)}
	p := password.Policy{BreachCheck: true}
	err := c.Check(context.Background(), p, hit)
	if pe, ok := err.(*password.PolicyError); !ok || pe.Rule != password.RuleBreached || !strings.Contains(pe.Message, "data breach") {
		t.Fatalf("Check(breached) = %v; want the breached rule", err)
	}
	if err := c.Check(context.Background(), p, miss); err != nil {
		t.Fatalf("Check(not breached) = %v", err)
	}
	reqs, _ := fake.seen()
	for _, r := range reqs {
		if !onlyPrefix.MatchString(r) {
			t.Fatalf("the service saw %q; want only GET /range/{5 hex}", r)
		}
	}
}

func TestBadBaseURL(t *testing.T) {
	if _, err := (&Client{BaseURL: "http://[::1"}).Breached(context.Background(), "x"); err == nil {
		t.Fatal("a malformed base URL gave no error")
	}
}

func FuzzScan(f *testing.F) {
	f.Add("0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n", "0018A45C4D1DEF81644B54AB7F969B88D65")
	f.Add(":\n::\n", "")
	f.Fuzz(func(t *testing.T, body, suffix string) {
		_, _ = scan(strings.NewReader(body), suffix)
	})
}
