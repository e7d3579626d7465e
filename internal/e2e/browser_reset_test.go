package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
)

// TestBrowserInviteAndReset: in Debian's Chromium, an invited user opens
// the welcome email's link, sets a password and signs in to a relying
// party; then, from a fresh browser, forgets it, follows "Forgot
// password?" from the login page, opens the reset email's link, sets a new
// password and lands back in the same login, which signs them in to the
// relying party. The emails come over SMTP. Keyboard only, with labelled
// fields; any CSP violation or script error fails it.
func TestBrowserInviteAndReset(t *testing.T) {
	chromium := chromiumPath(t)
	m := newMailHarness(t, config.StorageSQLite, nil)
	h := m.harness
	rp := newBrowserRP(t, h)
	const email, first, second = "ivy@example.com", "ivy's first passphrase", "ivy's second passphrase"
	if _, err := h.inst.Admin.CreateUser(h.ctx, "test", admin.CreateUserInput{Email: email, Name: "Ivy", Org: "default"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.inst.Admin.SendInvite(h.ctx, "test", email); err != nil {
		t.Fatal(err)
	}
	_, invite := m.link(t, email, "/invite")

	text := func(ctx context.Context, sel string) string {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return got
	}
	signedIn := func(ctx context.Context, step func(string, ...chromedp.Action[chromedp.Void]), pw string) {
		t.Helper()
		step("type and submit", chromedp.WaitVisible(chromedp.CSS(`main[data-page="login"] #email`)), chromedp.SendKeys(chromedp.ID("email"), email),
			chromedp.SendKeys(chromedp.ID("password"), pw+kb.Enter))
		step("arrive signed in", chromedp.WaitVisible(chromedp.ID("result")))
		if got := text(ctx, "#result"); got != "Signed in as "+email {
			t.Fatalf("relying party says %q", got)
		}
	}

	// The invite.
	ctx := newChromium(t, chromium)
	problems := watchConsole(ctx)
	step := stepper(t, ctx, problems)
	step("open the invite link", chromedp.Navigate(invite), chromedp.WaitVisible(chromedp.CSS(`main[data-page="set_password"] #password`)))
	step("choose a password", chromedp.SendKeys(chromedp.ID("password"), first),
		chromedp.SendKeys(chromedp.ID("confirm"), first+kb.Enter), chromedp.WaitVisible(chromedp.CSS(`main[data-page="notice"] h1`)))
	if got := text(ctx, "h1"); got != "Your password is set" {
		t.Fatalf("after accepting the invite the page says %q", got)
	}
	step("open the relying party", chromedp.Navigate(rp.url+"/start?mode=query"))
	signedIn(ctx, step, first)

	// Forgot, from a fresh browser.
	ctx = newChromium(t, chromium)
	problems = watchConsole(ctx)
	step = stepper(t, ctx, problems)
	step("open the relying party", chromedp.Navigate(rp.url+"/start?mode=query"), chromedp.WaitVisible(chromedp.ID("email")))
	step("follow Forgot password?", chromedp.Click(chromedp.CSS(`a[href^="/password/forgot"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main[data-page="forgot"] #email`)))
	step("ask for a link", chromedp.SendKeys(chromedp.ID("email"), email+kb.Enter), chromedp.WaitVisible(chromedp.CSS(`main[data-page="notice"] h1`)))
	if got := text(ctx, "h1"); got != "Check your email" {
		t.Fatalf("after asking for a link the page says %q", got)
	}
	_, reset := m.link(t, email, "/password/reset")
	step("open the reset link", chromedp.Navigate(reset), chromedp.WaitVisible(chromedp.CSS(`main[data-page="set_password"] #password`)))
	step("choose a new password", chromedp.SendKeys(chromedp.ID("password"), second),
		chromedp.SendKeys(chromedp.ID("confirm"), second+kb.Enter), chromedp.WaitVisible(chromedp.CSS(`main[data-page="login"] [role="status"]`)))
	if got := text(ctx, `[role="status"]`); !strings.Contains(got, "Your password is set") {
		t.Fatalf("the login after the reset says %q", got)
	}
	signedIn(ctx, step, second)
	if p := problems(); len(p) > 0 {
		t.Fatalf("the browser reported: %q", p)
	}
}
