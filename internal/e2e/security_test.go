package e2e

// Security tests for the OIDC front door: one test (or table) per item of
// the "OIDC front door" section of SECURITY-TESTS.md, plus the "Sessions
// and forms" items that concern the OIDC login. Each drives a whole
// instance over HTTP and asserts status, body and stored state.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/keys"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// --- redirect_uri ---------------------------------------------------------

// TestRedirectURIExactMatch: any redirect_uri that is not byte-for-byte a
// registered one gets an error page at /authorize, never a redirect.
func TestRedirectURIExactMatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		h.client("web", nil)
		h.client("two", func(in *clients.Input) {
			in.RedirectURIs = []string{redirectURI("two"), "https://" + rpHost + "/two/other"}
		})
		reg := redirectURI("web")
		for _, tc := range []struct{ name, clientID, uri string }{
			{"another host", "web", "https://" + evilHost + "/web/cb"},
			{"registered host under the attacker's domain", "web", "https://" + rpHost + "." + evilHost + "/web/cb"},
			{"userinfo before the attacker's host", "web", "https://" + rpHost + "@" + evilHost + "/web/cb"},
			{"backslash", "web", "https://" + rpHost + `\@` + evilHost + "/web/cb"},
			{"trailing slash", "web", reg + "/"},
			{"dot segments out of the path", "web", reg + "/../../evil/cb"},
			{"dot segments back to the registered path", "web", "https://" + rpHost + "/web/x/../cb"},
			{"added query", "web", reg + "?next=https://" + evilHost},
			{"empty query", "web", reg + "?"},
			{"fragment", "web", reg + "#x"},
			{"host case", "web", "https://RP.EXAMPLE/web/cb"},
			{"path case", "web", "https://" + rpHost + "/WEB/cb"},
			{"scheme case", "web", "HTTPS://" + rpHost + "/web/cb"},
			{"explicit :443", "web", "https://" + rpHost + ":443/web/cb"},
			{"percent-encoded character", "web", "https://" + rpHost + "/web/%63b"},
			{"percent-encoded slash", "web", "https://" + rpHost + "/web%2Fcb"},
			{"http instead of https", "web", "http://" + rpHost + "/web/cb"},
			{"trailing dot in the host", "web", "https://" + rpHost + "./web/cb"},
			{"prefix of the registered URI", "web", "https://" + rpHost + "/web/c"},
			{"trailing space", "web", reg + " "},
			{"another client's URI", "web", redirectURI("two")},
			{"javascript", "web", "javascript:alert(document.domain)//" + reg},
			{"none sent, one registered", "web", ""},
			{"none sent, two registered", "two", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := h.sub(t)
				extra := url.Values{"redirect_uri": {tc.uri}}
				if tc.uri == "" {
					extra["redirect_uri"] = nil
				}
				extra, _ = withPKCE(extra)
				p := h.browser().get(h.authURL(tc.clientID, extra))
				wantNoRedirect(t, p, "/authorize")
				if strings.Contains(p.body, evilHost) && strings.Contains(strings.ToLower(p.body), "<a ") {
					t.Fatalf("error page links to the attacker's host:\n%s", p.body)
				}
			})
		}
		t.Run("unknown client", func(t *testing.T) {
			h := h.sub(t)
			extra, _ := withPKCE(url.Values{"redirect_uri": {"https://" + evilHost + "/cb"}})
			p := h.browser().get(h.authURL("no-such-client", extra))
			wantNoRedirect(t, p, "/authorize")
		})
		t.Run("control: the registered URI reaches the login form", func(t *testing.T) {
			h := h.sub(t)
			extra, _ := withPKCE(nil)
			if p := h.browser().get(h.authURL("web", extra)); !p.isLoginForm() {
				t.Fatalf("registered redirect_uri: %d %s", p.resp.StatusCode, p.resp.Request.URL)
			}
		})
	})
}

// TestRedirectURIRegistration: URIs that run code, read files or cannot be
// matched exactly are refused at registration, for redirect and
// post-logout URIs alike.
func TestRedirectURIRegistration(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		bad := []string{
			"javascript:alert(1)",
			"JavaScript:alert(1)",
			"javascript://" + rpHost + "/%0Aalert(1)",
			"data:text/html,<script>alert(1)</script>",
			"DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
			"vbscript:msgbox(1)",
			"file:///etc/passwd",
			"java\tscript:alert(1)",
			"http://" + rpHost + "/cb",
			"https://" + rpHost + "/cb#frag",
			"https://*." + rpHost + "/cb",
			"https://user:pw@" + rpHost + "/cb",
			"/relative/cb",
			"https:///cb",
		}
		n := 0
		for _, field := range []string{"redirect_uris", "post_logout_redirect_uris"} {
			for _, uri := range bad {
				t.Run(field+" "+uri, func(t *testing.T) {
					n++
					id := "reg-" + string(rune('a'+n/26)) + string(rune('a'+n%26))
					in := clients.Input{ID: id, RedirectURIs: []string{redirectURI(id)}}
					if field == "redirect_uris" {
						in.RedirectURIs = append(in.RedirectURIs, uri)
					} else {
						in.PostLogoutRedirectURIs = []string{uri}
					}
					if _, _, err := h.inst.Admin.CreateClient(h.ctx, "test", in); err == nil {
						t.Fatalf("CreateClient accepted %s %q", field, uri)
					}
					if _, err := h.inst.Store.GetClient(h.ctx, id); err == nil {
						t.Fatal("the refused client was stored")
					}
				})
			}
		}
		t.Run("control: https, loopback and private-use schemes register", func(t *testing.T) {
			in := clients.Input{ID: "reg-ok", RedirectURIs: []string{redirectURI("reg-ok"), "http://127.0.0.1:8123/cb",
				"com.example.app:/cb"}, PostLogoutRedirectURIs: []string{postLogoutURI("reg-ok")}}
			if _, _, err := h.inst.Admin.CreateClient(h.ctx, "test", in); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// --- response_type --------------------------------------------------------

// TestResponseTypeCodeOnly: only the code flow is served. Anything else is
// an error (at the client's registered URI, which RFC 6749 §4.1.2.1
// allows once the redirect URI is valid) and never a token.
func TestResponseTypeCodeOnly(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		h.client("web", nil)
		for _, tc := range []struct{ name, responseType, mode string }{
			{"missing", "", ""},
			{"token (implicit)", "token", ""},
			{"id_token (implicit)", "id_token", ""},
			{"id_token token (implicit)", "id_token token", ""},
			{"code id_token (hybrid)", "code id_token", ""},
			{"code token (hybrid)", "code token", ""},
			{"code id_token token (hybrid)", "code id_token token", ""},
			{"none", "none", ""},
			{"unknown", "device_code", ""},
			{"case change", "CODE", ""},
			{"code with response_mode=fragment", "code", "fragment"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := h.sub(t)
				b := h.browser()
				// Logged in, so that a wrongly accepted request would be
				// answered at once instead of stopping at the login form.
				h.loginFlow(b, "web", aliceEmail, nil)
				extra, _ := withPKCE(url.Values{"response_type": {tc.responseType}})
				if tc.responseType == "" {
					extra["response_type"] = nil
				}
				if tc.mode != "" {
					extra.Set("response_mode", tc.mode)
				}
				p := b.get(h.authURL("web", extra))
				if p.resp.Request.URL.Path != "/authorize" {
					t.Fatalf("the request went on to %s", p.resp.Request.URL)
				}
				if p.resp.StatusCode >= 400 && p.resp.StatusCode < 500 && p.resp.Header.Get("Location") == "" {
					return // an error page is fine too
				}
				params := wantErrorAtClient(t, p, "web", "")
				if params.Get("state") != "st-web" {
					t.Fatalf("error redirect without the state: %v", params)
				}
			})
		}
	})
}

// --- PKCE -----------------------------------------------------------------

