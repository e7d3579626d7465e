package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/audit"
)

// smsPage is one Chromium, for one subtest, signing users in at rp. It
// clears its cookies before each sign-in, so every sign-in is a new
// login and the browser starts once.
type smsPage struct {
	t        *testing.T
	ctx      context.Context
	rp       *browserRP
	step     func(what string, actions ...chromedp.Action[chromedp.Void])
	problems func() []string
}

// newSMSPage opens a tab of browser (a newChromium context) for h.
func newSMSPage(t *testing.T, browser context.Context, h *harness) *smsPage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	console := watchConsole(ctx)
	// A form the user got wrong is answered 422, which Chromium logs as a
	// failed resource: that is the page working, not a fault.
	problems := func() []string {
		return slices.DeleteFunc(console(), func(p string) bool {
			return strings.Contains(p, "status of 422 (Unprocessable Entity)")
		})
	}
	return &smsPage{t: t, ctx: ctx, rp: newBrowserRP(t, h), step: stepper(t, ctx, problems), problems: problems}
}

// signIn opens the relying party and signs in with the password.
func (s *smsPage) signIn(email string) {
	s.t.Helper()
	if _, err := chromedp.Call(s.ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		s.t.Fatalf("forget the last login: %v", err)
	}
	s.step("open the relying party", chromedp.Navigate(s.rp.url+"/start?mode=query"),
		chromedp.WaitVisible(chromedp.CSS(`main[data-page="login"] #email`)))
	// Filled in rather than typed key by key (TestBrowserLogin types):
	// the code is what these tests are about, and it is typed.
	s.step("password", chromedp.SetValue(chromedp.ID("email"), email), chromedp.SetValue(chromedp.ID("password"), alicePW),
		chromedp.SendKeys(chromedp.ID("password"), kb.Enter))
}

// codeStep waits for the code step; the text has been sent once it shows,
// since the page is rendered after the send.
func (s *smsPage) codeStep() {
	s.t.Helper()
	s.step("the code step", chromedp.WaitVisible(chromedp.CSS(`main[data-page="mfa_code"] #code`)))
	if h := s.text("h1"); h != "Check your phone" {
		s.t.Fatalf("the code step is headed %q", h)
	}
}

func (s *smsPage) typeCode(code string) {
	s.t.Helper()
	s.step("type the code", chromedp.WaitVisible(chromedp.ID("code")), chromedp.SendKeys(chromedp.ID("code"), code+kb.Enter))
}

// finishEnrolment presses Finish on the notice that follows a first
// factor (with its recovery codes).
func (s *smsPage) finishEnrolment() {
	s.t.Helper()
	s.step("enrolled", chromedp.WaitVisible(chromedp.CSS(`main[data-page="mfa_notice"] #finish`)))
	if got := s.text("h1"); !strings.Contains(got, "Two-step sign-in is on") {
		s.t.Fatalf("after the enrolment the page says %q", got)
	}
	s.step("finish", chromedp.Click(chromedp.ID("finish")))
}

// arrive: the relying party verified an ID token for email, and the
// browser reported no script error or CSP violation on the way.
func (s *smsPage) arrive(email string) {
	s.t.Helper()
	s.step("arrive signed in", chromedp.WaitVisible(chromedp.ID("result")))
	if got := s.text("#result"); got != "Signed in as "+email {
		s.t.Fatalf("relying party says %q", got)
	}
	if p := s.problems(); len(p) > 0 {
		s.t.Fatalf("the browser reported: %q", p)
	}
}

// press clicks sel and waits for the next page: the current one is
// marked first, since the next may look the same (the code step again).
func (s *smsPage) press(what string, sel chromedp.CSS) {
	s.t.Helper()
	if _, err := chromedp.Run(s.ctx, chromedp.Evaluate[bool](`document.body.dataset.left = "1"; true`)); err != nil {
		s.t.Fatalf("%s: mark the page: %v", what, err)
	}
	s.step(what, chromedp.Click(sel), chromedp.WaitVisible(chromedp.CSS(`body:not([data-left]) main`)))
}

func (s *smsPage) text(sel string) string {
	s.t.Helper()
	got, err := chromedp.Run(s.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		s.t.Fatalf("read %s: %v", sel, err)
	}
	return got
}

// twilioAPI is a local server that speaks Twilio's Messages API as much
// as Gatehouse uses it, and checks every request against what Twilio
// requires: anything else fails the test and is answered with Twilio's
// error format, so Gatehouse's side fails too.
type twilioAPI struct {
	t                *testing.T
	sid, token, from string

	mu    sync.Mutex
	texts []sentText
}

