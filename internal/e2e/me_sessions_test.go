package e2e

// A user's sessions at /me/sessions: one other browser signed out, then
// everywhere else; the session in use and other users' sessions are out
// of the page's reach.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func TestMeSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		aliceID := h.user(aliceEmail, alicePW)
		bobID := h.user("bob@example.com", alicePW)
		signIn := func(email string) *browser {
			b := h.browser()
			if p := b.login(b.get(h.issuer+"/me/sessions"), email, alicePW); p.resp.StatusCode != http.StatusOK {
				t.Fatalf("%s's sign-in: %d\n%s", email, p.resp.StatusCode, p.body)
			}
			return b
		}
		here, other, bob := signIn(aliceEmail), signIn(aliceEmail), signIn("bob@example.com")
		// An application holds a refresh token from the other browser's session.
		secret := h.client("app", nil)
		q, verifier := withPKCE(url.Values{"scope": {"openid offline_access"}})
		tokens := h.mustExchange("app", secret, loginResult{b: other, q: other.get(h.authURL("app", q)).callback(t), verifier: verifier})
		p := here.get(h.issuer + "/me/sessions")
		wantPage(t, "the sessions page", p, http.StatusOK, "(this browser)")
		if n := strings.Count(p.body, `data-revoke="`); n != 1 {
			t.Fatalf("%d sign-out buttons, want 1 (the other browser; not this one):\n%s", n, p.body)
		}
		bobs, err := h.inst.Store.ListUserSessions(h.ctx, bobID, h.clock.Now())
		if err != nil || len(bobs) != 1 {
			t.Fatalf("bob's sessions %v, %v", bobs, err)
		}
		token := p.form(t, `data-revoke="`).Get("csrf_token")

		// Another user's session, named by its hash: not this user's.
		got := here.post(h.issuer+"/me/sessions/revoke", url.Values{"csrf_token": {token}, "session": {bobs[0].Hash}})
		wantPage(t, "bob's session named", got, http.StatusOK, "already ended")
		if p := bob.get(h.issuer + "/me/sessions"); p.isLoginForm() {
			t.Fatal("alice signed bob out")
		}
		// Without a token: 403, nothing ends.
		if got := here.post(h.issuer+"/me/sessions/others", url.Values{}); got.resp.StatusCode != http.StatusForbidden {
			t.Fatalf("no token: %d", got.resp.StatusCode)
		}
		// The other browser, signed out by its button.
		got = here.post(h.issuer+"/me/sessions/revoke", p.form(t, `data-revoke="`))
		wantPage(t, "after the sign-out", got, http.StatusOK, "That session is signed out.")
		if p := other.get(h.issuer + "/me/sessions"); !p.isLoginForm() {
			t.Fatal("the signed-out browser still opens /me/sessions")
		}
		status, body := h.refresh("app", secret, jsonStr(tokens, "refresh_token"), "")
		wantOAuthError(t, "a refresh from the signed-out session", status, body, http.StatusBadRequest, "invalid_grant")
		// Everywhere else: a third browser ends, this one stays.
		third := signIn(aliceEmail)
		got = here.post(h.issuer+"/me/sessions/others", url.Values{"csrf_token": {token}})
		wantPage(t, "everywhere else", got, http.StatusOK, "signed out everywhere else")
		if p := third.get(h.issuer + "/me/sessions"); !p.isLoginForm() {
			t.Fatal("the third browser survived 'everywhere else'")
		}
		if p := here.get(h.issuer + "/me/sessions"); p.isLoginForm() {
			t.Fatal("'everywhere else' signed this browser out")
		}
		evs, _ := h.inst.Store.ListAuditEvents(h.ctx, storage.AuditQuery{UserID: aliceID, Type: audit.SessionRevoked})
		if len(evs) != 2 || evs[0].Details["by"] != "user" {
			t.Fatalf("session.revoked events %+v", evs)
		}
	})
}
