package e2e

// A user's own second factors at /me/mfa, through the pages, with the
// mail (codes and notices) arriving over SMTP: resetting an app, adding an
// address, new recovery codes, what may be removed, and what every change
// needs (a recent sign-in, a CSRF token).

import (
	"encoding/base64"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var (
	formActionRE = regexp.MustCompile(`<form[^>]*action="([^"]*)"`)
	downloadRE   = regexp.MustCompile(`id="download-codes" href="data:text/plain;charset=utf-8;base64,([^"]+)"`)
)

// act posts the form of p that contains marker to that form's action,
// with fields filled in.
func (b *browser) act(p page, marker string, fields map[string]string) page {
	b.t.Helper()
	for _, f := range pageFormRE.FindAllString(p.body, -1) {
		if !strings.Contains(f, marker) {
			continue
		}
		form := p.form(b.t, marker)
		for k, v := range fields {
			form.Set(k, v)
		}
		return b.post(b.h.issuer+html.UnescapeString(formActionRE.FindStringSubmatch(f)[1]), form)
	}
	b.t.Fatalf("no form with %q on the page:\n%s", marker, p.body)
	return page{}
}

// meMFA signs b in as alice (password only) and returns /me/mfa.
func (h *harness) meMFA(t *testing.T, b *browser) page {
	t.Helper()
	p := b.login(b.get(h.issuer+"/me/mfa"), aliceEmail, alicePW)
	wantPage(t, "/me/mfa", p, http.StatusOK, "<h1>Two-step sign-in</h1>")
	return p
}

// addApp adds an authenticator app from the list p; it returns the app's
// secret and the page after its confirmation.
func (h *harness) addApp(t *testing.T, b *browser, p page) ([]byte, page) {
	t.Helper()
	p = b.act(p, `id="add-totp"`, nil)
	wantPage(t, "enrolment", p, http.StatusOK, "Set up an authenticator app")
	secret := totpSecret(t, p)
	return secret, b.act(p, `name="code"`, map[string]string{"code": h.code(t, secret)})
}

// shownCodes are the recovery codes a page shows, after checking that its
// download holds the same.
func shownCodes(t *testing.T, p page) []string {
	t.Helper()
	codes := recoveryCodes(t, p)
	m := downloadRE.FindStringSubmatch(p.body)
	if len(codes) != 10 || m == nil {
		t.Fatalf("%d codes shown, download %v; want 10 and a download:\n%s", len(codes), m != nil, p.body)
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		if !strings.Contains(string(raw), c) {
			t.Fatalf("the download lacks %s:\n%s", c, raw)
		}
	}
	return codes
}

// wantNotice waits for the notice of a change mailed to alice's account
// address, which must say want.
func (m *mailHarness) wantNotice(t *testing.T, want string) {
	t.Helper()
	msg := m.smtp.Wait(t, aliceEmail, 10*time.Second)
	if !strings.Contains(msg.Subject, "sign-in methods changed") || !strings.Contains(msg.Text, want) ||
		!strings.Contains(msg.Text, "If this was not you, reset your password and contact your administrator") {
		t.Fatalf("notice %q, want one saying %q:\n%s", msg.Subject, want, msg.Text)
	}
}

// codeLogin signs in to the web client in a new browser up to the second
// factor and returns that page.
func (h *harness) codeLogin(t *testing.T) (*browser, page) {
	t.Helper()
	c := h.browser()
	q, _ := withPKCE(nil)
	lp := c.login(c.get(h.authURL("web", q)), aliceEmail, alicePW)
	wantPage(t, "second step", lp, http.StatusOK, `name="code"`)
	return c, lp
}

// TestMeMFAResetTOTP: a reset's new app replaces the old one only once a
// code from it is confirmed; until then the old one signs in, afterwards
// it is refused. Each change is mailed.
func TestMeMFAResetTOTP(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			m := newMailHarness(t, backend, nil)
			h := m.harness
			h.client("web", nil)
			h.user(aliceEmail, alicePW)
			b := h.browser()
			oldSecret, p := h.addApp(t, b, h.meMFA(t, b))
			// The first factor comes with recovery codes, shown once.
			wantPage(t, "first app", p, http.StatusOK, "Your authenticator app is on")
			shownCodes(t, p)
			m.wantNotice(t, "added to your account: an authenticator app")
			p = b.get(h.issuer + "/me/mfa")
			wantPage(t, "the list", p, http.StatusOK, "Recovery codes: 10 of 10 left")

			p = b.act(p, `Reset Authenticator app`, nil)
			wantPage(t, "reset", p, http.StatusOK, "Reset your authenticator app")
			newSecret := totpSecret(t, p)
			// Not confirmed yet: the old app signs in, the new one does not.
			h.clock.Advance(30 * time.Second)
			c, lp := h.codeLogin(t)
			wantPage(t, "the new app before its confirmation", c.press(lp, `name="code"`, map[string]string{"code": h.code(t, newSecret)}),
				http.StatusUnprocessableEntity, "not correct")
			if cb := c.press(lp, `name="code"`, map[string]string{"code": h.code(t, oldSecret)}).callback(t); cb.Get("code") == "" {
				t.Fatalf("the old app during the reset: %v", cb)
			}

			done := b.act(p, `name="code"`, map[string]string{"code": h.code(t, newSecret)})
			wantPage(t, "reset confirmed", done, http.StatusOK, "Your authenticator app is reset: only the new app")
			m.wantNotice(t, "Your authenticator app was reset")
			if strings.Contains(done.body, "<code>") {
				t.Error("a reset made new recovery codes: the user has unused ones")
			}

			h.clock.Advance(30 * time.Second)
			d, lp := h.codeLogin(t)
			wantPage(t, "the old app after the reset", d.press(lp, `name="code"`, map[string]string{"code": h.code(t, oldSecret)}),
				http.StatusUnprocessableEntity, "not correct")
			if cb := d.press(lp, `name="code"`, map[string]string{"code": h.code(t, newSecret)}).callback(t); cb.Get("code") == "" {
				t.Fatalf("the new app after the reset: %v", cb)
			}
		})
	}
}

