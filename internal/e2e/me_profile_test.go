package e2e

// The account's profile at /me: name and mobile number (the number only
// while the organization lets users enter their own), and "Turn on
// two-step sign-in" for a user who skipped it: it leads to the enrolment,
// whose first method signs the other sessions out.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func TestMeProfile(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		id := h.user(aliceEmail, alicePW)
		name := h.storedUser(id).Name
		b := h.browser()
		p := b.login(b.get(h.issuer+"/me"), aliceEmail, alicePW)
		wantPage(t, "the profile", p, http.StatusOK, "<h1>Your account</h1>")
		for _, want := range []string{`id="enable-mfa"`, `aria-label="Your account"`, `href="/me/sessions"`, `aria-current="page">Profile`} {
			if !strings.Contains(p.body, want) {
				t.Errorf("the profile lacks %q", want)
			}
		}
		// A number without its country code: refused, what was typed kept.
		bad := b.act(p, `id="save-profile"`, map[string]string{"name": "Alice Liddell", "phone": "079 123 45 67"})
		wantPage(t, "a number without a country code", bad, http.StatusUnprocessableEntity, "include the country code")
		if !strings.Contains(bad.body, `value="079 123 45 67"`) || h.storedUser(id).Name != name {
			t.Fatal("the refused form lost what was typed, or saved the name")
		}
		saved := b.act(bad, `id="save-profile"`, map[string]string{"name": "Alice Liddell", "phone": "+41 79 123 45 67"})
		wantPage(t, "the saved profile", saved, http.StatusOK, "Your profile is saved.")
		if u := h.storedUser(id); u.Name != "Alice Liddell" || u.Phone != "+41791234567" {
			t.Fatalf("stored %q %q", u.Name, u.Phone)
		}
		evs, _ := h.inst.Store.ListAuditEvents(h.ctx, storage.AuditQuery{UserID: id, Type: audit.UserPhoneChanged})
		if len(evs) != 1 || evs[0].ActorID != id {
			t.Fatalf("phone events %+v", evs)
		}

		// With MFA required and no self-entered numbers, the number is
		// the administrator's: shown, not changed.
		if _, err := h.inst.Admin.SetMFAPolicy(h.ctx, "test", "default", admin.MFAPolicyInput{Required: true, Methods: []string{"totp", "sms"}}); err != nil {
			t.Fatal(err)
		}
		// Without a second factor, the policy now asks for one at the
		// next sign-in; this session stays.
		p = b.get(h.issuer + "/me")
		if !strings.Contains(p.body, `readonly`) {
			t.Fatalf("the number is editable under the policy:\n%s", p.body)
		}
		form := p.form(t, `id="save-profile"`)
		form.Set("phone", "+44 7700 900123")
		refused := b.post(h.issuer+"/me/profile", form)
		wantPage(t, "a number the user may not change", refused, http.StatusUnprocessableEntity, "set by your administrator")
		if u := h.storedUser(id); u.Phone != "+41791234567" {
			t.Fatalf("the number changed to %q", u.Phone)
		}
		// Stale sign-in: the form asks for the password again.
		h.clock.Advance(11 * time.Minute)
		if got := b.act(b.get(h.issuer+"/me"), `id="save-profile"`, nil); !got.isLoginForm() {
			t.Errorf("a stale sign-in's profile change: %d", got.resp.StatusCode)
		}
	})
}

func TestMeEnableMFASignsOutOtherSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		id := h.user(aliceEmail, alicePW)
		// Alice chose "Skip for now" at an earlier sign-in.
		if _, err := h.inst.Store.UpdateUser(h.ctx, id, func(u storage.User) (storage.User, error) {
			u.MFASkipped, u.MFASkippedAt = true, h.clock.Now()
			return u, nil
		}); err != nil {
			t.Fatal(err)
		}
		b, other := h.browser(), h.browser()
		p := b.login(b.get(h.issuer+"/me"), aliceEmail, alicePW)
		if got := other.login(other.get(h.issuer+"/me"), aliceEmail, alicePW); got.resp.StatusCode != http.StatusOK {
			t.Fatalf("the other browser's sign-in: %d", got.resp.StatusCode)
		}
		wantPage(t, "the profile", p, http.StatusOK, "Off: your password alone signs you in")
		enable := b.get(h.issuer + "/me/mfa?enable=1")
		wantPage(t, "turning it on", enable, http.StatusOK, `id="enable-others"`)
		secret, done := h.addApp(t, b, enable)
		wantPage(t, "after the first method", done, http.StatusOK, "Your other sessions were signed out")
		if got := other.get(h.issuer + "/me"); !got.isLoginForm() {
			t.Fatal("the other browser is still signed in")
		}
		if got := b.get(h.issuer + "/me"); got.isLoginForm() || !strings.Contains(got.body, "On: 1 method") {
			t.Fatalf("this browser after the enrolment: %d", got.resp.StatusCode)
		}
		if u := h.storedUser(id); u.MFASkipped {
			t.Error("the skip is still remembered")
		}
		evs, _ := h.inst.Store.ListAuditEvents(h.ctx, storage.AuditQuery{UserID: id, Type: audit.SessionRevoked})
		if len(evs) != 1 {
			t.Fatalf("%d session.revoked events, want 1", len(evs))
		}
		// A second method leaves the other sessions alone: two-step
		// sign-in was on already.
		// (The enrolment's code is spent: the next step's.)
		h.clock.Advance(31 * time.Second)
		third := h.browser()
		p = third.login(third.get(h.issuer+"/me"), aliceEmail, alicePW)
		p = third.press(p, `name="code"`, map[string]string{"code": h.code(t, secret)})
		if p.resp.StatusCode != http.StatusOK {
			t.Fatalf("the third browser's sign-in: %d", p.resp.StatusCode)
		}
		h.clock.Advance(31 * time.Second)
		list := b.get(h.issuer + "/me/mfa")
		if _, again := h.addApp(t, b, list); strings.Contains(again.body, "other sessions were signed out") {
			t.Error("a second method signed the other sessions out")
		}
		if got := third.get(h.issuer + "/me"); got.isLoginForm() {
			t.Error("a second method ended the third browser's session")
		}
	})
}
