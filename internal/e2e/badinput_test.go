package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-idp/gatehouse/idp/clients"
)

// Outside input storage cannot hold (NUL, invalid UTF-8) or that is far
// longer than any real value: the pages and the admin API answer it with
// their generic 4xx, never a 500, on both backends (PostgreSQL refuses
// such text outright; SQLite stores it).

// TestLoginBadInput: /login's id and the login form's fields.
func TestLoginBadInput(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		const email, pw = "alice@example.com", "correct horse battery"
		h.user(email, pw)
		h.client("web", nil)
		loginForm := func(t *testing.T) (*browser, page) {
			b := h.browser()
			extra, _ := withPKCE(nil)
			p := b.get(h.authURL("web", extra))
			if !p.isLoginForm() {
				t.Fatalf("expected the login form, got %d\n%s", p.resp.StatusCode, p.body)
			}
			return b, p
		}
		badIDs := map[string]string{
			"NUL": "%00", "NUL inside": "abc%00def", "invalid UTF-8": "%ff", "truncated rune": "caf%C3",
		}
		for name, id := range badIDs {
			t.Run("GET id "+name, func(t *testing.T) {
				p := h.browser().get(h.issuer + "/login?id=" + id)
				if p.resp.StatusCode != http.StatusBadRequest || !strings.Contains(p.body, "expired") {
					t.Fatalf("status %d; want 400 with the expired page\n%s", p.resp.StatusCode, p.body)
				}
			})
			t.Run("POST id "+name, func(t *testing.T) {
				b, p := loginForm(t)
				form := p.hidden()
				raw, _ := url.QueryUnescape(id)
				form.Set("id", raw)
				form.Set("email", email)
				form.Set("password", pw)
				got := b.post(h.issuer+"/login", form)
				if got.resp.StatusCode < 400 || got.resp.StatusCode >= 500 {
					t.Fatalf("status %d; want a 4xx\n%s", got.resp.StatusCode, got.body)
				}
			})
		}

		long := strings.Repeat("a", 900<<10) + "@example.com"
		tests := []struct {
			name, email, password string
			status                int
		}{
			{"email of 900 KB", long, pw, http.StatusBadRequest},
			{"email just over the cap", strings.Repeat("a", 321-len("@example.com")) + "@example.com", pw, http.StatusBadRequest},
			{"email with NUL", "alice\x00@example.com", pw, http.StatusBadRequest},
			{"email that is NUL", "\x00", pw, http.StatusBadRequest},
			{"email with invalid UTF-8", "alice\xff@example.com", pw, http.StatusBadRequest},
			{"password of 900 KB", email, strings.Repeat("p", 900<<10), http.StatusBadRequest},
			{"password just over the cap", email, strings.Repeat("p", 4097), http.StatusBadRequest},
			// At the caps the form is an ordinary wrong guess.
			{"email at the cap", strings.Repeat("a", 320-len("@example.com")) + "@example.com", pw, http.StatusOK},
			{"password at the cap", email, strings.Repeat("p", 4096), http.StatusOK},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b, p := loginForm(t)
				got := b.login(p, tt.email, tt.password)
				if got.resp.StatusCode != tt.status || !strings.Contains(got.body, "Incorrect email or password.") {
					t.Fatalf("status %d; want %d with the generic answer\n%.2000s", got.resp.StatusCode, tt.status, got.body)
				}
				if len(got.body) > 32<<10 {
					t.Fatalf("the answer is %d bytes long: the input was echoed", len(got.body))
				}
				// The form is shown again and still works.
				if !strings.Contains(got.body, `name="password"`) {
					t.Fatalf("no login form in the answer\n%.2000s", got.body)
				}
			})
		}
		// A form over the server's body limit (httpserver's) never reaches
		// the page.
		t.Run("password of 2 MB", func(t *testing.T) {
			b, p := loginForm(t)
			got := b.login(p, email, strings.Repeat("p", 2<<20))
			if got.resp.StatusCode < 400 || got.resp.StatusCode >= 500 {
				t.Fatalf("status %d; want a 4xx", got.resp.StatusCode)
			}
		})
		t.Run("the account still logs in", func(t *testing.T) {
			b, p := loginForm(t)
			got := b.login(p, email, pw)
			if got.resp.StatusCode != http.StatusFound && got.resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("status %d; want a redirect\n%.2000s", got.resp.StatusCode, got.body)
			}
		})
	})
}