// TestMeMFAEmailFactor: an address added at /me, confirmed by the code
// mailed to it; a wrong code and a replaced one are refused in plain
// words.
func TestMeMFAEmailFactor(t *testing.T) {
	m := newMailHarness(t, config.StorageSQLite, nil)
	h := m.harness
	id := h.user(aliceEmail, alicePW)
	b := h.browser()
	p := h.meMFA(t, b)
	// With MFA off, codes may go to another address than the account's,
	// whose mailbox already resets the password.
	wantPage(t, "email option", p, http.StatusOK, "does not allow codes to your account's own address")
	wantPage(t, "own address", b.act(p, `id="add-email"`, map[string]string{"address": aliceEmail}),
		http.StatusUnprocessableEntity, "does not allow sign-in codes to your account")
	wantPage(t, "no address", b.act(p, `id="add-email"`, map[string]string{"address": "Alice <x@y.example>"}),
		http.StatusUnprocessableEntity, "Enter one email address")

	const home = "alice.home@example.net"
	cp := b.act(p, `id="add-email"`, map[string]string{"address": home})
	wantPage(t, "code page", cp, http.StatusOK, "emailed to a•••e@example.net")
	first := m.mailedCode(t, home)
	wantPage(t, "wrong code", b.act(cp, `name="code"`, map[string]string{"code": wrongCode(first)}),
		http.StatusUnprocessableEntity, "This code is not right")
	// A reload sends nothing; "Send a new code" sends one that voids the old.
	b.get(cp.resp.Request.URL.String())
	cp = b.act(cp, `id="resend"`, nil)
	wantPage(t, "resent", cp, http.StatusOK, "We sent a code")
	second := m.mailedCode(t, home)
	if first != second {
		wantPage(t, "the replaced code", b.act(cp, `name="code"`, map[string]string{"code": first}),
			http.StatusUnprocessableEntity, "This code is not right")
	}
	done := b.act(cp, `name="code"`, map[string]string{"code": second})
	wantPage(t, "confirmed", done, http.StatusOK, "Email codes are on")
	shownCodes(t, done)
	m.wantNotice(t, "email codes to a•••e@example.net")
	wantPage(t, "the list", b.get(h.issuer+"/me/mfa"), http.StatusOK, "Email code</strong>: "+home)
	if n := len(m.smtp.Messages()); n != 3 {
		t.Errorf("%d messages; want 2 codes, 1 notice and nothing for the reload", n)
	}
	fs, err := h.inst.Store.ListFactors(h.ctx, id, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(fs, func(f storage.Factor) bool { return f.Kind == storage.FactorEmail }); i < 0 || fs[i].Address != home || fs[i].ConfirmedAt.IsZero() {
		t.Fatalf("stored factors %v", fs)
	}
}

// wrongCode is a code that is not c.
func wrongCode(c string) string {
	if c == "000000" {
		return "111111"
	}
	return "000000"
}

// TestMeMFARecoveryAndRemoval: new recovery codes void the old set; the
// last factor stays while the organization requires MFA, and removing it
// otherwise takes the recovery codes with it.
func TestMeMFARecoveryAndRemoval(t *testing.T) {
	m := newMailHarness(t, config.StorageSQLite, nil)
	h := m.harness
	h.client("web", nil)
	id := h.user(aliceEmail, alicePW)
	b := h.browser()
	_, p := h.addApp(t, b, h.meMFA(t, b))
	old := shownCodes(t, p)
	m.wantNotice(t, "an authenticator app")

	p = b.act(b.get(h.issuer+"/me/mfa"), `id="regenerate"`, nil)
	wantPage(t, "new codes", p, http.StatusOK, "Your old recovery codes no longer work")
	fresh := shownCodes(t, p)
	if slices.ContainsFunc(fresh, func(c string) bool { return slices.Contains(old, c) }) {
		t.Fatal("a new set repeats an old code")
	}
	m.wantNotice(t, "New recovery codes were made")
	// Never shown again: the list has the count, not the codes.
	if l := b.get(h.issuer + "/me/mfa"); strings.Contains(l.body, fresh[0]) || !strings.Contains(l.body, "Recovery codes: 10 of 10 left") {
		t.Fatalf("the list after new codes:\n%s", l.body)
	}
	c, lp := h.codeLogin(t)
	rp := c.press(lp, `data-method="recovery"`, nil)
	wantPage(t, "an old code", c.press(rp, `name="code"`, map[string]string{"code": old[0]}), http.StatusUnprocessableEntity, "not right")
	wantPage(t, "a new code", c.press(rp, `name="code"`, map[string]string{"code": fresh[0]}), http.StatusOK, "You signed in with a recovery code")

	// The organization requires MFA: the one app stays.
	h.setMFA(storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp"}})
	l := b.get(h.issuer + "/me/mfa")
	wantPage(t, "the last factor", b.act(l, `data-remove=`, nil), http.StatusConflict, "cannot remove your last method")
	h.setMFA(storage.MFAPolicy{})
	done := b.act(l, `data-remove=`, nil)
	wantPage(t, "removed", done, http.StatusOK, "Two-step sign-in is off")
	if !strings.Contains(done.body, "The method was removed") || strings.Contains(done.body, "Recovery codes:") {
		t.Fatalf("after the removal:\n%s", done.body)
	}
	m.wantNotice(t, "your recovery codes were removed too")
	if fs, err := h.inst.Store.ListFactors(h.ctx, id, h.clock.Now()); err != nil || len(fs) != 0 {
		t.Fatalf("factors left after removing the last one: %v, %v", fs, err)
	}
}

// TestMeMFAChangesNeedRecentSignInAndCSRF: every change is a POST with
// its form's token, made within 5 minutes of a sign-in; otherwise it asks
// for the sign-in again and changes nothing.
func TestMeMFAChangesNeedRecentSignInAndCSRF(t *testing.T) {
	h := newHarness(t, config.StorageSQLite)
	id := h.user(aliceEmail, alicePW)
	b := h.browser()
	p := h.meMFA(t, b)
	for _, path := range []string{"/me/mfa/totp", "/me/mfa/totp/reset", "/me/mfa/totp/confirm", "/me/mfa/email",
		"/me/mfa/email/resend", "/me/mfa/email/confirm", "/me/mfa/remove", "/me/mfa/recovery"} {
		if got := b.post(h.issuer+path, url.Values{"address": {"x@y.example"}}); got.resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without a token: %d, want 403", path, got.resp.StatusCode)
		}
	}
	h.clock.Advance(6 * time.Minute)
	again := b.act(p, `id="add-totp"`, nil)
	if !again.isLoginForm() {
		t.Fatalf("a change 6 minutes after the sign-in: %d\n%s", again.resp.StatusCode, again.body)
	}
	if fs, err := h.inst.Store.ListFactors(h.ctx, id, h.clock.Now()); err != nil || len(fs) != 0 {
		t.Fatalf("the refused change stored %v, %v", fs, err)
	}
	wantPage(t, "signed in again", b.login(again, aliceEmail, alicePW), http.StatusOK, "Add an authenticator app")
}

// TestMFANoticeOfLoginEnrolment: a factor enrolled at a login is mailed
// like one added at /me.
func TestMFANoticeOfLoginEnrolment(t *testing.T) {
	m := newMailHarness(t, config.StorageSQLite, nil)
	h := m.harness
	h.client("web", nil)
	h.user(aliceEmail, alicePW)
	h.setMFA(storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp"}})
	h.enrolTOTP(t, h.browser(), "web", aliceEmail)
	m.wantNotice(t, "while signing in: an authenticator app")
}

// TestMeMFAMailDown: with the mail server down, adding an address says so
// in plain words and leaves nothing behind, and an app is still added (its
// notice is best effort, logged).
func TestMeMFAMailDown(t *testing.T) {
	m := newMailHarness(t, config.StorageSQLite, nil)
	h := m.harness
	id := h.user(aliceEmail, alicePW)
	b := h.browser()
	p := h.meMFA(t, b)
	m.smtp.FailTemporarily(true)
	wantPage(t, "address with the mail down", b.act(p, `id="add-email"`, map[string]string{"address": "alice.home@example.net"}),
		http.StatusServiceUnavailable, "We could not send the code")
	if fs, err := h.inst.Store.ListFactors(h.ctx, id, h.clock.Now()); err != nil || len(fs) != 0 {
		t.Fatalf("an address whose code was not sent left %v, %v", fs, err)
	}
	_, done := h.addApp(t, b, p)
	wantPage(t, "an app with the mail down", done, http.StatusOK, "Your authenticator app is on")
	if !strings.Contains(m.log.String(), "a notice was not sent") {
		t.Error("the notice that was not sent is not in the log")
	}
}
