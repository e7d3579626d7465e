package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// TestTemporaryLockStopsNewLoginsOnly: a temporary lock (User.LockedUntil)
// answers failed guesses at a secret, so it stops what a guess could win,
// a new login by password or by resuming a browser session, and leaves
// alone what was earned before it: existing tokens keep working at
// userinfo and introspection, and refresh tokens keep rotating. Disabling
// the account, by contrast, ends both.
func TestTemporaryLockStopsNewLoginsOnly(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		uid := h.user(aliceEmail, alicePW)
		secret := h.client("web", nil)
		b := h.browser()
		tok := h.mustExchange("web", secret, h.loginFlow(b, "web", aliceEmail, url.Values{"scope": {"openid offline_access"}}))
		rt := jsonStr(tok, "refresh_token")
		if rt == "" {
			t.Fatalf("no refresh token: %v", tok)
		}

		if _, err := h.inst.Store.UpdateUser(h.ctx, uid, func(u storage.User) (storage.User, error) {
			u.LockedUntil = h.clock.Now().Add(10 * time.Minute)
			return u, nil
		}); err != nil {
			t.Fatal(err)
		}

		// New logins are refused: the right password gets the generic
		// answer, and the browser's live session does not sign in either.
		p := b.get(h.authURL("web", mustPKCE()))
		if !p.isLoginForm() {
			t.Fatalf("a locked user's session resumed: %d %s", p.resp.StatusCode, p.resp.Header.Get("Location"))
		}
		if again := b.login(p, aliceEmail, alicePW); !again.isLoginForm() || !strings.Contains(again.body, "Incorrect email or password.") {
			t.Fatalf("a locked user logged in with the right password: %d %s", again.resp.StatusCode, again.resp.Header.Get("Location"))
		}

		// What was issued before the lock keeps working.
		if status, body := h.postJSON("/userinfo", "", "", url.Values{"access_token": {jsonStr(tok, "access_token")}}); status != http.StatusOK || body["sub"] != uid {
			t.Fatalf("userinfo for a locked user's token: %d %v", status, body)
		}
		status, next := h.refresh("web", secret, rt, "")
		if status != http.StatusOK || jsonStr(next, "refresh_token") == "" {
			t.Fatalf("refresh for a locked user: %d %v", status, next)
		}

		// Disabling is not a lock: the tokens stop.
		if _, err := h.inst.Store.UpdateUser(h.ctx, uid, func(u storage.User) (storage.User, error) {
			u.State = storage.UserDisabled
			return u, nil
		}); err != nil {
			t.Fatal(err)
		}
		status, body := h.refresh("web", secret, jsonStr(next, "refresh_token"), "")
		wantOAuthError(t, "refresh for a disabled user", status, body, http.StatusBadRequest, "invalid_grant")
	})
}
