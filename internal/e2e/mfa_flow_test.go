package e2e

// The second-factor steps of a login, through the pages and over HTTP:
// enrolment at the first login, the code at later ones, and the ways a
// browser could try to get past them (Back, reload, direct URLs, the
// callback, the token endpoint, a replayed or a doubly-submitted code).
//
// The "MFA" items of SECURITY-TESTS.md, and where they are tested:
//   - TOTP replay in the same login (TestTOTPSelfEnrolAndLogin) and in
//     another (TestMFACodeOnce, with two parallel submissions); a secret of
//     ≥ 160 bits shown only at enrolment and a confirming code
//     (TestMFAEnrolAtFirstLogin, idp/mfa/totplogin TestEnrol).
//   - Email codes: ≥ 6 digits, single use, TTL, bound to the login, resend
//     voids, 5 misses burn, send caps per destination, account and network
//     (idp/mfa/emailcode's tests; TestMFAEmailAndRecovery over SMTP).
//   - No step-skipping: TestMFAEnrolAtFirstLogin (reload, the password
//     form again, /authorize again, the callback, Skip and Finish out of
//     turn), TestMFARequiredNeverIssues, TestMFAAfterPasswordReset,
//     idp/authflow TestTransitions and TestEnrolAtLogin.
//   - Channels: TestMFADemandedWithoutPolicy (no email to the account's
//     own mailbox unless the organization named email), idp/mfa
//     TestEmailAddressAllowed.
//   - Admin reset: TestMFABulkReset, TestMFASkipForNow, mfa_reset_test.go,
//     idp/admin's matrix of roles.
//   - Lockout of every code: idp/authflow TestSecondFactorMissesLock and
//     TestTOTPWrongCodesLockTheAccount.

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var pageFormRE = regexp.MustCompile(`(?s)<form[^>]*>.*?</form>`)

// form returns the hidden fields of the page's form that contains marker
// (a button's id or data-method, a hidden action value).
func (p page) form(t *testing.T, marker string) url.Values {
	t.Helper()
	for _, f := range pageFormRE.FindAllString(p.body, -1) {
		if strings.Contains(f, marker) {
			v := url.Values{}
			for _, m := range hiddenRE.FindAllStringSubmatch(f, -1) {
				v.Set(m[1], html.UnescapeString(m[2]))
			}
			return v
		}
	}
	t.Fatalf("no form with %q on the page:\n%s", marker, p.body)
	return nil
}

// press posts the form of p that contains marker, with fields filled in.
func (b *browser) press(p page, marker string, fields map[string]string) page {
	b.t.Helper()
	form := p.form(b.t, marker)
	for k, v := range fields {
		form.Set(k, v)
	}
	return b.post(b.h.issuer+"/login", form)
}

// setMFA replaces the default organization's MFA policy in storage.
func (h *harness) setMFA(p storage.MFAPolicy) {
	h.t.Helper()
	o, err := h.inst.Store.GetOrganizationByName(h.ctx, "default")
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.inst.Store.UpdateOrganization(h.ctx, o.ID, func(o storage.Organization) (storage.Organization, error) {
		o.MFA = p
		return o, nil
	}); err != nil {
		h.t.Fatal(err)
	}
}

// enrolTOTP logs email in at clientID in b and enrols an authenticator app
// at the enrolment step; it returns the secret and the notice page.
func (h *harness) enrolTOTP(t *testing.T, b *browser, clientID, email string) ([]byte, page, string) {
	t.Helper()
	q, _ := withPKCE(nil)
	p := b.login(b.get(h.authURL(clientID, q)), email, alicePW)
	if strings.Contains(p.body, `data-page="mfa_choose"`) {
		p = b.press(p, `data-method="totp"`, nil)
	}
	wantPage(t, "enrolment", p, http.StatusOK, "Set up an authenticator app")
	id := p.form(t, `name="code"`).Get("id")
	secret := totpSecret(t, p)
	qrImage(t, p)
	n := b.press(p, `name="code"`, map[string]string{"code": h.code(t, secret)})
	wantPage(t, "after the enrolment", n, http.StatusOK, "Two-step sign-in is on")
	return secret, n, id
}

