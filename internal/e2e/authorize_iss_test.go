package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/clients"
)

// TestAuthorizeErrorRedirectsIss: every error /authorize hands back to the
// client names the issuer (RFC 9207 §2: "in both authorization responses
// and error responses"), whoever raises it (the library's checks,
// Gatehouse's own, the library's Authorize), exactly once, with the state;
// and with response_mode=form_post it is form-posted (OAuth 2.0 Form Post
// Response Mode §2) by Gatehouse's page, under its CSP with no inline
// script, like a code.
func TestAuthorizeErrorRedirectsIss(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.client("web", nil)
		h.client("spa", func(in *clients.Input) { in.Public = true })
		h.client("qry", func(in *clients.Input) { in.RedirectURIs = []string{redirectURI("qry") + "?tenant=a"} })
		for _, tc := range []struct {
			name, clientID string
			set            url.Values // nil value: the parameter is left out
			wantErr        string
			setsMode       bool // the case sets response_mode itself: run once
		}{
			{"response_type token", "web", url.Values{"response_type": {"token"}}, "unauthorized_client", false},
			{"response_type id_token", "web", url.Values{"response_type": {"id_token"}}, "unauthorized_client", false},
			{"response_type missing", "web", url.Values{"response_type": nil}, "invalid_request", false},
			{"scope missing", "web", url.Values{"scope": nil}, "invalid_request", false},
			{"code_challenge_method plain", "web", url.Values{"code_challenge_method": {"plain"}}, "invalid_request", false},
			{"code_challenge_method S512", "web", url.Values{"code_challenge_method": {"S512"}}, "invalid_request", false},
			{"malformed code_challenge", "web", url.Values{"code_challenge": {"short"}}, "invalid_request", false},
			{"public client without PKCE", "spa", url.Values{"code_challenge": nil, "code_challenge_method": nil}, "invalid_request", false},
			{"prompt none with login", "web", url.Values{"prompt": {"none login"}}, "invalid_request", false},
			{"id_token_hint that is no token", "web", url.Values{"id_token_hint": {"a.b.c"}}, "login_required", false},
			{"request object", "web", url.Values{"request": {"a.b.c"}}, "request_not_supported", false},
			{"redirect_uri with a query of its own", "qry", url.Values{"code_challenge_method": {"plain"}}, "invalid_request", false},
			{"response_mode fragment", "web", url.Values{"response_mode": {"fragment"}}, "invalid_request", true},
			{"response_mode unknown", "web", url.Values{"response_mode": {"web_message"}}, "invalid_request", true},
		} {
			for _, mode := range []string{"query", "form_post"} {
				if tc.setsMode && mode != "query" {
					continue
				}
				t.Run(tc.name+", "+mode, func(t *testing.T) {
					h := h.sub(t)
					q := authorizeBase(tc.clientID)
					q.Set("redirect_uri", h.registeredURI(tc.clientID))
					if mode == "form_post" {
						q.Set("response_mode", "form_post")
					}
					for k, v := range tc.set {
						if v == nil {
							delete(q, k)
						} else {
							q[k] = v
						}
					}
					p := h.browser().do(h.authorizeRequest(q, nil))
					var params url.Values
					if mode == "form_post" {
						params = wantFormPost(t, p, h.registeredURI(tc.clientID))
					} else {
						params = wantErrorAtClient(t, p, tc.clientID, tc.wantErr)
						// iss goes where the error is: the query, or the
						// fragment (where the library puts errors for
						// implicit response types and response_mode=fragment).
						loc, _ := url.Parse(p.resp.Header.Get("Location"))
						part := loc.Query()
						if loc.Fragment != "" {
							part, _ = url.ParseQuery(loc.EscapedFragment())
						}
						if !part.Has("error") || !slices.Equal(part["iss"], []string{h.issuer}) {
							t.Fatalf("iss not next to the error: %s", loc)
						}
						if tc.clientID == "qry" && !slices.Equal(params["tenant"], []string{"a"}) {
							t.Fatalf("the redirect_uri's own query was not kept: %v", params)
						}
					}
					if params.Get("error") != tc.wantErr || params.Has("code") {
						t.Fatalf("error %q; want %s: %v", params.Get("error"), tc.wantErr, params)
					}
					if !slices.Equal(params["iss"], []string{h.issuer}) {
						t.Fatalf("iss %q; want exactly once %s: %v", params["iss"], h.issuer, params)
					}
					if !slices.Equal(params["state"], []string{"st-" + tc.clientID}) {
						t.Fatalf("state %q; want st-%s", params["state"], tc.clientID)
					}
				})
			}
		}
		t.Run("POST /authorize, form_post", func(t *testing.T) {
			h := h.sub(t)
			f := authorizeBase("web")
			f.Set("response_mode", "form_post")
			f.Set("code_challenge_method", "plain")
			params := wantFormPost(t, h.browser().do(h.authorizeRequest(nil, f)), redirectURI("web"))
			if params.Get("error") != "invalid_request" || params.Get("iss") != h.issuer || params.Get("state") != "st-web" {
				t.Fatalf("%v", params)
			}
		})
		// Errors that must not be redirected stay the error page, whatever
		// response_mode asks for.
		for name, set := range map[string]url.Values{
			"unknown client, form_post":            {"client_id": {"nope"}, "response_mode": {"form_post"}},
			"unregistered redirect_uri, form_post": {"redirect_uri": {"https://" + evilHost + "/cb"}, "response_mode": {"form_post"}},
		} {
			t.Run(name, func(t *testing.T) {
				h := h.sub(t)
				q := authorizeBase("web")
				for k, v := range set {
					q[k] = v
				}
				wantRefusalPage(t, h.browser().do(h.authorizeRequest(q, nil)))
			})
		}
	})
}

