package e2e

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/storage/storagetest"
)

// stallTimeout is the instance's storage.query_timeout in the stall test.
const stallTimeout = 500 * time.Millisecond

// A database that stops answering, without refusing (a PostgreSQL server
// stopped with SIGSTOP), must make requests (/authorize, /login, the token
// endpoint) answer 503 with Retry-After
// within the query timeout instead of hanging, and the instance must work
// again once the database answers.
func TestStalledDatabaseAnswers503(t *testing.T) {
	t.Run(config.StorageSQLite, func(t *testing.T) {
		t.Skip("a SQLite file cannot be frozen by a TCP proxy; the same query timeout bounds its calls and the busy timeout its lock waits")
	})
	t.Run(config.StoragePostgres, func(t *testing.T) {
		if !slices.Contains(backends(t), config.StoragePostgres) {
			t.Skip("PostgreSQL not configured")
		}
		h, proxy := newStallHarness(t)
		h.user("alice@example.com", alicePW)
		secret := h.client("web", nil)
		b := h.browser()
		verifier, challenge := pkce()
		authURL := h.authURL("web", url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}})

		proxy.Freeze()
		bounded(t, proxy, "GET /authorize", func() *http.Response { return b.get(authURL).resp })
		proxy.Thaw()

		form := b.get(authURL)
		proxy.Freeze()
		bounded(t, proxy, "POST /login", func() *http.Response { return b.login(form, "alice@example.com", alicePW).resp })
		proxy.Thaw()

		q := b.login(form, "alice@example.com", alicePW).callback(t)
		exchange := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
			"redirect_uri": {"https://" + rpHost + "/web/cb"}, "code_verifier": {verifier}}

		proxy.Freeze()
		bounded(t, proxy, "POST /oauth/token", func() *http.Response { return h.rawToken("web", secret, exchange) })
		proxy.Thaw()

		if resp := h.rawToken("web", secret, exchange); resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /oauth/token after the database answers again: %d, want 200", resp.StatusCode)
		}
	})
}

// bounded runs req while the database is frozen and checks that it answers
// 503 with Retry-After. It fails, rather than hangs, if no answer comes in
// ten times the query timeout; that bound is proof that the request is
// bounded, not a timing assertion.
func bounded(t *testing.T, proxy *storagetest.Proxy, name string, req func() *http.Response) {
	t.Helper()
	respc := make(chan *http.Response, 1)
	go func() { respc <- req() }()
	var resp *http.Response
	select {
	case resp = <-respc:
	case <-time.After(10 * stallTimeout):
		proxy.Thaw()
		t.Fatalf("%s still waits %v after the database froze, want an answer within the query timeout (%v)", name, 10*stallTimeout, stallTimeout)
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("%s while the database is frozen: %d, want 503", name, resp.StatusCode)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("%s while the database is frozen: no Retry-After header", name)
	}
}

// newStallHarness starts an instance on a fresh PostgreSQL database reached
// through a freezable proxy, with the stall test's query timeout.
func newStallHarness(t *testing.T) (*harness, *storagetest.Proxy) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg, ln := newConfig(t, config.StoragePostgres)
	dsn := cfg.Storage.DSN.Reveal()
	pc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := storagetest.NewProxy(t, net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port))))
	pdsn, err := storagetest.ProxyDSN(dsn, proxy.Addr())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Storage.DSN = config.Secret(pdsn)
	cfg.Storage.QueryTimeout = stallTimeout
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Cleanups run last first: the server and the instance stop before
	// the proxy closes.
	inst := startInstance(t, ctx, cfg, clk, logger, nil)
	web := serve(t, ctx, cancel, inst, ln, logger)
	return &harness{t: t, ctx: ctx, inst: inst, web: web, issuer: cfg.Issuer, clock: clk}, proxy
}

// rawToken posts to the token endpoint with client_secret_basic and
// returns the response, body read, whatever its content.
func (h *harness) rawToken(clientID, secret string, form url.Values) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Error(err)
		return &http.Response{Header: http.Header{}}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp
}