// TestPKCEAuthorize: /authorize accepts S256 only, and requires PKCE from
// public clients. Refusals go back to the client as invalid_request before
// any login form is shown.
func TestPKCEAuthorize(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.client("web", nil)
		h.client("spa", func(in *clients.Input) { in.Public = true })
		verifier, challenge := pkce()
		for _, tc := range []struct {
			name, clientID    string
			challenge, method []string // nil: not sent
		}{
			{"plain", "web", []string{verifier}, []string{"plain"}},
			{"plain, public client", "spa", []string{verifier}, []string{"plain"}},
			{"challenge without a method", "web", []string{challenge}, nil},
			{"challenge without a method, public client", "spa", []string{challenge}, nil},
			{"unknown method", "web", []string{challenge}, []string{"S512"}},
			{"method in lower case", "web", []string{challenge}, []string{"s256"}},
			{"empty method", "web", []string{challenge}, []string{""}},
			{"method without a challenge", "web", nil, []string{"S256"}},
			{"S256 with a malformed challenge", "web", []string{"short"}, []string{"S256"}},
			{"S256 with a non-base64url challenge", "web", []string{strings.Repeat("+", 43)}, []string{"S256"}},
			{"public client without a challenge", "spa", nil, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := h.sub(t)
				extra := url.Values{"code_challenge": tc.challenge, "code_challenge_method": tc.method}
				p := h.browser().get(h.authURL(tc.clientID, extra))
				if p.resp.Request.URL.Path != "/authorize" || p.isLoginForm() {
					t.Fatalf("the request reached %s; want a refusal at /authorize", p.resp.Request.URL)
				}
				params := wantErrorAtClient(t, p, tc.clientID, "invalid_request")
				if params.Get("state") != "st-"+tc.clientID {
					t.Fatalf("state not echoed: %v", params)
				}
			})
		}
		t.Run("control: public client with S256 reaches the login form", func(t *testing.T) {
			h := h.sub(t)
			extra, _ := withPKCE(nil)
			if p := h.browser().get(h.authURL("spa", extra)); !p.isLoginForm() {
				t.Fatalf("%d %s\n%.300s", p.resp.StatusCode, p.resp.Request.URL, p.body)
			}
		})
	})
}

// TestPKCEToken: the verifier must match the challenge the code was issued
// with, and must not appear for a code issued without one.
func TestPKCEToken(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		webSecret := h.client("web", nil)
		h.client("spa", func(in *clients.Input) { in.Public = true })
		otherVerifier, _ := pkce()
		for _, tc := range []struct {
			name, clientID string
			noChallenge    bool
			verifier       func(l loginResult) string // "" sends none
			wantOK         bool
		}{
			{"wrong verifier", "web", false, func(loginResult) string { return otherVerifier }, false},
			{"wrong verifier, public client", "spa", false, func(loginResult) string { return otherVerifier }, false},
			{"missing verifier", "web", false, func(loginResult) string { return "" }, false},
			{"missing verifier, public client", "spa", false, func(loginResult) string { return "" }, false},
			{"the challenge sent as verifier (plain downgrade)", "web", false, func(l loginResult) string {
				return pkceChallenge(l.verifier)
			}, false},
			{"verifier with its last character changed", "web", false, func(l loginResult) string {
				last := "A"
				if strings.HasSuffix(l.verifier, "A") {
					last = "B"
				}
				return l.verifier[:len(l.verifier)-1] + last
			}, false},
			{"too short verifier", "web", false, func(l loginResult) string { return l.verifier[:42] }, false},
			{"verifier for a code issued without a challenge", "web", true, func(loginResult) string { return otherVerifier }, false},
			{"control: right verifier", "web", false, func(l loginResult) string { return l.verifier }, true},
			{"control: right verifier, public client", "spa", false, func(l loginResult) string { return l.verifier }, true},
			{"control: no challenge, no verifier", "web", true, func(loginResult) string { return "" }, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := h.sub(t)
				var extra url.Values
				if tc.noChallenge {
					extra = url.Values{"code_challenge": nil}
				}
				l := h.loginFlow(h.browser(), tc.clientID, aliceEmail, extra)
				secret := ""
				if tc.clientID == "web" {
					secret = webSecret
				}
				status, body := h.tokenRequest(tc.clientID, secret, codeForm(tc.clientID, l.q.Get("code"), tc.verifier(l)))
				if tc.wantOK {
					if status != http.StatusOK || jsonStr(body, "access_token") == "" {
						t.Fatalf("%d %v", status, body)
					}
					return
				}
				wantOAuthError(t, "token", status, body, http.StatusBadRequest, "invalid_grant")
				// A refused code is burnt: whoever sent the wrong verifier
				// may hold a stolen code, and must not get to try again.
				right := l.verifier
				if tc.noChallenge {
					right = ""
				}
				status, body = h.tokenRequest(tc.clientID, secret, codeForm(tc.clientID, l.q.Get("code"), right))
				wantOAuthError(t, "token after a refused attempt", status, body, http.StatusBadRequest, "invalid_grant")
			})
		}
	})
}

func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// --- Authorization codes --------------------------------------------------

// TestAuthorizationCodeReplay: a code works once; its second use is
// refused and revokes everything the first use issued.
func TestAuthorizationCodeReplay(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		secret := h.client("web", nil)
		l := h.loginFlow(h.browser(), "web", aliceEmail, url.Values{"scope": {"openid email offline_access"}})
		first := h.mustExchange("web", secret, l)
		at, rt := jsonStr(first, "access_token"), jsonStr(first, "refresh_token")
		if rt == "" {
			t.Fatal("no refresh token for offline_access")
		}
		if !h.introspect(t, "web", secret, at) {
			t.Fatal("fresh access token inactive")
		}
		for i := range 2 {
			status, body := h.exchange("web", secret, l)
			wantOAuthError(t, "replayed code", status, body, http.StatusBadRequest, "invalid_grant")
			if i == 0 && (h.introspect(t, "web", secret, at) || h.introspect(t, "web", secret, rt)) {
				t.Fatal("the tokens of the first use survived the replay")
			}
		}
		status, body := h.refresh("web", secret, rt, "")
		wantOAuthError(t, "refresh after code replay", status, body, http.StatusBadRequest, "invalid_grant")
		req, err := http.NewRequest(http.MethodGet, h.issuer+"/userinfo", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+at)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("userinfo with a revoked access token: %d", resp.StatusCode)
		}
	})
}

// TestAuthorizationCodeBinding: a code is bound to its lifetime, client,
// redirect_uri and a still active user.
func TestAuthorizationCodeBinding(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		webSecret := h.client("web", func(in *clients.Input) {
			in.RedirectURIs = append(in.RedirectURIs, "https://"+rpHost+"/web/other")
		})
		otherSecret := h.client("other", nil)
		n := 0
		for _, tc := range []struct {
			name   string
			before func(h *harness, email string) // runs between login and exchange
			form   func(f url.Values) (clientID, secret string)
			wantOK bool
		}{
			{"expired (61 s)", func(h *harness, _ string) { h.clock.Advance(61 * time.Second) }, nil, false},
			{"control: 59 s old", func(h *harness, _ string) { h.clock.Advance(59 * time.Second) }, nil, true},
			{"another client", nil, func(url.Values) (string, string) { return "other", otherSecret }, false},
			{"another registered redirect_uri", nil, func(f url.Values) (string, string) {
				f.Set("redirect_uri", "https://"+rpHost+"/web/other")
				return "web", webSecret
			}, false},
			{"redirect_uri with a trailing slash", nil, func(f url.Values) (string, string) {
				f.Set("redirect_uri", redirectURI("web")+"/")
				return "web", webSecret
			}, false},
			{"redirect_uri missing", nil, func(f url.Values) (string, string) {
				f.Del("redirect_uri")
				return "web", webSecret
			}, false},
			{"unknown code", nil, func(f url.Values) (string, string) {
				f.Set("code", "gh_ac_"+strings.Repeat("A", 43))
				return "web", webSecret
			}, false},
			{"user disabled after login", func(h *harness, email string) {
				if _, err := h.inst.Admin.DisableUser(h.ctx, "test", email); err != nil {
					h.t.Fatal(err)
				}
			}, nil, false},
			{"control: as issued", nil, nil, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := h.sub(t)
				n++
				email := "user" + string(rune('a'+n)) + "@example.com"
				h.user(email, alicePW)
				l := h.loginFlow(h.browser(), "web", email, nil)
				if tc.before != nil {
					tc.before(h, email)
				}
				f := codeForm("web", l.q.Get("code"), l.verifier)
				clientID, secret := "web", webSecret
				if tc.form != nil {
					clientID, secret = tc.form(f)
				}
				status, body := h.tokenRequest(clientID, secret, f)
				if tc.wantOK {
					if status != http.StatusOK {
						t.Fatalf("%d %v", status, body)
					}
					return
				}
				wantOAuthError(t, "token", status, body, http.StatusBadRequest, "invalid_grant")
			})
		}
	})
}

