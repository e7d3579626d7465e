package e2e

import (
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-idp/gatehouse/idp/clients"
)

// TestAdminAPIBearer: the admin API accepts Gatehouse's own access tokens
// carrying the admin scope, and nothing else.
func TestAdminAPIBearer(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		service := func(id string, scopes []string) string {
			return h.client(id, func(in *clients.Input) {
				in.RedirectURIs, in.PostLogoutRedirectURIs = nil, nil
				in.GrantTypes, in.Scopes = []string{"client_credentials"}, scopes
			})
		}
		token := func(id, secret string, scopes ...string) string {
			cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: h.issuer + "/oauth/token", Scopes: scopes}
			tok, err := cc.Token(h.ctx)
			if err != nil {
				t.Fatal(err)
			}
			return tok.AccessToken
		}
		autoSecret := service("automation", []string{"gatehouse:admin"})
		adminTok := token("automation", autoSecret, "gatehouse:admin")
		plainTok := token("reporter", service("reporter", []string{"reports.read"}), "reports.read")

		tests := []struct {
			name, auth string
			want       int
		}{
			{"admin scope", "Bearer " + adminTok, http.StatusOK},
			{"token without the admin scope", "Bearer " + plainTok, http.StatusForbidden},
			{"no token", "", http.StatusUnauthorized},
			{"unknown token", "Bearer gh_at_forged", http.StatusUnauthorized},
			{"basic auth is not a bearer token", "Basic YXV0b21hdGlvbjp4", http.StatusUnauthorized},
		}
		call := func(auth string) int { return callAs(t, h, http.MethodGet, "/admin/api/v1/clients", auth) }
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := call(tt.auth); got != tt.want {
					t.Fatalf("status %d; want %d", got, tt.want)
				}
			})
		}
		// A deleted client's tokens stop working at once: its admin token is
		// refused, and introspection reports it inactive.
		goneSecret := service("automation-2", []string{"gatehouse:admin"})
		goneTok := token("automation-2", goneSecret, "gatehouse:admin")
		if got := call("Bearer " + goneTok); got != http.StatusOK {
			t.Fatalf("second admin client before delete: status %d; want 200", got)
		}
		if got := callAs(t, h, http.MethodDelete, "/admin/api/v1/clients/automation-2", "Bearer "+adminTok); got != http.StatusNoContent {
			t.Fatalf("delete client: status %d; want 204", got)
		}
		if got := call("Bearer " + goneTok); got != http.StatusUnauthorized {
			t.Fatalf("admin token of a deleted client: status %d; want 401", got)
		}
		if status, body := h.postJSON("/oauth/introspect", "automation", autoSecret, url.Values{"token": {goneTok}}); status != http.StatusOK || body["active"] != false {
			t.Fatalf("introspect a deleted client's token: %d %v; want inactive", status, body)
		}
		// Registering the id again does not bring the old token back.
		service("automation-2", []string{"gatehouse:admin"})
		if got := call("Bearer " + goneTok); got != http.StatusUnauthorized {
			t.Fatalf("old token after the id was registered again: status %d; want 401", got)
		}

		// A revoked admin token stops working at once.
		if status, body := h.postJSON("/oauth/revoke", "automation", autoSecret, url.Values{"token": {adminTok}}); status != http.StatusOK {
			t.Fatalf("revoke: %d %v", status, body)
		}
		if got := call("Bearer " + adminTok); got != http.StatusUnauthorized {
			t.Fatalf("revoked admin token: status %d; want 401", got)
		}
	})
}

// callAs sends a bodiless request with the given Authorization header and
// returns the status.
func callAs(t *testing.T, h *harness, method, path, auth string) int {
	t.Helper()
	req, _ := http.NewRequest(method, h.issuer+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
