//go:build unix

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// Benchmarks of the protocol endpoints: a whole instance on a loopback
// listener, one keep-alive client, real storage. Each op is one HTTP round
// trip; whatever an op consumes (a code, a refresh token) is made before
// the timer starts. The client runs in the same process, so ns/op,
// cpu-ns/op and allocs/op include its side of the round trip: HTTPFloor
// measures that floor. Per-core numbers, as the performance targets are
// stated:
//
//	go test -run '^$' -bench . -cpu 1 -count 5 ./internal/e2e/
//
// ns/op is wall clock; cpu-ns/op is the process's CPU time per op, which
// other load on the machine does not inflate. To profile only the timed
// requests, drop the setup with
//
//	go test -run '^$' -bench '^BenchmarkCodeExchange$/^ES256$/^sqlite$' -cpu 1 -cpuprofile cpu.out ./internal/e2e/
//	go tool pprof -tagignore bench=setup -top e2e.test cpu.out
//
// PostgreSQL variants run when GATEHOUSE_TEST_POSTGRES is set.

// benchHarness is newHarness for benchmarks, which cannot pass a
// *testing.T: the same instance and stopped clock (so minted codes never
// expire, however long a round takes), plus one keep-alive HTTP client that
// every timed request goes through.
type benchHarness struct {
	tb     testing.TB
	ctx    context.Context
	inst   *instance.Instance
	issuer string
	now    func() time.Time
	hc     *http.Client
	dials  atomic.Int64 // connections hc has opened
}

func newBenchHarness(tb testing.TB, backend string) *benchHarness {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	cfg, ln := newConfig(tb, backend)
	issuer := cfg.Issuer
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	// As in newHarness: the access log is formatted, then discarded.
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The OP library logs its route table through the default logger at
	// start; keep that out of the benchmark output.
	// SetDefault also redirects the log package, so restore that too.
	prev, prevOut, prevFlags := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(logger)
	tb.Cleanup(func() { slog.SetDefault(prev); log.SetOutput(prevOut); log.SetFlags(prevFlags) })
	var inst *instance.Instance
	untimed(func() {
		inst = startInstance(tb, ctx, cfg, clk, logger, nil)
		if _, err := inst.Admin.CreateUser(ctx, "test", admin.CreateUserInput{Email: "alice@example.com",
			Name: "Alice Example", Org: "default", Password: alicePW, EmailVerified: true}); err != nil {
			tb.Fatal(err)
		}
	})
	// Serve starts outside untimed: the connections it serves must not
	// inherit the setup label.
	serve(tb, ctx, cancel, inst, ln, logger)

	h := &benchHarness{tb: tb, ctx: ctx, inst: inst, issuer: issuer, now: clk.Now}
	var d net.Dialer
	tr := &http.Transport{
		Proxy: nil, ForceAttemptHTTP2: false, DisableCompression: true,
		MaxIdleConns: 4, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			h.dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
	}
	tb.Cleanup(tr.CloseIdleConnections)
	h.hc = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	return h
}

// untimed runs benchmark setup that works on storage directly under the
// CPU profile label bench=setup, so that
//
//	go tool pprof -tagignore bench=setup cpu.out
//
// shows only the measured requests (and the few setup requests that go
// through the server, such as one login per sub-benchmark).
func untimed(fn func()) {
	pprof.Do(context.Background(), pprof.Labels("bench", "setup"), func(context.Context) { fn() })
}

// forBackends runs one sub-benchmark "name/backend" per name and storage
// backend. Each backend's instance is opened once; setup runs once per
// name, before the sub-benchmark, and returns its body, which the testing
// package calls with growing b.N.
func forBackends(b *testing.B, names []string, setup func(h *benchHarness, name string) func(b *testing.B)) {
	for _, backend := range []string{config.StorageSQLite, config.StoragePostgres} {
		if backend == config.StoragePostgres && os.Getenv(testenv.EnvPostgres) == "" {
			for _, name := range names {
				b.Run(name+"/"+backend, func(b *testing.B) { b.Skipf("%s is not set", testenv.EnvPostgres) })
			}
			continue
		}
		h := newBenchHarness(b, backend)
		for _, name := range names {
			b.Run(name+"/"+backend, setup(h, name))
		}
	}
}

// client registers a confidential client and returns its secret.
func (h *benchHarness) client(id string, mod func(*clients.Input)) string {
	h.tb.Helper()
	return registerClient(h.tb, h.ctx, h.inst, id, mod)
}