// TestAuthorizeCallbackBinding: the callback that issues the code gives
// one code per login, and only to the browser that logged in.
func TestAuthorizeCallbackBinding(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		uid := h.user(aliceEmail, alicePW)
		h.user(bobEmail, alicePW)
		secret := h.client("web", nil)

		// Alice logs in; her browser is stopped before the callback, so its
		// URL (with the auth request id) is what an attacker could learn.
		alice := h.browserStoppingAt("/authorize/callback")
		extra, verifier := withPKCE(nil)
		p := alice.get(h.authURL("web", extra))
		id := p.hidden().Get("id")
		p = alice.login(p, aliceEmail, alicePW)
		cb := p.resp.Header.Get("Location")
		if p.resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(cb, "/authorize/callback?id=") {
			t.Fatalf("login answer %d Location=%q; want a redirect to the callback", p.resp.StatusCode, cb)
		}
		callback := h.issuer + cb

		t.Run("another browser without a session", func(t *testing.T) {
			h := h.sub(t)
			p := h.browser().get(callback)
			wantNoRedirect(t, p, "/authorize/callback")
		})
		t.Run("another browser with another user's session", func(t *testing.T) {
			h := h.sub(t)
			bob := h.browser()
			h.loginFlow(bob, "web", bobEmail, nil)
			p := bob.get(callback)
			if loc := p.resp.Header.Get("Location"); loc != "" {
				u, _ := url.Parse(loc)
				wantNoGrant(t, redirectParams(u))
			}
			if p.resp.StatusCode < 400 && p.resp.Header.Get("Location") == "" {
				t.Fatalf("status %d", p.resp.StatusCode)
			}
		})
		t.Run("control: the browser that logged in gets the code", func(t *testing.T) {
			h := h.sub(t)
			q := alice.get(callback).callback(t)
			if q.Get("code") == "" || q.Get("state") != "st-web" {
				t.Fatalf("callback: %v", q)
			}
			body := h.mustExchange("web", secret, loginResult{q: q, verifier: verifier})
			if sub := jwtClaims(t, jsonStr(body, "id_token"))["sub"]; sub != uid {
				t.Fatalf("sub %v; want %s", sub, uid)
			}
		})
		t.Run("replayed callback gives no second code", func(t *testing.T) {
			h := h.sub(t)
			for _, b := range []*browser{alice, h.browser()} {
				p := b.get(callback)
				if loc := p.resp.Header.Get("Location"); loc != "" {
					u, _ := url.Parse(loc)
					params := redirectParams(u)
					wantNoGrant(t, params)
					if params.Get("error") == "" {
						t.Fatalf("replayed callback redirected without an error: %s", loc)
					}
				} else if p.resp.StatusCode < 400 {
					t.Fatalf("replayed callback: %d", p.resp.StatusCode)
				}
			}
			if r := h.authRequest(id); r.Step == "done" {
				t.Fatalf("auth request still at step done after its code was issued")
			}
		})
	})
}

// --- Client authentication ------------------------------------------------

// tokenEndpointRaw posts to an endpoint and returns status, headers and the
// raw body, so that two refusals can be compared byte for byte.
func (h *harness) tokenEndpointRaw(path string, form url.Values, basicID, basicSecret string) (int, http.Header, string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// TestClientAuthentication: a wrong secret and an unknown client get the
// same 401 invalid_client, body for body, on every endpoint that
// authenticates clients.
//
// Timing is not measured here (timed assertions are flaky on a shared
// machine). What keeps the two paths equally expensive is
// clients.VerifySecret, which the token endpoint also calls for an
// unknown client: it hashes the presented secret and compares it in
// constant time against a dummy hash, so both paths do one SHA-256 and one
// compare. Its unit tests cover that; here the answers must be identical.
func TestClientAuthentication(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		secret := h.client("web", nil)
		h.client("spa", func(in *clients.Input) { in.Public = true })
		wrong := clients.NewSecret()
		type cred struct {
			form            url.Values
			basicID, basicS string
		}
		cases := []struct {
			name string
			c    cred
		}{
			{"wrong secret, basic", cred{nil, "web", wrong}},
			{"unknown client, basic", cred{nil, "nobody", wrong}},
			{"wrong secret, post", cred{url.Values{"client_id": {"web"}, "client_secret": {wrong}}, "", ""}},
			{"unknown client, post", cred{url.Values{"client_id": {"nobody"}, "client_secret": {wrong}}, "", ""}},
			{"no secret for a confidential client", cred{url.Values{"client_id": {"web"}}, "", ""}},
			{"empty basic secret", cred{nil, "web", ""}},
			{"secret with its last character changed", cred{nil, "web", secret[:len(secret)-1] + "x"}},
			{"public client sending a secret", cred{url.Values{"client_id": {"spa"}, "client_secret": {wrong}}, "", ""}},
			{"basic and post at once", cred{url.Values{"client_secret": {secret}}, "web", secret}},
			{"no client at all", cred{nil, "", ""}},
		}
		for _, path := range []string{"/oauth/token", "/oauth/introspect", "/oauth/revoke"} {
			t.Run(path, func(t *testing.T) {
				var reference string
				for _, tc := range cases {
					t.Run(tc.name, func(t *testing.T) {
						h := h.sub(t)
						form := url.Values{"grant_type": {"authorization_code"}, "code": {"gh_ac_x"}, "token": {"gh_at_x"},
							"redirect_uri": {redirectURI("web")}}
						for k, v := range tc.c.form {
							form[k] = v
						}
						status, hdr, body := h.tokenEndpointRaw(path, form, tc.c.basicID, tc.c.basicS)
						var m map[string]any
						_ = json.Unmarshal([]byte(body), &m)
						if status != http.StatusUnauthorized || jsonStr(m, "error") != "invalid_client" {
							t.Fatalf("%d %s; want 401 invalid_client", status, body)
						}
						if hdr.Get("WWW-Authenticate") == "" {
							t.Fatal("401 without WWW-Authenticate")
						}
						if strings.Contains(body, "nobody") || strings.Contains(body, "unknown") || strings.Contains(body, "wrong") {
							t.Fatalf("the refusal says why: %s", body)
						}
						if reference == "" {
							reference = body
						} else if body != reference {
							t.Fatalf("refusals differ:\n%s\n%s", reference, body)
						}
					})
				}
			})
		}
		t.Run("control: right secret, basic and post", func(t *testing.T) {
			h := h.sub(t)
			base := url.Values{"grant_type": {"authorization_code"}, "code": {"gh_ac_x"}, "redirect_uri": {redirectURI("web")}}
			status, _, body := h.tokenEndpointRaw("/oauth/token", base, "web", secret)
			if status != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
				t.Fatalf("basic: %d %s; want the client accepted and the code refused", status, body)
			}
			post := url.Values{"client_id": {"web"}, "client_secret": {secret}}
			for k, v := range base {
				post[k] = v
			}
			status, _, body = h.tokenEndpointRaw("/oauth/token", post, "", "")
			if status != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
				t.Fatalf("post: %d %s; want the client accepted and the code refused", status, body)
			}
		})
	})
}

// --- Refresh tokens -------------------------------------------------------

// TestRefreshTokenFamily: every refresh rotates the token; presenting a
// used one revokes the whole family, the legitimate holder's newest tokens
// included.
func TestRefreshTokenFamily(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		secret := h.client("web", nil)
		l := h.loginFlow(h.browser(), "web", aliceEmail, url.Values{"scope": {"openid email offline_access"}})
		tok := h.mustExchange("web", secret, l)
		rts := []string{jsonStr(tok, "refresh_token")}
		ats := []string{jsonStr(tok, "access_token")}
		for range 2 {
			status, body := h.refresh("web", secret, rts[len(rts)-1], "")
			if status != http.StatusOK {
				t.Fatalf("refresh: %d %v", status, body)
			}
			rt, at := jsonStr(body, "refresh_token"), jsonStr(body, "access_token")
			if rt == "" || slices.Contains(rts, rt) || slices.Contains(ats, at) {
				t.Fatalf("refresh did not rotate: %v", body)
			}
			if h.introspect(t, "web", secret, rts[len(rts)-1]) {
				t.Fatal("a used refresh token is still active")
			}
			rts, ats = append(rts, rt), append(ats, at)
		}
		// rts[0] is replayed: reuse. Everything in the family dies.
		status, body := h.refresh("web", secret, rts[0], "")
		wantOAuthError(t, "replayed refresh token", status, body, http.StatusBadRequest, "invalid_grant")
		status, body = h.refresh("web", secret, rts[2], "")
		wantOAuthError(t, "newest refresh token after reuse", status, body, http.StatusBadRequest, "invalid_grant")
		for i, at := range ats {
			if h.introspect(t, "web", secret, at) {
				t.Fatalf("access token %d of the revoked family is active", i)
			}
		}
		if h.introspect(t, "web", secret, rts[2]) {
			t.Fatal("newest refresh token of the revoked family is active")
		}
	})
}