func newTwilioAPI(t *testing.T) (*twilioAPI, *httptest.Server) {
	sid := make([]byte, 16)
	rand.Read(sid)
	api := &twilioAPI{t: t, sid: "AC" + hex.EncodeToString(sid), token: "tw-" + rand.Text(), from: "+15005550006"}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return api, srv
}

func (a *twilioAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	refuse := func(status int, format string, args ...any) {
		a.t.Errorf("twilio API: "+format, args...)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"code":21211,"message":%q,"status":%d}`, fmt.Sprintf(format, args...), status)
	}
	if r.Method != http.MethodPost {
		refuse(http.StatusMethodNotAllowed, "method %s, want POST", r.Method)
		return
	}
	if want := "/2010-04-01/Accounts/" + a.sid + "/Messages.json"; r.URL.Path != want {
		refuse(http.StatusNotFound, "path %q, want %q", r.URL.Path, want)
		return
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != a.sid || pass != a.token {
		refuse(http.StatusUnauthorized, "Basic auth %q (ok %v), want the account SID and the auth token", user, ok)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		refuse(http.StatusBadRequest, "Content-Type %q, want a form", ct)
		return
	}
	if err := r.ParseForm(); err != nil {
		refuse(http.StatusBadRequest, "form: %v", err)
		return
	}
	f := r.PostForm
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range f {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(keys, []string{"Body", "From", "To"}) {
		refuse(http.StatusBadRequest, "form fields %q, want Body, From, To", keys)
		return
	}
	if f.Get("From") != a.from || !strings.HasPrefix(f.Get("To"), "+") || f.Get("Body") == "" {
		refuse(http.StatusBadRequest, "From %q, To %q, Body %q", f.Get("From"), f.Get("To"), f.Get("Body"))
		return
	}
	if len(r.URL.RawQuery) > 0 {
		refuse(http.StatusBadRequest, "a query %q on the Messages API", r.URL.RawQuery)
		return
	}
	a.mu.Lock()
	a.texts = append(a.texts, sentText{f.Get("To"), f.Get("Body")})
	a.mu.Unlock()
	msg := make([]byte, 16)
	rand.Read(msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"sid":"SM%x","account_sid":%q,"to":%q,"from":%q,"status":"queued","num_segments":"1"}`,
		msg, a.sid, f.Get("To"), a.from)
}

// last is the newest text to to, and its WebOTP code.
func (a *twilioAPI) last(t *testing.T, to string) (text, code string) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	return lastText(t, a.texts, to)
}

func (a *twilioAPI) count() int { a.mu.Lock(); defer a.mu.Unlock(); return len(a.texts) }

// webhookSMS is the webhook provider at url, for a harness.
func webhookSMS(url string) func(*config.Config) {
	return func(c *config.Config) {
		c.SMS = config.SMS{Provider: config.SMSProviderWebhook, Timeout: 2 * time.Second, Webhook: config.SMSWebhook{URL: url}}
	}
}

const (
	smsNumber     = "+41791234567"
	smsNumberSeen = "+41 79 123 45 67"
)

