package httpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestReadyz(t *testing.T) {
	errDB := errors.New("database gone: dial tcp 10.0.0.5:5432: connection refused")
	tests := []struct {
		name       string
		ready      func(ctx context.Context) error
		after      func(time.Duration) <-chan time.Time
		draining   bool
		wantStatus int
		wantLog    string // substring of the warn log line; "" means no warn line
	}{
		{name: "no check", wantStatus: 200},
		{name: "ready", ready: func(context.Context) error { return nil }, wantStatus: 200},
		{
			name:       "database gone",
			ready:      func(context.Context) error { return fmt.Errorf("storage ping: %w", errDB) },
			wantStatus: 503,
			wantLog:    "database gone",
		},
		{
			name: "check ignores its deadline",
			ready: func(ctx context.Context) error {
				<-ctx.Done() // only returns once the probe has given up
				return nil
			},
			after: func(time.Duration) <-chan time.Time {
				c := make(chan time.Time, 1)
				c <- time.Now()
				return c
			},
			wantStatus: 503,
			wantLog:    "timed out",
		},
		{
			name:       "check panics",
			ready:      func(context.Context) error { panic("driver bug") },
			wantStatus: 503,
			wantLog:    "driver bug",
		},
		{
			name:       "draining",
			ready:      func(context.Context) error { return nil },
			draining:   true,
			wantStatus: 503,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := newTestServer(t, Options{Ready: tt.ready, After: tt.after})
			s.draining.Store(tt.draining)
			w := serve(s, httptest.NewRequest("GET", "/readyz", nil))
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			body := w.Body.String()
			if len(body) > 32 || strings.Contains(body, "database") || strings.Contains(body, "driver") {
				t.Errorf("body %q leaks detail", body)
			}
			warned := strings.Contains(logs.String(), `"level":"WARN"`)
			if tt.wantLog == "" && warned {
				t.Errorf("unexpected warn log: %s", logs)
			}
			if tt.wantLog != "" && (!warned || !strings.Contains(logs.String(), tt.wantLog)) {
				t.Errorf("log lacks warn line with %q: %s", tt.wantLog, logs)
			}
		})
	}
}

func TestReadyzRecovers(t *testing.T) {
	var current atomic.Pointer[error]
	setErr := func(err error) { current.Store(&err) }
	setErr(nil)
	s, _ := newTestServer(t, Options{Ready: func(context.Context) error { return *current.Load() }})
	steps := []struct {
		err  error
		want int
	}{
		{nil, 200},
		{fmt.Errorf("ping: %w", errors.New("database gone")), 503},
		{nil, 200},
	}
	for i, st := range steps {
		setErr(st.err)
		if w := serve(s, httptest.NewRequest("GET", "/readyz", nil)); w.Code != st.want {
			t.Fatalf("step %d: status = %d, want %d", i, w.Code, st.want)
		}
	}
}

func TestHealthz(t *testing.T) {
	s, _ := newTestServer(t, Options{Ready: func(context.Context) error { return errors.New("db down") }})
	w := serve(s, httptest.NewRequest("GET", "/healthz", nil))
	if w.Code != 200 || w.Body.String() != "ok" {
		t.Fatalf("healthz = %d %q, want 200 \"ok\"", w.Code, w.Body.String())
	}
}