// TestRefreshTokenRestrictions: a refresh may not widen the scope, cross
// clients, or outlive the user's right to tokens.
func TestRefreshTokenRestrictions(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		secret := h.client("web", nil)
		otherSecret := h.client("other", nil)
		n := 0
		for _, tc := range []struct {
			name      string
			before    func(h *harness, userID, email string)
			clientID  string
			scope     string
			wantError string
		}{
			{"widen to a scope the client has not", nil, "web", "openid email gatehouse:admin", "invalid_scope"},
			{"widen to a scope the client has but the grant had not", nil, "web", "openid email profile", "invalid_scope"},
			{"control: narrow", nil, "web", "openid", ""},
			{"another client", nil, "other", "", "invalid_grant"},
			{"user disabled", func(h *harness, _, email string) {
				if _, err := h.inst.Admin.DisableUser(h.ctx, "test", email); err != nil {
					h.t.Fatal(err)
				}
			}, "web", "", "invalid_grant"},
			{"user disabled in storage only (no revocation)", func(h *harness, uid, _ string) {
				if _, err := h.inst.Store.UpdateUser(h.ctx, uid, func(u storage.User) (storage.User, error) {
					u.State = storage.UserDisabled
					return u, nil
				}); err != nil {
					h.t.Fatal(err)
				}
			}, "web", "", "invalid_grant"},
			{"user's tokens revoked (password or MFA reset)", func(h *harness, uid, _ string) {
				if _, err := h.inst.Store.RevokeUserTokens(h.ctx, uid, h.clock.Now()); err != nil {
					h.t.Fatal(err)
				}
			}, "web", "", "invalid_grant"},
			{"client deleted and registered again under the same id", func(h *harness, _, _ string) {
				if err := h.inst.Admin.DeleteClient(h.ctx, "test", "web"); err != nil {
					h.t.Fatal(err)
				}
				h.clock.Advance(time.Second)
				in := clients.Input{ID: "web", Secret: secret, RedirectURIs: []string{redirectURI("web")},
					Scopes: []string{"openid", "profile", "email", "offline_access"}}
				if _, _, err := h.inst.Admin.CreateClient(h.ctx, "test", in); err != nil {
					h.t.Fatal(err)
				}
			}, "web", "", "invalid_grant"},
			{"control: as issued", nil, "web", "", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := h.sub(t)
				n++
				email := "r" + string(rune('a'+n)) + "@example.com"
				uid := h.user(email, alicePW)
				l := h.loginFlow(h.browser(), "web", email, url.Values{"scope": {"openid email offline_access"}})
				tok := h.mustExchange("web", secret, l)
				if tc.before != nil {
					tc.before(h, uid, email)
				}
				s := secret
				if tc.clientID == "other" {
					s = otherSecret
				}
				status, body := h.refresh(tc.clientID, s, jsonStr(tok, "refresh_token"), tc.scope)
				if tc.wantError == "" {
					if status != http.StatusOK || jsonStr(body, "access_token") == "" {
						t.Fatalf("%d %v", status, body)
					}
					if tc.scope != "" && jsonStr(body, "scope") != tc.scope {
						t.Fatalf("scope %q; want %q", jsonStr(body, "scope"), tc.scope)
					}
					return
				}
				wantOAuthError(t, "refresh", status, body, http.StatusBadRequest, tc.wantError)
				if (tc.name == "user disabled" || strings.HasPrefix(tc.name, "user's tokens revoked")) &&
					h.introspect(t, "web", secret, jsonStr(tok, "access_token")) {
					t.Fatal("the user's access token is still active")
				}
			})
		}
	})
}

// --- prompt and max_age ---------------------------------------------------

// TestPromptAndMaxAge: prompt=none never shows a page; prompt=login and an
// exceeded max_age force the password again, with a newer auth_time.
func TestPromptAndMaxAge(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		uid := h.user(aliceEmail, alicePW)
		secret := h.client("web", nil)
		b := h.browser()

		t.Run("prompt=none logged out", func(t *testing.T) {
			h := h.sub(t)
			for _, mode := range []string{"", "query"} {
				extra, _ := withPKCE(url.Values{"prompt": {"none"}})
				if mode != "" {
					extra.Set("response_mode", mode)
				}
				p := h.browser().get(h.authURL("web", extra))
				params := wantErrorAtClient(t, p, "web", "login_required")
				if params.Get("state") != "st-web" || params.Get("iss") != h.issuer {
					t.Fatalf("login_required without state/iss: %v", params)
				}
			}
		})

		first := h.mustExchange("web", secret, h.loginFlow(b, "web", aliceEmail, nil))
		authTime := jwtClaims(t, jsonStr(first, "id_token"))["auth_time"].(float64)

		t.Run("prompt=none logged in", func(t *testing.T) {
			h := h.sub(t)
			q, verifier := h.silent(b, "web", nil)
			tok := h.mustExchange("web", secret, loginResult{q: q, verifier: verifier})
			c := jwtClaims(t, jsonStr(tok, "id_token"))
			if c["sub"] != uid || c["auth_time"].(float64) != authTime {
				t.Fatalf("silent login: sub %v auth_time %v; want %s %v", c["sub"], c["auth_time"], uid, authTime)
			}
		})
		t.Run("prompt=none with prompt=login", func(t *testing.T) {
			h := h.sub(t)
			extra, _ := withPKCE(url.Values{"prompt": {"none login"}})
			wantErrorAtClient(t, b.get(h.authURL("web", extra)), "web", "invalid_request")
		})
		t.Run("max_age not exceeded is silent", func(t *testing.T) {
			h := h.sub(t)
			h.clock.Advance(2 * time.Second)
			q, _ := h.silent(b, "web", url.Values{"max_age": {"3600"}})
			if q.Get("code") == "" {
				t.Fatalf("max_age=3600: %v", q)
			}
		})
		for _, tc := range []struct {
			name  string
			extra url.Values
		}{
			{"prompt=login", url.Values{"prompt": {"login"}}},
			{"max_age=1", url.Values{"max_age": {"1"}}},
			{"max_age=0", url.Values{"max_age": {"0"}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := h.sub(t)
				h.clock.Advance(2 * time.Second)
				if tc.name != "prompt=login" {
					// Silently, the stale session is refused.
					none := url.Values{}
					for k, v := range tc.extra {
						none[k] = v
					}
					q, _ := h.silent(b, "web", none)
					if q.Get("error") != "login_required" || q.Has("code") {
						t.Fatalf("prompt=none with %s: %v", tc.name, q)
					}
				}
				extra, verifier := withPKCE(tc.extra)
				p := b.get(h.authURL("web", extra))
				if !p.isLoginForm() {
					t.Fatalf("%s with a live session: %d %s; want the login form", tc.name, p.resp.StatusCode, p.resp.Request.URL)
				}
				q := b.login(p, aliceEmail, alicePW).callback(t)
				tok := h.mustExchange("web", secret, loginResult{q: q, verifier: verifier})
				c := jwtClaims(t, jsonStr(tok, "id_token"))
				if c["sub"] != uid || c["auth_time"].(float64) <= authTime {
					t.Fatalf("after %s: sub %v auth_time %v; want %s and later than %v", tc.name, c["sub"], c["auth_time"], uid, authTime)
				}
				if want := float64(h.clock.Now().Unix()); c["auth_time"].(float64) != want {
					t.Fatalf("auth_time %v; want now (%v)", c["auth_time"], want)
				}
				authTime = c["auth_time"].(float64)
			})
		}
	})
}

// --- ID token -------------------------------------------------------------

// TestIDTokenClaims: the claims a relying party must check are there and
// exact.
func TestIDTokenClaims(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		uid := h.user(aliceEmail, alicePW)
		secret := h.client("web", nil)
		for _, tc := range []struct {
			name  string
			nonce []string
		}{
			{"with nonce", []string{"n-" + strings.Repeat("x", 40)}},
			{"without nonce", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := h.sub(t)
				l := h.loginFlow(h.browser(), "web", aliceEmail, url.Values{"nonce": tc.nonce})
				tok := h.mustExchange("web", secret, l)
				raw := jsonStr(tok, "id_token")
				if err := h.verifyWithJWKS(raw); err != nil {
					t.Fatalf("ID token signature: %v", err)
				}
				if hdr := jwtHeader(t, raw); hdr["alg"] != "RS256" || hdr["kid"] == nil {
					t.Fatalf("header %v", hdr)
				}
				c := jwtClaims(t, raw)
				now := float64(h.clock.Now().Unix())
				aud, _ := c["aud"].([]any)
				switch {
				case c["iss"] != h.issuer:
					t.Fatalf("iss %v; want exactly %s", c["iss"], h.issuer)
				case c["sub"] != uid:
					t.Fatalf("sub %v", c["sub"])
				case !slices.Contains(aud, any("web")) && c["aud"] != "web":
					t.Fatalf("aud %v", c["aud"])
				case c["azp"] != "web":
					t.Fatalf("azp %v", c["azp"])
				case c["at_hash"] != atHash(jsonStr(tok, "access_token")):
					t.Fatalf("at_hash %v; want %s", c["at_hash"], atHash(jsonStr(tok, "access_token")))
				case c["auth_time"] != now:
					t.Fatalf("auth_time %v; want %v", c["auth_time"], now)
				case c["iat"] != now || !(c["exp"].(float64) > now):
					t.Fatalf("iat %v exp %v", c["iat"], c["exp"])
				case c["acr"] != "urn:gatehouse:acr:pwd":
					t.Fatalf("acr %v", c["acr"])
				}
				if amr, _ := c["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" {
					t.Fatalf("amr %v; want [pwd]", c["amr"])
				}
				if tc.nonce == nil {
					if _, ok := c["nonce"]; ok {
						t.Fatalf("nonce %v without one in the request", c["nonce"])
					}
				} else if c["nonce"] != tc.nonce[0] {
					t.Fatalf("nonce %v; want %s", c["nonce"], tc.nonce[0])
				}
			})
		}
	})
}

