package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/httpserver"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// rpHost is where relying parties "live": never dialled, because the
// browser stops at the redirect to it and hands the URL to the test.
const rpHost = "rp.example"

// clock is the instance's clock; tests move it instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type harness struct {
	t      *testing.T
	ctx    context.Context
	inst   *instance.Instance
	web    *instance.Web
	issuer string
	clock  *clock
}

// backends lists the storage backends a test runs on: SQLite always,
// PostgreSQL when the environment names one (required in CI).
func backends(t *testing.T) []string {
	if os.Getenv(testenv.EnvPostgres) != "" || testenv.Required("postgres") {
		return []string{config.StorageSQLite, config.StoragePostgres}
	}
	t.Logf("PostgreSQL not configured (%s); end-to-end tests run on SQLite only", testenv.EnvPostgres)
	return []string{config.StorageSQLite}
}

// eachBackend runs fn as a subtest per backend.
func eachBackend(t *testing.T, fn func(t *testing.T, h *harness)) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) { fn(t, newHarness(t, b)) })
	}
}

// serve runs inst's HTTP server on ln until the test ends.
func serve(tb testing.TB, ctx context.Context, cancel context.CancelFunc, inst *instance.Instance, ln net.Listener, logger *slog.Logger) *instance.Web {
	tb.Helper()
	// As serve does: the config's trusted proxies.
	srv, web, err := inst.NewServer(httpserver.Options{Logger: logger, TrustedProxies: inst.Config.Server.TrustedProxyPrefixes()})
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	tb.Cleanup(func() { cancel(); <-done })
	return web
}

// newConfig listens on a free loopback port and returns a dev config for an
// instance served there, on backend (a fresh database for PostgreSQL), with
// cheap argon2 parameters.
func newConfig(tb testing.TB, backend string) (config.Config, net.Listener) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	cfg := config.DevDefault()
	cfg.Issuer = "http://" + ln.Addr().String()
	cfg.DataDir = tb.TempDir()
	cfg.Password.Argon2 = config.Argon2{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}
	if backend == config.StoragePostgres {
		key, err := masterkey.Generate()
		if err != nil {
			tb.Fatal(err)
		}
		cfg.Storage.Type, cfg.Storage.DSN = config.StoragePostgres, config.Secret(testenv.Postgres(tb))
		cfg.MasterKey = config.Secret(key)
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	return cfg, ln
}

func newHarness(t *testing.T, backend string) *harness {
	t.Helper()
	return newWrappedHarness(t, backend, nil)
}

// newWrappedHarness is newHarness with the instance's store wrapped by wrap
// (nil: not wrapped).
func newWrappedHarness(t *testing.T, backend string, wrap func(instance.Store) instance.Store) *harness {
	t.Helper()
	return newHarnessWith(t, backend, harnessOptions{wrap: wrap})
}

// harnessOptions change what newHarnessWith starts.
type harnessOptions struct {
	wrap func(instance.Store) instance.Store
	// config edits the configuration before the instance opens.
	config func(*config.Config)
	// opts edits the instance's options.
	opts func(*instance.Options)
}

