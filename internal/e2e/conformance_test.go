package e2e

// Checks ported from the OpenID conformance suite's Basic, Config, Form
// Post and RP-initiated-logout plans that security_test.go does not
// already make, and a full login with zitadel/oidc's relying party.

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-idp/gatehouse/idp/clients"
)

func (h *harness) getJSON(path string) (int, http.Header, map[string]any) {
	h.t.Helper()
	resp, err := http.Get(h.issuer + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		h.t.Fatalf("%s: not JSON (%d): %s", path, resp.StatusCode, body)
	}
	return resp.StatusCode, resp.Header, m
}

func strList(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// TestDiscoveryConformance (Config plan): the discovery document states
// exactly what is served, at absolute URLs under the issuer.
func TestDiscoveryConformance(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		status, hdr, d := h.getJSON("/.well-known/openid-configuration")
		if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			t.Fatalf("discovery: %d %s", status, hdr.Get("Content-Type"))
		}
		if d["issuer"] != h.issuer {
			t.Fatalf("issuer %v; want exactly %s", d["issuer"], h.issuer)
		}
		for field, path := range map[string]string{
			"authorization_endpoint": "/authorize",
			"token_endpoint":         "/oauth/token",
			"userinfo_endpoint":      "/userinfo",
			"jwks_uri":               "/keys",
			"end_session_endpoint":   "/end_session",
			"revocation_endpoint":    "/oauth/revoke",
			"introspection_endpoint": "/oauth/introspect",
		} {
			if d[field] != h.issuer+path {
				t.Errorf("%s = %v; want %s", field, d[field], h.issuer+path)
			}
		}
		for _, field := range []string{"check_session_iframe", "device_authorization_endpoint", "registration_endpoint"} {
			if _, ok := d[field]; ok {
				t.Errorf("%s advertised: %v", field, d[field])
			}
		}
		exact := func(field string, want ...string) {
			if got := strList(d[field]); !slices.Equal(got, want) {
				t.Errorf("%s = %v; want %v", field, got, want)
			}
		}
		exact("response_types_supported", "code")
		exact("code_challenge_methods_supported", "S256")
		exact("subject_types_supported", "public")
		algs := strList(d["id_token_signing_alg_values_supported"])
		if !slices.Contains(algs, "RS256") {
			t.Errorf("id_token_signing_alg_values_supported %v lacks RS256", algs)
		}
		for _, a := range algs {
			if a == "none" || strings.HasPrefix(a, "HS") {
				t.Errorf("id_token_signing_alg_values_supported advertises %s", a)
			}
		}
		if modes := strList(d["response_modes_supported"]); !hasAll([]string{"query", "form_post"}, modes...) || !slices.Contains(modes, "form_post") {
			t.Errorf("response_modes_supported %v; want query and form_post only", modes)
		}
		for _, g := range strList(d["grant_types_supported"]) {
			if g == "implicit" || g == "password" {
				t.Errorf("grant_types_supported advertises %s", g)
			}
		}
		if m := strList(d["token_endpoint_auth_methods_supported"]); !hasAll(m, "client_secret_basic", "client_secret_post") ||
			slices.Contains(m, "private_key_jwt") || slices.Contains(m, "client_secret_jwt") {
			t.Errorf("token_endpoint_auth_methods_supported %v", m)
		}
		if !slices.Contains(strList(d["scopes_supported"]), "openid") {
			t.Errorf("scopes_supported %v lacks openid", d["scopes_supported"])
		}
		// request_uri_parameter_supported defaults to true when absent
		// (Discovery §3), so it must be present and false.
		for _, f := range []string{"request_uri_parameter_supported"} {
			if v, ok := d[f]; !ok || v != false {
				t.Errorf("%s = %v (present %v); want false", f, v, ok)
			}
		}
		for _, f := range []string{"request_parameter_supported", "claims_parameter_supported"} {
			if v, ok := d[f]; ok && v != false {
				t.Errorf("%s = %v; want false or absent", f, v)
			}
		}
		// Only classes a login can reach: no MFA method exists yet, so
		// urn:gatehouse:acr:mfa must not be advertised (issue 8).
		if acr := strList(d["acr_values_supported"]); !slices.Equal(acr, []string{"urn:gatehouse:acr:pwd"}) {
			t.Errorf("acr_values_supported %v; want [urn:gatehouse:acr:pwd]", acr)
		}
		// Clients authenticate with secrets or not at all: no JWT client
		// assertions, request objects or signed userinfo to advertise.
		for _, f := range []string{"token_endpoint_auth_signing_alg_values_supported",
			"revocation_endpoint_auth_signing_alg_values_supported", "introspection_endpoint_auth_signing_alg_values_supported",
			"request_object_signing_alg_values_supported", "userinfo_signing_alg_values_supported"} {
			if v, ok := d[f]; ok {
				t.Errorf("%s = %v; want absent", f, v)
			}
		}
	})
}