// TestMFARequiredNeverIssues: when the client or the request requires MFA,
// the password alone never yields a code or a session; the login stops at
// the second step (here its enrolment: alice has no factor).
func TestMFARequiredNeverIssues(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		webSecret := h.client("web", nil)
		h.client("strict", func(in *clients.Input) { in.RequireMFA = true })
		for _, tc := range []struct {
			name, clientID string
			extra          url.Values
			sso            bool // alice already has a password session
		}{
			{"client requires MFA", "strict", nil, false},
			{"acr_values asks for MFA", "web", url.Values{"acr_values": {"urn:gatehouse:acr:mfa"}}, false},
			{"client requires MFA, password session exists", "strict", nil, true},
			{"acr_values asks for MFA, password session exists", "web", url.Values{"acr_values": {"urn:gatehouse:acr:mfa"}}, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := h.sub(t)
				b := h.browser()
				if tc.sso {
					h.mustExchange("web", webSecret, h.loginFlow(b, "web", aliceEmail, nil))
				}
				extra, _ := withPKCE(tc.extra)
				p := b.get(h.authURL(tc.clientID, extra))
				id := p.hidden().Get("id")
				if !tc.sso {
					p = b.login(p, aliceEmail, alicePW)
				}
				if p.resp.Request.URL.Host == rpHost || p.resp.Header.Get("Location") != "" {
					t.Fatalf("the login went on to %s %s", p.resp.Request.URL, p.resp.Header.Get("Location"))
				}
				// Alice has no factor: the second step is its enrolment.
				if !strings.Contains(p.body, "Set up two-step sign-in") {
					t.Fatalf("%d; want the enrolment of a second step\n%.500s", p.resp.StatusCode, p.body)
				}
				if id == "" {
					id = strings.TrimPrefix(p.resp.Request.URL.RawQuery, "id=")
				}
				r := h.authRequest(id)
				if r.Step != "enrol" {
					t.Fatalf("auth request at step %q; want enrol", r.Step)
				}
				// Calling the callback directly issues nothing.
				cb := b.get(h.issuer + "/authorize/callback?id=" + url.QueryEscape(id))
				if loc := cb.resp.Header.Get("Location"); loc != "" {
					u, _ := url.Parse(loc)
					wantNoGrant(t, redirectParams(u))
				} else if cb.resp.StatusCode < 400 {
					t.Fatalf("callback: %d", cb.resp.StatusCode)
				}
				if !tc.sso && h.loggedIn(b, "web") {
					t.Fatal("the password step alone started a session")
				}
			})
		}
	})
}

// --- Algorithms -----------------------------------------------------------

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// forgedHints builds id_token_hints for sub that Gatehouse did not sign.
func forgedHints(t *testing.T, h *harness, genuine, clientSecret string) map[string]string {
	t.Helper()
	gc := jwtClaims(t, genuine)
	realKid, _ := jwtHeader(t, genuine)["kid"].(string)
	now := h.clock.Now()
	payload := map[string]any{"iss": h.issuer, "sub": gc["sub"], "aud": []string{"web"}, "azp": "web",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "auth_time": now.Unix()}
	pb, _ := json.Marshal(payload)
	body := b64json(payload)

	hs := func(header map[string]any) string {
		in := b64json(header) + "." + body
		m := hmac.New(sha256.New, []byte(clientSecret))
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(alg jose.SignatureAlgorithm, key any, opts *jose.SignerOptions) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts.WithType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		jws, err := s.Sign(pb)
		if err != nil {
			t.Fatal(err)
		}
		out, err := jws.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	parts := strings.Split(genuine, ".")
	var tampered map[string]any
	decodeSegment(t, genuine, &tampered)
	tampered["email"] = "mallory@example.com"

	return map[string]string{
		"alg none (by hand)":             b64json(map[string]any{"alg": "none", "typ": "JWT"}) + "." + body + ".",
		"alg none with the real kid":     b64json(map[string]any{"alg": "none", "typ": "JWT", "kid": realKid}) + "." + body + ".",
		"alg None (by hand)":             b64json(map[string]any{"alg": "None", "typ": "JWT"}) + "." + body + ".",
		"HS256 keyed by client secret":   hs(map[string]any{"alg": "HS256", "typ": "JWT"}),
		"HS256, real kid, by hand":       hs(map[string]any{"alg": "HS256", "typ": "JWT", "kid": realKid}),
		"HS256 keyed by secret, jose":    sign(jose.HS256, []byte(clientSecret), &jose.SignerOptions{}),
		"embedded jwk":                   sign(jose.RS256, attacker, &jose.SignerOptions{EmbedJWK: true}),
		"embedded jwk with the real kid": sign(jose.RS256, attacker, (&jose.SignerOptions{EmbedJWK: true}).WithHeader("kid", realKid)),
		"jku to the attacker's keys": sign(jose.RS256, attacker, (&jose.SignerOptions{}).
			WithHeader("jku", "https://"+evilHost+"/jwks.json").WithHeader("kid", "attacker")),
		"jku with the real kid": sign(jose.RS256, attacker, (&jose.SignerOptions{}).
			WithHeader("jku", "https://"+evilHost+"/jwks.json").WithHeader("kid", realKid)),
		"attacker key with the real kid": sign(jose.RS256, attacker, (&jose.SignerOptions{}).WithHeader("kid", realKid)),
		"tampered payload":               parts[0] + "." + b64json(tampered) + "." + parts[2],
		"no signature":                   parts[0] + "." + parts[1] + ".",
	}
}

// TestIDTokenHintAlgorithms: an id_token_hint Gatehouse did not sign is
// refused at /authorize (no silent login for its subject) and at
// /end_session (no logout, no redirect).
func TestIDTokenHintAlgorithms(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		secret := h.client("web", nil)
		jwtSecret := h.client("jwtapp", func(in *clients.Input) { in.AccessTokenFormat = "jwt" })

		// Alice's genuine ID token, and a JWT access token of hers.
		genuine := jsonStr(h.mustExchange("web", secret, h.loginFlow(h.browser(), "web", aliceEmail, nil)), "id_token")
		jwtAT := jsonStr(h.mustExchange("jwtapp", jwtSecret, h.loginFlow(h.browser(), "jwtapp", aliceEmail, nil)), "access_token")
		forged := forgedHints(t, h, genuine, secret)

		for name, hint := range forged {
			t.Run(name, func(t *testing.T) {
				h := h.sub(t)
				b := h.browser()
				h.loginFlow(b, "web", aliceEmail, nil)
				// /authorize, prompt=none: refused, although alice is logged in.
				extra, _ := withPKCE(url.Values{"id_token_hint": {hint}, "prompt": {"none"}})
				wantErrorAtClient(t, b.get(h.authURL("web", extra)), "web", "")
				// /end_session: no logout and no redirect.
				es := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {postLogoutURI("web")}, "state": {"s"}}
				p := b.get(h.issuer + "/end_session?" + es.Encode())
				if p.resp.Header.Get("Location") != "" || p.resp.Request.URL.Host == rpHost {
					t.Fatalf("end_session with a forged hint redirected: %d %s", p.resp.StatusCode, p.resp.Header.Get("Location"))
				}
				if p.resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("end_session with a forged hint: %d; want 400\n%.300s", p.resp.StatusCode, p.body)
				}
				if !h.loggedIn(b, "web") {
					t.Fatal("a forged hint ended the session")
				}
			})
		}
		t.Run("JWT access token as id_token_hint at end_session", func(t *testing.T) {
			h := h.sub(t)
			b := h.browser()
			h.loginFlow(b, "web", aliceEmail, nil)
			es := url.Values{"id_token_hint": {jwtAT}, "client_id": {"jwtapp"}, "post_logout_redirect_uri": {postLogoutURI("jwtapp")}}
			p := b.get(h.issuer + "/end_session?" + es.Encode())
			if p.resp.Header.Get("Location") != "" || !h.loggedIn(b, "web") {
				t.Fatalf("an access token (typ at+jwt) was accepted as an ID token: %d Location=%q", p.resp.StatusCode, p.resp.Header.Get("Location"))
			}
		})
		t.Run("request object with alg none", func(t *testing.T) {
			h := h.sub(t)
			b := h.browser()
			h.loginFlow(b, "web", aliceEmail, nil)
			ro := b64json(map[string]any{"alg": "none"}) + "." + b64json(map[string]any{"client_id": "web",
				"redirect_uri": "https://" + evilHost + "/cb", "response_type": "code", "scope": "openid", "prompt": "none"}) + "."
			extra, _ := withPKCE(url.Values{"request": {ro}})
			p := b.get(h.authURL("web", extra))
			if loc := p.resp.Header.Get("Location"); strings.Contains(loc, evilHost) {
				t.Fatalf("redirected to the request object's redirect_uri: %s", loc)
			}
			if p.isLoginForm() || p.resp.Request.URL.Path != "/authorize" {
				t.Fatalf("a request object was accepted: %d %s", p.resp.StatusCode, p.resp.Request.URL)
			}
			if p.resp.Header.Get("Location") != "" {
				wantErrorAtClient(t, p, "web", "")
			}
		})
		t.Run("control: the genuine hint", func(t *testing.T) {
			h := h.sub(t)
			b := h.browser()
			h.loginFlow(b, "web", aliceEmail, nil)
			q, _ := h.silent(b, "web", url.Values{"id_token_hint": {genuine}})
			if q.Get("code") == "" {
				t.Fatalf("prompt=none with the genuine hint: %v", q)
			}
			es := url.Values{"id_token_hint": {genuine}, "post_logout_redirect_uri": {postLogoutURI("web")}, "state": {"s"}}
			p := b.get(h.issuer + "/end_session?" + es.Encode())
			if loc := p.resp.Header.Get("Location"); loc != postLogoutURI("web")+"?state=s" {
				t.Fatalf("end_session with the genuine hint: %d Location=%q", p.resp.StatusCode, loc)
			}
			if h.loggedIn(b, "web") {
				t.Fatal("still logged in")
			}
		})
	})
}

