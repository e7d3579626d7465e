package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Helpers shared by security_test.go and conformance_test.go. They build on
// harness_test.go and never change what it does.

const (
	aliceEmail   = "alice@example.com"
	bobEmail     = "bob@example.com"
	malloryEmail = "mallory@example.com"
	evilHost     = "evil.example"
)

// sub returns a copy of h whose failures are reported on t, so that
// subtests sharing one instance never call FailNow on their parent.
func (h *harness) sub(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

func redirectURI(clientID string) string   { return "https://" + rpHost + "/" + clientID + "/cb" }
func postLogoutURI(clientID string) string { return "https://" + rpHost + "/" + clientID + "/bye" }

// browserStoppingAt is a browser that, besides the relying party, also
// stops at the issuer path stop (e.g. the authorize callback), so that a
// test can look at the redirect and decide who follows it.
func (h *harness) browserStoppingAt(stop string) *browser {
	b := h.browser()
	b.client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == rpHost || req.URL.Path == stop || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return b
}

// postWith posts a form with the given headers instead of the same-origin
// ones b.post sets; a header with value "" is left out.
func (b *browser) postWith(u string, form url.Values, headers map[string]string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	return b.do(req)
}

// cookie returns the value of the browser's cookie for the issuer.
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.h.issuer)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// plant puts a cookie for the issuer into the browser's jar.
func (b *browser) plant(name, value string) {
	u, _ := url.Parse(b.h.issuer)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// sessionCookie is the name of the session cookie (plain in dev on http).
func (h *harness) sessionCookie() string { return h.web.Sessions.CookieName() }

// loginResult is the outcome of one browser login.
type loginResult struct {
	b        *browser
	id       string     // the auth request id (the login form's hidden "id")
	q        url.Values // the callback's query
	verifier string     // the PKCE verifier ("" when no challenge was sent)
}

// withPKCE adds an S256 challenge to extra unless extra names
// code_challenge itself (nil to send none). It returns the verifier.
func withPKCE(extra url.Values) (url.Values, string) {
	q := url.Values{}
	for k, v := range extra {
		q[k] = v
	}
	if _, set := extra["code_challenge"]; set {
		return q, ""
	}
	v, c := pkce()
	q.Set("code_challenge", c)
	q.Set("code_challenge_method", "S256")
	return q, v
}

// loginFlow sends b to /authorize for clientID (PKCE S256 unless extra says
// otherwise), logs in as email and returns the callback.
func (h *harness) loginFlow(b *browser, clientID, email string, extra url.Values) loginResult {
	h.t.Helper()
	q, verifier := withPKCE(extra)
	p := b.get(h.authURL(clientID, q))
	id := p.hidden().Get("id")
	return loginResult{b: b, id: id, q: b.login(p, email, alicePW).callback(h.t), verifier: verifier}
}

// silent sends b to /authorize with prompt=none and returns the redirect
// to the client (a code, or an error) without any login form in between.
func (h *harness) silent(b *browser, clientID string, extra url.Values) (url.Values, string) {
	h.t.Helper()
	q, verifier := withPKCE(extra)
	q.Set("prompt", "none")
	return b.get(h.authURL(clientID, q)).callback(h.t), verifier
}

func codeForm(clientID, code, verifier string) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI(clientID)}}
	if verifier != "" {
		f.Set("code_verifier", verifier)
	}
	return f
}

// exchange redeems the login's code.
func (h *harness) exchange(clientID, secret string, l loginResult) (int, map[string]any) {
	h.t.Helper()
	return h.tokenRequest(clientID, secret, codeForm(clientID, l.q.Get("code"), l.verifier))
}

// mustExchange redeems the code and fails unless tokens come back.
func (h *harness) mustExchange(clientID, secret string, l loginResult) map[string]any {
	h.t.Helper()
	status, body := h.exchange(clientID, secret, l)
	if status != http.StatusOK || body["access_token"] == nil {
		h.t.Fatalf("code exchange: %d %v", status, body)
	}
	return body
}

func (h *harness) refresh(clientID, secret, rt string, scope string) (int, map[string]any) {
	h.t.Helper()
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	if scope != "" {
		f.Set("scope", scope)
	}
	return h.tokenRequest(clientID, secret, f)
}

func jsonStr(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// wantOAuthError checks an RFC 6749 §5.2 error answer.
func wantOAuthError(t *testing.T, what string, status int, body map[string]any, wantStatus int, wantErr string) {
	t.Helper()
	if status != wantStatus || jsonStr(body, "error") != wantErr {
		t.Fatalf("%s: got %d %v; want %d %s", what, status, body, wantStatus, wantErr)
	}
	if body["access_token"] != nil || body["id_token"] != nil || body["refresh_token"] != nil {
		t.Fatalf("%s: an error answer carries tokens: %v", what, body)
	}
}

// claims decodes a JWT's payload (without verifying it) into a map.
func jwtClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	var m map[string]any
	decodeSegment(t, raw, &m)
	return m
}