// TestBrowserSMS: text-message codes in Debian's Chromium, the code read
// from what the gateway received and typed into the page.
func TestBrowserSMS(t *testing.T) {
	// One browser for the subtests, a tab (and a harness) each; every
	// sign-in starts without cookies.
	chromium := newChromium(t, chromiumPath(t))

	// A user with a number on the profile, where only text messages are
	// allowed, goes straight to confirming it, then signs in with a
	// code at the next login.
	t.Run("enrolment and next login over the webhook", func(t *testing.T) {
		h, gw := newSMSHarness(t, config.StorageSQLite, nil)
		h.user(aliceEmail, alicePW)
		if _, err := h.inst.Admin.SetPhone(h.ctx, "test-admin", aliceEmail, smsNumberSeen); err != nil {
			t.Fatal(err)
		}
		h.setMFAPolicy(admin.MFAPolicyInput{Required: true, Methods: []string{"sms"}})
		s := newSMSPage(t, chromium, h)

		s.signIn(aliceEmail)
		s.codeStep()
		s.typeCode(gw.last(t, smsNumber))
		s.finishEnrolment()
		s.arrive(aliceEmail)

		s.signIn(aliceEmail)
		s.codeStep()
		if got := s.text(".lead"); !strings.Contains(got, "texted to +•••67") {
			t.Fatalf("the code step says %q; want the masked number", got)
		}
		s.typeCode(gw.last(t, smsNumber))
		s.arrive(aliceEmail)
		if gw.count() != 2 {
			t.Fatalf("%d texts; want 2 (the enrolment's and the login's)", gw.count())
		}
	})

	// The same through the twilio provider, against a local Messages API
	// that checks each request as Twilio would.
	t.Run("enrolment and next login over twilio", func(t *testing.T) {
		api, srv := newTwilioAPI(t)
		var issuer string
		h := newHarnessWith(t, config.StorageSQLite, harnessOptions{config: func(c *config.Config) {
			c.SMS = config.SMS{Provider: config.SMSProviderTwilio, From: api.from, Timeout: 2 * time.Second,
				Twilio: config.Twilio{AccountSID: api.sid, AuthToken: config.Secret(api.token), BaseURL: srv.URL}}
			issuer = c.Issuer
		}})
		u, err := url.Parse(issuer)
		if err != nil {
			t.Fatal(err)
		}
		h.user(aliceEmail, alicePW)
		if _, err := h.inst.Admin.SetPhone(h.ctx, "test-admin", aliceEmail, smsNumberSeen); err != nil {
			t.Fatal(err)
		}
		h.setMFAPolicy(admin.MFAPolicyInput{Required: true, Methods: []string{"sms"}})
		s := newSMSPage(t, chromium, h)

		org, err := h.inst.Store.GetOrganizationByName(h.ctx, "default")
		if err != nil || org.DisplayName == "" {
			t.Fatalf("the organization's display name: %q, %v", org.DisplayName, err)
		}
		wantText := func(text, code, purpose string) {
			t.Helper()
			for _, want := range []string{"Your " + org.DisplayName + " " + purpose + " is " + code + ".", "\n\n@" + u.Host + " #" + code} {
				if !strings.Contains(text, want) {
					t.Fatalf("the text %q lacks %q", text, want)
				}
			}
		}
		s.signIn(aliceEmail)
		s.codeStep()
		text, code := api.last(t, smsNumber)
		wantText(text, code, "code to add this phone number")
		s.typeCode(code)
		s.finishEnrolment()
		s.arrive(aliceEmail)

		s.signIn(aliceEmail)
		s.codeStep()
		text, code = api.last(t, smsNumber)
		wantText(text, code, "sign-in code")
		s.typeCode(code)
		s.arrive(aliceEmail)
		if api.count() != 2 {
			t.Fatalf("%d texts; want 2", api.count())
		}
	})

	// Users without a number on the profile: where they may enter one,
	// a number without its country code is refused in words and a
	// proper one is confirmed by its code; where they may not, the page
	// says to ask an administrator and offers the app instead.
	t.Run("profile without a number", func(t *testing.T) {
		h, gw := newSMSHarness(t, config.StorageSQLite, nil)
		h.user(aliceEmail, alicePW)
		h.user(bobEmail, alicePW)
		h.setMFAPolicy(admin.MFAPolicyInput{Required: true, Methods: []string{"sms", "totp"}, SMSSelfEnrol: true})
		s := newSMSPage(t, chromium, h)

		s.signIn(aliceEmail)
		phone := chromedp.ID("phone-sms")
		s.step("the number field", chromedp.WaitVisible(chromedp.CSS(`main[data-page="mfa_choose"] #phone-sms`)))
		s.step("a national number", chromedp.SendKeys(phone, "079 123 45 67"), chromedp.Click(chromedp.CSS(`button[data-method="sms"]`)),
			chromedp.WaitVisible(chromedp.CSS(`main[data-page="mfa_choose"] #form-error`)))
		if got := s.text("#form-error"); got != "Enter the number with its country code, starting with +, like +44 7700 900123." {
			t.Fatalf("a number without its country code: the page says %q", got)
		}
		if gw.count() != 0 {
			t.Fatalf("%d texts for a refused number", gw.count())
		}
		s.step("the number with its country code", chromedp.WaitVisible(phone), chromedp.Clear(phone),
			chromedp.SendKeys(phone, smsNumberSeen), chromedp.Click(chromedp.CSS(`button[data-method="sms"]`)))
		s.codeStep()
		s.typeCode(gw.last(t, smsNumber))
		s.finishEnrolment()
		s.arrive(aliceEmail)

		// Without self-enrolment, Bob, who has no number, can take only
		// the app: he goes straight to it, and the choice he can come
		// back to says why text messages are not among his options.
		h.setMFAPolicy(admin.MFAPolicyInput{Required: true, Methods: []string{"sms", "totp"}})
		s.signIn(bobEmail)
		s.step("the app offered", chromedp.WaitVisible(chromedp.CSS(`main[data-page="totp_enrol"] #secret`)))
		s.step("choose another method", chromedp.Click(chromedp.ID("choose-again")),
			chromedp.WaitVisible(chromedp.CSS(`main[data-page="mfa_choose"] #unavailable-sms`)))
		if got := s.text("#unavailable-sms"); got != "Your account has no mobile number; contact your administrator." {
			t.Fatalf("text messages without a number: the page says %q", got)
		}
		n, err := chromedp.Run(s.ctx, chromedp.Evaluate[int](`document.querySelectorAll('#phone-sms, button[data-method="sms"]').length`))
		if err != nil || n != 0 {
			t.Fatalf("%d number fields or SMS buttons offered to a user who may not enter a number (%v)", n, err)
		}
		s.step("the app again", chromedp.Click(chromedp.CSS(`button[data-method="totp"]`)),
			chromedp.WaitVisible(chromedp.CSS(`main[data-page="totp_enrol"] #secret`)))
		if gw.count() != 1 {
			t.Fatalf("%d texts; want only Alice's", gw.count())
		}
		if p := s.problems(); len(p) > 0 {
			t.Fatalf("the browser reported: %q", p)
		}
	})

	// The gateway is down: each send is tried twice and answered 503.
	// The page says so in words, never an error page, and offers the
	// app; a user of the app signs in meanwhile; once the gateway is
	// back, "Send a new code" delivers.
	t.Run("gateway outage", func(t *testing.T) {
		gw := &flakyGateway{}
		gw.down.Store(true)
		srv := httptest.NewServer(gw)
		t.Cleanup(srv.Close)
		h := newHarnessWith(t, config.StorageSQLite, harnessOptions{config: webhookSMS(srv.URL + "/send")})
		h.client("web", nil)
		h.user(aliceEmail, alicePW)
		h.user(bobEmail, alicePW)
		if _, err := h.inst.Admin.SetPhone(h.ctx, "test-admin", aliceEmail, smsNumberSeen); err != nil {
			t.Fatal(err)
		}
		h.setMFAPolicy(admin.MFAPolicyInput{Required: true, Methods: []string{"sms", "totp"}})
		// Bob has the app, set up before the outage.
		secret, _, _ := h.enrolTOTP(t, h.browser(), "web", bobEmail)

		// Over HTTP first, for the status codes.
		b := h.browser()
		p := b.login(b.get(h.authURL("web", nil)), aliceEmail, alicePW)
		p = b.press(p, `data-method="sms"`, nil)
		wantPage(t, "SMS down", p, http.StatusOK, smsOutage)
		if !strings.Contains(p.body, "Choose another method") {
			t.Fatalf("no other method offered while SMS is down:\n%s", p.body)
		}
		if n := gw.hits.Load(); n != 2 {
			t.Fatalf("the gateway was asked %d times; want 2 (one retry)", n)
		}
		r := b.press(p, `id="resend"`, nil)
		if r.resp.StatusCode >= 500 || !strings.Contains(r.body, smsOutage) {
			t.Fatalf("resend while down: %d\n%s", r.resp.StatusCode, r.body)
		}
		evs := h.auditOf(h.storedUserByEmail(aliceEmail).ID, audit.SMSNotSent)
		if len(evs) != 2 || evs[0].Details["reason"] != "send_failed" || evs[0].Details["purpose"] != "enrol" {
			t.Fatalf("audit events %+v; want two mfa.sms_not_sent for send_failed", evs)
		}
		c := h.browser()
		h.clock.Advance(30 * time.Second)
		cp := c.login(c.get(h.authURL("web", nil)), bobEmail, alicePW)
		wantPage(t, "the app's step", cp, http.StatusOK, "Open your authenticator app")
		c.press(cp, `name="code"`, map[string]string{"code": h.code(t, secret)}).callback(t)

		// In the browser: the words on the page, then the way back.
		s := newSMSPage(t, chromium, h)
		s.signIn(aliceEmail)
		s.step("the choice", chromedp.WaitVisible(chromedp.CSS(`main[data-page="mfa_choose"] button[data-method="sms"]`)),
			chromedp.Click(chromedp.CSS(`button[data-method="sms"]`)))
		s.codeStep()
		if got := s.text("#form-notice"); got != smsOutage {
			t.Fatalf("with the gateway down the page says %q; want %q", got, smsOutage)
		}
		gw.down.Store(false)
		s.press("send a new code", "#resend")
		if got := s.text("#form-notice"); got != "We sent a new code. It is valid for 10 minutes." {
			t.Fatalf("after the resend the page says %q", got)
		}
		s.typeCode(gw.last(t, smsNumber))
		s.finishEnrolment()
		s.arrive(aliceEmail)
	})
}

// smsOutage is what the code step says when the gateway failed.
const smsOutage = "We could not send the text message; try again or use another method."

// flakyGateway is an smsGateway that answers 503 while down.
type flakyGateway struct {
	smsGateway
	down atomic.Bool
	hits atomic.Int32
}

func (g *flakyGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.hits.Add(1)
	if g.down.Load() {
		http.Error(w, `{"error":"upstream carrier unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	g.smsGateway.ServeHTTP(w, r)
}