// --- RP-initiated logout --------------------------------------------------

// TestRPInitiatedLogout: logout redirects only to a registered
// post_logout_redirect_uri, only with a valid hint or the user's
// confirmation, and really ends the session.
func TestRPInitiatedLogout(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		secret := h.client("web", nil)
		h.client("other", nil)

		type session struct {
			b    *browser
			hash string
			idt  string
		}
		start := func(h *harness) session {
			b := h.browser()
			l := h.loginFlow(b, "web", aliceEmail, nil)
			idt := jsonStr(h.mustExchange("web", secret, l), "id_token")
			return session{b, h.authRequest(l.id).SessionID, idt}
		}

		bye := postLogoutURI("web")
		foreign := forgedHints(t, h, start(h).idt, secret)["attacker key with the real kid"]
		for _, tc := range []struct {
			name string
			q    func(s session) url.Values
		}{
			{"unregistered host", func(s session) url.Values {
				return url.Values{"id_token_hint": {s.idt}, "post_logout_redirect_uri": {"https://" + evilHost + "/bye"}}
			}},
			{"trailing slash", func(s session) url.Values {
				return url.Values{"id_token_hint": {s.idt}, "post_logout_redirect_uri": {bye + "/"}}
			}},
			{"added query", func(s session) url.Values {
				return url.Values{"id_token_hint": {s.idt}, "post_logout_redirect_uri": {bye + "?x=1"}}
			}},
			{"the client's redirect_uri, not a post-logout one", func(s session) url.Values {
				return url.Values{"id_token_hint": {s.idt}, "post_logout_redirect_uri": {redirectURI("web")}}
			}},
			{"another client's post-logout URI", func(s session) url.Values {
				return url.Values{"id_token_hint": {s.idt}, "post_logout_redirect_uri": {postLogoutURI("other")}}
			}},
			{"another client's URI with that client_id", func(s session) url.Values {
				return url.Values{"id_token_hint": {s.idt}, "client_id": {"other"}, "post_logout_redirect_uri": {postLogoutURI("other")}}
			}},
			{"javascript", func(s session) url.Values {
				return url.Values{"id_token_hint": {s.idt}, "post_logout_redirect_uri": {"javascript:alert(1)"}}
			}},
			{"tampered hint", func(s session) url.Values {
				p := strings.Split(s.idt, ".")
				sig := []byte(p[2])
				sig[10] ^= 1
				return url.Values{"id_token_hint": {p[0] + "." + p[1] + "." + string(sig)}, "post_logout_redirect_uri": {bye}}
			}},
			{"hint from another issuer's key", func(s session) url.Values {
				return url.Values{"id_token_hint": {foreign}, "post_logout_redirect_uri": {bye}}
			}},
			{"URI without client_id or hint", func(session) url.Values {
				return url.Values{"post_logout_redirect_uri": {bye}}
			}},
			{"unknown client_id", func(session) url.Values {
				return url.Values{"client_id": {"nobody"}, "post_logout_redirect_uri": {bye}}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := h.sub(t)
				s := start(h)
				for _, method := range []string{http.MethodGet, http.MethodPost} {
					q := tc.q(s)
					q.Set("state", "s1")
					var p page
					if method == http.MethodGet {
						p = s.b.get(h.issuer + "/end_session?" + q.Encode())
					} else {
						p = s.b.post(h.issuer+"/end_session", q)
					}
					wantNoRedirect(t, p, "/end_session")
					if strings.Contains(p.body, "csrf_token") {
						t.Fatalf("%s: a refused logout offers a confirmation form", method)
					}
				}
				if !h.sessionLive(s.hash) {
					t.Fatal("a refused logout ended the session")
				}
			})
		}

		t.Run("no hint asks for confirmation", func(t *testing.T) {
			h := h.sub(t)
			s := start(h)
			oldCookie := s.b.cookie(h.sessionCookie())
			q := url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {bye}, "state": {"bye-state"}}
			p := s.b.get(h.issuer + "/end_session?" + q.Encode())
			if p.resp.StatusCode != http.StatusOK || !strings.Contains(p.body, "<form") || p.resp.Header.Get("Location") != "" {
				t.Fatalf("end_session without hint: %d; want a confirmation form\n%.500s", p.resp.StatusCode, p.body)
			}
			if !strings.Contains(p.resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Fatalf("confirmation page CSP %q", p.resp.Header.Get("Content-Security-Policy"))
			}
			if !h.sessionLive(s.hash) {
				t.Fatal("GET /end_session without a hint ended the session")
			}
			form := p.hidden()
			if form.Get("csrf_token") == "" || form.Get("confirm") != "1" || form.Get("post_logout_redirect_uri") != bye {
				t.Fatalf("confirmation form fields %v", form)
			}
			// Confirming without the CSRF token, with a wrong one, or from
			// another site does nothing.
			bad := []struct {
				name    string
				mod     func(url.Values)
				headers map[string]string
			}{
				{"no csrf_token", func(f url.Values) { f.Del("csrf_token") }, nil},
				{"wrong csrf_token", func(f url.Values) { f.Set("csrf_token", strings.Repeat("A", 43)) }, nil},
				{"cross-site Origin", nil, map[string]string{"Origin": "https://" + evilHost}},
				{"cross-site Sec-Fetch-Site", nil, map[string]string{"Origin": h.issuer, "Sec-Fetch-Site": "cross-site"}},
			}
			for _, bc := range bad {
				f := url.Values{}
				for k, v := range form {
					f[k] = v
				}
				if bc.mod != nil {
					bc.mod(f)
				}
				hdr := bc.headers
				if hdr == nil {
					hdr = map[string]string{"Origin": h.issuer, "Sec-Fetch-Site": "same-origin"}
				}
				r := s.b.postWith(h.issuer+"/end_session", f, hdr)
				if r.resp.StatusCode != http.StatusForbidden || r.resp.Header.Get("Location") != "" {
					t.Fatalf("%s: %d Location=%q; want 403", bc.name, r.resp.StatusCode, r.resp.Header.Get("Location"))
				}
				if !h.sessionLive(s.hash) {
					t.Fatalf("%s: the session ended", bc.name)
				}
			}
			r := s.b.post(h.issuer+"/end_session", form)
			if r.resp.StatusCode != http.StatusSeeOther || r.resp.Header.Get("Location") != bye+"?state=bye-state" {
				t.Fatalf("confirmed logout: %d Location=%q; want 303 to %s?state=bye-state", r.resp.StatusCode, r.resp.Header.Get("Location"), bye)
			}
			if h.sessionLive(s.hash) {
				t.Fatal("the session row survived the logout")
			}
			if h.loggedIn(s.b, "web") {
				t.Fatal("prompt=none after logout did not give login_required")
			}
			planted := h.browser()
			planted.plant(h.sessionCookie(), oldCookie)
			if h.loggedIn(planted, "web") {
				t.Fatal("the old session cookie still logs in after logout")
			}
		})
		t.Run("hint for another user than the session's asks for confirmation", func(t *testing.T) {
			h := h.sub(t)
			h.user(bobEmail, alicePW)
			bob := jsonStr(h.mustExchange("web", secret, h.loginFlow(h.browser(), "web", bobEmail, nil)), "id_token")
			s := start(h)
			q := url.Values{"id_token_hint": {bob}, "post_logout_redirect_uri": {bye}}
			p := s.b.get(h.issuer + "/end_session?" + q.Encode())
			if p.resp.StatusCode != http.StatusOK || p.hidden().Get("csrf_token") == "" || !h.sessionLive(s.hash) {
				t.Fatalf("%d; want a confirmation page and the session kept", p.resp.StatusCode)
			}
		})
		t.Run("control: the session's own hint logs out at once", func(t *testing.T) {
			h := h.sub(t)
			s := start(h)
			q := url.Values{"id_token_hint": {s.idt}, "post_logout_redirect_uri": {bye}, "state": {"x y"}}
			p := s.b.get(h.issuer + "/end_session?" + q.Encode())
			if loc := p.resp.Header.Get("Location"); loc != bye+"?state=x+y" {
				t.Fatalf("%d Location=%q", p.resp.StatusCode, loc)
			}
			if h.sessionLive(s.hash) || h.loggedIn(s.b, "web") {
				t.Fatal("the logout did not end the session")
			}
		})
	})
}