// TestMFAEnrolAtFirstLogin: with the organization's MFA on and only TOTP
// allowed, the first login goes straight to the app's enrolment; reloads,
// Back, the callback and the token endpoint issue nothing before the
// Finish; the ID token says what happened; the next login asks for the
// code.
func TestMFAEnrolAtFirstLogin(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		secretC := h.client("web", nil)
		h.user(aliceEmail, alicePW)
		h.setMFA(storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp"}})
		b := h.browser()
		q, verifier := withPKCE(nil)
		auth := h.authURL("web", q)
		login := b.get(auth)
		p := b.login(login, aliceEmail, alicePW)
		wantPage(t, "enrolment", p, http.StatusOK, "Set up an authenticator app")
		if strings.Contains(p.body, "Skip for now") {
			t.Fatal("Skip for now offered without the policy allowing it")
		}
		id := p.form(t, `name="code"`).Get("id")
		secret := totpSecret(t, p)
		qrImage(t, p)

		// A reload and the Back button show the same enrolment.
		again := b.get(h.issuer + "/login?id=" + url.QueryEscape(id))
		if s := totpSecret(t, again); string(s) != string(secret) {
			t.Fatal("a reload showed another secret")
		}
		// Posting the password form again is out of turn: the page shown
		// is the step the server is at.
		back := b.post(h.issuer+"/login", url.Values{"id": {id}, "csrf_token": {login.hidden().Get("csrf_token")}, "email": {aliceEmail}, "password": {alicePW}})
		if back.resp.StatusCode >= 500 || strings.Contains(back.resp.Header.Get("Location"), "code=") {
			t.Fatalf("the password form again: %d %s", back.resp.StatusCode, back.resp.Header.Get("Location"))
		}
		// /authorize again starts another request, at login.
		if p := b.get(auth); !p.isLoginForm() {
			t.Fatalf("/authorize again: %d\n%s", p.resp.StatusCode, p.body)
		}
		// The door's callback issues nothing before the login is done.
		cbURL := h.web.OIDC.ContinueURL(id)
		if strings.HasPrefix(cbURL, "/") {
			cbURL = h.issuer + cbURL
		}
		cb := b.get(cbURL)
		if loc := cb.resp.Header.Get("Location"); strings.Contains(loc, "code=") || cb.resp.StatusCode >= 500 {
			t.Fatalf("callback before the second factor: %d %s", cb.resp.StatusCode, loc)
		}
		// Skip is out of turn when not offered; Finish too, before the code.
		for _, action := range []string{"skip", "finish"} {
			pp := b.post(h.issuer+"/login", url.Values{"id": {id}, "csrf_token": {p.form(t, `name="code"`).Get("csrf_token")}, "action": {action}})
			if strings.Contains(pp.resp.Header.Get("Location"), "code=") || strings.Contains(pp.body, "Two-step sign-in is on") {
				t.Fatalf("%s before the code went on: %d %s", action, pp.resp.StatusCode, pp.resp.Header.Get("Location"))
			}
		}
		if r := h.authRequest(id); r.Step != "enrol" {
			t.Fatalf("step %q after the attempts; want enrol", r.Step)
		}

		wrong := b.press(p, `name="code"`, map[string]string{"code": "000000"})
		wantPage(t, "wrong code", wrong, http.StatusUnprocessableEntity, "not correct")
		n := b.press(p, `name="code"`, map[string]string{"code": h.code(t, secret)})
		wantPage(t, "after the enrolment", n, http.StatusOK, "Two-step sign-in is on")
		// The secret was shown for the set-up only.
		if strings.Contains(n.body, strings.Join(strings.Fields(totpSecretText(t, p)), " ")) {
			t.Fatal("the notice shows the secret again")
		}
		if again := b.get(h.issuer + "/login?id=" + url.QueryEscape(id)); strings.Contains(again.body, `id="secret"`) {
			t.Fatalf("a reload after the confirmation shows a secret:\n%s", again.body)
		}
		// Still nothing issued: the notice waits for Finish.
		if r := h.authRequest(id); r.Step != "notice" || r.SessionID != "" {
			t.Fatalf("after the code: step %q session %q; want notice without a session", r.Step, r.SessionID)
		}
		done := b.press(n, `id="finish"`, nil)
		code := done.callback(t).Get("code")
		status, tok := h.tokenRequest("web", secretC, codeForm("web", code, verifier))
		if status != http.StatusOK {
			t.Fatalf("token: %d %v", status, tok)
		}
		wantMFAToken(t, tok)

		// The next login asks for the app's code.
		c := h.browser()
		lp := c.login(c.get(h.authURL("web", nil)), aliceEmail, alicePW)
		wantPage(t, "next login", lp, http.StatusOK, "Open your authenticator app")
	})
}

