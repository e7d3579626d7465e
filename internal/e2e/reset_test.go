package e2e

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/smtptest"
)

// mailHarness is a harness whose instance sends email to an in-process
// SMTP server over STARTTLS with a test certificate, and keeps its log.
type mailHarness struct {
	*harness
	smtp *smtptest.Server
	log  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newMailHarness(t *testing.T, backend string, edit func(*config.Config)) *mailHarness {
	t.Helper()
	srv := smtptest.Start(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("gatehouse", "mail-pw"))
	logs := &syncBuffer{}
	h := newHarnessWith(t, backend, harnessOptions{
		config: func(c *config.Config) {
			// SMTP's host is "localhost": the test certificate names it,
			// and credentials over STARTTLS are fine to any host.
			c.SMTP = config.SMTP{Host: "localhost", Port: srv.Port(), Username: "gatehouse", Password: "mail-pw",
				From: "Gatehouse <id@example.com>", TLS: config.SMTPTLSStartTLS, Timeout: 2 * time.Second}
			if edit != nil {
				edit(c)
			}
		},
		opts: func(o *instance.Options) {
			o.MailRootCAs = srv.RootCAs()
			o.AnswerFloor = time.Millisecond
			o.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(logs), nil))
		},
	})
	return &mailHarness{harness: h, smtp: srv, log: logs}
}

// wait is the next mail to `to` that is not a notice of a change to the
// second factors: enrolling at a login mails one to the account, and a
// test that waits for a code or a link is not about it (me_mfa_test.go
// checks the notices).
func (m *mailHarness) wait(t *testing.T, to string) smtptest.Captured {
	t.Helper()
	for {
		msg := m.smtp.Wait(t, to, 10*time.Second)
		if !isChangeNotice(msg) {
			return msg
		}
	}
}

// codeMails are the mails sent so far but the notices of changes to the
// second factors.
func (m *mailHarness) codeMails() []smtptest.Captured {
	var out []smtptest.Captured
	for _, msg := range m.smtp.Messages() {
		if !isChangeNotice(msg) {
			out = append(out, msg)
		}
	}
	return out
}

func isChangeNotice(msg smtptest.Captured) bool {
	return strings.Contains(msg.Subject, "sign-in methods changed")
}

// link is the first link in the mail to `to` that starts with path.
func (m *mailHarness) link(t *testing.T, to, path string) (smtptest.Captured, string) {
	t.Helper()
	msg := m.wait(t, to)
	if !msg.TLS || msg.Auth == "" {
		t.Errorf("mail to %s came without TLS or AUTH (tls=%v auth=%q)", to, msg.TLS, msg.Auth)
	}
	return msg, msg.Link(t, m.issuer+path+"?token=")
}

// form fills and posts the form on p.
func (b *browser) submit(p page, action string, fields map[string]string) page {
	b.t.Helper()
	form := p.hidden()
	for k, v := range fields {
		form.Set(k, v)
	}
	return b.post(b.h.issuer+action, form)
}

func wantPage(t *testing.T, what string, p page, status int, text string) {
	t.Helper()
	if p.resp.StatusCode != status || !strings.Contains(p.body, text) {
		t.Fatalf("%s: %d, want %d with %q\n%s", what, p.resp.StatusCode, status, text, p.body)
	}
}

// TestInviteThenForgotPassword is the journey of the issue, through the
// pages, with the emails arriving over SMTP: an invited user accepts,
// signs in, forgets the password, resets it from the login they were in,
// and signs in again.
func TestInviteThenForgotPassword(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) { inviteThenForgot(t, newMailHarness(t, backend, nil)) })
	}
}