// jwtHeader decodes a compact JWS's protected header.
func jwtHeader(t *testing.T, raw string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.SplitN(raw, ".", 2)[0])
	if err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	return m
}

// atHash is OIDC Core §3.1.3.6's at_hash for an RS256/ES256 token.
func atHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// redirectParams returns the query and fragment parameters of a Location
// (implicit and hybrid responses use the fragment).
func redirectParams(loc *url.URL) url.Values {
	out := loc.Query()
	if frag, err := url.ParseQuery(loc.Fragment); err == nil {
		for k, v := range frag {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

// wantNoRedirect checks that p is an error answered at path itself: a 4xx,
// no Location header, no redirect followed, and no login form.
func wantNoRedirect(t *testing.T, p page, path string) {
	t.Helper()
	if p.resp.StatusCode < 400 || p.resp.StatusCode > 499 {
		t.Fatalf("status %d; want a 4xx error page\n%.300s", p.resp.StatusCode, p.body)
	}
	if loc := p.resp.Header.Get("Location"); loc != "" {
		t.Fatalf("error page carries Location %q", loc)
	}
	if got := p.resp.Request.URL.Path; got != path {
		t.Fatalf("the browser was redirected to %s; want an answer at %s", p.resp.Request.URL, path)
	}
	if strings.Contains(p.body, `name="password"`) {
		t.Fatal("the error page is a login form")
	}
}

// wantErrorAtClient checks that p is a redirect to the client's registered
// redirect_uri carrying error wantErr (any error when ""), and no code or
// token anywhere.
func wantErrorAtClient(t *testing.T, p page, clientID, wantErr string) url.Values {
	t.Helper()
	if p.resp.StatusCode != http.StatusFound && p.resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d; want an error redirect to the client\n%.300s", p.resp.StatusCode, p.body)
	}
	loc, err := url.Parse(p.resp.Header.Get("Location"))
	if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != redirectURI(clientID) {
		t.Fatalf("error redirect to %q; want the registered %s", p.resp.Header.Get("Location"), redirectURI(clientID))
	}
	params := redirectParams(loc)
	wantNoGrant(t, params)
	if e := params.Get("error"); e == "" || (wantErr != "" && e != wantErr) {
		t.Fatalf("error redirect params %v; want error=%s", params, wantErr)
	}
	return params
}

// wantNoGrant fails if an authorization response carries a code or token.
func wantNoGrant(t *testing.T, params url.Values) {
	t.Helper()
	for _, k := range []string{"code", "access_token", "id_token", "refresh_token"} {
		if params.Has(k) {
			t.Fatalf("authorization response carries %s: %v", k, params)
		}
	}
}

// jwks fetches /keys: the parsed set and the raw members.
func (h *harness) jwks() (jose.JSONWebKeySet, []map[string]any) {
	h.t.Helper()
	resp, err := http.Get(h.issuer + "/keys")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("/keys: %d %s", resp.StatusCode, body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		h.t.Fatalf("/keys: %v\n%s", err, body)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	_ = json.Unmarshal(body, &raw)
	return set, raw.Keys
}

func kids(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

// verifyWithJWKS checks raw's signature against the published key its kid
// names.
func (h *harness) verifyWithJWKS(raw string) error {
	set, _ := h.jwks()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		return err
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		return errors.New("kid " + jws.Signatures[0].Header.KeyID + " is not published")
	}
	_, err = jws.Verify(keys[0])
	return err
}

// authRequest loads the stored auth request, for assertions.
func (h *harness) authRequest(id string) storage.AuthRequest {
	h.t.Helper()
	r, err := h.inst.Store.GetAuthRequest(h.ctx, id)
	if err != nil {
		h.t.Fatalf("auth request %s: %v", id, err)
	}
	return r
}

// sessionLive reports whether the session row with this hash exists.
func (h *harness) sessionLive(hash string) bool {
	h.t.Helper()
	if hash == "" {
		h.t.Fatal("no session hash")
	}
	_, err := h.inst.Store.GetSession(h.ctx, hash)
	if errors.Is(err, storage.ErrNotFound) {
		return false
	} else if err != nil {
		h.t.Fatal(err)
	}
	return true
}

// loggedIn reports whether b's session still logs it in silently.
func (h *harness) loggedIn(b *browser, clientID string) bool {
	h.t.Helper()
	q, _ := h.silent(b, clientID, nil)
	switch {
	case q.Get("code") != "":
		return true
	case q.Get("error") == "login_required":
		return false
	}
	h.t.Fatalf("prompt=none: neither a code nor login_required: %v", q)
	return false
}

func hasAll(list []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(list, w) {
			return false
		}
	}
	return true
}
