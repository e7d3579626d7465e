package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/clients"
)

// Values PostgreSQL refuses in text (SQLite stores them): a NUL byte and
// invalid UTF-8.
const (
	nulValue  = "web\x00x"
	badUTF8   = "web\xff\xfe"
	endLogout = "/end_session"
)

// TestAuthorizeRefusesBadInput (issue 8): a parameter value that is not
// storable text, or beyond its limit, is Gatehouse's 400 page at
// /authorize on both backends: never a 500, never server_error at the
// client, and never a redirect.
func TestAuthorizeRefusesBadInput(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.client("web", nil)
		for _, c := range []struct {
			name, param, value string
		}{
			{"client_id NUL", "client_id", nulValue},
			{"client_id UTF-8", "client_id", badUTF8},
			{"redirect_uri NUL", "redirect_uri", redirectURI("web") + "\x00"},
			{"state NUL", "state", "s\x00"},
			{"state UTF-8", "state", badUTF8},
			{"nonce NUL", "nonce", "n\x00"},
			{"nonce UTF-8", "nonce", badUTF8},
			{"login_hint NUL", "login_hint", "a\x00@example.com"},
			{"login_hint UTF-8", "login_hint", "\xff@example.com"},
			{"ui_locales NUL", "ui_locales", "en\x00"},
			{"acr_values UTF-8", "acr_values", badUTF8},
			{"login_hint too long", "login_hint", strings.Repeat("a", 321-len("@example.com")) + "@example.com"},
			{"scope too long", "scope", "openid " + strings.Repeat("x", 2049-len("openid "))},
			{"id_token_hint too long", "id_token_hint", strings.Repeat("a", 8193)},
			{"ui_locales too long", "ui_locales", strings.Repeat("a", 8193)},
			{"any parameter too long", "x_extension", strings.Repeat("a", 8193)},
		} {
			t.Run(c.name, func(t *testing.T) {
				q := mustPKCE()
				q.Set(c.param, c.value)
				p := h.browser().get(h.authURL("web", q))
				if strings.Contains(p.resp.Request.URL.RawQuery, "server_error") {
					t.Fatalf("sent to the client with %s", p.resp.Request.URL)
				}
				wantNoRedirect(t, p, "/authorize")
			})
		}
		// At the limits, the request goes on to the login form.
		q := mustPKCE()
		q.Set("login_hint", strings.Repeat("a", 320-len("@example.com"))+"@example.com")
		q.Set("x_extension", strings.Repeat("a", 8192))
		if p := h.browser().get(h.authURL("web", q)); !p.isLoginForm() {
			t.Errorf("login_hint of 320 bytes: %d %s; want the login form", p.resp.StatusCode, p.body)
		}
	})
}

