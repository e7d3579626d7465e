package e2e

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/totp"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// EnvAxe names axe-core's axe.min.js (npm package axe-core), which the
// browser tests inject into each console and account page; .ci/run
// installs it. Without it the accessibility check skips, or fails where
// GATEHOUSE_TEST_REQUIRE lists axe.
const EnvAxe = "GATEHOUSE_TEST_AXE"

// axeScript is axe-core's source, or "" when the check is skipped.
func axeScript(t *testing.T) string {
	t.Helper()
	p := os.Getenv(EnvAxe)
	if p == "" {
		testenv.Missing(t, "axe", EnvAxe+" is not set (npm install axe-core; set it to node_modules/axe-core/axe.min.js)")
		return ""
	}
	b, err := os.ReadFile(p)
	if err != nil {
		testenv.Missing(t, "axe", err.Error())
		return ""
	}
	return string(b)
}

// axeViolation is what the check reports of one violated rule.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// checkA11y runs axe-core in the page ctx shows and fails on any
// violation of impact serious or critical (WCAG 2.x A and AA rules, and
// axe's best practices). The script is evaluated through DevTools, which
// the page's Content Security Policy does not govern: the pages
// themselves carry no script for it.
func checkA11y(t *testing.T, ctx context.Context, axe, page string) {
	t.Helper()
	if axe == "" {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(sctx, chromedp.Evaluate[bool](axe+";true")); err != nil {
		t.Fatalf("%s: inject axe-core: %v", page, err)
	}
	yes := true
	await := func(p *runtime.EvaluateParams) { p.AwaitPromise = &yes }
	raw, err := chromedp.Run(sctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`, await))
	if err != nil {
		t.Fatalf("%s: run axe-core: %v", page, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		t.Fatalf("%s: axe-core's answer: %v", page, err)
	}
	for _, v := range vs {
		t.Logf("%s: axe-core reports %s (%s): %s", page, v.ID, v.Impact, v.Help)
		if v.Impact == "serious" || v.Impact == "critical" {
			var where []string
			for _, n := range v.Nodes {
				where = append(where, fmt.Sprint(n.Target...))
			}
			t.Errorf("%s: accessibility (%s) %s: %s at %s", page, v.Impact, v.ID, v.Help, strings.Join(where, ", "))
		}
	}
}

// consoleBrowser is one person's Chromium on Gatehouse's pages.
type consoleBrowser struct {
	t        *testing.T
	h        *harness
	ctx      context.Context
	step     func(string, ...chromedp.Action[chromedp.Void])
	problems func() []string
	axe      string
}

func (h *harness) consoleBrowser(t *testing.T, chromium, axe string) *consoleBrowser {
	ctx := newChromium(t, chromium)
	problems := watchConsole(ctx)
	return &consoleBrowser{t: t, h: h, ctx: ctx, step: stepper(t, ctx, problems), problems: problems, axe: axe}
}

// open goes to path and waits for the page named page.
func (b *consoleBrowser) open(path, page string) {
	b.t.Helper()
	b.step("open "+path, chromedp.Navigate(b.h.issuer+path), chromedp.WaitVisible(chromedp.CSS(`main[data-page="`+page+`"]`)))
}

// at waits for the page named page, checks its accessibility and that the
// browser reported nothing.
func (b *consoleBrowser) at(page string) {
	b.t.Helper()
	b.step("the "+page+" page", chromedp.WaitVisible(chromedp.CSS(`main[data-page="`+page+`"]`)))
	checkA11y(b.t, b.ctx, b.axe, page)
	if p := b.problems(); len(p) > 0 {
		b.t.Fatalf("on %s the browser reported: %q", page, p)
	}
}

func (b *consoleBrowser) text(sel string) string {
	b.t.Helper()
	got, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return got
}

func (b *consoleBrowser) shot(dir, name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// password types email and the password into the login form and submits
// it with Enter.
func (b *consoleBrowser) password(email string) {
	b.t.Helper()
	b.at("login")
	b.step("password", chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), alicePW+kb.Enter))
}

// enrolApp sets up an authenticator app from the login's method choice
// (or its enrolment page, when only the app is offered) and returns its
// secret; the recovery codes page's Finish is pressed.
func (b *consoleBrowser) enrolApp() []byte {
	b.t.Helper()
	b.step("the enrolment", chromedp.WaitVisible(chromedp.CSS(`main[data-page="mfa_choose"], main[data-page="totp_enrol"]`)))
	if n, _ := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('main[data-page="mfa_choose"]').length`)); n == 1 {
		b.at("mfa_choose")
		b.step("choose the app", chromedp.Click(chromedp.CSS(`button[data-method="totp"]`)))
	}
	b.at("totp_enrol")
	grouped := b.text("#secret")
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(grouped, " ", ""))
	if err != nil {
		b.t.Fatalf("the page's secret %q: %v", grouped, err)
	}
	b.code(secret)
	b.at("mfa_notice")
	b.step("finish", chromedp.Click(chromedp.ID("finish")))
	return secret
}