// wantMFAToken fails unless tok's ID token says a second factor was used.
func wantMFAToken(t *testing.T, tok map[string]any) {
	t.Helper()
	claims := jwtClaims(t, jsonStr(tok, "id_token"))
	var amr []string
	for _, v := range claims["amr"].([]any) {
		amr = append(amr, v.(string))
	}
	want := map[string]bool{"pwd": true, "otp": true, "mfa": true}
	for _, a := range amr {
		delete(want, a)
	}
	if len(want) != 0 || claims["acr"] != "urn:gatehouse:acr:mfa" {
		t.Fatalf("ID token amr %v acr %v; want pwd, otp, mfa and the MFA acr", amr, claims["acr"])
	}
}

// TestMFACodeOnce: a TOTP code accepted in one login is refused in
// another, and two logins submitting one code at once: exactly one goes
// on.
func TestMFACodeOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.client("web", nil)
		h.user(aliceEmail, alicePW)
		h.setMFA(storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp"}})
		secret, _, _ := h.enrolTOTP(t, h.browser(), "web", aliceEmail)
		h.clock.Advance(30 * time.Second)

		// Two logins at the code step.
		var pages [2]page
		var browsers [2]*browser
		for i := range pages {
			browsers[i] = h.browser()
			pages[i] = browsers[i].login(browsers[i].get(h.authURL("web", nil)), aliceEmail, alicePW)
			wantPage(t, "code step", pages[i], http.StatusOK, "Open your authenticator app")
		}
		c := h.code(t, secret)
		var wg sync.WaitGroup
		var results [2]page
		for i := range pages {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = browsers[i].press(pages[i], `name="code"`, map[string]string{"code": c})
			}()
		}
		wg.Wait()
		won := 0
		for _, r := range results {
			if r.resp.StatusCode == http.StatusFound && strings.Contains(r.resp.Header.Get("Location"), "code=") {
				won++
			} else if r.resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("a losing submission: %d\n%s", r.resp.StatusCode, r.body)
			}
		}
		if won != 1 {
			t.Fatalf("%d of two parallel submissions of one code went on; want exactly 1", won)
		}
		// The same code in a third login: refused.
		d := h.browser()
		lp := d.login(d.get(h.authURL("web", nil)), aliceEmail, alicePW)
		wantPage(t, "replay in another login", d.press(lp, `name="code"`, map[string]string{"code": c}), http.StatusUnprocessableEntity, "already used")
	})
}