// --- Key rotation ---------------------------------------------------------

// TestKeyRotation: a rotated key is published before it signs, and the old
// key stays published until everything it signed has expired.
func TestKeyRotation(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		secret := h.client("web", nil)
		idToken := func() string {
			h.t.Helper()
			return jsonStr(h.mustExchange("web", secret, h.loginFlow(h.browser(), "web", aliceEmail, nil)), "id_token")
		}
		kidOf := func(raw string) string { k, _ := jwtHeader(t, raw)["kid"].(string); return k }

		oldTok := idToken()
		oldKid := kidOf(oldTok)
		set, _ := h.jwks()
		if len(set.Key(oldKid)) != 1 {
			t.Fatalf("signing kid %s not in /keys %v", oldKid, kids(set))
		}

		next, err := h.inst.Keys.Rotate(h.ctx, keys.RS256)
		if err != nil {
			t.Fatal(err)
		}
		if next.ID == oldKid || !next.NotBefore.After(h.clock.Now()) {
			t.Fatalf("rotation: new key %s signs from %v (now %v)", next.ID, next.NotBefore, h.clock.Now())
		}
		set, _ = h.jwks()
		if !hasAll(kids(set), oldKid, next.ID) {
			t.Fatalf("right after rotation /keys has %v; want %s (signing) and %s (next)", kids(set), oldKid, next.ID)
		}
		if k := kidOf(idToken()); k != oldKid {
			t.Fatalf("a token issued right after rotation has kid %s; want the old %s", k, oldKid)
		}
		// Still before PublishAhead, even once the cache expired: old key.
		h.clock.Advance(keys.DefaultCacheTTL + time.Second)
		if k := kidOf(idToken()); k != oldKid {
			t.Fatalf("before PublishAhead the kid is %s; want %s", k, oldKid)
		}

		h.clock.Advance(keys.DefaultPublishAhead)
		newTok := idToken()
		if k := kidOf(newTok); k != next.ID {
			t.Fatalf("after PublishAhead the kid is %s; want the new %s", k, next.ID)
		}
		set, _ = h.jwks()
		if !hasAll(kids(set), oldKid, next.ID) {
			t.Fatalf("after the switch /keys has %v; want both", kids(set))
		}
		for _, tok := range []string{oldTok, newTok} {
			if err := h.verifyWithJWKS(tok); err != nil {
				t.Fatalf("token of kid %s does not verify against /keys: %v", kidOf(tok), err)
			}
		}

		// The old key retired at next.NotBefore; it is published until
		// everything it signed expired, plus the cache lifetime.
		retireAt := next.NotBefore
		h.clock.Advance(retireAt.Add(keys.DefaultTokenLifetime - time.Second).Sub(h.clock.Now()))
		set, _ = h.jwks()
		if len(set.Key(oldKid)) != 1 {
			t.Fatalf("the old key left /keys before its tokens expired: %v", kids(set))
		}
		h.clock.Advance(keys.DefaultCacheTTL + 2*time.Second)
		set, _ = h.jwks()
		if len(set.Key(oldKid)) != 0 || len(set.Key(next.ID)) != 1 {
			t.Fatalf("after RetireAt+TokenLifetime+CacheTTL /keys has %v; want %s gone and %s kept", kids(set), oldKid, next.ID)
		}
		if k := kidOf(idToken()); k != next.ID {
			t.Fatalf("kid %s; want %s", k, next.ID)
		}
	})
}

// --- Sessions and forms ---------------------------------------------------

// TestSessionRenewedAtLogin: login gives the browser a new session id; a
// cookie planted before the login (here: the attacker's own session) is
// dead after it and never becomes the victim's session.
func TestSessionRenewedAtLogin(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		uid := h.user(aliceEmail, alicePW)
		h.user(malloryEmail, alicePW)
		secret := h.client("web", nil)
		name := h.sessionCookie()

		mallory := h.browser()
		h.loginFlow(mallory, "web", malloryEmail, nil)
		planted := mallory.cookie(name)
		if planted == "" {
			t.Fatalf("no %s cookie after login", name)
		}

		victim := h.browserStoppingAt("/authorize/callback")
		victim.plant(name, planted)
		extra, verifier := withPKCE(url.Values{"prompt": {"login"}})
		p := victim.login(victim.get(h.authURL("web", extra)), aliceEmail, alicePW)
		var set *http.Cookie
		for _, c := range p.resp.Cookies() {
			if c.Name == name {
				set = c
			}
		}
		if set == nil || set.Value == "" || set.Value == planted {
			t.Fatalf("login did not issue a new session cookie: %v", p.resp.Header.Values("Set-Cookie"))
		}
		if !set.HttpOnly || set.SameSite != http.SameSiteLaxMode || set.Path != "/" {
			t.Fatalf("session cookie attributes: %s", p.resp.Header.Get("Set-Cookie"))
		}
		q := victim.get(h.issuer + p.resp.Header.Get("Location")).callback(t)
		victim.client.CheckRedirect = h.browser().client.CheckRedirect
		tok := h.mustExchange("web", secret, loginResult{q: q, verifier: verifier})
		if sub := jwtClaims(t, jsonStr(tok, "id_token"))["sub"]; sub != uid {
			t.Fatalf("sub %v; want alice", sub)
		}

		if h.loggedIn(mallory, "web") {
			t.Fatal("the planted session id is still alive after the victim's login")
		}
		attacker := h.browser()
		attacker.plant(name, planted)
		if h.loggedIn(attacker, "web") {
			t.Fatal("the planted cookie logs in after the victim's login")
		}
		if !h.loggedIn(victim, "web") {
			t.Fatal("the victim's new session does not work")
		}
	})
}

// TestDisableEndsSession: disabling a user ends their browser sessions on
// the server, so SSO stops at once.
func TestDisableEndsSession(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		h.client("web", nil)
		b := h.browser()
		l := h.loginFlow(b, "web", aliceEmail, nil)
		hash := h.authRequest(l.id).SessionID
		if !h.sessionLive(hash) {
			t.Fatal("no session row after login")
		}
		if _, err := h.inst.Admin.DisableUser(h.ctx, "test", aliceEmail); err != nil {
			t.Fatal(err)
		}
		if h.sessionLive(hash) || h.loggedIn(b, "web") {
			t.Fatal("the disabled user's session still logs in")
		}
	})
}