// TestTokenEndpointsRefuseBadInput (issue 8): a client id or secret that is
// not storable text is invalid_client (401) at the token, introspection
// and revocation endpoints; any other bad parameter is invalid_request.
func TestTokenEndpointsRefuseBadInput(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		secret := h.client("web", nil)
		h.client("pub", func(in *clients.Input) { in.Public = true })
		code := url.Values{"grant_type": {"authorization_code"}, "code": {"c"}, "redirect_uri": {redirectURI("web")}}
		for _, path := range []string{"/oauth/token", "/oauth/introspect", "/oauth/revoke"} {
			for _, c := range []struct {
				name       string
				id, secret string
				form       url.Values
				status     int
				wantErr    string
			}{
				{"basic id NUL", nulValue, secret, code, http.StatusUnauthorized, "invalid_client"},
				{"basic id UTF-8", badUTF8, secret, code, http.StatusUnauthorized, "invalid_client"},
				{"basic secret NUL", "web", secret + "\x00", code, http.StatusUnauthorized, "invalid_client"},
				{"form id NUL", "", "", url.Values{"client_id": {nulValue}, "grant_type": {"authorization_code"}}, http.StatusUnauthorized, "invalid_client"},
				{"form id UTF-8", "", "", url.Values{"client_id": {badUTF8}, "grant_type": {"authorization_code"}}, http.StatusUnauthorized, "invalid_client"},
				{"form secret UTF-8", "", "", url.Values{"client_id": {"web"}, "client_secret": {badUTF8}}, http.StatusUnauthorized, "invalid_client"},
				{"code NUL", "web", secret, url.Values{"grant_type": {"authorization_code"}, "code": {"c\x00"}, "token": {"t\x00"}},
					http.StatusBadRequest, "invalid_request"},
				{"token UTF-8", "pub", "", url.Values{"token": {badUTF8}, "grant_type": {"authorization_code"}, "code": {badUTF8}},
					http.StatusBadRequest, "invalid_request"},
			} {
				if path == "/oauth/introspect" && c.id == "pub" {
					continue // public clients cannot introspect at all
				}
				t.Run(path+" "+c.name, func(t *testing.T) {
					form := url.Values{}
					for k, v := range c.form {
						form[k] = v
					}
					st, body := h.postJSON(path, c.id, c.secret, form)
					wantOAuthError(t, path+" "+c.name, st, body, c.status, c.wantErr)
				})
			}
		}
	})
}

// TestEndSessionRefusesBadInput (issue 8): end_session refuses parameters
// that are not storable text or beyond their limits with its 400 page: a
// 1 MB state is no longer echoed into the page or the redirect.
func TestEndSessionRefusesBadInput(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.client("web", nil)
		base := url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {postLogoutURI("web")}}
		for _, c := range []struct{ name, param, value string }{
			{"state too long", "state", strings.Repeat("s", 2049)},
			{"state of 32 KB", "state", strings.Repeat("s", 32<<10)},
			{"id_token_hint too long", "id_token_hint", strings.Repeat("a", 8193)},
			{"client_id NUL", "client_id", nulValue},
			{"client_id UTF-8", "client_id", badUTF8},
			{"state NUL", "state", "s\x00"},
			{"post_logout_redirect_uri UTF-8", "post_logout_redirect_uri", postLogoutURI("web") + "\xff"},
		} {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				t.Run(method+" "+c.name, func(t *testing.T) {
					q := url.Values{}
					for k, v := range base {
						q[k] = v
					}
					q.Set(c.param, c.value)
					b := h.browser()
					var p page
					if method == http.MethodGet {
						p = b.get(h.issuer + endLogout + "?" + q.Encode())
					} else {
						p = b.post(h.issuer+endLogout, q)
					}
					if p.resp.StatusCode != http.StatusBadRequest {
						t.Fatalf("status %d; want 400\n%.300s", p.resp.StatusCode, p.body)
					}
					wantNoRedirect(t, p, endLogout)
					if strings.Contains(p.body, strings.Repeat("s", 2049)) {
						t.Fatal("the page echoes the over-long state")
					}
				})
			}
		}
		// At the limit, the state is carried.
		q := url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {postLogoutURI("web")}, "state": {strings.Repeat("s", 2048)}}
		if p := h.browser().get(h.issuer + endLogout + "?" + q.Encode()); p.resp.StatusCode != http.StatusOK {
			t.Errorf("state of 2048 bytes: %d; want the confirmation page", p.resp.StatusCode)
		}
	})
}

// TestCallbackRefusesBadID: an auth request id that is not storable text
// is the expired-link page (400), not the outage page PostgreSQL's refusal
// became.
func TestCallbackRefusesBadID(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		for _, id := range []string{nulValue, badUTF8} {
			p := h.browser().get(h.issuer + "/authorize/callback?" + url.Values{"id": {id}}.Encode())
			if p.resp.StatusCode != http.StatusBadRequest {
				t.Errorf("callback id %q: %d; want 400", id, p.resp.StatusCode)
			}
		}
	})
}