// TestMFADemandedWithoutPolicy: in an organization with MFA off, a client
// that requires MFA (or acr_values asking for it) makes a user without a
// factor enrol, and a user who turned an app on is asked for it anywhere.
func TestMFADemandedWithoutPolicy(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.client("web", nil)
		h.client("strict", func(in *clients.Input) { in.RequireMFA = true })
		h.user(aliceEmail, alicePW)
		for _, tc := range []struct {
			name, client string
			extra        url.Values
		}{
			{"client requires MFA", "strict", nil},
			{"acr_values asks for MFA", "web", url.Values{"acr_values": {"urn:gatehouse:acr:mfa"}}},
		} {
			b := h.browser()
			q, _ := withPKCE(tc.extra)
			// With MFA off, the user may protect the account with an app
			// or with codes to another mailbox than the account's.
			p := b.login(b.get(h.authURL(tc.client, q)), aliceEmail, alicePW)
			wantPage(t, tc.name, p, http.StatusOK, "Set up two-step sign-in")
			if !strings.Contains(p.body, `data-method="totp"`) || !strings.Contains(p.body, `name="address"`) {
				t.Fatalf("%s: the choice lacks the app or the email address field:\n%s", tc.name, p.body)
			}
			if strings.Contains(p.body, "Skip for now") {
				t.Fatalf("%s: Skip for now offered where the client demands MFA", tc.name)
			}
		}
		// Alice enrols at the strict client; then the plain client asks too.
		h.enrolTOTP(t, h.browser(), "strict", aliceEmail)
		c := h.browser()
		lp := c.login(c.get(h.authURL("web", nil)), aliceEmail, alicePW)
		wantPage(t, "plain client after enrolling", lp, http.StatusOK, "Open your authenticator app")
	})
}

var mailCodeRE = regexp.MustCompile(`(?m)^\s+(\d{6})\s*$`)

// mailedCode is the sign-in code in the next mail to to.
func (m *mailHarness) mailedCode(t *testing.T, to string) string {
	t.Helper()
	msg := m.wait(t, to)
	if !msg.TLS {
		t.Errorf("code mail to %s came without TLS", to)
	}
	c := mailCodeRE.FindStringSubmatch(msg.Text)
	if c == nil {
		t.Fatalf("no code in the mail to %s:\n%s", to, msg.Text)
	}
	return c[1]
}

var recoveryRE = regexp.MustCompile(`<li><code>([a-z0-9-]+)</code></li>`)

// recoveryCodes are the codes a notice page shows.
func recoveryCodes(t *testing.T, p page) []string {
	t.Helper()
	var out []string
	for _, m := range recoveryRE.FindAllStringSubmatch(p.body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestMFAEmailAndRecovery: with TOTP and email allowed, the user chooses
// email codes (their own address, which the policy allows by naming
// email), confirms the address with the code that arrives over SMTP,
// gets ten recovery codes shown once, and finishes; at the next login the
// code is sent without a click, "Send a new code" voids it, and a
// recovery code stands in for the mailbox once, ending on a page that
// says how many are left.
func TestMFAEmailAndRecovery(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			m := newMailHarness(t, backend, nil)
			h := m.harness
			secretC := h.client("web", nil)
			h.user(aliceEmail, alicePW)
			h.setMFA(storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp", "email"}})

			b := h.browser()
			q, verifier := withPKCE(nil)
			p := b.login(b.get(h.authURL("web", q)), aliceEmail, alicePW)
			wantPage(t, "choice", p, http.StatusOK, "Choose how you want to confirm it is you")
			for _, m := range []string{`data-method="totp"`, `data-method="email"`} {
				if !strings.Contains(p.body, m) {
					t.Fatalf("the choice lacks %s:\n%s", m, p.body)
				}
			}
			e := b.press(p, `data-method="email"`, nil)
			wantPage(t, "email enrolment", e, http.StatusOK, "Check your email")
			code := m.mailedCode(t, aliceEmail)
			wantPage(t, "a wrong code", b.press(e, `name="code"`, map[string]string{"code": "000000"}), http.StatusUnprocessableEntity, `role="alert"`)
			n := b.press(e, `name="code"`, map[string]string{"code": code})
			wantPage(t, "enrolled", n, http.StatusOK, "Two-step sign-in is on")
			codes := recoveryCodes(t, n)
			if len(codes) != 10 || !strings.Contains(n.body, `download="gatehouse-recovery-codes.txt"`) {
				t.Fatalf("%d recovery codes shown (want 10, with a download link):\n%s", len(codes), n.body)
			}
			status, tok := h.tokenRequest("web", secretC, codeForm("web", b.press(n, `id="finish"`, nil).callback(t).Get("code"), verifier))
			if status != http.StatusOK {
				t.Fatalf("token: %d %v", status, tok)
			}
			wantMFAToken(t, tok)

			// The next login: the code goes out with no click.
			c := h.browser()
			lp := c.login(c.get(h.authURL("web", nil)), aliceEmail, alicePW)
			wantPage(t, "code step", lp, http.StatusOK, "we emailed to a")
			first := m.mailedCode(t, aliceEmail)
			// A reload sends nothing new.
			c.get(h.issuer + "/login?id=" + url.QueryEscape(lp.form(t, `name="code"`).Get("id")))
			r := c.press(lp, `id="resend"`, nil)
			wantPage(t, "resend", r, http.StatusOK, "We sent a new code")
			second := m.mailedCode(t, aliceEmail)
			if n := len(m.codeMails()); n != 3 {
				t.Fatalf("%d code mails; want 3 (enrolment, first login code, resend): a reload must not send", n)
			}
			if first != second {
				wantPage(t, "the voided code", c.press(r, `name="code"`, map[string]string{"code": first}), http.StatusUnprocessableEntity, `role="alert"`)
			}
			// Use a recovery code instead.
			rp := c.press(r, `data-method="recovery"`, nil)
			wantPage(t, "recovery form", rp, http.StatusOK, "Use a recovery code")
			used := strings.ToUpper(strings.ReplaceAll(codes[3], "-", " "))
			rn := c.press(rp, `name="code"`, map[string]string{"code": used})
			wantPage(t, "after a recovery code", rn, http.StatusOK, "You have 9 recovery codes left")
			if !strings.Contains(rn.body, `href="/me/mfa"`) {
				t.Fatalf("the notice does not point to the account's methods:\n%s", rn.body)
			}
			c.press(rn, `id="finish"`, nil).callback(t)
			// The code is spent, in another login too.
			d := h.browser()
			dp := d.login(d.get(h.authURL("web", nil)), aliceEmail, alicePW)
			m.mailedCode(t, aliceEmail)
			dr := d.press(dp, `data-method="recovery"`, nil)
			wantPage(t, "a used recovery code", d.press(dr, `name="code"`, map[string]string{"code": codes[3]}), http.StatusUnprocessableEntity, `role="alert"`)
		})
	}
}