// TestJWKSConformance (Config plan): every published key names its kid,
// alg and use, holds no private material, and kids are unique.
func TestJWKSConformance(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		set, raw := h.jwks()
		if len(raw) < 3 {
			t.Fatalf("/keys has %d keys; want one per algorithm (RS256, ES256, EdDSA)", len(raw))
		}
		seen := map[string]bool{}
		var algs []string
		for i, k := range raw {
			kid, _ := k["kid"].(string)
			alg, _ := k["alg"].(string)
			if kid == "" || alg == "" || k["use"] != "sig" || k["kty"] == nil {
				t.Errorf("key %d: kid=%v alg=%v use=%v kty=%v", i, k["kid"], k["alg"], k["use"], k["kty"])
			}
			if seen[kid] {
				t.Errorf("kid %s published twice", kid)
			}
			seen[kid] = true
			algs = append(algs, alg)
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
				if _, ok := k[private]; ok {
					t.Errorf("key %s publishes private member %q", kid, private)
				}
			}
		}
		for _, k := range set.Keys {
			if !k.IsPublic() || !k.Valid() {
				t.Errorf("key %s is not a valid public key", k.KeyID)
			}
		}
		if !hasAll(algs, "RS256", "ES256", "EdDSA") {
			t.Errorf("algorithms %v", algs)
		}
	})
}

