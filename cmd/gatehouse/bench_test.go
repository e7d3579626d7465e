package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/httpserver"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
)

const (
	benchEmail    = "bench@example.com"
	benchPassword = "bench-password-123"
	benchRedirect = "https://rp.example/cb"
)

// benchServer serves a dev instance in this process, with a user and a
// confidential client "bench" (code and client_credentials grants), and
// returns its issuer and the client's secret.
func benchServer(t *testing.T) (issuer, secret string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.DevDefault()
	cfg.Issuer = "http://" + ln.Addr().String()
	cfg.DataDir = t.TempDir()
	cfg.Password.Argon2 = config.Argon2{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	inst, err := instance.Open(ctx, cfg, instance.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.Admin.Bootstrap(ctx, cfg.Bootstrap.Organization, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.Admin.CreateUser(ctx, "test", admin.CreateUserInput{Email: benchEmail, Org: "default",
		Password: benchPassword, EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	_, secret, err = inst.Admin.CreateClient(ctx, "test", clients.Input{ID: "bench", RedirectURIs: []string{benchRedirect},
		GrantTypes: []string{"authorization_code", "client_credentials"}, Scopes: []string{"openid", "email", "profile", "reports.read"}})
	if err != nil {
		t.Fatal(err)
	}
	srv, _, err := inst.NewServer(httpserver.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done; inst.Close() })
	return cfg.Issuer, secret
}

func benchLoginArgs(issuer string, extra ...string) []string {
	return append([]string{"bench", "login", "--issuer", issuer, "--client", "bench", "--client-secret-stdin",
		"--redirect-uri", benchRedirect, "--email", benchEmail, "--password-stdin", "--hash-time", "100ms"}, extra...)
}

func TestBenchLogin(t *testing.T) {
	issuer, secret := benchServer(t)
	r := runCLI(t, secret+"\n"+benchPassword+"\n", benchLoginArgs(issuer, "-n", "6", "-c", "3")...)
	if r.code != 0 {
		t.Fatalf("bench login: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	for _, want := range []string{"6 ok, 0 failed", "flows/s", "p50", "p99", "errors     none", "hashes/s raw (m=1024 KiB, t=1, p=1", "ratio"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	t.Logf("\n%s", r.out)
}

// Failures are counted by kind and summarized, with exit 1, never a panic
// or an abort mid-run.
func TestBenchLoginCountsFailures(t *testing.T) {
	issuer, secret := benchServer(t)
	r := runCLI(t, secret+"\nnot-the-password\n", benchLoginArgs(issuer, "-n", "4", "-c", "2", "--hash-time", "0")...)
	if r.code != 1 || !strings.Contains(r.out, "0 ok, 4 failed") ||
		!strings.Contains(r.out, "4  login: refused") || !strings.Contains(r.errOut, "4 of 4 logins failed") {
		t.Fatalf("wrong password: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	r = runCLI(t, "wrong-secret\n"+benchPassword+"\n", benchLoginArgs(issuer, "-n", "2", "-c", "2", "--hash-time", "0")...)
	if r.code != 1 || !strings.Contains(r.out, "2  token: status 401 invalid_client") {
		t.Fatalf("wrong client secret: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	r = runCLI(t, secret+"\n"+benchPassword+"\n", benchLoginArgs(issuer, "-n", "2", "--redirect-uri", "https://rp.example/other")...)
	if r.code != 1 || !strings.Contains(r.out, "2  authorize: status 400") {
		t.Fatalf("unregistered redirect URI: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
}

func TestBenchBadIssuer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	issuer, secret := benchServer(t)
	for name, iss := range map[string]string{"nothing listens": closed, "another issuer": issuer + "/other"} {
		r := runCLI(t, secret+"\n"+benchPassword+"\n", benchLoginArgs(iss)...)
		if r.code != 1 || !strings.Contains(r.errOut, "issuer "+iss+": discovery failed") {
			t.Errorf("%s: exit %d\n%s%s", name, r.code, r.out, r.errOut)
		}
	}
	r := runCLI(t, "", "bench", "login", "--issuer", "ftp://x", "--client", "c", "--client-secret-stdin",
		"--redirect-uri", benchRedirect, "--email", benchEmail, "--password-stdin")
	if r.code != 2 || !strings.Contains(r.errOut, "not an http(s) URL") {
		t.Errorf("ftp issuer: exit %d\n%s", r.code, r.errOut)
	}
	if r := runCLI(t, "", "bench", "login"); r.code != 2 || !strings.Contains(r.errOut, "--client, --client-secret-stdin, --email") {
		t.Errorf("no flags: exit %d\n%s", r.code, r.errOut)
	}
}

func TestBenchToken(t *testing.T) {
	issuer, secret := benchServer(t)
	args := []string{"bench", "token", "--grant", "client_credentials", "--issuer", issuer, "--client", "bench",
		"--client-secret-stdin", "--scope", "reports.read", "-n", "20", "-c", "4"}
	r := runCLI(t, secret+"\n", args...)
	if r.code != 0 || !strings.Contains(r.out, "20 ok, 0 failed") || !strings.Contains(r.out, "tokens/s") {
		t.Fatalf("bench token: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	t.Logf("\n%s", r.out)
	// A scope the client may not have: every request is a 400, counted.
	args[10] = "openid"
	r = runCLI(t, secret+"\n", args...)
	if r.code != 1 || !strings.Contains(r.out, "20  token: status 400 invalid_scope") {
		t.Fatalf("bench token with a refused scope: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	if r := runCLI(t, secret+"\n", "bench", "token", "--grant", "password", "--issuer", issuer, "--client", "bench",
		"--client-secret-stdin"); r.code != 2 || !strings.Contains(r.errOut, "only client_credentials") {
		t.Errorf("--grant password: exit %d\n%s", r.code, r.errOut)
	}
}

func TestBenchSummary(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name     string
		sorted   []time.Duration
		p        float64
		want     time.Duration
		wantName string
	}{
		{name: "none", sorted: nil, p: 50, want: 0},
		{name: "one", sorted: ms(7), p: 99, want: 7 * time.Millisecond},
		{name: "p50 of two is the lower", sorted: ms(1, 2), p: 50, want: time.Millisecond},
		{name: "p50 of three", sorted: ms(1, 2, 3), p: 50, want: 2 * time.Millisecond},
		{name: "p99 of 100", sorted: ms(hundred...), p: 99, want: 99 * time.Millisecond},
		{name: "p50 of 100", sorted: ms(hundred...), p: 50, want: 50 * time.Millisecond},
		{name: "p99 of 10 is the max", sorted: ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), p: 99, want: 10 * time.Millisecond},
		{name: "p100", sorted: ms(1, 5, 9), p: 100, want: 9 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("%s: percentile(%v, %v) = %v, want %v", tt.name, tt.sorted, tt.p, got, tt.want)
		}
	}

	var rec benchRecorder
	for _, d := range ms(30, 10, 20, 40) { // unsorted, as workers finish
		rec.record(d, "")
	}
	rec.record(time.Second, "token: status 500")
	rec.record(time.Second, "token: status 500")
	rec.record(time.Second, "login: status 503")
	s := rec.summary(2 * time.Second)
	if s.OK != 4 || s.Failed != 3 || s.PerSec != 2 || s.P50 != 20*time.Millisecond || s.P99 != 40*time.Millisecond ||
		s.Max != 40*time.Millisecond || s.Errors["token: status 500"] != 2 {
		t.Errorf("summary = %+v", s)
	}
	var b strings.Builder
	s.print(&b, "flows")
	out := b.String()
	if !strings.Contains(out, "4 ok, 3 failed in 2s") || !strings.Contains(out, "p50 20.0ms  p99 40.0ms") ||
		strings.Index(out, "token: status 500") > strings.Index(out, "login: status 503") {
		t.Errorf("printed summary (errors most frequent first):\n%s", out)
	}
}