// TestMFASkipForNow: where the policy offers it, "Skip for now" lets the
// login through without a second factor and is remembered; an
// administrator's reset clears it and asks for an enrolment with no skip.
func TestMFASkipForNow(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		secretC := h.client("web", nil)
		uid := h.user(aliceEmail, alicePW)
		h.setMFA(storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp"}, AllowSkip: true})
		b := h.browser()
		q, verifier := withPKCE(nil)
		p := b.login(b.get(h.authURL("web", q)), aliceEmail, alicePW)
		wantPage(t, "enrolment with skip", p, http.StatusOK, "Skip for now")
		status, tok := h.tokenRequest("web", secretC, codeForm("web", b.press(p, `id="skip"`, nil).callback(t).Get("code"), verifier))
		if status != http.StatusOK {
			t.Fatalf("token: %d %v", status, tok)
		}
		if claims := jwtClaims(t, jsonStr(tok, "id_token")); claims["acr"] == "urn:gatehouse:acr:mfa" {
			t.Fatalf("a skipped login claims MFA: %v", claims)
		}
		if u := h.storedUser(uid); !u.MFASkipped || u.MFASkippedAt.IsZero() {
			t.Fatalf("skip not remembered: %+v", u)
		}
		// Remembered: the next login goes straight through.
		h.loginFlow(h.browser(), "web", aliceEmail, nil)
		// An administrator's reset clears it and asks for an enrolment,
		// without skip.
		if res, err := h.inst.Admin.ResetMFA(h.ctx, "test-admin", admin.Everyone, []admin.UserRef{{Email: aliceEmail}}, ""); err != nil || len(res) != 1 {
			t.Fatalf("ResetMFA: %+v, %v", res, err)
		}
		if u := h.storedUser(uid); u.MFASkipped || !u.MFAEnrollRequired {
			t.Fatalf("after the reset: %+v", u)
		}
		c := h.browser()
		lp := c.login(c.get(h.authURL("web", nil)), aliceEmail, alicePW)
		wantPage(t, "after the reset", lp, http.StatusOK, "Set up an authenticator app")
		if strings.Contains(lp.body, "Skip for now") {
			t.Fatal("Skip for now offered after an administrator's reset")
		}
	})
}