func TestSecurityHeaders(t *testing.T) {
	const customCSP = "default-src 'none'; frame-ancestors 'none'"
	tests := []struct {
		name       string
		https      bool
		method     string
		path       string
		wantStatus int
		wantCSP    string
		wantCache  string
	}{
		{name: "healthz", method: "GET", path: "/healthz", wantStatus: 200},
		{name: "not found", method: "GET", path: "/no/such/page", wantStatus: 404},
		{name: "method not allowed", method: "DELETE", path: "/healthz", wantStatus: 405},
		{name: "empty handler", method: "GET", path: "/empty", wantStatus: 200},
		{name: "handler sets CSP", method: "GET", path: "/custom", wantStatus: 200, wantCSP: customCSP, wantCache: "public, max-age=60"},
		{name: "panic", method: "GET", path: "/panic", wantStatus: 500},
		{name: "body too large", method: "POST", path: "/upload", wantStatus: 413},
		{name: "head", method: "HEAD", path: "/healthz", wantStatus: 200},
		{name: "metrics", method: "GET", path: "/metrics", wantStatus: 200},
		{name: "https issuer", https: true, method: "GET", path: "/healthz", wantStatus: 200},
		{name: "https issuer 404", https: true, method: "GET", path: "/nope", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{IssuerHTTPS: tt.https, MaxBodyBytes: 10})
			s.HandleFunc("GET /empty", func(http.ResponseWriter, *http.Request) {})
			s.HandleFunc("GET /custom", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Security-Policy", customCSP)
				w.Header().Set("Cache-Control", "public, max-age=60")
				_, _ = io.WriteString(w, "custom")
			})
			s.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Security-Policy", "default-src *")
				panic("boom")
			})
			s.HandleFunc("POST /upload", func(http.ResponseWriter, *http.Request) {})
			var body io.Reader
			if tt.method == "POST" {
				body = strings.NewReader(strings.Repeat("x", 100))
			}
			w := serve(s, httptest.NewRequest(tt.method, tt.path, body))
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			want := map[string]string{
				"Content-Security-Policy":    DefaultCSP,
				"X-Frame-Options":            "DENY",
				"Referrer-Policy":            "no-referrer",
				"X-Content-Type-Options":     "nosniff",
				"Cross-Origin-Opener-Policy": "same-origin",
				"Cache-Control":              "no-store",
				"Strict-Transport-Security":  "",
			}
			if tt.wantCSP != "" {
				want["Content-Security-Policy"] = tt.wantCSP
			}
			if tt.wantCache != "" {
				want["Cache-Control"] = tt.wantCache
			}
			if tt.https {
				want["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
			}
			for k, v := range want {
				if got := w.Result().Header.Values(k); strings.Join(got, ",") != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		name     string
		incoming []string // header values; nil means absent
		keep     bool     // the incoming id must be echoed
	}{
		{name: "absent"},
		{name: "valid", incoming: []string{"req-42_abc.DEF"}, keep: true},
		{name: "valid at 64", incoming: []string{strings.Repeat("a", 64)}, keep: true},
		{name: "too long", incoming: []string{strings.Repeat("a", 65)}},
		{name: "empty", incoming: []string{""}},
		{name: "CRLF", incoming: []string{"abc\r\nSet-Cookie: x=1"}},
		{name: "space", incoming: []string{"abc def"}},
		{name: "quote", incoming: []string{`abc"def`}},
		{name: "non-ASCII", incoming: []string{"abcé"}},
		{name: "log injection", incoming: []string{`x","level":"ERROR`}},
		{name: "two values", incoming: []string{"a1", "b2"}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := newTestServer(t, Options{})
			var fromCtx string
			s.HandleFunc("GET /id", func(w http.ResponseWriter, r *http.Request) {
				fromCtx = RequestID(r.Context())
				Logger(r.Context()).Info("from handler")
			})
			r := httptest.NewRequest("GET", "/id", nil)
			for _, v := range tt.incoming {
				r.Header.Add("X-Request-Id", v)
			}
			w := serve(s, r)
			got := w.Header().Get("X-Request-Id")
			if got != fromCtx {
				t.Errorf("header %q != RequestID(ctx) %q", got, fromCtx)
			}
			if tt.keep {
				if got != tt.incoming[0] {
					t.Errorf("id = %q, want incoming %q", got, tt.incoming[0])
				}
			} else {
				if !generated.MatchString(got) {
					t.Errorf("id = %q, want 32 hex chars", got)
				}
				if seen[got] {
					t.Errorf("id %q generated twice", got)
				}
				seen[got] = true
			}
			if n := strings.Count(logs.String(), `"request_id":"`+got+`"`); n != 2 {
				t.Errorf("request_id appears on %d log lines, want 2 (handler + access): %s", n, logs)
			}
		})
	}
}