// code types the app's current code into the page's code field.
func (b *consoleBrowser) code(secret []byte) {
	b.t.Helper()
	c, err := totp.Code(secret, b.h.clock.Now())
	if err != nil {
		b.t.Fatal(err)
	}
	b.step("type the code", chromedp.WaitVisible(chromedp.ID("code")), chromedp.SendKeys(chromedp.ID("code"), c+kb.Enter))
}

// TestBrowserConsoleJourney does in Debian's Chromium what the help pages
// of the README's admin guide describe, with keyboard and clicks and no
// JavaScript of Gatehouse's:
//   - an admin signs in to the console (enrolling an authenticator app at
//     the console's step-up) and turns MFA on for the organization with
//     two methods;
//   - a user signs in and enrols one of them;
//   - the admin ticks three users in the Users list and runs "Manage MFA"
//     with a reason; those users enrol again at their next sign-in;
//   - an organization admin opens the organization's policy page and is
//     refused;
//   - a user signs another of their sessions out from /me/sessions.
//
// Every console and account page on the way passes axe-core (no serious or
// critical violation), and the test saves the screenshots of the Users
// list, a user page and the MFA policy page that the README shows.
func TestBrowserConsoleJourney(t *testing.T) {
	chromium := chromiumPath(t)
	axe := axeScript(t)
	m := newMailHarness(t, config.StorageSQLite, nil)
	h := m.harness
	shots := os.Getenv(EnvScreenshots)
	if shots == "" {
		shots = t.TempDir()
	}
	h.setAdmin(h.user(aliceEmail, alicePW), true)
	ids := map[string]string{}
	for _, e := range []string{"ann@example.com", "bob@example.com", "cat@example.com", "dan@example.com"} {
		ids[e] = h.user(e, alicePW)
	}
	h.orgAdmin("it@example.com", "default")

	// The admin signs in at the organizations page; the console asks for
	// a second factor, and the flow enrols one.
	adm := h.consoleBrowser(t, chromium, axe)
	adm.open("/admin/orgs", "login")
	adm.password(aliceEmail)
	adm.enrolApp()
	adm.at("orgs")
	adm.step("open the organization", chromedp.Click(chromedp.CSS(`a[href="/admin/orgs/default"]`)))
	adm.at("org")
	// "Turn MFA on, with the authenticator app and email codes."
	adm.step("tick the policy", chromedp.Click(chromedp.ID("m-required")), chromedp.Click(chromedp.ID("m-totp")),
		chromedp.Click(chromedp.ID("m-email")), chromedp.Click(chromedp.ID("mfa-save")), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	adm.at("org")
	if got := adm.text(`p.notice`); !strings.Contains(got, "The MFA policy is saved") {
		t.Fatalf("after saving the policy: %q", got)
	}
	if o := h.org("default"); !o.MFA.Required || strings.Join(o.MFA.AllowedMethods, ",") != "totp,email" {
		t.Fatalf("stored policy %+v", o.MFA)
	}
	adm.step("scroll to the policy", chromedp.ScrollIntoView(chromedp.ID("mfa-h")))
	adm.shot(shots, "console-org-mfa.png")
	// Its accent colour on the sign-in pages (no logo: the test has no
	// network to fetch one from).
	adm.step("brand the organization", chromedp.SendKeys(chromedp.ID("b-accent"), "#0f5132"), chromedp.Click(chromedp.ID("branding-save")),
		chromedp.WaitVisible(chromedp.CSS(`#b-accent[value="#0f5132"]`)))
	adm.at("org")

	// A user signs in and enrols the app: the policy asks them to.
	ann := h.consoleBrowser(t, chromium, axe)
	ann.open("/me", "login")
	ann.password("ann@example.com")
	ann.step("the branded enrolment", chromedp.WaitVisible(chromedp.CSS("header[data-brand]")))
	// The brand's rule applies: the CSP let its hash through.
	if c, err := chromedp.Run(ann.ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('header[data-brand]')).borderBottomColor`)); err != nil ||
		c != "rgb(15, 81, 50)" {
		t.Fatalf("the brand's colour on the page: %q (%v)", c, err)
	}
	ann.enrolApp()
	ann.at("me_profile")
	if got := ann.text("#mfa-status"); !strings.HasPrefix(got, "On: 1 method") {
		t.Fatalf("ann's profile says %q", got)
	}

	// The admin ticks ann, bob and cat and runs "Manage MFA".
	adm.open("/admin/users", "users")
	adm.at("users")
	adm.shot(shots, "console-users.png")
	for _, e := range []string{"ann@example.com", "bob@example.com", "cat@example.com"} {
		adm.step("tick "+e, chromedp.Click(chromedp.ID("pick-"+ids[e])))
	}
	adm.step("choose Manage MFA", chromedp.SetValue(chromedp.ID("bulk-action"), "reset-mfa"), chromedp.Click(chromedp.ID("bulk-continue")))
	adm.at("bulk_confirm")
	if got := adm.text("h1"); !strings.Contains(got, "3 users") {
		t.Fatalf("the confirmation says %q", got)
	}
	adm.step("give the reason", chromedp.SendKeys(chromedp.ID("reason"), "New phones, ticket 42"), chromedp.Click(chromedp.ID("bulk-run")))
	adm.at("bulk_done")
	for _, e := range []string{"ann@example.com", "bob@example.com", "cat@example.com"} {
		if !h.storedUser(ids[e]).MFAEnrollRequired {
			t.Errorf("%s need not enrol again", e)
		}
	}
	if h.storedUser(ids["dan@example.com"]).MFAEnrollRequired {
		t.Error("dan was not ticked but was reset")
	}
	adm.open("/admin/users/"+ids["ann@example.com"], "user")
	adm.at("user")
	adm.shot(shots, "console-user.png")
	adm.open("/admin/audit", "audit")
	adm.at("audit")
	// Add an application from the console's form; its secret is shown.
	adm.open("/admin/apps", "apps")
	adm.at("apps")
	adm.step("add a client", chromedp.SendKeys(chromedp.ID("c-id"), "wiki"), chromedp.SendKeys(chromedp.ID("c-redirects"), "https://wiki.example/cb"),
		chromedp.Click(chromedp.ID("create-client")), chromedp.WaitVisible(chromedp.ID("client-secret")))
	adm.at("client")
	adm.open("/admin/keys", "keys")
	adm.at("keys")
	adm.open("/admin", "overview")
	adm.at("overview")

	// Ann enrols again at her next sign-in (the reset ended her session).
	h.clock.Advance(31 * time.Second)
	ann = h.consoleBrowser(t, chromium, axe)
	ann.open("/me/sessions", "login")
	ann.password("ann@example.com")
	secret := ann.enrolApp()
	ann.at("me_sessions")

	// The organization admin opens the policy page: refused.
	it := h.consoleBrowser(t, chromium, axe)
	it.open("/admin", "login")
	it.password("it@example.com")
	it.enrolApp()
	it.at("overview")
	if got := it.text("nav"); strings.Contains(got, "Organizations") {
		t.Errorf("an org admin's menu offers Organizations: %q", got)
	}
	it.open("/admin/connectors", "connectors")
	it.at("connectors")
	it.step("a new connector's URLs", chromedp.Click(chromedp.ID("n-saml")), chromedp.SendKeys(chromedp.ID("n-id"), "corp-saml"),
		chromedp.Click(chromedp.ID("connector-next")), chromedp.WaitVisible(chromedp.ID("sp-acs")))
	it.at("connector")
	it.open("/admin/orgs/default", "error")
	if got := it.text("main"); !strings.Contains(got, "no access") {
		t.Fatalf("the org admin's policy page says %q", got)
	}

	// Ann signs in on a second device, then signs it out from the first.
	h.clock.Advance(31 * time.Second)
	second := h.consoleBrowser(t, chromium, axe)
	second.open("/me", "login")
	second.password("ann@example.com")
	second.code(secret)
	second.at("me_profile")
	ann.open("/me/sessions", "me_sessions")
	ann.step("sign the other device out", chromedp.Click(chromedp.CSS(`button[data-revoke]`)), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	ann.at("me_sessions")
	if got := ann.text("p.notice"); got != "That session is signed out." {
		t.Fatalf("after the sign-out: %q", got)
	}
	second.open("/me", "login")

	// The other account pages pass the check too.
	for _, p := range []struct{ path, page string }{{"/me", "me_profile"}, {"/me/mfa", "me_mfa"}, {"/me/links", "me_links"},
		{"/me/apps", "me_apps"}, {"/me/password", "set_password"}} {
		ann.open(p.path, p.page)
		ann.at(p.page)
	}
}