// setMFAPolicy changes the default organization's policy the way an
// administrator does (gatehouse orgs set-mfa), generations included.
func (h *harness) setMFAPolicy(in admin.MFAPolicyInput) {
	h.t.Helper()
	if _, err := h.inst.Admin.SetMFAPolicy(h.ctx, "test-admin", "default", in); err != nil {
		h.t.Fatal(err)
	}
}

// TestMFAPolicyChanges: turning MFA off and on again (as set-mfa does)
// makes an enrolled user enrol again (their old factor no longer counts),
// and removing a method from the allowed list makes a user whose only
// factor uses it enrol an allowed one.
func TestMFAPolicyChanges(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.client("web", nil)
		h.user(aliceEmail, alicePW)
		on := admin.MFAPolicyInput{Required: true, Methods: []string{"totp"}}
		h.setMFAPolicy(on)
		h.enrolTOTP(t, h.browser(), "web", aliceEmail)
		h.clock.Advance(time.Minute)
		// Off: the app she enrolled still protects her account.
		h.setMFAPolicy(admin.MFAPolicyInput{})
		b := h.browser()
		wantPage(t, "MFA off, own app", b.login(b.get(h.authURL("web", nil)), aliceEmail, alicePW), http.StatusOK, "Open your authenticator app")
		// On again: a new generation; her app is from before it.
		h.clock.Advance(time.Minute)
		h.setMFAPolicy(on)
		c := h.browser()
		wantPage(t, "MFA on again", c.login(c.get(h.authURL("web", nil)), aliceEmail, alicePW), http.StatusOK, "Set up an authenticator app")

		// Bob enrols an app; then the list allows email only.
		h.user(bobEmail, alicePW)
		h.enrolTOTP(t, h.browser(), "web", bobEmail)
		h.setMFAPolicy(admin.MFAPolicyInput{Required: true, Methods: []string{"email"}})
		d := h.browser()
		dp := d.login(d.get(h.authURL("web", nil)), bobEmail, alicePW)
		if strings.Contains(dp.body, "Open your authenticator app") || !strings.Contains(dp.body, `data-page="mfa_`) {
			t.Fatalf("a removed method still satisfies the step, or no enrolment:\n%s", dp.body)
		}
	})
}

// TestMFABulkReset: an administrator resets three users at once; each
// one's factors stop working, their sessions end, and their next login
// enrols again.
func TestMFABulkReset(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.client("web", nil)
		h.setMFAPolicy(admin.MFAPolicyInput{Required: true, Methods: []string{"totp"}, AllowSkip: true})
		emails := []string{"u1@example.com", "u2@example.com", "u3@example.com"}
		var refs []admin.UserRef
		browsers := map[string]*browser{}
		for _, e := range emails {
			h.user(e, alicePW)
			b := h.browser()
			_, n, _ := h.enrolTOTP(t, b, "web", e)
			b.press(n, `id="finish"`, nil).callback(t)
			browsers[e] = b
			refs = append(refs, admin.UserRef{Email: e})
		}
		res, err := h.inst.Admin.ResetMFA(h.ctx, "test-admin", admin.Everyone, refs, "")
		if err != nil || len(res) != 3 {
			t.Fatalf("ResetMFA: %+v, %v", res, err)
		}
		for _, e := range emails {
			if h.loggedIn(browsers[e], "web") {
				t.Fatalf("%s: the session survived the reset", e)
			}
			b := h.browser()
			p := b.login(b.get(h.authURL("web", nil)), e, alicePW)
			wantPage(t, e+" after the reset", p, http.StatusOK, "Set up an authenticator app")
			if strings.Contains(p.body, "Skip for now") {
				t.Fatalf("%s: Skip for now offered after a reset", e)
			}
		}
	})
}