func inviteThenForgot(t *testing.T, m *mailHarness) {
	{
		h := m.harness
		h.client("web", nil)
		const email, first, second = "ivy@example.com", "ivy's first passphrase", "ivy's second passphrase"
		u, err := h.inst.Admin.CreateUser(h.ctx, "test", admin.CreateUserInput{Email: email, Name: "Ivy", Org: "default"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.inst.Admin.SendInvite(h.ctx, "test", email); err != nil {
			t.Fatal(err)
		}
		msg, invite := m.link(t, email, "/invite")
		if !strings.Contains(msg.Subject, "Gatehouse") && !strings.Contains(msg.Text, "72 hours") && !strings.Contains(msg.Text, "3 days") {
			t.Errorf("invite mail does not say how long the link lasts:\n%s", msg.Text)
		}
		b := h.browser()
		// Opening the link (twice: a mail scanner, then the person)
		// consumes nothing.
		b.get(invite)
		p := b.get(invite)
		wantPage(t, "invite link", p, http.StatusOK, `autocomplete="new-password"`)
		p = b.submit(p, "/invite", map[string]string{"password": "short", "confirm": "short"})
		wantPage(t, "short password", p, http.StatusUnprocessableEntity, "at least 8 characters")
		p = b.submit(p, "/invite", map[string]string{"password": "password123", "confirm": "password123"})
		wantPage(t, "common password", p, http.StatusUnprocessableEntity, "common")
		p = b.submit(p, "/invite", map[string]string{"password": first, "confirm": first})
		wantPage(t, "invite accepted", p, http.StatusOK, "Your password is set")
		if got := h.storedUser(u.ID); got.State != storage.UserActive || !got.EmailVerified {
			t.Fatalf("after the invite: %+v", got)
		}
		wantPage(t, "used invite link", b.get(invite), http.StatusGone, "expired")

		// Sign in with it.
		q, verifier := withPKCE(nil)
		p = b.get(h.authURL("web", q))
		id := p.hidden().Get("id")
		if !strings.Contains(p.body, "/password/forgot?id="+id) {
			t.Fatalf("the login page has no forgot-password link for this login:\n%s", p.body)
		}
		if cb := b.login(p, email, first).callback(t); cb.Get("code") == "" {
			t.Fatalf("first login: %v", cb)
		}
		_ = verifier

		// Another browser, signed in, is signed out by the reset.
		other := h.browser()
		h.loginFlowWith(other, "web", email, first)

		// Forgot it: from a new login, the link on the login page.
		c := h.browser()
		p = c.get(h.authURL("web", nil))
		id = p.hidden().Get("id")
		fp := c.get(h.issuer + "/password/forgot?id=" + url.QueryEscape(id))
		wantPage(t, "forgot form", fp, http.StatusOK, `name="email"`)
		known := c.submit(fp, "/password/forgot", map[string]string{"email": email})
		wantPage(t, "forgot, known address", known, http.StatusOK, "If an account exists")
		unknown := c.submit(fp, "/password/forgot", map[string]string{"email": "nobody@example.com"})
		if unknown.resp.StatusCode != known.resp.StatusCode || unknown.body != known.body {
			t.Fatalf("the answer tells a known address from an unknown one:\n%s\n---\n%s", known.body, unknown.body)
		}
		_, reset := m.link(t, email, "/password/reset")
		rp := c.get(reset)
		wantPage(t, "reset link", rp, http.StatusOK, "Choose a new password")
		done := c.submit(rp, "/password/reset", map[string]string{"password": second, "confirm": second})
		// Back into the login the user was in, which says so.
		if got := done.resp.Request.URL; got.Path != "/login" || got.Query().Get("id") != id {
			t.Fatalf("after the reset: at %s, want back to the login %s", got, id)
		}
		lp := done
		wantPage(t, "login after reset", lp, http.StatusOK, "Your password is set")
		notice := m.smtp.Wait(t, email, 10*time.Second)
		if !strings.Contains(strings.ToLower(notice.Subject+notice.Text), "changed") {
			t.Errorf("no password-changed notice: %q", notice.Subject)
		}
		if cb := c.login(lp, email, first); cb.resp.StatusCode == http.StatusFound {
			t.Fatal("the old password still signs in")
		}
		lp = c.get(h.issuer + "/login?id=" + url.QueryEscape(id))
		if cb := c.login(lp, email, second).callback(t); cb.Get("code") == "" {
			t.Fatalf("login with the new password: %v", cb)
		}
		if cb, _ := h.silent(other, "web", nil); cb.Get("error") != "login_required" {
			t.Errorf("the other browser's session survived the reset: %v", cb)
		}
		wantPage(t, "used reset link", c.get(reset), http.StatusGone, "Send me a new link")
	}
}

// loginFlowWith logs b in to clientID as email with pw.
func (h *harness) loginFlowWith(b *browser, clientID, email, pw string) {
	h.t.Helper()
	q, _ := withPKCE(nil)
	p := b.get(h.authURL(clientID, q))
	if cb := b.login(p, email, pw).callback(h.t); cb.Get("code") == "" {
		h.t.Fatalf("login: %v", cb)
	}
}

// TestResetLinkSafety: the link is built from the configured issuer
// whatever the request's Host says; mail sends are capped per address; a
// reset never skips the second factor.
func TestResetLinkSafety(t *testing.T) {
	m := newMailHarness(t, config.StorageSQLite, nil)
	h := m.harness
	h.client("web", nil)
	uid := h.user(aliceEmail, alicePW)
	b := h.browser()
	fp := b.get(h.issuer + "/password/forgot")
	form := fp.hidden()
	form.Set("email", aliceEmail)
	req, _ := http.NewRequest(http.MethodPost, h.issuer+"/password/forgot", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", h.issuer)
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("Forwarded", "host=evil.example")
	wantPage(t, "forgot with a forged host", b.do(req), http.StatusOK, "If an account exists")
	msg := m.smtp.Wait(t, aliceEmail, 10*time.Second)
	if strings.Contains(msg.Text+msg.HTML, "evil.example") {
		t.Fatalf("the link follows the request's host:\n%s", msg.Text)
	}
	reset := msg.Link(t, h.issuer+"/password/reset?token=")
	token := strings.TrimPrefix(reset, h.issuer+"/password/reset?token=")
	if len(token) < 22 { // 128 bits in base64url
		t.Fatalf("token %q is shorter than 128 bits", token)
	}

	// Capped per address (reset.address_limit, 5 an hour): the sixth
	// request in the hour is refused, for this address as for any.
	for range 4 {
		b.submit(fp, "/password/forgot", map[string]string{"email": aliceEmail})
	}
	wantPage(t, "sixth request", b.submit(fp, "/password/forgot", map[string]string{"email": aliceEmail}),
		http.StatusTooManyRequests, "Too many")
	for range 4 {
		m.smtp.Wait(t, aliceEmail, 10*time.Second)
	}

	// A newer link voids the older one; after MFA is required, the reset
	// leads to the second factor, never past it.
	wantPage(t, "voided link", b.get(reset), http.StatusGone, "expired")
	h.clock.Advance(time.Hour)
	wantPage(t, "request after the hour", b.submit(fp, "/password/forgot", map[string]string{"email": aliceEmail}), http.StatusOK, "If an account exists")
	_, reset = m.link(t, aliceEmail, "/password/reset")
	org, err := h.inst.Store.GetOrganizationByName(h.ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.inst.Store.UpdateOrganization(h.ctx, org.ID, func(o storage.Organization) (storage.Organization, error) {
		o.MFA.Required = true
		return o, nil
	}); err != nil {
		t.Fatal(err)
	}
	rp := b.get(reset)
	const pw = "a brand new passphrase"
	wantPage(t, "reset", b.submit(rp, "/password/reset", map[string]string{"password": pw, "confirm": pw}), http.StatusOK, "Your password is set")
	if got := h.storedUser(uid); got.PasswordChangedAt.IsZero() {
		t.Fatalf("password not changed: %+v", got)
	}
	p := b.get(h.authURL("web", nil))
	after := b.login(p, aliceEmail, pw)
	if after.resp.StatusCode == http.StatusFound {
		t.Fatalf("a login after the reset issued a code without the second factor: %s", after.resp.Header.Get("Location"))
	}
	// Alice has no factor yet: the login asks her to set one up.
	wantPage(t, "login after reset with MFA required", after, http.StatusOK, "Set up an authenticator app")
}

// TestMailServerDown: the page says so, the log has the detail, the
// answer is the same for an address without an account, and once the
// server is back a request works and its link sets the password.
func TestMailServerDown(t *testing.T) {
	m := newMailHarness(t, config.StorageSQLite, nil)
	h := m.harness
	h.user(aliceEmail, alicePW)
	b := h.browser()
	fp := b.get(h.issuer + "/password/forgot")
	m.smtp.Stop()
	down := b.submit(fp, "/password/forgot", map[string]string{"email": aliceEmail})
	wantPage(t, "mail server down", down, http.StatusServiceUnavailable, "could not send the email")
	if !strings.Contains(m.log.String(), "connect") {
		t.Errorf("the log lacks the SMTP detail:\n%s", m.log.String())
	}
	unknown := b.submit(fp, "/password/forgot", map[string]string{"email": "nobody@example.com"})
	if unknown.resp.StatusCode != down.resp.StatusCode {
		t.Errorf("with the server down, an unknown address gets %d and a known one %d", unknown.resp.StatusCode, down.resp.StatusCode)
	}
	m.smtp.Restart()
	wantPage(t, "after restart", b.submit(fp, "/password/forgot", map[string]string{"email": aliceEmail}), http.StatusOK, "If an account exists")
	_, reset := m.link(t, aliceEmail, "/password/reset")
	rp := b.get(reset)
	const pw = "back again passphrase"
	wantPage(t, "reset after restart", b.submit(rp, "/password/reset", map[string]string{"password": pw, "confirm": pw}), http.StatusOK, "Your password is set")

	// The invite of an administrator: the send fails with the detail,
	// and a resend once the server is back works.
	if _, err := h.inst.Admin.CreateUser(h.ctx, "test", admin.CreateUserInput{Email: "ivy@example.com", Org: "default"}); err != nil {
		t.Fatal(err)
	}
	m.smtp.Stop()
	if _, err := h.inst.Admin.SendInvite(h.ctx, "test", "ivy@example.com"); err == nil || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("invite with the server down: %v", err)
	}
	m.smtp.Restart()
	if _, err := h.inst.Admin.SendInvite(h.ctx, "test", "ivy@example.com"); err != nil {
		t.Fatal(err)
	}
	m.link(t, "ivy@example.com", "/invite")
}

// TestChangePassword: /me/password signs in through the flow first, needs
// the current password (whose failures count toward the lockout), signs
// out the other browsers and keeps this one.
func TestChangePassword(t *testing.T) {
	m := newMailHarness(t, config.StorageSQLite, func(c *config.Config) { c.Lockout.MaxFailures = 3 })
	h := m.harness
	h.client("web", nil)
	h.user(aliceEmail, alicePW)
	other := h.browser()
	h.loginFlowWith(other, "web", aliceEmail, alicePW)

	b := h.browser()
	p := b.get(h.issuer + "/me/password")
	if !p.isLoginForm() {
		t.Fatalf("/me/password without a session: %d\n%s", p.resp.StatusCode, p.body)
	}
	// The login ends back on the page that asked for it.
	p = b.login(p, aliceEmail, alicePW)
	if p.resp.Request.URL.Path != "/me/password" {
		t.Fatalf("login for /me ended at %s", p.resp.Request.URL)
	}
	wantPage(t, "change form", p, http.StatusOK, `autocomplete="current-password"`)
	const pw = "a changed passphrase"
	wrong := b.submit(p, "/me/password", map[string]string{"current": "not it", "password": pw, "confirm": pw})
	wantPage(t, "wrong current password", wrong, http.StatusUnprocessableEntity, "current password is not correct")
	done := b.submit(p, "/me/password", map[string]string{"current": alicePW, "password": pw, "confirm": pw})
	wantPage(t, "changed", done, http.StatusOK, "Your password is changed")
	m.smtp.Wait(t, aliceEmail, 10*time.Second)
	if cb, _ := h.silent(other, "web", nil); cb.Get("error") != "login_required" {
		t.Errorf("the other browser's session survived: %v", cb)
	}
	wantPage(t, "this browser", b.get(h.issuer+"/me/password"), http.StatusOK, "Change your password")

	// Failures of the current password lock the account like wrong
	// logins: after 3, even the right one is refused, and so is a login.
	for range 3 {
		b.submit(p, "/me/password", map[string]string{"current": "guess", "password": pw + "!", "confirm": pw + "!"})
	}
	wantPage(t, "locked", b.submit(p, "/me/password", map[string]string{"current": pw, "password": pw + "!", "confirm": pw + "!"}),
		http.StatusUnprocessableEntity, "current password is not correct")
	lp := h.browser()
	if r := lp.login(lp.get(h.authURL("web", nil)), aliceEmail, pw); r.resp.StatusCode == http.StatusFound {
		t.Fatal("a login succeeded while the account was locked by password-change failures")
	}
}

// TestResetEndsLock: an account locked by someone guessing its password
// is unlocked by a reset from its own mailbox, at once.
func TestResetEndsLock(t *testing.T) {
	m := newMailHarness(t, config.StorageSQLite, func(c *config.Config) { c.Lockout.MaxFailures = 3 })
	h := m.harness
	h.client("web", nil)
	h.user(aliceEmail, alicePW)
	b := h.browser()
	for range 3 {
		b.login(b.get(h.authURL("web", nil)), aliceEmail, "a wrong guess")
	}
	if r := b.login(b.get(h.authURL("web", nil)), aliceEmail, alicePW); r.resp.StatusCode == http.StatusFound {
		t.Fatal("the account is not locked after 3 failures")
	}
	fp := b.get(h.issuer + "/password/forgot")
	b.submit(fp, "/password/forgot", map[string]string{"email": aliceEmail})
	_, reset := m.link(t, aliceEmail, "/password/reset")
	const pw = "unlocked by my mailbox"
	wantPage(t, "reset", b.submit(b.get(reset), "/password/reset", map[string]string{"password": pw, "confirm": pw}), http.StatusOK, "Your password is set")
	if cb := b.login(b.get(h.authURL("web", nil)), aliceEmail, pw).callback(t); cb.Get("code") == "" {
		t.Fatalf("login after the reset: %v", cb)
	}
}
