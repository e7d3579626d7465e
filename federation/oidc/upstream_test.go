package oidc_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	opstorage "github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-idp/gatehouse/federation"
	fedoidc "github.com/gatehouse-idp/gatehouse/federation/oidc"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The upstream of these tests is zitadel/oidc's own OP with its example
// storage and login UI (example/server), served on 127.0.0.1. The test
// wraps the example storage only to add what it lacks (a groups claim, a
// per-client ID token lifetime and claims in the ID token), and puts a
// small middleware in front of the OP that can change a response
// (discovery, token, userinfo, keys) for the tests that need an upstream
// answer the real OP would never give.

const (
	gatehouse   = "https://gatehouse.test"
	connectorID = "acme"
	clientID    = "gatehouse"
	secret      = "0123456789abcdef0123456789abcdef" // 32 bytes: also an HS256 key
	username    = "test-user@127.0.0.1"              // the example store's user id1
	password    = "verysecure"
)

var callback = federation.URLsFor(gatehouse, connectorID).Callback

func TestMain(m *testing.M) {
	// The OP logs every request through slog's default logger.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

// upstreamOpts shape the upstream's one client.
type upstreamOpts struct {
	// public: a native client without secret (PKCE only).
	public bool
	// claimsInIDToken: email and profile claims go into the ID token
	// too, not only to userinfo (the OIDC default when an access token
	// is issued).
	claimsInIDToken bool
	// idTokenLifetime is the client's ID token lifetime (default 1h).
	idTokenLifetime time.Duration
	// redirectURIs are the client's registered redirect URIs (default:
	// the connector's callback).
	redirectURIs []string
}

type upstream struct {
	srv    *httptest.Server
	issuer string
	store  *opStore

	mu sync.Mutex
	// editDiscovery, editToken and editUserinfo change the OP's JSON
	// answer before it is sent; editToken gets the token response.
	editDiscovery func(map[string]any)
	editToken     func(map[string]any)
	editUserinfo  func(map[string]any)
	// jwks, when set, is served instead of the OP's key set.
	jwks []byte
	// userinfoCalls counts userinfo requests; lastIDToken is the last ID
	// token the token endpoint sent.
	userinfoCalls int
	lastIDToken   string
}

func newUpstream(t *testing.T, o upstreamOpts) *upstream {
	t.Helper()
	u := &upstream{}
	var handler http.Handler
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.serve(handler, w, r)
	}))
	t.Cleanup(u.srv.Close)
	u.issuer = u.srv.URL

	redirects := o.redirectURIs
	if redirects == nil {
		redirects = []string{callback}
	}
	var client *opstorage.Client
	if o.public {
		client = opstorage.NativeClient(clientID, redirects...)
	} else {
		client = opstorage.WebClient(clientID, secret, redirects...)
	}
	u.store = &opStore{
		Storage: opstorage.NewStorageWithClients(opstorage.NewUserStore(u.issuer), map[string]*opstorage.Client{clientID: client}),
		opts:    o,
		groups:  map[string][]string{"id1": {"engineering", "admins"}},
	}
	handler = exampleop.SetupServer(u.issuer, u.store, nil, false)
	return u
}

// set changes the upstream's behaviour under its lock.
func (u *upstream) set(f func(u *upstream)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	f(u)
}

func (u *upstream) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	editDiscovery, editToken, editUserinfo, jwks := u.editDiscovery, u.editToken, u.editUserinfo, u.jwks
	if r.URL.Path == "/userinfo" {
		u.userinfoCalls++
	}
	u.mu.Unlock()
	switch {
	case r.URL.Path == zoidc.DiscoveryEndpoint && editDiscovery != nil:
		serveEdited(next, w, r, editDiscovery)
	case r.URL.Path == "/oauth/token":
		serveEdited(next, w, r, func(m map[string]any) {
			if editToken != nil {
				editToken(m)
			}
			u.set(func(u *upstream) { u.lastIDToken, _ = m["id_token"].(string) })
		})
	case r.URL.Path == "/userinfo" && editUserinfo != nil:
		serveEdited(next, w, r, editUserinfo)
	case r.URL.Path == "/keys" && jwks != nil:
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	default:
		next.ServeHTTP(w, r)
	}
}