// TestLoginFormCSRF: the login POST needs the CSRF token bound to its auth
// request and a same-origin request.
func TestLoginFormCSRF(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		h.client("web", nil)
		for _, tc := range []struct {
			name    string
			mod     func(h *harness, b *browser, f url.Values)
			headers map[string]string
			fresh   bool // post from a browser without the CSRF cookie
		}{
			{"no csrf_token", func(_ *harness, _ *browser, f url.Values) { f.Del("csrf_token") }, nil, false},
			{"wrong csrf_token", func(_ *harness, _ *browser, f url.Values) { f.Set("csrf_token", strings.Repeat("A", 43)) }, nil, false},
			{"empty csrf_token", func(_ *harness, _ *browser, f url.Values) { f.Set("csrf_token", "") }, nil, false},
			{"token of another login request", func(h *harness, b *browser, f url.Values) {
				other := b.get(h.authURL("web", mustPKCE()))
				f.Set("csrf_token", other.hidden().Get("csrf_token"))
			}, nil, false},
			{"cross-site Origin", nil, map[string]string{"Origin": "https://" + evilHost}, false},
			{"Origin of the relying party", nil, map[string]string{"Origin": "https://" + rpHost}, false},
			{"Sec-Fetch-Site cross-site", nil, map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
			{"Origin null from another site", nil, map[string]string{"Origin": "null", "Sec-Fetch-Site": "cross-site"}, false},
			{"no CSRF cookie", nil, nil, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := h.sub(t)
				b := h.browser()
				p := b.get(h.authURL("web", mustPKCE()))
				form := p.hidden()
				form.Set("email", aliceEmail)
				form.Set("password", alicePW)
				if tc.mod != nil {
					tc.mod(h, b, form)
				}
				hdr := map[string]string{"Origin": h.issuer, "Sec-Fetch-Site": "same-origin"}
				for k, v := range tc.headers {
					hdr[k] = v
				}
				poster := b
				if tc.fresh {
					poster = h.browser()
				}
				r := poster.postWith(h.issuer+"/login", form, hdr)
				if r.resp.StatusCode != http.StatusForbidden || r.resp.Header.Get("Location") != "" {
					t.Fatalf("%d Location=%q; want 403", r.resp.StatusCode, r.resp.Header.Get("Location"))
				}
				if h.authRequest(form.Get("id")).Step != "login" {
					t.Fatal("the refused POST moved the login on")
				}
				if poster.cookie(h.sessionCookie()) != "" {
					t.Fatal("the refused POST set a session cookie")
				}
				// Control: the untouched form from the same browser works.
				if q := b.login(p, aliceEmail, alicePW).callback(t); q.Get("code") == "" {
					t.Fatalf("control login: %v", q)
				}
			})
		}
	})
}

func mustPKCE() url.Values { q, _ := withPKCE(nil); return q }

// TestLogoutNeedsPOST: GET /logout only asks; the POST needs its CSRF token;
// the confirmed POST ends the session on the server.
func TestLogoutNeedsPOST(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		h.client("web", nil)
		b := h.browser()
		l := h.loginFlow(b, "web", aliceEmail, nil)
		hash := h.authRequest(l.id).SessionID

		p := b.get(h.issuer + "/logout")
		if p.resp.StatusCode != http.StatusOK || !strings.Contains(p.body, `method="post"`) || p.hidden().Get("csrf_token") == "" {
			t.Fatalf("GET /logout: %d; want a confirmation form\n%.300s", p.resp.StatusCode, p.body)
		}
		if !h.sessionLive(hash) || !h.loggedIn(b, "web") {
			t.Fatal("GET /logout logged out")
		}
		for _, tc := range []struct {
			name    string
			form    url.Values
			headers map[string]string
		}{
			{"no csrf_token", url.Values{}, map[string]string{"Origin": h.issuer}},
			{"wrong csrf_token", url.Values{"csrf_token": {strings.Repeat("B", 43)}}, map[string]string{"Origin": h.issuer}},
			{"cross-site Origin", p.hidden(), map[string]string{"Origin": "https://" + evilHost}},
		} {
			r := b.postWith(h.issuer+"/logout", tc.form, tc.headers)
			if r.resp.StatusCode != http.StatusForbidden {
				t.Fatalf("%s: %d; want 403", tc.name, r.resp.StatusCode)
			}
			if !h.sessionLive(hash) {
				t.Fatalf("%s: the session ended", tc.name)
			}
		}
		if r := b.post(h.issuer+"/logout", p.hidden()); r.resp.StatusCode != http.StatusOK {
			t.Fatalf("confirmed logout: %d", r.resp.StatusCode)
		}
		if h.sessionLive(hash) || h.loggedIn(b, "web") {
			t.Fatal("the confirmed logout did not end the session")
		}
	})
}

// TestPagesDenyFraming: every page Gatehouse renders forbids framing
// (clickjacking on the login and logout forms).
func TestPagesDenyFraming(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		h.client("web", nil)
		b := h.browser()
		for _, tc := range []struct {
			name string
			get  func() page
		}{
			{"login form", func() page { return b.get(h.authURL("web", mustPKCE())) }},
			{"login error page", func() page { return b.get(h.issuer + "/login?id=nope") }},
			{"authorize error", func() page {
				return b.get(h.authURL("web", url.Values{"redirect_uri": {"https://" + evilHost + "/cb"}}))
			}},
			{"logout confirmation", func() page { return b.get(h.issuer + "/logout") }},
			{"end_session confirmation", func() page {
				return b.get(h.issuer + "/end_session?client_id=web&post_logout_redirect_uri=" + url.QueryEscape(postLogoutURI("web")))
			}},
			{"end_session error", func() page { return b.get(h.issuer + "/end_session?id_token_hint=x") }},
			{"form_post response", func() page {
				b := h.browser()
				return b.login(b.get(h.authURL("web", withMode("form_post"))), aliceEmail, alicePW)
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := tc.get()
				csp := p.resp.Header.Get("Content-Security-Policy")
				if !strings.Contains(csp, "frame-ancestors 'none'") {
					t.Fatalf("%d %s: CSP %q lacks frame-ancestors 'none'", p.resp.StatusCode, p.resp.Request.URL.Path, csp)
				}
				if xfo := p.resp.Header.Get("X-Frame-Options"); xfo != "" && !strings.EqualFold(xfo, "DENY") {
					t.Fatalf("X-Frame-Options %q", xfo)
				}
			})
		}
	})
}

func withMode(mode string) url.Values {
	q := mustPKCE()
	q.Set("response_mode", mode)
	return q
}

// TestOversizedParameters: huge parameters are refused with a 4xx before
// anything is stored, and never redirected.
func TestOversizedParameters(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.client("web", nil)
		noFollow := &http.Client{Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		big := func(n int) string { return strings.Repeat("A", n) }
		for _, tc := range []struct {
			name   string
			method string
			params url.Values
			ok     []int
		}{
			{"10 KB redirect_uri", http.MethodGet, url.Values{"redirect_uri": {redirectURI("web") + "?x=" + big(10<<10)}}, []int{400}},
			{"10 KB registered-looking redirect_uri path", http.MethodGet, url.Values{"redirect_uri": {"https://" + rpHost + "/" + big(10<<10)}}, []int{400}},
			{"10 KB state", http.MethodGet, url.Values{"state": {big(10 << 10)}}, []int{400}},
			{"10 KB nonce", http.MethodGet, url.Values{"nonce": {big(10 << 10)}}, []int{400}},
			{"1 MB state", http.MethodGet, url.Values{"state": {big(1 << 20)}}, []int{400, 414, 431}},
			{"1 MB state, POST", http.MethodPost, url.Values{"state": {big(1 << 20)}}, []int{400, 413, 414, 431}},
			{"1 MB redirect_uri, POST", http.MethodPost, url.Values{"redirect_uri": {redirectURI("web") + "?x=" + big(1<<20)}}, []int{400, 413}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q, _ := withPKCE(tc.params)
				q.Set("client_id", "web")
				q.Set("response_type", "code")
				q.Set("scope", "openid")
				if !q.Has("redirect_uri") {
					q.Set("redirect_uri", redirectURI("web"))
				}
				var req *http.Request
				if tc.method == http.MethodGet {
					req, _ = http.NewRequest(http.MethodGet, h.issuer+"/authorize?"+q.Encode(), nil)
				} else {
					req, _ = http.NewRequest(http.MethodPost, h.issuer+"/authorize", strings.NewReader(q.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				resp, err := noFollow.Do(req)
				if err != nil {
					t.Fatalf("no answer: %v", err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				if !slices.Contains(tc.ok, resp.StatusCode) {
					t.Fatalf("status %d; want one of %v\n%.300s", resp.StatusCode, tc.ok, body)
				}
				if loc := resp.Header.Get("Location"); loc != "" {
					t.Fatalf("redirected to %.100s", loc)
				}
				if len(body) > 64<<10 {
					t.Fatalf("the refusal echoes the input (%d bytes)", len(body))
				}
			})
		}
	})
}