// registeredURI is the redirect URI the clients of these tests register.
func (h *harness) registeredURI(clientID string) string {
	if clientID == "qry" {
		return redirectURI(clientID) + "?tenant=a"
	}
	return redirectURI(clientID)
}

// wantFormPost checks that p is Gatehouse's form_post page, answered by
// /authorize itself, posting to action (checkFormPostPage), and returns
// its hidden fields.
func wantFormPost(t *testing.T, p page, action string) url.Values {
	t.Helper()
	if p.resp.Request.URL.Path != "/authorize" {
		t.Fatalf("form_post: answered at %s; want /authorize itself", p.resp.Request.URL)
	}
	return checkFormPostPage(t, p, action)
}

// TestDiscoveryIssParameterSupported: the issuer is in every authorization
// response, so discovery says so (RFC 9207 §3); without it a client cannot
// tell that an authorization response missing iss is an attack.
func TestDiscoveryIssParameterSupported(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		_, _, d := h.getJSON("/.well-known/openid-configuration")
		if v, ok := d["authorization_response_iss_parameter_supported"]; !ok || v != true {
			t.Fatalf("authorization_response_iss_parameter_supported = %v (present %v); want true", v, ok)
		}
		// Still the whole document, not just the added field.
		if d["issuer"] != h.issuer || d["authorization_endpoint"] != h.issuer+"/authorize" {
			t.Fatalf("discovery lost its fields: %v", d)
		}
	})
}

// TestFormPostNeedsAWebRedirectURI: a browser can post a form only to a
// web origin, so form_post for a native app's private-use scheme is
// refused at /authorize, and the error goes back in the query of that
// URI (with the issuer), not as a page that cannot be posted.
func TestFormPostNeedsAWebRedirectURI(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		const native = "com.example.app:/oauth/cb"
		h.client("app", func(in *clients.Input) { in.Public = true; in.RedirectURIs = []string{native} })
		q := authorizeBase("app")
		q.Set("redirect_uri", native)
		q.Set("response_mode", "form_post")
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noFollow.Get(h.issuer + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), native+"?") {
			t.Fatalf("%d Location=%q; want a redirect to %s", resp.StatusCode, resp.Header.Get("Location"), native)
		}
		if p := loc.Query(); p.Get("error") != "invalid_request" || p.Get("iss") != h.issuer || p.Get("state") != "st-app" {
			t.Fatalf("error parameters %v", p)
		}
	})
}