func TestRequestIDRandFailureFallsBack(t *testing.T) {
	s, _ := newTestServer(t, Options{Rand: failingReader{}})
	w := serve(s, httptest.NewRequest("GET", "/healthz", nil))
	if id := w.Header().Get("X-Request-Id"); len(id) != 32 || id == strings.Repeat("0", 32) {
		t.Fatalf("id = %q, want a random 32-char id", id)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestPanicRecovery(t *testing.T) {
	tests := []struct {
		name     string
		accept   string
		wantType string
	}{
		{"html client", "text/html", "text/plain; charset=utf-8"},
		{"json client", "application/json", "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := newTestServer(t, Options{})
			s.HandleFunc("POST /explode/{id}", func(w http.ResponseWriter, r *http.Request) {
				http.SetCookie(w, &http.Cookie{Name: "half", Value: "set"})
				panic("secret-detail: invariant broken")
			})
			r := httptest.NewRequest("POST", "/explode/7", nil)
			r.Header.Set("Accept", tt.accept)
			w := serve(s, r)
			if w.Code != 500 {
				t.Fatalf("status = %d, want 500", w.Code)
			}
			if ct := w.Header().Get("Content-Type"); ct != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", ct, tt.wantType)
			}
			if strings.Contains(w.Body.String(), "secret-detail") || strings.Contains(w.Body.String(), "goroutine") {
				t.Errorf("body leaks panic detail: %q", w.Body.String())
			}
			if w.Header().Get("Set-Cookie") != "" {
				t.Error("500 kept the failed handler's Set-Cookie")
			}
			id := w.Header().Get("X-Request-Id")
			if !strings.Contains(w.Body.String(), id) {
				t.Errorf("body %q lacks the request id %q", w.Body.String(), id)
			}
			var panicLine map[string]any
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("bad log line %q: %v", line, err)
				}
				if m["msg"] == "panic in http handler" {
					panicLine = m
				}
			}
			if panicLine == nil {
				t.Fatalf("no panic log line: %s", logs)
			}
			if panicLine["level"] != "ERROR" || panicLine["request_id"] != id ||
				!strings.Contains(fmt.Sprint(panicLine["panic"]), "invariant broken") ||
				!strings.Contains(fmt.Sprint(panicLine["stack"]), "goroutine") ||
				panicLine["route"] != "POST /explode/{id}" {
				t.Errorf("panic log line incomplete: %v", panicLine)
			}
		})
	}
}

// TestPanicKeepsServing uses a real server: after a panic the process and
// the server live on; a panic after the response started cuts that
// response rather than passing it off as complete.
func TestPanicKeepsServing(t *testing.T) {
	s, logs := newTestServer(t, Options{})
	s.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	s.HandleFunc("GET /late-panic", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "partial")
		panic("late boom")
	})
	ts := httptest.NewServer(s)
	defer ts.Close()
	client := ts.Client()

	steps := []struct {
		path    string
		status  int
		wantErr bool
	}{
		{"/panic", 500, false},
		{"/healthz", 200, false},
		{"/late-panic", 0, true},
		{"/healthz", 200, false},
		{"/panic", 500, false},
	}
	for _, st := range steps {
		r := get(client, ts.URL+st.path)
		if st.wantErr {
			if r.err == nil {
				t.Errorf("%s: got %d %q, want a cut response", st.path, r.status, r.body)
			}
			continue
		}
		if r.err != nil || r.status != st.status {
			t.Errorf("%s = %d, %v; want %d", st.path, r.status, r.err, st.status)
		}
	}
	if !strings.Contains(logs.String(), "late boom") {
		t.Error("late panic not logged")
	}
}