// TestMFAAfterPasswordReset: a user with an authenticator app resets
// their password from the mailbox; the next login still asks for the app.
func TestMFAAfterPasswordReset(t *testing.T) {
	m := newMailHarness(t, backends(t)[len(backends(t))-1], nil)
	h := m.harness
	h.client("web", nil)
	h.user(aliceEmail, alicePW)
	h.setMFAPolicy(admin.MFAPolicyInput{Required: true, Methods: []string{"totp"}})
	h.enrolTOTP(t, h.browser(), "web", aliceEmail)
	b := h.browser()
	fp := b.get(h.issuer + "/password/forgot")
	wantPage(t, "forgot", b.submit(fp, "/password/forgot", map[string]string{"email": aliceEmail}), http.StatusOK, "If an account exists")
	_, reset := m.link(t, aliceEmail, "/password/reset")
	const pw = "a brand new passphrase"
	wantPage(t, "reset", b.submit(b.get(reset), "/password/reset", map[string]string{"password": pw, "confirm": pw}), http.StatusOK, "Your password is set")
	c := h.browser()
	p := c.login(c.get(h.authURL("web", nil)), aliceEmail, pw)
	if p.resp.StatusCode == http.StatusFound {
		t.Fatalf("a login after the reset went on without the app: %s", p.resp.Header.Get("Location"))
	}
	wantPage(t, "login after the reset", p, http.StatusOK, "Open your authenticator app")
}

// TestMFAEmailToAnotherAddress: where the policy allows other addresses,
// the choice asks for one; a malformed one is refused on the page, and
// the code goes to the address given, whose first code confirms it.
func TestMFAEmailToAnotherAddress(t *testing.T) {
	m := newMailHarness(t, backends(t)[0], nil)
	h := m.harness
	h.client("web", nil)
	h.user(aliceEmail, alicePW)
	h.setMFAPolicy(admin.MFAPolicyInput{Required: true, Methods: []string{"email"}, OtherEmail: true})
	b := h.browser()
	p := b.login(b.get(h.authURL("web", nil)), aliceEmail, alicePW)
	wantPage(t, "the choice asks for an address", p, http.StatusOK, `name="address"`)
	if !strings.Contains(p.body, `value="`+aliceEmail+`"`) {
		t.Fatalf("the address field is not prefilled with the account's:\n%s", p.body)
	}
	bad := b.press(p, `data-method="email"`, map[string]string{"address": "not an address"})
	wantPage(t, "a malformed address", bad, http.StatusUnprocessableEntity, `role="alert"`)
	const other = "alice.backup@home.example"
	e := b.press(bad, `data-method="email"`, map[string]string{"address": other})
	wantPage(t, "sent to the other address", e, http.StatusOK, "Check your email")
	n := b.press(e, `name="code"`, map[string]string{"code": m.mailedCode(t, other)})
	wantPage(t, "enrolled", n, http.StatusOK, "Two-step sign-in is on")
	if f, err := h.inst.Store.ListFactors(h.ctx, h.storedUserByEmail(aliceEmail).ID, h.clock.Now()); err != nil || !slices.ContainsFunc(f, func(f storage.Factor) bool {
		return f.Kind == storage.FactorEmail && f.Address == other && !f.ConfirmedAt.IsZero()
	}) {
		t.Fatalf("factors %+v, %v; want a confirmed email factor for %s", f, err, other)
	}
}