// TestUserinfoConformance (Basic plan): the bearer token goes in the
// Authorization header (or the form body, RFC 6750 §2.2); anything else,
// or a token that cannot be used, is 401 with WWW-Authenticate.
func TestUserinfoConformance(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		uid := h.user(aliceEmail, alicePW)
		secret := h.client("web", nil)
		svcSecret := h.client("svc", func(in *clients.Input) {
			in.RedirectURIs, in.PostLogoutRedirectURIs = nil, nil
			in.GrantTypes, in.Scopes = []string{"client_credentials"}, []string{"reports.read"}
		})
		tok := jsonStr(h.mustExchange("web", secret, h.loginFlow(h.browser(), "web", aliceEmail, nil)), "access_token")
		noOpenID := jsonStr(h.mustExchange("web", secret, h.loginFlow(h.browser(), "web", aliceEmail,
			url.Values{"scope": {"email profile"}})), "access_token")
		revoked := jsonStr(h.mustExchange("web", secret, h.loginFlow(h.browser(), "web", aliceEmail, nil)), "access_token")
		if status, _ := h.postJSON("/oauth/revoke", "web", secret, url.Values{"token": {revoked}}); status != http.StatusOK {
			t.Fatalf("revoke: %d", status)
		}
		_, cc := h.tokenRequest("svc", svcSecret, url.Values{"grant_type": {"client_credentials"}, "scope": {"reports.read"}})

		call := func(method, query, auth string, form url.Values) (int, http.Header, map[string]any) {
			var body io.Reader
			if form != nil {
				body = strings.NewReader(form.Encode())
			}
			req, _ := http.NewRequest(method, h.issuer+"/userinfo"+query, body)
			if form != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			return resp.StatusCode, resp.Header, m
		}
		for _, tc := range []struct {
			name        string
			method      string
			query, auth string
			form        url.Values
			ok          bool
		}{
			{"GET, Authorization: Bearer", http.MethodGet, "", "Bearer " + tok, nil, true},
			{"POST, Authorization: Bearer", http.MethodPost, "", "Bearer " + tok, url.Values{}, true},
			{"GET, scheme in lower case", http.MethodGet, "", "bearer " + tok, nil, true},
			{"POST, token in the form body", http.MethodPost, "", "", url.Values{"access_token": {tok}}, true},
			{"no token", http.MethodGet, "", "", nil, false},
			{"token in the query string", http.MethodGet, "?access_token=" + url.QueryEscape(tok), "", nil, false},
			{"Basic scheme", http.MethodGet, "", "Basic " + tok, nil, false},
			{"unknown token", http.MethodGet, "", "Bearer gh_at_" + strings.Repeat("A", 43), nil, false},
			{"revoked token", http.MethodGet, "", "Bearer " + revoked, nil, false},
			{"token without the openid scope", http.MethodGet, "", "Bearer " + noOpenID, nil, false},
			{"client credentials token", http.MethodGet, "", "Bearer " + jsonStr(cc, "access_token"), nil, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, hdr, body := call(tc.method, tc.query, tc.auth, tc.form)
				if tc.ok {
					if status != http.StatusOK || body["sub"] != uid || body["email"] != aliceEmail {
						t.Fatalf("%d %v", status, body)
					}
					if cache := hdr.Get("Cache-Control"); !strings.Contains(cache, "no-store") {
						t.Fatalf("Cache-Control %q", cache)
					}
					return
				}
				if status != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("%d WWW-Authenticate=%q %v; want 401 with a Bearer challenge", status, hdr.Get("WWW-Authenticate"), body)
				}
				if body["sub"] != nil || body["email"] != nil {
					t.Fatalf("refusal carries claims: %v", body)
				}
			})
		}
		t.Run("expired token", func(t *testing.T) {
			h := h.sub(t)
			h.clock.Advance(clients.DefaultAccessTokenTTL + time.Second)
			if status, hdr, _ := call(http.MethodGet, "", "Bearer "+tok, nil); status != http.StatusUnauthorized ||
				!strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_token") {
				t.Fatalf("%d %q", status, hdr.Get("WWW-Authenticate"))
			}
		})
	})
}