func TestMetrics(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	s.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.PathValue("id"))
	})
	s.HandleFunc("POST /boom", func(http.ResponseWriter, *http.Request) { panic("x") })
	for _, p := range []string{"/users/alice-8c1f", "/users/bob-77aa", "/users/carol-0000"} {
		serve(s, httptest.NewRequest("GET", p, nil))
	}
	serve(s, httptest.NewRequest("GET", "/wp-admin/secret-probe-path", nil))
	serve(s, httptest.NewRequest("POST", "/boom", nil))
	serve(s, httptest.NewRequest("BREW", "/users/x", nil))

	w := serve(s, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("metrics status = %d", w.Code)
	}
	out := w.Body.String()
	for _, want := range []string{
		`gatehouse_http_requests_total{code="200",method="GET",route="GET /users/{id}"} 3`,
		`gatehouse_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`gatehouse_http_requests_total{code="500",method="POST",route="POST /boom"} 1`,
		`gatehouse_http_requests_total{code="405",method="OTHER",route="unmatched"} 1`,
		`gatehouse_http_request_duration_seconds_count{method="GET",route="GET /users/{id}"} 3`,
		`go_goroutines`,
		`process_`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, leak := range []string{"alice", "secret-probe-path", "BREW"} {
		if strings.Contains(out, leak) {
			t.Errorf("metrics contain raw request data %q", leak)
		}
	}

	// Other packages add metrics through Registry.
	if err := s.Registry().Register(prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_test_total"})); err != nil {
		t.Fatal(err)
	}
	if out := serve(s, httptest.NewRequest("GET", "/metrics", nil)).Body.String(); !strings.Contains(out, "gatehouse_test_total") {
		t.Error("metric registered through Registry() not served")
	}
	// Servers own their registries: a second one does not collide.
	if s2, _ := newTestServer(t, Options{}); s2.Registry() == s.Registry() {
		t.Error("two servers share a registry")
	}
}

func TestAccessLog(t *testing.T) {
	s, logs := newTestServer(t, Options{})
	s.HandleFunc("GET /callback/{state}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	})
	r := httptest.NewRequest("GET", "/callback/PATHSECRET?code=SECRET&state=STATESECRET", nil)
	r.Header.Set("Cookie", "gatehouse_session=COOKIESECRET")
	r.Header.Set("Authorization", "Bearer AUTHSECRET")
	serve(s, r)

	out := logs.String()
	for _, secret := range []string{"SECRET", "code=", "Cookie", "Bearer"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q: %s", secret, out)
		}
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &line); err != nil {
		t.Fatalf("want one JSON access line, got %q: %v", out, err)
	}
	want := map[string]any{
		"msg":       "http request",
		"method":    "GET",
		"route":     "GET /callback/{state}",
		"status":    float64(200),
		"bytes":     float64(5),
		"remote_ip": "192.0.2.1",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("access log %s = %v, want %v", k, line[k], v)
		}
	}
	for _, k := range []string{"duration", "request_id"} {
		if _, ok := line[k]; !ok {
			t.Errorf("access log lacks %s", k)
		}
	}
}

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
	}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{name: "no proxies", remote: "203.0.113.9:5555", want: "203.0.113.9"},
		{name: "no proxies ignores XFF", remote: "203.0.113.9:5555", xff: []string{"1.2.3.4"}, want: "203.0.113.9"},
		{name: "untrusted peer spoofs XFF", trusted: proxies, remote: "203.0.113.9:5555", xff: []string{"10.0.0.1, 1.2.3.4"}, want: "203.0.113.9"},
		{name: "trusted proxy", trusted: proxies, remote: "10.1.1.1:443", xff: []string{"198.51.100.7"}, want: "198.51.100.7"},
		{name: "client-written hops ignored", trusted: proxies, remote: "10.1.1.1:443", xff: []string{"6.6.6.6, 198.51.100.7"}, want: "198.51.100.7"},
		{name: "chain of trusted proxies", trusted: proxies, remote: "10.1.1.1:443", xff: []string{"6.6.6.6, 198.51.100.7, 10.2.2.2, 10.3.3.3"}, want: "198.51.100.7"},
		{name: "multiple header lines", trusted: proxies, remote: "10.1.1.1:443", xff: []string{"6.6.6.6", "198.51.100.7, 10.2.2.2"}, want: "198.51.100.7"},
		{name: "trusted proxy without XFF", trusted: proxies, remote: "10.1.1.1:443", want: "10.1.1.1"},
		{name: "all hops trusted", trusted: proxies, remote: "10.1.1.1:443", xff: []string{"10.9.9.9"}, want: "10.9.9.9"},
		{name: "garbage hop stops walk", trusted: proxies, remote: "10.1.1.1:443", xff: []string{"1.2.3.4, not-an-ip"}, want: "10.1.1.1"},
		{name: "garbage left of client ignored", trusted: proxies, remote: "10.1.1.1:443", xff: []string{"<script>, 198.51.100.7"}, want: "198.51.100.7"},
		{name: "hop with port", trusted: proxies, remote: "10.1.1.1:443", xff: []string{"198.51.100.7:1234"}, want: "198.51.100.7"},
		{name: "ipv6 peer", remote: "[2001:db8::1]:443", want: "2001:db8::1"},
		{name: "ipv6 proxy and client", trusted: proxies, remote: "[fd00::1]:443", xff: []string{"[2001:db8::2]"}, want: "2001:db8::2"},
		{name: "mapped ipv4 peer", trusted: proxies, remote: "[::ffff:10.1.1.1]:443", xff: []string{"198.51.100.7"}, want: "198.51.100.7"},
		{name: "unparsable remote", remote: "@", want: "@"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{TrustedProxies: tt.trusted})
			var got string
			s.HandleFunc("GET /ip", func(w http.ResponseWriter, r *http.Request) { got = ClientIP(r.Context()) })
			r := httptest.NewRequest("GET", "/ip", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			serve(s, r)
			if got != tt.want {
				t.Errorf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name        string
		limit       int64
		size        int
		chunked     bool // hide the length, so only MaxBytesReader can catch it
		wantStatus  int
		wantHandler bool
	}{
		{name: "small body", size: 1000, wantStatus: 200, wantHandler: true},
		{name: "exactly 1 MiB", size: mib, wantStatus: 200, wantHandler: true},
		{name: "2 MiB declared", size: 2 * mib, wantStatus: 413},
		{name: "2 MiB chunked", size: 2 * mib, chunked: true, wantStatus: 413, wantHandler: true},
		{name: "custom limit", limit: 100, size: 101, wantStatus: 413},
		{name: "custom limit chunked", limit: 100, size: 101, chunked: true, wantStatus: 413, wantHandler: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{MaxBodyBytes: tt.limit})
			called := false
			s.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
				called = true
				b, err := io.ReadAll(r.Body)
				if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
					http.Error(w, "too large", http.StatusRequestEntityTooLarge)
					return
				}
				if err != nil {
					http.Error(w, "bad body", http.StatusBadRequest)
					return
				}
				fmt.Fprint(w, len(b))
			})
			var body io.Reader = bytes.NewReader(make([]byte, tt.size))
			if tt.chunked {
				body = io.MultiReader(body) // hides the length from NewRequest
			}
			r := httptest.NewRequest("POST", "/upload", body)
			if tt.chunked && r.ContentLength != -1 {
				r.ContentLength = -1
			}
			w := serve(s, r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if called != tt.wantHandler {
				t.Errorf("handler called = %v, want %v", called, tt.wantHandler)
			}
		})
	}
}

// TestBodyLimitRealServer sends a 2 MiB POST over TCP.
func TestBodyLimitRealServer(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	s.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		}
	})
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(make([]byte, 2<<20))
		if chunked {
			body = io.MultiReader(body)
		}
		resp, err := ts.Client().Post(ts.URL+"/upload", "application/octet-stream", body)
		if err != nil {
			// The server may close the connection before the client has
			// sent everything; that is also a rejection.
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked=%v: status = %d, want 413", chunked, resp.StatusCode)
		}
	}
}

func TestAccessorsOutsideRequest(t *testing.T) {
	ctx := context.Background()
	if RequestID(ctx) != "" || ClientIP(ctx) != "" {
		t.Error("accessors invent values outside a request")
	}
	if Logger(ctx) != slog.Default() {
		t.Error("Logger outside a request is not slog.Default()")
	}
}

func TestFlushAppliesHeaders(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	s.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
		_, _ = io.WriteString(w, "data")
	})
	w := serve(s, httptest.NewRequest("GET", "/stream", nil))
	if !w.Flushed || w.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("flushed=%v headers=%v", w.Flushed, w.Header())
	}
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:80", "1.2.3.4, 10.0.0.2")
	f.Add("[fd00::1]:1", "[2001:db8::1]:80, garbage")
	f.Add("1.2.3.4:1", "")
	s := New(Options{
		Logger:         slog.New(slog.DiscardHandler),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")},
	})
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}}}
		got := s.clientIP(r)
		// X-Forwarded-For is believed only from a trusted peer.
		if peer, ok := parseHop(remote); !ok || !s.trusted(peer) {
			host, _, _ := net.SplitHostPort(remote)
			if got != remote && got != host && (!ok || got != peer.String()) {
				t.Fatalf("untrusted peer %q with XFF %q gave %q", remote, xff, got)
			}
		}
	})
}

func FuzzRequestID(f *testing.F) {
	f.Add("abc")
	f.Add("a\r\nb")
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	f.Fuzz(func(t *testing.T, in string) {
		r := &http.Request{Header: http.Header{"X-Request-Id": {in}}}
		id := s.requestID(r)
		if !validRequestID(id) {
			t.Fatalf("requestID(%q) = %q is not valid", in, id)
		}
		if validRequestID(in) != (id == in) {
			t.Fatalf("requestID(%q) = %q", in, id)
		}
	})
}

func TestAccessLogLevels(t *testing.T) {
	tests := []struct {
		name      string
		path      string
		ready     error
		wantLevel string
	}{
		{"probe success is debug", "/healthz", nil, "DEBUG"},
		{"metrics scrape is debug", "/metrics", nil, "DEBUG"},
		{"failed probe is info", "/readyz", errors.New("down"), "INFO"},
		{"unmatched is info", "/nope", nil, "INFO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := newTestServer(t, Options{Ready: func(context.Context) error { return tt.ready }})
			serve(s, httptest.NewRequest("GET", tt.path, nil))
			var found bool
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatal(err)
				}
				if m["msg"] == "http request" {
					found = true
					if m["level"] != tt.wantLevel {
						t.Errorf("level = %v, want %s", m["level"], tt.wantLevel)
					}
				}
			}
			if !found {
				t.Fatal("no access log line")
			}
		})
	}
}
