package e2e

import (
	"context"
	"strings"

	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/gatehouse-idp/gatehouse/config"
)

// TestBrowserHomeRealmDiscovery: in Debian's Chromium, the email typed on
// the login page (no password) leads to the organization's upstream
// identity provider, zitadel's OP, whose own login page signs the person
// in; the browser comes back through Gatehouse to the relying party,
// signed in as the linked local account. Also through "Sign in with SSO",
// and without JavaScript. Keyboard only; any CSP violation or script
// error fails it.
func TestBrowserHomeRealmDiscovery(t *testing.T) {
	chromium := chromiumPath(t)
	f := newFed(t, config.StorageSQLite, connectorOpts{trustEmail: true})
	ann := f.localUser("ann@"+acmeDomain, alicePW, true)
	f.person("up-ann", ann.Email, true, nil)
	rp := newBrowserRP(t, f.harness)

	upstreamLogin := func(ctx context.Context, step func(string, ...chromedp.Action[chromedp.Void])) {
		t.Helper()
		step("arrive at the upstream's login page", chromedp.WaitVisible(chromedp.ID("username")))
		if got, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasPrefix(got, f.up.Issuer+"/login/") {
			t.Fatalf("the login page is %s (%v); want the upstream's", got, err)
		}
		step("sign in upstream", chromedp.SendKeys(chromedp.ID("username"), "up-ann"),
			chromedp.SendKeys(chromedp.ID("password"), upstreamPW+kb.Enter))
		step("arrive signed in", chromedp.WaitVisible(chromedp.ID("result")))
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("result")))
		if err != nil || got != "Signed in as "+ann.Email {
			t.Fatalf("relying party says %q (%v)", got, err)
		}
		if amr, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("amr"))); amr != "fed" {
			t.Fatalf("amr %q; want fed", amr)
		}
	}

	for _, tc := range []struct {
		name string
		js   bool
		sso  bool // through the "Sign in with SSO" page
	}{
		{"email on the login page", true, false},
		{"email on the login page, without JavaScript", false, false},
		{"Sign in with SSO", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := newChromium(t, chromium)
			if !tc.js {
				noScript(t, ctx)
			}
			problems := watchConsole(ctx)
			step := stepper(t, ctx, problems)
			step("open the relying party", chromedp.Navigate(rp.url+"/start?mode=query"),
				chromedp.WaitVisible(chromedp.CSS(`main[data-page="login"] #email`)))
			if tc.sso {
				step("choose Sign in with SSO", chromedp.Focus(chromedp.ID("sso-link")), chromedp.SendKeys(chromedp.ID("sso-link"), kb.Enter),
					chromedp.WaitVisible(chromedp.CSS(`main[data-page="sso"] #sso`)))
				step("type the work email", chromedp.SendKeys(chromedp.ID("sso"), ann.Email+kb.Enter))
			} else {
				step("type the email alone", chromedp.SendKeys(chromedp.ID("email"), ann.Email+kb.Enter))
			}
			upstreamLogin(ctx, step)
			if p := problems(); len(p) > 0 {
				t.Fatalf("the browser reported: %q", p)
			}
		})
	}
}