var (
	formRE   = regexp.MustCompile(`<form[^>]*method="post"[^>]*action="([^"]*)"`)
	scriptRE = regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`)
)

var eventHandlerRE = regexp.MustCompile(`(?i)\son\w+=`)

// checkFormPostPage checks that p is Gatehouse's auto-post page posting to
// action, under a CSP that lets it post to the action's origin only, frames
// it nowhere and runs no inline script, without event handlers and never
// cached; it returns every hidden field, repeated ones included.
func checkFormPostPage(t *testing.T, p page, action string) url.Values {
	t.Helper()
	if p.resp.StatusCode != http.StatusOK || p.resp.Header.Get("Location") != "" {
		t.Fatalf("form_post: %d Location=%q\n%.300s", p.resp.StatusCode, p.resp.Header.Get("Location"), p.body)
	}
	if ct := p.resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type %q", ct)
	}
	if m := formRE.FindStringSubmatch(p.body); m == nil || html.UnescapeString(m[1]) != action {
		t.Fatalf("form action %v; want %s\n%s", m, action, p.body)
	}
	csp := p.resp.Header.Get("Content-Security-Policy")
	directives := map[string][]string{}
	for _, d := range strings.Split(csp, ";") {
		if f := strings.Fields(d); len(f) > 0 {
			directives[f[0]] = f[1:]
		}
	}
	if fa := directives["form-action"]; !slices.Equal(fa, []string{"https://" + rpHost}) {
		t.Fatalf("CSP form-action %v; want only https://%s (CSP %q)", fa, rpHost, csp)
	}
	if !slices.Equal(directives["frame-ancestors"], []string{"'none'"}) {
		t.Fatalf("CSP %q lacks frame-ancestors 'none'", csp)
	}
	script := directives["script-src"]
	if script == nil {
		script = directives["default-src"]
	}
	for _, s := range script {
		if s == "'unsafe-inline'" || s == "*" || strings.HasPrefix(s, "'nonce-") || strings.HasPrefix(s, "'sha") {
			t.Fatalf("CSP allows inline script: %q", csp)
		}
	}
	for _, s := range scriptRE.FindAllStringSubmatch(p.body, -1) {
		if strings.TrimSpace(s[2]) != "" || !strings.Contains(s[1], "src=") {
			t.Fatalf("inline script in the form_post page: %s", s[0])
		}
	}
	if eventHandlerRE.MatchString(p.body) {
		t.Fatalf("event handler in the form_post page:\n%s", p.body)
	}
	if cc := p.resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Fatalf("Cache-Control %q", cc)
	}
	f := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(p.body, -1) {
		f.Add(m[1], html.UnescapeString(m[2]))
	}
	return f
}

// TestFormPostConformance (Form Post plan): response_mode=form_post answers
// with a page that posts code, state and iss to the redirect_uri, under a
// CSP that allows posting to the client's origin only and no inline
// script.
func TestFormPostConformance(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		secret := h.client("web", nil)
		const state = `st"><script>alert(1)</script>&x=1`

		check := func(t *testing.T, p page) url.Values {
			t.Helper()
			f := checkFormPostPage(t, p, redirectURI("web"))
			if strings.Contains(p.body, "<script>alert(1)") {
				t.Fatalf("the page reflects markup:\n%s", p.body)
			}
			if f.Get("state") != state || f.Get("iss") != h.issuer {
				t.Fatalf("hidden fields %v", f)
			}
			return f
		}

		t.Run("code", func(t *testing.T) {
			h := h.sub(t)
			b := h.browser()
			extra, verifier := withPKCE(url.Values{"response_mode": {"form_post"}, "state": {state}})
			f := check(t, b.login(b.get(h.authURL("web", extra)), aliceEmail, alicePW))
			if f.Get("code") == "" || f.Has("error") {
				t.Fatalf("hidden fields %v", f)
			}
			h.mustExchange("web", secret, loginResult{q: f, verifier: verifier})
		})
		t.Run("error", func(t *testing.T) {
			h := h.sub(t)
			extra, _ := withPKCE(url.Values{"response_mode": {"form_post"}, "state": {state}, "prompt": {"none"}})
			f := check(t, h.browser().get(h.authURL("web", extra)))
			if f.Get("error") != "login_required" || f.Has("code") {
				t.Fatalf("hidden fields %v", f)
			}
		})
		t.Run("auto-submit script", func(t *testing.T) {
			h := h.sub(t)
			extra, _ := withPKCE(url.Values{"response_mode": {"form_post"}, "prompt": {"none"}})
			p := h.browser().get(h.authURL("web", extra))
			s := regexp.MustCompile(`<script src="([^"]+)"`).FindStringSubmatch(p.body)
			if s == nil || !strings.HasPrefix(html.UnescapeString(s[1]), "/") {
				t.Fatalf("the form_post page loads no script of Gatehouse's:\n%s", p.body)
			}
			resp, err := http.Get(h.issuer + html.UnescapeString(s[1]))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
				t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		})
	})
}