func (h *harness) storedUserByEmail(email string) storage.User {
	h.t.Helper()
	u, err := h.inst.Store.GetUserByEmail(h.ctx, storage.NormalizeEmail(email))
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

// TestMFAMailServerDown: when the code cannot be mailed, the code step
// says so in plain words (no error page) and the user's other methods
// still work; once the server is back, "Send a new code" sends one.
func TestMFAMailServerDown(t *testing.T) {
	m := newMailHarness(t, backends(t)[0], nil)
	h := m.harness
	h.client("web", nil)
	h.user(aliceEmail, alicePW)
	h.setMFAPolicy(admin.MFAPolicyInput{Required: true, Methods: []string{"totp", "email"}})
	// Alice has an app and an email factor.
	secret, _, _ := h.enrolTOTP(t, h.browser(), "web", aliceEmail)
	uid := h.storedUserByEmail(aliceEmail).ID
	if err := h.inst.Store.CreateFactor(h.ctx, storage.Factor{ID: storage.NewID(), UserID: uid, Kind: storage.FactorEmail,
		Label: aliceEmail, Address: aliceEmail, CreatedAt: h.clock.Now(), ConfirmedAt: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	m.smtp.Stop()
	b := h.browser()
	p := b.login(b.get(h.authURL("web", nil)), aliceEmail, alicePW)
	wantPage(t, "code step", p, http.StatusOK, "Open your authenticator app")
	e := b.press(p, `data-method="email"`, nil)
	wantPage(t, "mail down", e, http.StatusOK, "We could not send the code")
	if !strings.Contains(m.log.String(), "sending a code failed") {
		t.Errorf("the log lacks the send failure:\n%s", m.log.String())
	}
	// The app still works.
	h.clock.Advance(30 * time.Second)
	a := b.press(e, `data-method="totp"`, nil)
	ap := b.press(a, `name="code"`, map[string]string{"code": h.code(t, secret)})
	if ap.resp.StatusCode != http.StatusFound {
		t.Fatalf("the app after the mail outage: %d\n%s", ap.resp.StatusCode, ap.body)
	}
	// Back up: a new code is sent on request.
	m.smtp.Restart()
	c := h.browser()
	cp := c.press(c.login(c.get(h.authURL("web", nil)), aliceEmail, alicePW), `data-method="email"`, nil)
	r := c.press(cp, `id="resend"`, nil)
	wantPage(t, "resend after the outage", r, http.StatusOK, "We sent a new code")
	m.mailedCode(t, aliceEmail) // sent when the step was shown, voided by the resend
	c.press(r, `name="code"`, map[string]string{"code": m.mailedCode(t, aliceEmail)}).callback(t)
}

// totpSecretText is the key as the enrolment page shows it.
func totpSecretText(t *testing.T, p page) string {
	t.Helper()
	m := secretRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no secret on the page:\n%s", p.body)
	}
	return m[1]
}

// TestMFABadInput: whatever a browser posts at the second-factor steps
// (unknown actions and methods, NUL bytes, invalid UTF-8, huge fields),
// the answer is a page or a redirect, never a 5xx, and the login stays at
// its step.
func TestMFABadInput(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.client("web", nil)
		h.user(aliceEmail, alicePW)
		h.setMFAPolicy(admin.MFAPolicyInput{Required: true, Methods: []string{"totp", "email"}, OtherEmail: true})
		b := h.browser()
		p := b.login(b.get(h.authURL("web", nil)), aliceEmail, alicePW)
		base := p.form(t, `data-method="totp"`)
		id := base.Get("id")
		bad := []string{"", "\x00", "a\x00b", "\xff\xfe", strings.Repeat("9", 10000), "../../etc", "<script>", "totp\n", "recovery", "password"}
		for _, v := range bad {
			for _, fields := range []map[string]string{
				{"action": v},
				{"action": "choose", "method": v},
				{"action": "choose", "method": "email", "address": v},
				{"method": v, "code": v},
				{"method": "totp", "code": v},
				{"action": "resend"},
				{"action": "skip"},
				{"action": "finish"},
			} {
				f := url.Values{"id": {id}, "csrf_token": {base.Get("csrf_token")}}
				for k, val := range fields {
					f.Set(k, val)
				}
				r := b.post(h.issuer+"/login", f)
				if r.resp.StatusCode >= 500 || strings.Contains(r.resp.Header.Get("Location"), "code=") {
					t.Fatalf("%q: %d %s\n%.300s", fields, r.resp.StatusCode, r.resp.Header.Get("Location"), r.body)
				}
			}
		}
		if st := h.authRequest(id).Step; st != "enrol" {
			t.Fatalf("after the bad input the login is at %q; want enrol", st)
		}
	})
}