// serveEdited serves the OP's answer with its JSON body changed by edit
// (when it is an HTTP 200).
func serveEdited(next http.Handler, w http.ResponseWriter, r *http.Request, edit func(map[string]any)) {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if rec.Code == http.StatusOK {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err == nil {
			edit(m)
			body, _ = json.Marshal(m)
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	w.Write(body)
}

// editIDToken makes editToken replace the ID token with one of the
// claims edit makes from the real one, signed with the OP's own key (so
// that only what edit changed is wrong).
func (u *upstream) editIDToken(t *testing.T, edit func(claims map[string]any)) {
	u.set(func(u *upstream) {
		u.editToken = func(resp map[string]any) {
			claims := tokenClaims(t, resp["id_token"].(string))
			edit(claims)
			resp["id_token"] = u.sign(t, claims)
		}
	})
}

func tokenClaims(t *testing.T, raw string) map[string]any {
	parts := strings.Split(raw, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Errorf("ID token payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Errorf("ID token claims: %v", err)
	}
	return claims
}

// sign signs claims with the OP's signing key, as the OP does. It runs
// in the OP's handler too: it reports with t.Errorf, never t.Fatal.
func (u *upstream) sign(t *testing.T, claims map[string]any) string {
	key, err := u.store.SigningKey(context.Background())
	if err != nil {
		t.Errorf("signing key: %v", err)
		return ""
	}
	return signWith(t, jose.SigningKey{Algorithm: key.SignatureAlgorithm(), Key: key.Key()}, key.ID(), claims)
}

func signWith(t *testing.T, key jose.SigningKey, kid string, claims map[string]any) string {
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Errorf("signer: %v", err)
		return ""
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Errorf("sign: %v", err)
		return ""
	}
	s, _ := jws.CompactSerialize()
	return s
}

// unsigned is an alg none JWT of claims.
func unsigned(claims map[string]any) string {
	payload, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
}

// login signs in at the upstream as a browser would: it follows
// start.URL to the OP's login page, posts its form, and follows the
// redirects until the one to our callback, whose query it returns.
func (u *upstream) login(t *testing.T, start federation.Start) url.Values {
	t.Helper()
	// fatal is t.Fatalf that also works in a goroutine of the test.
	fatal := func(format string, args ...any) {
		t.Helper()
		t.Errorf(format, args...)
		runtime.Goexit()
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 5 * time.Second,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), callback) {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	resp, err := browser.Get(start.URL)
	if err != nil {
		fatal("%v", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := loginForm.FindSubmatch(page)
	id := hiddenID.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || form == nil || id == nil {
		fatal("no login form at the upstream (HTTP %d): %s", resp.StatusCode, page)
	}
	action, err := resp.Request.URL.Parse(string(form[1]))
	if err != nil {
		fatal("%v", err)
	}
	resp, err = browser.PostForm(action.String(), url.Values{
		"id": {string(id[1])}, "username": {username}, "password": {password}})
	if err != nil {
		fatal("%v", err)
	}
	defer resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), callback+"?") {
		body, _ := io.ReadAll(resp.Body)
		fatal("the upstream did not send the browser to our callback (HTTP %d, %v): %s", resp.StatusCode, loc, body)
	}
	return loc.Query()
}

var (
	loginForm = regexp.MustCompile(`<form method="POST" action="([^"]+)"`)
	hiddenID  = regexp.MustCompile(`<input type="hidden" name="id" value="([^"]+)">`)
)

// opStore is the example storage with a groups claim ("groups" scope in
// the ID token; always at userinfo) and the client shaped by opts.
type opStore struct {
	*opstorage.Storage
	opts   upstreamOpts
	groups map[string][]string
}

var _ exampleop.Storage = (*opStore)(nil)

func (s *opStore) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return opClient{Client: c, opts: s.opts}, nil
}

func (s *opStore) SetUserinfoFromRequest(ctx context.Context, info *zoidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	if slices.Contains(scopes, "groups") {
		info.AppendClaims("groups", s.groups[req.GetSubject()])
	}
	return nil
}

func (s *opStore) SetUserinfoFromToken(ctx context.Context, info *zoidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	info.AppendClaims("groups", s.groups[subject])
	return nil
}

type opClient struct {
	op.Client
	opts upstreamOpts
}

func (c opClient) IsScopeAllowed(scope string) bool {
	return scope == "groups" || c.Client.IsScopeAllowed(scope)
}

func (c opClient) IDTokenUserinfoClaimsAssertion() bool { return c.opts.claimsInIDToken }

func (c opClient) IDTokenLifetime() time.Duration {
	if c.opts.idTokenLifetime != 0 {
		return c.opts.idTokenLifetime
	}
	return c.Client.IDTokenLifetime()
}

// clock is env.Now: the real time moved by shift.
type clock struct {
	mu    sync.Mutex
	shift time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.shift)
}

func (c *clock) set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shift = d
}

// env is the server's environment for a connector; the sealed secret is
// "sealed:" and the secret.
func env(clk *clock) federation.Env {
	return federation.Env{
		Issuer: gatehouse,
		HTTP:   &http.Client{Timeout: 5 * time.Second},
		Open: func(sealed []byte) ([]byte, error) {
			plain, ok := bytes.CutPrefix(sealed, []byte("sealed:"))
			if !ok {
				return nil, errSeal
			}
			return plain, nil
		},
		Now:    clk.Now,
		Dev:    true,
		Logger: slog.New(slog.DiscardHandler),
	}
}

var errSeal = errors.New("test: not a sealed secret")

// row is the stored connector for settings, with the client secret
// sealed unless public.
func row(t *testing.T, s federation.OIDCSettings, public bool) storage.Connector {
	t.Helper()
	cfg, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	c := storage.Connector{ID: connectorID, Type: storage.ConnectorOIDC, Name: "Acme SSO", Enabled: true, Config: cfg}
	if !public {
		c.SecretSealed = []byte("sealed:" + secret)
	}
	return c
}

// open opens a connector on u with settings (issuer and client id
// filled in when empty).
func open(t *testing.T, u *upstream, s federation.OIDCSettings, clk *clock) federation.Connector {
	t.Helper()
	if s.Issuer == "" {
		s.Issuer = u.issuer
	}
	if s.ClientID == "" {
		s.ClientID = clientID
	}
	c, err := fedoidc.Open(context.Background(), row(t, s, u.store.opts.public), env(clk))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return c
}