// TestAdminAPIBadInput: path, query and body values of the admin API.
func TestAdminAPIBadInput(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		secret := h.client("automation", func(in *clients.Input) {
			in.RedirectURIs, in.PostLogoutRedirectURIs = nil, nil
			in.GrantTypes, in.Scopes = []string{"client_credentials"}, []string{"gatehouse:admin"}
		})
		cc := clientcredentials.Config{ClientID: "automation", ClientSecret: secret, TokenURL: h.issuer + "/oauth/token",
			Scopes: []string{"gatehouse:admin"}}
		tok, err := cc.Token(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		h.user("alice@example.com", "correct horse battery")

		call := func(t *testing.T, method, path, body string) (int, map[string]any) {
			t.Helper()
			var rd io.Reader
			if body != "" {
				rd = strings.NewReader(body)
			}
			req, err := http.NewRequest(method, h.issuer+path, rd)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]any
			raw, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatalf("%s %s: %d, not JSON: %.500s", method, path, resp.StatusCode, raw)
			}
			if len(raw) > 4<<10 {
				t.Fatalf("%s %s: the answer is %d bytes long: the input was echoed", method, path, len(raw))
			}
			return resp.StatusCode, out
		}
		jsonBody := func(v any) string {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		domains := func(n int) []string {
			out := make([]string, n)
			for i := range out {
				out[i] = fmt.Sprintf("d%d.example.com", i)
			}
			return out
		}
		tests := []struct {
			name, method, path, body string
			status                   int
		}{
			{"client id NUL", http.MethodGet, "/admin/api/v1/clients/%00", "", http.StatusNotFound},
			{"client id invalid UTF-8", http.MethodGet, "/admin/api/v1/clients/%ff", "", http.StatusNotFound},
			{"delete client NUL", http.MethodDelete, "/admin/api/v1/clients/a%00b", "", http.StatusNotFound},
			{"rotate secret NUL", http.MethodPost, "/admin/api/v1/clients/%00/rotate-secret", "{}", http.StatusNotFound},
			{"disable email NUL", http.MethodPost, "/admin/api/v1/users/alice%00%40example.com/disable", "{}", http.StatusNotFound},
			{"disable email invalid UTF-8", http.MethodPost, "/admin/api/v1/users/alice%ff%40example.com/disable", "{}", http.StatusNotFound},
			{"users org NUL", http.MethodGet, "/admin/api/v1/users?org=%00", "", http.StatusBadRequest},
			{"users org invalid UTF-8", http.MethodGet, "/admin/api/v1/users?org=%C3", "", http.StatusBadRequest},
			{"users after NUL", http.MethodGet, "/admin/api/v1/users?after=%00", "", http.StatusOK},
			{"org display name NUL", http.MethodPost, "/admin/api/v1/orgs",
				jsonBody(map[string]any{"name": "acme-1", "display_name": "Acme\x00"}), http.StatusBadRequest},
			{"org display name 100,000 characters", http.MethodPost, "/admin/api/v1/orgs",
				jsonBody(map[string]any{"name": "acme-2", "display_name": strings.Repeat("a", 100_000)}), http.StatusBadRequest},
			{"org with 20,000 domains", http.MethodPost, "/admin/api/v1/orgs",
				jsonBody(map[string]any{"name": "acme-3", "domains": domains(20_000)}), http.StatusBadRequest},
			{"org domain NUL", http.MethodPost, "/admin/api/v1/orgs",
				jsonBody(map[string]any{"name": "acme-4", "domains": []string{"acme\x00.com"}}), http.StatusBadRequest},
			{"client name NUL", http.MethodPost, "/admin/api/v1/clients",
				jsonBody(map[string]any{"id": "bad", "name": "Bad\x00", "redirect_uris": []string{"https://rp.example/cb"}}), http.StatusBadRequest},
			{"org at the limits", http.MethodPost, "/admin/api/v1/orgs",
				jsonBody(map[string]any{"name": "acme-5", "display_name": strings.Repeat("é", 200), "domains": domains(100)}), http.StatusCreated},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, body := call(t, tt.method, tt.path, tt.body)
				if status != tt.status {
					t.Fatalf("status %d %v; want %d", status, body, tt.status)
				}
				if status >= 400 && body["error"] == nil {
					t.Fatalf("no error in %v", body)
				}
			})
		}
	})
}
