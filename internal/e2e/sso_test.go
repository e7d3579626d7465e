package e2e

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/clients"
)

// TestSSOAcrossClients: after one login, a second application signs the
// user in without a password prompt, with the same subject and auth_time;
// a public client (PKCE, no secret) works the same way; logging out at
// Gatehouse ends single sign-on for both.
func TestSSOAcrossClients(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		uid := h.user("alice@example.com", alicePW)
		secretA := h.client("app-a", nil)
		h.client("app-b", func(in *clients.Input) { in.Public = true })
		b := h.browser()

		v1, c1 := pkce()
		p := b.get(h.authURL("app-a", url.Values{"code_challenge": {c1}, "code_challenge_method": {"S256"}}))
		qa := b.login(p, "alice@example.com", alicePW).callback(t)
		status, tokA := h.tokenRequest("app-a", secretA, url.Values{"grant_type": {"authorization_code"}, "code": {qa.Get("code")},
			"redirect_uri": {"https://" + rpHost + "/app-a/cb"}, "code_verifier": {v1}})
		if status != 200 {
			t.Fatalf("app-a exchange: %d %v", status, tokA)
		}

		// The second app: no login form, straight back with a code.
		v2, c2 := pkce()
		pb := b.get(h.authURL("app-b", url.Values{"code_challenge": {c2}, "code_challenge_method": {"S256"}}))
		if pb.isLoginForm() {
			t.Fatal("second client showed the login form despite a live session")
		}
		qb := pb.callback(t)
		status, tokB := h.tokenRequest("app-b", "", url.Values{"grant_type": {"authorization_code"}, "code": {qb.Get("code")},
			"redirect_uri": {"https://" + rpHost + "/app-b/cb"}, "code_verifier": {v2}})
		if status != 200 {
			t.Fatalf("app-b exchange (public client): %d %v", status, tokB)
		}
		var ca, cb struct {
			Sub      string `json:"sub"`
			AuthTime int64  `json:"auth_time"`
			Aud      []string
		}
		decodeSegment(t, tokA["id_token"].(string), &ca)
		decodeSegment(t, tokB["id_token"].(string), &cb)
		if ca.Sub != uid || cb.Sub != uid || ca.AuthTime != cb.AuthTime {
			t.Fatalf("SSO: sub %q/%q auth_time %d/%d; want one user, one authentication", ca.Sub, cb.Sub, ca.AuthTime, cb.AuthTime)
		}

		// Log out at Gatehouse (GET asks, POST with the form's token acts).
		lp := b.get(h.issuer + "/logout")
		if lp.resp.StatusCode != http.StatusOK {
			t.Fatalf("logout page: %d", lp.resp.StatusCode)
		}
		if out := b.post(h.issuer+"/logout", lp.hidden()); out.resp.StatusCode != http.StatusOK {
			t.Fatalf("logout: %d %s", out.resp.StatusCode, out.body)
		}
		_, c3 := pkce()
		if p := b.get(h.authURL("app-b", url.Values{"code_challenge": {c3}, "code_challenge_method": {"S256"}})); !p.isLoginForm() {
			t.Fatalf("after logout the second client signed in silently: %d %s", p.resp.StatusCode, p.resp.Header.Get("Location"))
		}
	})
}