// TestAuthorizationResponseConformance (Basic plan): state comes back
// exactly (and only when sent), the issuer is named (RFC 9207), a nonce is
// optional in the code flow, and a request without openid is plain OAuth
// (no ID token).
func TestAuthorizationResponseConformance(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		uid := h.user(aliceEmail, alicePW)
		secret := h.client("web", nil)
		for _, tc := range []struct {
			name      string
			extra     url.Values
			wantState []string
			wantID    bool
		}{
			{"state with special characters", url.Values{"state": {"a b&c=d/é%20+"}}, []string{"a b&c=d/é%20+"}, true},
			{"no state", url.Values{"state": nil}, nil, true},
			{"no nonce", url.Values{"nonce": nil}, []string{"st-web"}, true},
			{"no openid scope", url.Values{"scope": {"email profile"}}, []string{"st-web"}, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := h.sub(t)
				l := h.loginFlow(h.browser(), "web", aliceEmail, tc.extra)
				if got := l.q["state"]; !slices.Equal(got, tc.wantState) {
					t.Fatalf("state %q; want %q", got, tc.wantState)
				}
				if l.q.Get("iss") != h.issuer {
					t.Fatalf("iss %q", l.q.Get("iss"))
				}
				tok := h.mustExchange("web", secret, l)
				if _, has := tok["id_token"]; has != tc.wantID {
					t.Fatalf("id_token present=%v; want %v (%v)", has, tc.wantID, tok)
				}
				if tok["token_type"] != "Bearer" || tok["expires_in"] == nil {
					t.Fatalf("token response %v", tok)
				}
				status, body := h.postJSON("/oauth/introspect", "web", secret, url.Values{"token": {jsonStr(tok, "access_token")}})
				if status != http.StatusOK || body["active"] != true || body["sub"] != uid {
					t.Fatalf("introspect: %d %v", status, body)
				}
			})
		}
		t.Run("no scope at all", func(t *testing.T) {
			h := h.sub(t)
			extra, _ := withPKCE(url.Values{"scope": nil})
			wantErrorAtClient(t, h.browser().get(h.authURL("web", extra)), "web", "invalid_request")
		})
	})
}

// TestClientAuthMethodsConformance (Basic plan): client_secret_basic (with
// RFC 6749 §2.3.1 form-encoding) and client_secret_post both work.
func TestClientAuthMethodsConformance(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		const special = "s3cr:t+with%special/chars&more=than 32 characters"
		h.client("web", func(in *clients.Input) { in.Secret = special })
		for _, method := range []string{"client_secret_basic", "client_secret_post"} {
			t.Run(method, func(t *testing.T) {
				h := h.sub(t)
				l := h.loginFlow(h.browser(), "web", aliceEmail, nil)
				form := codeForm("web", l.q.Get("code"), l.verifier)
				var status int
				var body map[string]any
				if method == "client_secret_basic" {
					status, body = h.tokenRequest("web", special, form)
				} else {
					form.Set("client_id", "web")
					form.Set("client_secret", special)
					status, body = h.postJSON("/oauth/token", "", "", form)
				}
				if status != http.StatusOK || jsonStr(body, "id_token") == "" {
					t.Fatalf("%d %v", status, body)
				}
			})
		}
	})
}

