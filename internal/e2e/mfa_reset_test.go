package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/oidcop"
)

// TestAdminMFAResetForcesEnrolment (SECURITY-TESTS "Admin reset"): a user
// enrolled an authenticator app under an organization that offers "Skip
// for now"; an administrator resets their MFA over the admin API; their
// browser session is dead, and the next login must enrol a new app, with
// no "Skip for now".
func TestAdminMFAResetForcesEnrolment(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.client("web", nil)
		h.user(aliceEmail, alicePW)
		if _, err := h.inst.Admin.SetMFAPolicy(h.ctx, "test", "default", admin.MFAPolicyInput{Required: true,
			Methods: []string{"totp"}, AllowSkip: true}); err != nil {
			t.Fatal(err)
		}
		b := h.browser()
		old, n, _ := h.enrolTOTP(t, b, "web", aliceEmail)
		b.press(n, `id="finish"`, nil).callback(t)

		secret := h.client("ops", func(in *clients.Input) {
			in.RedirectURIs, in.PostLogoutRedirectURIs = nil, nil
			in.GrantTypes, in.Scopes = []string{"client_credentials"}, []string{oidcop.ScopeAdmin}
		})
		cc := clientcredentials.Config{ClientID: "ops", ClientSecret: secret, TokenURL: h.issuer + "/oauth/token", Scopes: []string{oidcop.ScopeAdmin}}
		tok, err := cc.Token(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, h.issuer+"/admin/api/v1/users/reset-mfa", strings.NewReader(`{"emails":["`+aliceEmail+`"]}`))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out struct {
			Results []map[string]any `json:"results"`
		}
		if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != http.StatusOK || len(out.Results) != 1 || out.Results[0]["ok"] != true ||
			out.Results[0]["factors_removed"].(float64) < 1 || out.Results[0]["sessions_ended"] != float64(1) {
			t.Fatalf("reset-mfa: %d %s", resp.StatusCode, raw)
		}

		if q, _ := h.silent(b, "web", nil); q.Get("error") != "login_required" {
			t.Fatalf("prompt=none after the reset: %v; want login_required", q)
		}
		p := b.login(b.get(h.authURL("web", nil)), aliceEmail, alicePW)
		wantPage(t, "the login after the reset", p, http.StatusOK, "Set up an authenticator app")
		if strings.Contains(p.body, "Skip for now") {
			t.Fatal("Skip for now offered after an administrator's reset")
		}
		if strings.Contains(p.body, "Open your authenticator app") || string(totpSecret(t, p)) == string(old) {
			t.Fatal("the reset factor is still asked for")
		}
	})
}
