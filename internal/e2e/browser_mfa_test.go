package e2e

import (
	"context"
	"encoding/base32"
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/totp"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// EnvScreenshots names a directory where TestBrowserMFA saves its
// screenshots (docs/screenshots for the README); unset, they go to a
// temporary directory.
const EnvScreenshots = "GATEHOUSE_TEST_SCREENSHOTS"

// TestBrowserMFA: in Debian's Chromium, after the organization turns MFA
// on with TOTP and email codes, each user is walked through choosing and
// enrolling a method at the first sign-in and uses it at the next:
//   - TOTP, with codes computed from the secret the page shows as text,
//     and the QR image decoded to the same otpauth:// URI;
//   - email, with codes taken from the mails a real SMTP server received;
//   - a recovery code, once the app is "lost".
//
// Keyboard and clicks only, no JavaScript needed by the pages; any CSP
// violation or script error fails it. It saves screenshots of the method
// choice and of the TOTP enrolment.
func TestBrowserMFA(t *testing.T) {
	chromium := chromiumPath(t)
	m := newMailHarness(t, config.StorageSQLite, nil)
	h := m.harness
	rp := newBrowserRP(t, h)
	h.user(aliceEmail, alicePW)
	h.user(bobEmail, alicePW)
	h.setMFA(storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp", "email"}})
	shots := os.Getenv(EnvScreenshots)
	if shots == "" {
		shots = t.TempDir()
	}

	text := func(ctx context.Context, sel string) string {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return got
	}
	attr := func(ctx context.Context, sel, name string) string {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
		if err != nil || !got.Exists {
			t.Fatalf("read %s[%s]: %+v %v", sel, name, got, err)
		}
		return got.Value
	}
	shot := func(ctx context.Context, name string) {
		t.Helper()
		// Quality 100 asks for a PNG (below it, a JPEG).
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// start opens the relying party in a fresh browser and signs in with
	// the password.
	start := func(email string) (context.Context, func(string, ...chromedp.Action[chromedp.Void]), func() []string) {
		t.Helper()
		ctx := newChromium(t, chromium)
		problems := watchConsole(ctx)
		step := stepper(t, ctx, problems)
		step("open the relying party", chromedp.Navigate(rp.url+"/start?mode=query"),
			chromedp.WaitVisible(chromedp.CSS(`main[data-page="login"] #email`)))
		step("password", chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), alicePW+kb.Enter))
		return ctx, step, problems
	}
	arrive := func(ctx context.Context, step func(string, ...chromedp.Action[chromedp.Void]), problems func() []string, email string) {
		t.Helper()
		step("arrive signed in", chromedp.WaitVisible(chromedp.ID("result")))
		if got := text(ctx, "#result"); got != "Signed in as "+email {
			t.Fatalf("relying party says %q", got)
		}
		if p := problems(); len(p) > 0 {
			t.Fatalf("the browser reported: %q", p)
		}
	}
	typeCode := func(step func(string, ...chromedp.Action[chromedp.Void]), code string) {
		step("type the code", chromedp.WaitVisible(chromedp.ID("code")), chromedp.SendKeys(chromedp.ID("code"), code+kb.Enter))
	}

	// Alice: TOTP.
	ctx, step, problems := start(aliceEmail)
	step("the method choice", chromedp.WaitVisible(chromedp.CSS(`main[data-page="mfa_choose"] button[data-method="totp"]`)))
	shot(ctx, "mfa-choose.png")
	step("choose the app", chromedp.Click(chromedp.CSS(`button[data-method="totp"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main[data-page="totp_enrol"] #secret`)), chromedp.WaitVisible(chromedp.ID("qr")))
	shot(ctx, "mfa-totp-enrol.png")
	grouped := text(ctx, "#secret")
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(grouped, " ", ""))
	if err != nil || len(secret) < 20 {
		t.Fatalf("the page's secret %q: %d bytes, %v", grouped, len(secret), err)
	}
	src := attr(ctx, "#qr", "src")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(src, "data:image/png;base64,"))
	if err != nil {
		t.Fatalf("QR src: %v", err)
	}
	u, err := url.Parse(decodeQR(t, raw))
	if err != nil || u.Scheme != "otpauth" || u.Query().Get("secret") != strings.ReplaceAll(grouped, " ", "") ||
		!strings.Contains(u.Path, aliceEmail) {
		t.Fatalf("the QR code holds %v (%v); want the otpauth URI of %q for %s", u, err, grouped, aliceEmail)
	}
	codeNow := func() string {
		c, err := totp.Code(secret, h.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	typeCode(step, codeNow())
	step("the recovery codes", chromedp.WaitVisible(chromedp.CSS(`main[data-page="mfa_notice"] #recovery-codes`)))
	codesText := text(ctx, "#recovery-codes")
	codes := strings.Fields(codesText)
	if len(codes) != 10 {
		t.Fatalf("recovery codes shown: %q", codesText)
	}
	if href := attr(ctx, "#download-codes", "href"); !strings.HasPrefix(href, "data:text/plain") {
		t.Fatalf("download link %q", href)
	}
	step("finish", chromedp.Click(chromedp.ID("finish")))
	arrive(ctx, step, problems, aliceEmail)

	// Alice's next sign-in asks for the app's code.
	h.clock.Advance(30 * time.Second)
	ctx, step, problems = start(aliceEmail)
	step("the code step", chromedp.WaitVisible(chromedp.CSS(`main[data-page="mfa_code"] #code`)))
	typeCode(step, codeNow())
	arrive(ctx, step, problems, aliceEmail)

	// Bob: email codes.
	ctx, step, problems = start(bobEmail)
	step("choose email", chromedp.WaitVisible(chromedp.CSS(`button[data-method="email"]`)), chromedp.Click(chromedp.CSS(`button[data-method="email"]`)))
	typeCode(step, m.mailedCode(t, bobEmail))
	step("enrolled", chromedp.WaitVisible(chromedp.ID("finish")), chromedp.Click(chromedp.ID("finish")))
	arrive(ctx, step, problems, bobEmail)
	ctx, step, problems = start(bobEmail)
	// The code goes out when the step is shown: no click.
	typeCode(step, m.mailedCode(t, bobEmail))
	arrive(ctx, step, problems, bobEmail)

	// Alice lost her phone: a recovery code.
	ctx, step, problems = start(aliceEmail)
	// The app's code page has a #code field too: wait for the recovery
	// page's own (inputmode text), or the code may be typed into the page
	// the click is leaving.
	step("use a recovery code", chromedp.WaitVisible(chromedp.CSS(`button[data-method="recovery"]`)),
		chromedp.Click(chromedp.CSS(`button[data-method="recovery"]`)), chromedp.WaitVisible(chromedp.CSS(`#code[inputmode="text"]`)))
	typeCode(step, codes[0])
	step("the notice", chromedp.WaitVisible(chromedp.CSS(`main[data-page="mfa_notice"] #finish`)))
	if got := text(ctx, ".lead"); !strings.Contains(got, "9 recovery codes left") {
		t.Fatalf("after a recovery code the page says %q", got)
	}
	step("finish", chromedp.Click(chromedp.ID("finish")))
	arrive(ctx, step, problems, aliceEmail)
}