// TestZitadelRP: a full login, userinfo, refresh and logout driven by
// zitadel/oidc's relying party (the library Gatehouse's OP side uses, so
// both ends agree on the protocol only if Gatehouse gets it right).
func TestZitadelRP(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		uid := h.user(aliceEmail, alicePW)
		secret := h.client("zrp", nil)
		const nonce = "zitadel-nonce-1"
		// The nonce the RP expects: the login's for the code exchange; none for
		// refreshed ID tokens (OIDC Core §12.2 with errata 2: a refreshed ID
		// token should not carry one).
		expect := nonce
		relying, err := rp.NewRelyingPartyOIDC(h.ctx, h.issuer, "zrp", secret, redirectURI("zrp"),
			[]string{oidc.ScopeOpenID, oidc.ScopeEmail, oidc.ScopeProfile, oidc.ScopeOfflineAccess},
			rp.WithVerifierOpts(rp.WithNonce(func(context.Context) string { return expect })),
			rp.WithSigningAlgsFromDiscovery())
		if err != nil {
			t.Fatal(err)
		}
		verifier, challenge := pkce()
		withNonce := func() []oauth2.AuthCodeOption {
			return []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("nonce", nonce)}
		}
		b := h.browser()
		p := b.get(rp.AuthURL("z-state", relying, rp.WithCodeChallenge(challenge), withNonce))
		q := b.login(p, aliceEmail, alicePW).callback(t)
		if q.Get("state") != "z-state" {
			t.Fatalf("state %q", q.Get("state"))
		}
		tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](h.ctx, q.Get("code"), relying, rp.WithCodeVerifier(verifier))
		if err != nil {
			t.Fatalf("code exchange (verifies the ID token, nonce and at_hash): %v", err)
		}
		c := tokens.IDTokenClaims
		if c.Subject != uid || c.Issuer != h.issuer || c.Nonce != nonce || c.AuthorizedParty != "zrp" ||
			!slices.Equal(c.AuthenticationMethodsReferences, []string{"pwd"}) || c.AuthenticationContextClassReference != "urn:gatehouse:acr:pwd" ||
			c.AuthTime.AsTime().IsZero() || !slices.Contains(c.Audience, "zrp") {
			t.Fatalf("ID token claims %+v", c)
		}
		if c.AccessTokenHash == "" {
			t.Fatal("no at_hash")
		}
		if _, err := rp.CodeExchange[*oidc.IDTokenClaims](h.ctx, q.Get("code"), relying, rp.WithCodeVerifier(verifier)); err == nil {
			t.Fatal("the code was accepted twice")
		}
		// The replay revoked the first grant; log in again for the rest.
		verifier, challenge = pkce()
		q = b.get(rp.AuthURL("z-state-2", relying, rp.WithCodeChallenge(challenge), withNonce)).callback(t)
		tokens, err = rp.CodeExchange[*oidc.IDTokenClaims](h.ctx, q.Get("code"), relying, rp.WithCodeVerifier(verifier))
		if err != nil {
			t.Fatalf("silent second login: %v", err)
		}

		info, err := rp.Userinfo[*oidc.UserInfo](h.ctx, tokens.AccessToken, tokens.TokenType, uid, relying)
		if err != nil || info.Subject != uid || info.Email != aliceEmail || !bool(info.EmailVerified) {
			t.Fatalf("userinfo %+v: %v", info, err)
		}
		if _, err := rp.Userinfo[*oidc.UserInfo](h.ctx, tokens.AccessToken, tokens.TokenType, "someone-else", relying); err == nil {
			t.Fatal("userinfo for another subject accepted")
		}

		expect = ""
		fresh, err := rp.RefreshTokens[*oidc.IDTokenClaims](h.ctx, relying, tokens.RefreshToken, "", "")
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if fresh.RefreshToken == "" || fresh.RefreshToken == tokens.RefreshToken || fresh.AccessToken == tokens.AccessToken {
			t.Fatal("refresh did not rotate")
		}
		if fc := fresh.IDTokenClaims; fc == nil || fc.Subject != uid || fc.AuthTime != tokens.IDTokenClaims.AuthTime || fc.AuthorizedParty != "zrp" {
			t.Fatalf("refreshed ID token %+v", fresh.IDTokenClaims)
		}
		if _, err := rp.RefreshTokens[*oidc.IDTokenClaims](h.ctx, relying, tokens.RefreshToken, "", ""); err == nil {
			t.Fatal("the rotated refresh token was accepted again")
		}
		if _, err := rp.RefreshTokens[*oidc.IDTokenClaims](h.ctx, relying, fresh.RefreshToken, "", ""); err == nil {
			t.Fatal("the family survived the reuse of its rotated refresh token")
		}

		// RP-initiated logout through the browser, at the advertised endpoint.
		es := url.Values{"id_token_hint": {tokens.IDToken}, "post_logout_redirect_uri": {postLogoutURI("zrp")}, "state": {"z-bye"}}
		p = b.get(relying.GetEndSessionEndpoint() + "?" + es.Encode())
		if loc := p.resp.Header.Get("Location"); loc != postLogoutURI("zrp")+"?state=z-bye" {
			t.Fatalf("end_session: %d Location=%q", p.resp.StatusCode, loc)
		}
		if h.loggedIn(b, "zrp") {
			t.Fatal("still logged in after RP-initiated logout")
		}
	})
}