func benchServiceClient(format string) func(*clients.Input) {
	return func(in *clients.Input) {
		in.RedirectURIs = nil
		in.GrantTypes = []string{"client_credentials"}
		in.Scopes = []string{"reports.read"}
		in.AccessTokenFormat = format
	}
}

// codeGrant is what a relying party holds for minted codes of one login
// shape: the finished auth request as the callback left it, and the PKCE
// verifier of its challenge.
type codeGrant struct {
	clientID, secret string
	req              storage.AuthRequest
	codeTTL          time.Duration
	verifier         string
}

// login runs one real browser login (authorize, login form, callback) for
// clientID with scope, consumes the code the callback issued, and returns
// the auth request and code lifetime that the callback stored. Minted codes
// copy them, so the token endpoint does for them exactly what it does for a
// code from a real login.
func (h *benchHarness) login(clientID, secret, scope string) codeGrant {
	h.tb.Helper()
	verifier, challenge := pkce()
	q := url.Values{"client_id": {clientID}, "response_type": {"code"}, "scope": {scope},
		"redirect_uri": {"https://" + rpHost + "/" + clientID + "/cb"}, "state": {"st-" + clientID},
		"nonce": {"n-" + rand.Text()}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host == rpHost || len(via) > 10 {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	fetch := func(req *http.Request) page {
		resp, err := browser.Do(req)
		if err != nil {
			h.tb.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return page{resp, string(body)}
	}
	get, _ := http.NewRequestWithContext(h.ctx, http.MethodGet, h.issuer+"/authorize?"+q.Encode(), nil)
	p := fetch(get)
	if !p.isLoginForm() {
		h.tb.Fatalf("expected the login form, got %d %s", p.resp.StatusCode, p.resp.Request.URL)
	}
	form := p.hidden()
	form.Set("email", "alice@example.com")
	form.Set("password", alicePW)
	post, _ := http.NewRequestWithContext(h.ctx, http.MethodPost, h.issuer+"/login", strings.NewReader(form.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	post.Header.Set("Origin", h.issuer)
	post.Header.Set("Sec-Fetch-Site", "same-origin")
	p = fetch(post)
	loc, err := url.Parse(p.resp.Header.Get("Location"))
	if p.resp.StatusCode != http.StatusFound || err != nil || loc.Host != rpHost || loc.Query().Get("code") == "" {
		h.tb.Fatalf("expected a redirect with a code, got %d Location=%q", p.resp.StatusCode, p.resp.Header.Get("Location"))
	}
	ac, err := h.inst.Store.ConsumeAuthCode(h.ctx, storage.HashSecret(loc.Query().Get("code")), h.now())
	if err != nil {
		h.tb.Fatal(err)
	}
	req, err := h.inst.Store.GetAuthRequest(h.ctx, ac.AuthRequestID)
	if err != nil {
		h.tb.Fatal(err)
	}
	if !authflow.Issued(req) || req.UserID == "" || ac.ClientID != clientID {
		h.tb.Fatalf("callback left step=%q user=%q client=%q", req.Step, req.UserID, ac.ClientID)
	}
	return codeGrant{clientID: clientID, secret: secret, req: req, codeTTL: ac.ExpiresAt.Sub(ac.CreatedAt), verifier: verifier}
}

// mint stores n codes the way the callback does (idp/oidcop/callback.go,
// after authflow.Complete): per code, an issued auth request
// (a copy of the real one under a new id) and the code's row, keyed by its
// hash, with a grant id of its own. It returns the token request bodies
// that redeem them.
func (h *benchHarness) mint(tb testing.TB, g codeGrant, n int) []string {
	tb.Helper()
	now := h.now()
	bodies := make([]string, n)
	raw := make([]byte, 32)
	untimed(func() {
		for i := range n {
			r := g.req
			r.ID = storage.NewID()
			if err := h.inst.Store.CreateAuthRequest(h.ctx, r); err != nil {
				tb.Fatal(err)
			}
			rand.Read(raw)
			code := "gh_ac_" + base64.RawURLEncoding.EncodeToString(raw)
			if err := h.inst.Store.CreateAuthCode(h.ctx, storage.AuthCode{Hash: storage.HashSecret(code),
				AuthRequestID: r.ID, ClientID: r.ClientID, GrantID: storage.NewID(), CreatedAt: now,
				ExpiresAt: now.Add(g.codeTTL)}); err != nil {
				tb.Fatal(err)
			}
			bodies[i] = url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {r.OIDC.RedirectURI}, "code_verifier": {g.verifier}}.Encode()
		}
	})
	return bodies
}

// post builds a form POST authenticated with client_secret_basic.
func (h *benchHarness) post(path, clientID, secret, body string) *http.Request {
	req, _ := http.NewRequestWithContext(h.ctx, http.MethodPost, h.issuer+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	return req
}

// do sends req on the keep-alive client outside any timing and decodes the
// JSON answer, which must be 200.
func (h *benchHarness) do(tb testing.TB, req *http.Request) map[string]any {
	tb.Helper()
	resp, err := h.hc.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil {
		tb.Fatalf("%s: %d %s", req.URL.Path, resp.StatusCode, body)
	}
	return out
}

// measure times b.N requests on the keep-alive client; next(i) builds the
// i-th. Every answer must be 200; got (if not nil) sees each body. It
// resets the timer, so everything before it is setup.
func (h *benchHarness) measure(b *testing.B, next func(i int) *http.Request, got func(body []byte)) {
	b.Helper()
	var buf bytes.Buffer
	dials := h.dials.Load()
	b.ReportAllocs()
	cpu := processCPU(b)
	b.ResetTimer()
	for i := range b.N {
		resp, err := h.hc.Do(next(i))
		if err != nil {
			b.Fatal(err)
		}
		buf.Reset()
		_, err = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("request %d: %d %v %s", i, resp.StatusCode, err, buf.Bytes())
		}
		if got != nil {
			got(buf.Bytes())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
	// A sequential client needs one connection; the transport may race a
	// dial against a connection going idle now and then, but not often.
	if n := h.dials.Load() - dials; n > 2+int64(b.N)/100 {
		b.Fatalf("%d connections for %d requests: keep-alive is not working", n, b.N)
	}
}

// processCPU is the CPU time (user and system, all threads) the process
// has used. Per op, it is what one request costs whatever else runs on the
// machine: on a shared machine wall-clock ns/op also counts time spent
// waiting for a core.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// jwsAlgOf returns a compact JWS's alg, or "" when raw is not one.
func jwsAlgOf(raw any) string {
	s, _ := raw.(string)
	jws, err := jose.ParseSigned(s, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		return ""
	}
	return jws.Signatures[0].Header.Algorithm
}

// BenchmarkHTTPFloor is one keep-alive round trip to /healthz through the
// same client and middleware: the part of every other op that is neither
// storage nor tokens (minus the access log line, which health checks skip).
func BenchmarkHTTPFloor(b *testing.B) {
	forBackends(b, []string{"healthz"}, func(h *benchHarness, _ string) func(*testing.B) {
		return func(b *testing.B) {
			h.measure(b, func(int) *http.Request {
				req, _ := http.NewRequestWithContext(h.ctx, http.MethodGet, h.issuer+"/healthz", nil)
				return req
			}, nil)
		}
	})
}

// BenchmarkCodeExchange redeems an authorization code (with PKCE, scope
// "openid email profile") for an opaque access token and an ID token signed
// with the client's id_token_signed_response_alg. The target:
// ES256 on SQLite, one core, ≥1,500/s.
func BenchmarkCodeExchange(b *testing.B) {
	benchCodeExchange(b, "openid email profile", "RS256", "ES256", "EdDSA")
}

// BenchmarkOfflineExchange is CodeExchange with offline_access: the
// response also carries a refresh token, which is one more row to write.
func BenchmarkOfflineExchange(b *testing.B) {
	benchCodeExchange(b, "openid email profile offline_access", "ES256")
}

func benchCodeExchange(b *testing.B, scope string, algs ...string) {
	forBackends(b, algs, func(h *benchHarness, alg string) func(*testing.B) {
		id := "web-" + strings.ToLower(alg)
		secret := h.client(id, func(in *clients.Input) { in.IDTokenSignedResponseAlg = alg })
		g := h.login(id, secret, scope)
		return func(b *testing.B) {
			bodies := h.mint(b, g, b.N+1)
			// One exchange, untimed, checked in full.
			out := h.do(b, h.post("/oauth/token", id, secret, bodies[0]))
			if jwsAlgOf(out["id_token"]) != alg || !strings.HasPrefix(out["access_token"].(string), "gh_at_") ||
				(out["refresh_token"] != nil) != strings.Contains(scope, "offline_access") {
				b.Fatalf("token response: %v", out)
			}
			bodies = bodies[1:]
			h.measure(b, func(i int) *http.Request { return h.post("/oauth/token", id, secret, bodies[i]) }, nil)
		}
	})
}

// BenchmarkRefresh rotates a refresh token: each op redeems the refresh
// token the previous op got, so it runs the real rotation path (and a new
// ID token, signed as the client asks).
func BenchmarkRefresh(b *testing.B) {
	forBackends(b, []string{"ES256"}, func(h *benchHarness, alg string) func(*testing.B) {
		id := "rt-" + strings.ToLower(alg)
		secret := h.client(id, func(in *clients.Input) { in.IDTokenSignedResponseAlg = alg })
		g := h.login(id, secret, "openid email profile offline_access")
		return func(b *testing.B) {
			out := h.do(b, h.post("/oauth/token", id, secret, h.mint(b, g, 1)[0]))
			rt, _ := out["refresh_token"].(string)
			if rt == "" {
				b.Fatalf("no refresh token: %v", out)
			}
			var next struct {
				RefreshToken string `json:"refresh_token"`
			}
			h.measure(b, func(int) *http.Request {
				return h.post("/oauth/token", id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode())
			}, func(body []byte) {
				next.RefreshToken = ""
				if err := json.Unmarshal(body, &next); err != nil || next.RefreshToken == "" || next.RefreshToken == rt {
					b.Fatalf("refresh did not rotate: %s", body)
				}
				rt = next.RefreshToken
			})
		}
	})
}

// BenchmarkClientCredentials issues a token to a client for itself: opaque,
// or a JWT signed with ES256. The target: jwt on SQLite, one core,
// ≥4,000/s.
func BenchmarkClientCredentials(b *testing.B) {
	forBackends(b, []string{"opaque", "jwt"}, func(h *benchHarness, format string) func(*testing.B) {
		id := "svc-" + format
		secret := h.client(id, benchServiceClient(format))
		body := url.Values{"grant_type": {"client_credentials"}, "scope": {"reports.read"}}.Encode()
		return func(b *testing.B) {
			out := h.do(b, h.post("/oauth/token", id, secret, body))
			if isJWT := jwsAlgOf(out["access_token"]) == "ES256"; isJWT != (format == "jwt") || out["id_token"] != nil {
				b.Fatalf("token response: %v", out)
			}
			h.measure(b, func(int) *http.Request { return h.post("/oauth/token", id, secret, body) }, nil)
		}
	})
}

// BenchmarkIntrospect: a resource server introspects a client_credentials
// token, opaque (looked up by hash) or JWT (signature checked, then looked
// up by jti).
func BenchmarkIntrospect(b *testing.B) {
	forBackends(b, []string{"opaque", "jwt"}, func(h *benchHarness, format string) func(*testing.B) {
		id := "svc-" + format
		secret := h.client(id, benchServiceClient(format))
		rsSecret := h.client("rs-"+format, benchServiceClient("opaque"))
		tok := h.do(h.tb, h.post("/oauth/token", id, secret,
			url.Values{"grant_type": {"client_credentials"}, "scope": {"reports.read"}}.Encode()))["access_token"].(string)
		body := url.Values{"token": {tok}}.Encode()
		return func(b *testing.B) {
			if out := h.do(b, h.post("/oauth/introspect", "rs-"+format, rsSecret, body)); out["active"] != true {
				b.Fatalf("introspect: %v", out)
			}
			h.measure(b, func(int) *http.Request { return h.post("/oauth/introspect", "rs-"+format, rsSecret, body) }, nil)
		}
	})
}

// BenchmarkUserinfo: GET /userinfo with a user's bearer token, opaque or
// JWT.
func BenchmarkUserinfo(b *testing.B) {
	forBackends(b, []string{"opaque", "jwt"}, func(h *benchHarness, format string) func(*testing.B) {
		id := "ui-" + format
		secret := h.client(id, func(in *clients.Input) { in.AccessTokenFormat = format })
		g := h.login(id, secret, "openid email profile")
		tok := h.do(h.tb, h.post("/oauth/token", id, secret, h.mint(h.tb, g, 1)[0]))["access_token"].(string)
		get := func() *http.Request {
			req, _ := http.NewRequestWithContext(h.ctx, http.MethodGet, h.issuer+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			return req
		}
		return func(b *testing.B) {
			if out := h.do(b, get()); out["email"] != "alice@example.com" {
				b.Fatalf("userinfo: %v", out)
			}
			h.measure(b, func(int) *http.Request { return get() }, nil)
		}
	})
}
