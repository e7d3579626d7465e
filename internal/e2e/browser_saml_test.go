package e2e

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/gatehouse-idp/gatehouse/idp/mfa/totp"
	"github.com/gatehouse-idp/gatehouse/idp/samlidp"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

// TestBrowserSAML: in Chromium, a SAML application (crewjam's samlsp) and
// an OIDC application (coreos/go-oidc) share one sign-in under the
// organization's MFA policy, whichever is opened first. SAML first: the
// login asks for the password, enrols an authenticator app, and the
// auto-submitting page (its static script, under our CSP) posts the
// assertion, which says MFA; the OIDC application then signs in without a
// prompt. OIDC first, in a fresh browser: password and code, then the SAML
// application without a prompt. Any CSP violation or script error fails it.
func TestBrowserSAML(t *testing.T) {
	chromium := chromiumPath(t)
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		h.setMFA(storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp"}})
		rp := newBrowserRP(t, h)
		app := h.samlApp(t, "Expenses", upstreamtest.SAMLSPOptions{}, storage.SPSettings{NameIDFormats: []string{"emailAddress"}})

		text := func(ctx context.Context, sel string) string {
			t.Helper()
			got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
			if err != nil {
				t.Fatalf("read %s: %v", sel, err)
			}
			return got
		}
		// atApp waits for the application's page (samlsp's session as
		// JSON) and checks who it says signed in, with MFA.
		atApp := func(ctx context.Context, step func(string, ...chromedp.Action[chromedp.Void]), problems func() []string) {
			t.Helper()
			step("arrive at the SAML application", chromedp.WaitVisible(chromedp.CSS("pre")))
			var s upstreamtest.SAMLSPSession
			if err := json.Unmarshal([]byte(text(ctx, "pre")), &s); err != nil || s.NameID != aliceEmail {
				t.Fatalf("the application's page: %+v %v", s, err)
			}
			if got := app.LastAssertion().AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value; got != samlidp.ClassREFEDSMFA {
				t.Fatalf("AuthnContextClassRef %q, want the REFEDS MFA profile", got)
			}
			if p := problems(); len(p) > 0 {
				t.Fatalf("the browser reported: %q", p)
			}
		}
		atRP := func(ctx context.Context, step func(string, ...chromedp.Action[chromedp.Void]), problems func() []string) {
			t.Helper()
			step("arrive at the OIDC application", chromedp.WaitVisible(chromedp.ID("result")))
			if got := text(ctx, "#result"); got != "Signed in as "+aliceEmail {
				t.Fatalf("relying party says %q", got)
			}
			if amr := text(ctx, "#amr"); !strings.Contains(amr, "mfa") {
				t.Fatalf("amr %q: the shared session should carry the second factor", amr)
			}
			if p := problems(); len(p) > 0 {
				t.Fatalf("the browser reported: %q", p)
			}
		}
		var secret []byte
		code := func() string {
			c, err := totp.Code(secret, h.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		password := func(step func(string, ...chromedp.Action[chromedp.Void])) {
			step("the login page", chromedp.WaitVisible(chromedp.CSS(`main[data-page="login"] #email`)))
			step("password", chromedp.SendKeys(chromedp.ID("email"), aliceEmail), chromedp.SendKeys(chromedp.ID("password"), alicePW+kb.Enter))
		}

		// SAML first: password, enrolment, the assertion; then OIDC.
		ctx := newChromium(t, chromium)
		problems := watchConsole(ctx)
		step := stepper(t, ctx, problems)
		step("open the SAML application", chromedp.Navigate(app.URL+"/"))
		password(step)
		step("enrol an app", chromedp.WaitVisible(chromedp.CSS(`main[data-page="totp_enrol"] #secret`)))
		grouped := text(ctx, "#secret")
		var err error
		if secret, err = base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(grouped, " ", "")); err != nil {
			t.Fatalf("secret %q: %v", grouped, err)
		}
		step("the code", chromedp.SendKeys(chromedp.ID("code"), code()+kb.Enter))
		step("finish", chromedp.WaitVisible(chromedp.ID("finish")), chromedp.Click(chromedp.ID("finish")))
		atApp(ctx, step, problems)
		step("open the OIDC application", chromedp.Navigate(rp.url+"/start?mode=query"))
		atRP(ctx, step, problems)

		// OIDC first, in a fresh browser: password and code; then SAML.
		h.clock.Advance(30 * time.Second) // a TOTP step is used once
		ctx = newChromium(t, chromium)
		problems = watchConsole(ctx)
		step = stepper(t, ctx, problems)
		step("open the OIDC application", chromedp.Navigate(rp.url+"/start?mode=query"))
		password(step)
		step("the code step", chromedp.WaitVisible(chromedp.CSS(`main[data-page="mfa_code"] #code`)),
			chromedp.SendKeys(chromedp.ID("code"), code()+kb.Enter))
		atRP(ctx, step, problems)
		step("open the SAML application", chromedp.Navigate(app.URL+"/"))
		atApp(ctx, step, problems)
	})
}
