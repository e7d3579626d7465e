package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestCORS: a single-page application on another origin can read the
// responses of the endpoints it calls with fetch (discovery, JWKS, token,
// revocation, userinfo), without credentials; nothing that reads the
// session cookie answers a cross-origin fetch, and no response allows
// credentials.
func TestCORS(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		const origin = "https://spa.example"
		h.client("spa", nil)
		form := url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {"x"}}.Encode()
		tests := []struct {
			method, path, body string
			wantOrigin         string // Access-Control-Allow-Origin
		}{
			{"GET", "/.well-known/openid-configuration", "", "*"},
			{"GET", "/keys", "", "*"},
			{"POST", "/oauth/token", form, "*"},
			{"POST", "/oauth/revoke", form, "*"},
			{"GET", "/userinfo", "", "*"},
			{"POST", "/userinfo", "", "*"},
			// Session-cookie endpoints and server-to-server ones: none.
			{"GET", strings.TrimPrefix(h.authURL("spa", nil), h.issuer), "", ""},
			{"GET", "/login", "", ""},
			{"GET", "/end_session", "", ""},
			{"POST", "/oauth/introspect", form, ""},
		}
		do := func(t *testing.T, method, path, body string, hdr map[string]string) *http.Response {
			t.Helper()
			req, _ := http.NewRequest(method, h.issuer+path, strings.NewReader(body))
			req.Header.Set("Origin", origin)
			if body != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}
		for _, tc := range tests {
			t.Run(tc.method+" "+strings.SplitN(tc.path, "?", 2)[0], func(t *testing.T) {
				resp := do(t, tc.method, tc.path, tc.body, nil)
				if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.wantOrigin {
					t.Errorf("Access-Control-Allow-Origin = %q; want %q (status %d)", got, tc.wantOrigin, resp.StatusCode)
				}
				if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != "" {
					t.Errorf("Access-Control-Allow-Credentials = %q; want none", got)
				}
				// The preflight a browser sends before a fetch with an
				// Authorization header.
				pre := do(t, http.MethodOptions, tc.path, "", map[string]string{
					"Access-Control-Request-Method": tc.method, "Access-Control-Request-Headers": "authorization"})
				allowed := pre.Header.Get("Access-Control-Allow-Origin") == "*" &&
					strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), tc.method) &&
					strings.Contains(strings.ToLower(pre.Header.Get("Access-Control-Allow-Headers")), "authorization")
				if allowed != (tc.wantOrigin == "*") {
					t.Errorf("preflight: status %d, allow-origin %q, methods %q, headers %q; want allowed=%v",
						pre.StatusCode, pre.Header.Get("Access-Control-Allow-Origin"), pre.Header.Get("Access-Control-Allow-Methods"),
						pre.Header.Get("Access-Control-Allow-Headers"), tc.wantOrigin == "*")
				}
				if pre.Header.Get("Access-Control-Allow-Credentials") != "" {
					t.Error("preflight allows credentials")
				}
			})
		}
	})
}