func newHarnessWith(t *testing.T, backend string, ho harnessOptions) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg, ln := newConfig(t, backend)
	if ho.config != nil {
		ho.config(&cfg)
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	issuer := cfg.Issuer
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("GATEHOUSE_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	o := instance.Options{Now: clk.Now, Logger: logger, WrapStore: ho.wrap}
	if ho.opts != nil {
		ho.opts(&o)
	}
	inst := startInstanceWith(t, ctx, cfg, o)
	web := serve(t, ctx, cancel, inst, ln, logger)
	return &harness{t: t, ctx: ctx, inst: inst, web: web, issuer: issuer, clock: clk}
}

// startInstance opens the instance of cfg on clk's time, starts it (keys,
// config clients) and creates the default organization. It closes when the
// test ends.
func startInstance(tb testing.TB, ctx context.Context, cfg config.Config, clk *clock, logger *slog.Logger,
	wrap func(instance.Store) instance.Store,
) *instance.Instance {
	tb.Helper()
	return startInstanceWith(tb, ctx, cfg, instance.Options{Now: clk.Now, Logger: logger, WrapStore: wrap})
}

// startInstanceWith is startInstance with the instance's options.
func startInstanceWith(tb testing.TB, ctx context.Context, cfg config.Config, opts instance.Options) *instance.Instance {
	tb.Helper()
	inst, err := instance.Open(ctx, cfg, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { inst.Close() })
	if err := inst.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	if _, err := inst.Admin.Bootstrap(ctx, cfg.Bootstrap.Organization, ""); err != nil {
		tb.Fatal(err)
	}
	return inst
}

// user creates an active user and returns its id.
func (h *harness) user(email, pw string) string {
	h.t.Helper()
	u, err := h.inst.Admin.CreateUser(h.ctx, "test", admin.CreateUserInput{Email: email, Name: "Test " + email,
		Org: "default", Password: pw, EmailVerified: true})
	if err != nil {
		h.t.Fatal(err)
	}
	return u.ID
}

// client registers a client; mod adjusts the input. It returns the secret
// ("" for public clients).
func (h *harness) client(id string, mod func(*clients.Input)) string {
	h.t.Helper()
	return registerClient(h.t, h.ctx, h.inst, id, mod)
}

// registerClient registers a web client with redirect URIs under rpHost,
// the code and refresh grants and the OIDC scopes; mod adjusts the input.
// It returns the secret ("" for public clients).
func registerClient(tb testing.TB, ctx context.Context, inst *instance.Instance, id string, mod func(*clients.Input)) string {
	tb.Helper()
	in := clients.Input{ID: id, Name: "App " + id,
		RedirectURIs:           []string{"https://" + rpHost + "/" + id + "/cb"},
		PostLogoutRedirectURIs: []string{"https://" + rpHost + "/" + id + "/bye"},
		GrantTypes:             []string{"authorization_code", "refresh_token"},
		Scopes:                 []string{"openid", "profile", "email", "offline_access"},
	}
	if mod != nil {
		mod(&in)
	}
	_, secret, err := inst.Admin.CreateClient(ctx, "test", in)
	if err != nil {
		tb.Fatal(err)
	}
	return secret
}

// browser is a cookie-jar HTTP client that stops at the relying party.
type browser struct {
	t      *testing.T
	h      *harness
	client *http.Client
}

func (h *harness) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: h.t, h: h, client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host == rpHost || len(via) > 10 {
				return http.ErrUseLastResponse
			}
			return nil
		}}}
}

// page is a response with its body read.
type page struct {
	resp *http.Response
	body string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{resp, string(body)}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post submits a form as a browser does: same-origin, with Origin.
func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.h.issuer)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

var hiddenRE = regexp.MustCompile(`<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"`)

// hidden returns the hidden fields of the page's form.
func (p page) hidden() url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(p.body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// isLoginForm reports whether the page is the password form.
func (p page) isLoginForm() bool {
	return p.resp.StatusCode == http.StatusOK && strings.Contains(p.body, `name="password"`)
}

// login fills in the login form on p.
func (b *browser) login(p page, email, pw string) page {
	b.t.Helper()
	if !p.isLoginForm() {
		b.t.Fatalf("expected the login form, got %d %s\n%s", p.resp.StatusCode, p.resp.Request.URL, p.body)
	}
	form := p.hidden()
	form.Set("email", email)
	form.Set("password", pw)
	return b.post(b.h.issuer+"/login", form)
}

// callback returns the query of the redirect to the relying party.
func (p page) callback(t *testing.T) url.Values {
	t.Helper()
	loc := p.resp.Header.Get("Location")
	u, err := url.Parse(loc)
	if p.resp.StatusCode != http.StatusFound || err != nil || u.Host != rpHost {
		t.Fatalf("expected a redirect to the relying party, got %d Location=%q\n%s", p.resp.StatusCode, loc, p.body)
	}
	return u.Query()
}

// pkce returns a verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	b := make([]byte, 32)
	rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authURL builds an /authorize URL for client id with extra parameters.
func (h *harness) authURL(clientID string, extra url.Values) string {
	q := url.Values{"client_id": {clientID}, "response_type": {"code"}, "scope": {"openid email profile"},
		"redirect_uri": {"https://" + rpHost + "/" + clientID + "/cb"}, "state": {"st-" + clientID}, "nonce": {"n-" + clientID}}
	for k, v := range extra {
		q[k] = v
	}
	return h.issuer + "/authorize?" + q.Encode()
}

// tokenRequest posts to the token endpoint with client_secret_basic (or
// client_id in the form for public clients) and decodes the JSON answer.
func (h *harness) tokenRequest(clientID, secret string, form url.Values) (int, map[string]any) {
	h.t.Helper()
	return h.postJSON("/oauth/token", clientID, secret, form)
}

func (h *harness) postJSON(path, clientID, secret string, form url.Values) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	} else if clientID != "" {
		form.Set("client_id", clientID)
		req.Body = io.NopCloser(strings.NewReader(form.Encode()))
		req.ContentLength = int64(len(form.Encode()))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	body, _ := io.ReadAll(resp.Body)
	if len(body) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			h.t.Fatalf("%s: not JSON (%d): %s", path, resp.StatusCode, body)
		}
	}
	return resp.StatusCode, out
}

// userByID loads a user, for assertions.
func (h *harness) storedUser(id string) storage.User {
	u, err := h.inst.Store.GetUser(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}
