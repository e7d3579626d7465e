package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/clients"
)

// authorizeBase is a valid /authorize request for clientID (confidential
// or public), with PKCE S256.
func authorizeBase(clientID string) url.Values {
	q, _ := withPKCE(url.Values{"client_id": {clientID}, "response_type": {"code"}, "scope": {"openid email profile"},
		"redirect_uri": {redirectURI(clientID)}, "state": {"st-" + clientID}, "nonce": {"n-" + clientID}})
	return q
}

// authorizeRequest builds a request to /authorize: query in the URL and,
// when body is not nil, a POST with body as its form. No Origin or
// Sec-Fetch-Site: relying parties post to /authorize cross-site.
func (h *harness) authorizeRequest(query, body url.Values) *http.Request {
	h.t.Helper()
	u := h.issuer + "/authorize"
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var req *http.Request
	var err error
	if body == nil {
		req, err = http.NewRequest(http.MethodGet, u, nil)
	} else {
		req, err = http.NewRequest(http.MethodPost, u, strings.NewReader(body.Encode()))
	}
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req
}

// wantRefusalPage checks that p is Gatehouse's HTML error page with a 400,
// answered at /authorize: no redirect, no login form, no JSON.
func wantRefusalPage(t *testing.T, p page) {
	t.Helper()
	wantNoRedirect(t, p, "/authorize")
	ct := p.resp.Header.Get("Content-Type")
	if p.resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(ct, "text/html") || !strings.Contains(p.body, "not valid") {
		t.Fatalf("status %d, Content-Type %q; want the 400 error page\n%.300s", p.resp.StatusCode, ct, p.body)
	}
}

// TestAuthorizeRepeatedParams: RFC 6749 §3.1 forbids repeating a request
// parameter. A repeated one is refused with the 400 error page, never
// served with one of the copies (a proxy or WAF reading the other copy
// would have checked a different request) and never redirected (which
// redirect_uri, which state?). In the query, in a POSTed body, and split
// between the two.
func TestAuthorizeRepeatedParams(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		h.client("web", nil)
		h.client("other", func(in *clients.Input) { in.RedirectURIs = []string{redirectURI("web")} })
		_, c1 := pkce()
		_, c2 := pkce()
		// The last copy is the one that, on its own, makes a valid request:
		// a parser keeping the last copy would serve it.
		for _, tc := range []struct {
			name, param   string
			first, second string
		}{
			{"client_id", "client_id", "other", "web"},
			{"client_id, first copy empty", "client_id", "", "web"},
			{"redirect_uri", "redirect_uri", "https://" + evilHost + "/cb", redirectURI("web")},
			{"response_type", "response_type", "token", "code"},
			{"response_mode", "response_mode", "fragment", "query"},
			{"scope", "scope", "openid offline_access", "openid email profile"},
			{"scope, same value twice", "scope", "openid", "openid"},
			{"state", "state", "st-proxy", "st-web"},
			{"nonce", "nonce", "n-1", "n-2"},
			{"code_challenge", "code_challenge", c1, c2},
			{"code_challenge_method", "code_challenge_method", "plain", "S256"},
			{"prompt", "prompt", "none", "login"},
			{"max_age", "max_age", "0", "3600"},
			{"login_hint", "login_hint", malloryEmail, aliceEmail},
			{"id_token_hint", "id_token_hint", "a.b.c", "d.e.f"},
			{"acr_values", "acr_values", "urn:gatehouse:acr:mfa", "urn:gatehouse:acr:pwd"},
			{"ui_locales", "ui_locales", "de", "en"},
			{"display", "display", "popup", "page"},
			{"request", "request", "a.b.c", "d.e.f"},
		} {
			base := func() url.Values {
				q := authorizeBase("web")
				delete(q, tc.param)
				return q
			}
			t.Run(tc.name+" in the query", func(t *testing.T) {
				h := h.sub(t)
				q := base()
				q[tc.param] = []string{tc.first, tc.second}
				wantRefusalPage(t, h.browser().do(h.authorizeRequest(q, nil)))
			})
			t.Run(tc.name+" in the body", func(t *testing.T) {
				h := h.sub(t)
				f := base()
				f[tc.param] = []string{tc.first, tc.second}
				wantRefusalPage(t, h.browser().do(h.authorizeRequest(nil, f)))
			})
			t.Run(tc.name+" in the query and the body", func(t *testing.T) {
				// The library reads the body's copies first, then the
				// query's: the query's copy is the one it would keep.
				h := h.sub(t)
				f := base()
				f.Set(tc.param, tc.first)
				wantRefusalPage(t, h.browser().do(h.authorizeRequest(url.Values{tc.param: {tc.second}}, f)))
			})
		}
		t.Run("control: each parameter once, GET", func(t *testing.T) {
			h := h.sub(t)
			if p := h.browser().do(h.authorizeRequest(authorizeBase("web"), nil)); !p.isLoginForm() {
				t.Fatalf("%d %s\n%.300s", p.resp.StatusCode, p.resp.Request.URL, p.body)
			}
		})
		t.Run("control: each parameter once, POST", func(t *testing.T) {
			h := h.sub(t)
			if p := h.browser().do(h.authorizeRequest(nil, authorizeBase("web"))); !p.isLoginForm() {
				t.Fatalf("%d %s\n%.300s", p.resp.StatusCode, p.resp.Request.URL, p.body)
			}
		})
		t.Run("control: each parameter once, split between query and body", func(t *testing.T) {
			h := h.sub(t)
			q, f := url.Values{}, url.Values{}
			for k, v := range authorizeBase("web") {
				if k == "client_id" || k == "state" {
					q[k] = v
				} else {
					f[k] = v
				}
			}
			if p := h.browser().do(h.authorizeRequest(q, f)); !p.isLoginForm() {
				t.Fatalf("%d %s\n%.300s", p.resp.StatusCode, p.resp.Request.URL, p.body)
			}
		})
		t.Run("control: an unknown parameter may repeat", func(t *testing.T) {
			h := h.sub(t)
			q := authorizeBase("web")
			q["x-custom"] = []string{"1", "2"}
			if p := h.browser().do(h.authorizeRequest(q, nil)); !p.isLoginForm() {
				t.Fatalf("%d %s\n%.300s", p.resp.StatusCode, p.resp.Request.URL, p.body)
			}
		})
		t.Run("a query that does not parse", func(t *testing.T) {
			h := h.sub(t)
			req := h.authorizeRequest(authorizeBase("web"), nil)
			req.URL.RawQuery += "&bad=%zz"
			wantRefusalPage(t, h.browser().do(req))
		})
	})
}
