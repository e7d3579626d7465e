package e2e

import (
	"context"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/webauthnmfa"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// newLocalhostHarness is newHarnessWith with the issuer on
// http://localhost:PORT: WebAuthn refuses an IP address as relying-party
// id, so the security-key method is off on the 127.0.0.1 issuer of the
// other tests.
func newLocalhostHarness(t *testing.T, backend string, ho harnessOptions) *harness {
	t.Helper()
	edit := ho.config
	ho.config = func(c *config.Config) {
		c.Issuer = strings.Replace(c.Issuer, "http://127.0.0.1:", "http://localhost:", 1)
		if edit != nil {
			edit(c)
		}
	}
	h := newHarnessWith(t, backend, ho)
	if h.inst.WebAuthn == nil {
		t.Fatalf("security keys are off with the issuer %s", h.issuer)
	}
	return h
}

// virtualKey gives ctx's tab Chromium's virtual authenticator: CTAP2.1
// over the internal transport (a platform authenticator), with resident
// (discoverable) credentials and user verification that succeeds, and
// presence confirmed without a touch.
func virtualKey(t *testing.T, ctx context.Context) webauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("enable WebAuthn: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
			Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
			// cdproto always sends generateCmtgKeyOnNextOperation with
			// AddCredential, which Chromium refuses unless the
			// authenticator has the extension.
			HasCmtgKey: true}})
	if err != nil {
		t.Fatalf("add a virtual authenticator: %v", err)
	}
	return res.AuthenticatorID
}

// TestBrowserWebAuthn: in Debian's Chromium with the DevTools virtual
// authenticator, on a localhost issuer, where the organization requires
// a second factor with every method allowed (totp, email, sms, webauthn),
// on each backend:
//   - the first sign-in (password) registers a key, named by the user, at
//     the enrolment step; the login is multi-factor;
//   - the next one uses "Sign in with a passkey" with nothing typed: a
//     complete multi-factor login (amr hwk, user, mfa; acr mfa);
//   - a password login then asks for the key as its second step;
//   - /me registers a second key, after the browser refused to register
//     the first one twice;
//   - a cloned key (its counter behind) fails to sign in, is flagged in
//     /me, and can be removed there;
//   - without JavaScript the key's page says it needs it and offers the
//     other methods, and no broken button is shown.
//
// Any CSP violation or script error fails it.
func TestBrowserWebAuthn(t *testing.T) {
	chromium := chromiumPath(t)
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) { browserWebAuthn(t, chromium, backend) })
	}
}

func browserWebAuthn(t *testing.T, chromium, backend string) {
	logs := &syncBuffer{}
	h := newLocalhostHarness(t, backend, harnessOptions{opts: func(o *instance.Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}})
	rp := newBrowserRP(t, h)
	uid := h.user(aliceEmail, alicePW)
	h.setMFA(storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp", "email", "sms", "webauthn"}})

	ctx := newChromium(t, chromium)
	auth := virtualKey(t, ctx)
	problems := watchConsole(ctx)
	step := stepper(t, ctx, problems)
	read := func(sel string) string {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return got
	}
	arrive := func(what string, wantAMR ...string) {
		t.Helper()
		step(what+": arrive signed in", chromedp.WaitVisible(chromedp.ID("result")))
		if got := read("#result"); got != "Signed in as "+aliceEmail {
			t.Fatalf("%s: the relying party says %q", what, got)
		}
		if acr := read("#acr"); acr != "urn:gatehouse:acr:mfa" {
			t.Errorf("%s: acr %q", what, acr)
		}
		amr := strings.Fields(read("#amr"))
		for _, m := range wantAMR {
			if !slices.Contains(amr, m) {
				t.Errorf("%s: amr %q lacks %q", what, amr, m)
			}
		}
		if p := problems(); len(p) > 0 {
			t.Fatalf("%s: the browser reported: %q", what, p)
		}
	}
	signOut := func() {
		t.Helper()
		// A key's use refuses challenges issued before it (a replay), and
		// the instance's clock stands still unless moved.
		h.clock.Advance(time.Minute)
		if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
	}
	open := func(what string) {
		t.Helper()
		step(what+": open the relying party", chromedp.Navigate(rp.url+"/start?mode=query"),
			chromedp.WaitVisible(chromedp.CSS(`main[data-page="login"] #passkey`)))
	}

	// 1. The password, then a key registered at the enrolment step.
	open("enrol")
	if got, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("email"), "autocomplete")); err != nil || got.Value != "username webauthn" {
		t.Errorf("email autocomplete %+v (%v); want passkeys among the autofill", got, err)
	}
	step("enrol: password", chromedp.SendKeys(chromedp.ID("email"), aliceEmail), chromedp.SendKeys(chromedp.ID("password"), alicePW+kb.Enter))
	step("enrol: choose a key", chromedp.WaitVisible(chromedp.CSS(`main[data-page="mfa_choose"] button[data-method="webauthn"]`)),
		chromedp.SendKeys(chromedp.ID("label-webauthn"), "Work laptop"), chromedp.Click(chromedp.CSS(`button[data-method="webauthn"]`)))
	step("enrol: register", chromedp.WaitVisible(chromedp.CSS(`main[data-page="webauthn"] #webauthn-start`)),
		chromedp.Click(chromedp.ID("webauthn-start")))
	step("enrol: the notice", chromedp.WaitVisible(chromedp.CSS(`main[data-page="mfa_notice"] #recovery-codes`)))
	codes := strings.Fields(read("#recovery-codes"))
	step("enrol: finish", chromedp.Click(chromedp.ID("finish")))
	arrive("enrol", "pwd", "hwk")
	fs, err := h.inst.Store.ListFactors(h.ctx, uid, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var key storage.Factor
	for _, f := range fs {
		if f.Kind == webauthnmfa.Name {
			key = f
		}
	}
	if key.Label != "Work laptop" || key.ConfirmedAt.IsZero() || key.Lookup == "" {
		t.Fatalf("the registered key: label %q, confirmed %v, lookup %q", key.Label, key.ConfirmedAt, key.Lookup)
	}

	// 2. A passkey, nothing typed: the login page's conditional request
	// (the email field's autofill) is answered by the authenticator,
	// which holds one discoverable credential for the site, and the
	// page signs in with no click at all.
	signOut()
	step("autofill: open the relying party", chromedp.Navigate(rp.url+"/start?mode=query"))
	arrive("autofill", "hwk", "user", "mfa")

	// Then, in a browser without conditional mediation, the button.
	if _, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{
		Source: `PublicKeyCredential.isConditionalMediationAvailable = async () => false;`}); err != nil {
		t.Fatal(err)
	}
	signOut()
	open("passkey")
	step("passkey: sign in", chromedp.Click(chromedp.ID("passkey")))
	arrive("passkey", "hwk", "user", "mfa")

	// 3. The password, then the key as the second step.
	signOut()
	open("second factor")
	step("second factor: password", chromedp.SendKeys(chromedp.ID("email"), aliceEmail), chromedp.SendKeys(chromedp.ID("password"), alicePW+kb.Enter))
	step("second factor: the key", chromedp.WaitVisible(chromedp.CSS(`main[data-page="webauthn"] #webauthn-start`)),
		chromedp.Click(chromedp.ID("webauthn-start")))
	arrive("second factor", "pwd", "hwk")

	creds, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth})
	if err != nil || len(creds.Credentials) != 1 || !creds.Credentials[0].IsResidentCredential {
		t.Fatalf("the authenticator holds %+v (%v); want one discoverable credential", creds, err)
	}
	if got := creds.Credentials[0].RpID; got != "localhost" {
		t.Errorf("the credential's RP ID is %q; want the issuer's host", got)
	}

	// 4. /me: a second key. The browser refuses to register the first
	// one again (the ceremony excludes it), and the page says so; with
	// another authenticator, the same ceremony registers it.
	step("me: the list", chromedp.Navigate(h.issuer+"/me/mfa"), chromedp.WaitVisible(chromedp.CSS(`main[data-page="me_mfa"] #add-key`)))
	if got := read(".factors"); !strings.Contains(got, "Work laptop") {
		t.Fatalf("/me/mfa lists %q", got)
	}
	step("me: add a key", chromedp.SendKeys(chromedp.ID("key-label"), "Backup key"), chromedp.Click(chromedp.ID("add-key")),
		chromedp.WaitVisible(chromedp.CSS(`main[data-page="webauthn"] #webauthn-start`)), chromedp.Click(chromedp.ID("webauthn-start")),
		chromedp.WaitVisible(chromedp.ID("form-error")))
	if got := read("#form-error"); !strings.Contains(got, "already registered") {
		t.Errorf("registering the same key again: the page says %q", got)
	}
	if _, err := chromedp.Call(ctx, webauthn.RemoveVirtualAuthenticator, webauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: auth}); err != nil {
		t.Fatal(err)
	}
	auth = virtualKey(t, ctx)
	step("me: another key", chromedp.Click(chromedp.ID("webauthn-start")), chromedp.WaitVisible(chromedp.CSS(`main[data-page="me_mfa"] [role="status"]`)))
	if got := read(".factors"); !strings.Contains(got, "Work laptop") || !strings.Contains(got, "Backup key") {
		t.Fatalf("/me/mfa lists %q", got)
	}
	backup := func() storage.Factor {
		t.Helper()
		fs, err := h.inst.Store.ListFactors(h.ctx, uid, h.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if f.Label == "Backup key" && !f.ConfirmedAt.IsZero() {
				return f
			}
		}
		t.Fatal("no confirmed backup key")
		return storage.Factor{}
	}
	if p := problems(); len(p) > 0 {
		t.Fatalf("the browser reported: %q", p)
	}

	// 5. A cloned key: the authenticator goes back to an earlier copy of
	// its credential, whose counter is behind the one the server saw.
	// The login fails and the key is flagged, in /me too.
	saved, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth})
	if err != nil || len(saved.Credentials) != 1 {
		t.Fatalf("the new authenticator holds %+v (%v)", saved, err)
	}
	signOut()
	open("backup key")
	step("backup key: sign in", chromedp.Click(chromedp.ID("passkey")))
	arrive("backup key", "hwk", "user")
	old := saved.Credentials[0]
	if _, err := chromedp.Call(ctx, webauthn.RemoveCredential, webauthn.RemoveCredentialParams{AuthenticatorID: auth,
		CredentialID: old.CredentialID}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, webauthn.AddCredential, webauthn.AddCredentialParams{AuthenticatorID: auth,
		Credential: &webauthn.Credential{CredentialID: old.CredentialID, IsResidentCredential: true, RpID: old.RpID,
			PrivateKey: old.PrivateKey, UserHandle: old.UserHandle, SignCount: old.SignCount}}); err != nil {
		t.Fatal(err)
	}
	signOut()
	open("clone")
	step("clone: sign in", chromedp.Click(chromedp.ID("passkey")), chromedp.WaitVisible(chromedp.ID("login-error")))
	if got := read("#login-error"); !strings.Contains(got, "passkey could not sign you in") {
		t.Errorf("a cloned key: the page says %q", got)
	}
	flagged := backup()
	if !webauthnmfa.Flagged(flagged) {
		t.Fatal("the cloned key is not flagged")
	}
	if !regexp.MustCompile(`msg=audit type=login.failed .*reason:` + webauthnmfa.ReasonSignCount).MatchString(logs.String()) {
		t.Error("no audit event for the cloned key")
	}
	// The password and a recovery code, then /me shows the flag.
	step("clone: password", chromedp.SendKeys(chromedp.ID("email"), aliceEmail), chromedp.SendKeys(chromedp.ID("password"), alicePW+kb.Enter))
	step("clone: a recovery code", chromedp.WaitVisible(chromedp.CSS(`button[data-method="recovery"]`)),
		chromedp.Click(chromedp.CSS(`button[data-method="recovery"]`)), chromedp.WaitVisible(chromedp.ID("code")),
		chromedp.SendKeys(chromedp.ID("code"), codes[0]+kb.Enter), chromedp.WaitVisible(chromedp.ID("finish")), chromedp.Click(chromedp.ID("finish")))
	arrive("recovery code")
	step("me: flagged", chromedp.Navigate(h.issuer+"/me/mfa"), chromedp.WaitVisible(chromedp.ID("flagged-"+flagged.ID)))
	step("me: remove the flagged key", chromedp.Click(chromedp.CSS(`button[data-remove="`+flagged.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main[data-page="me_mfa"] [role="status"]`)))
	if got := read(".factors"); strings.Contains(got, "Backup key") || !strings.Contains(got, "Work laptop") {
		t.Fatalf("after removing the flagged key /me/mfa lists %q", got)
	}

	// 6. Without JavaScript.
	signOut()
	noScript(t, ctx)
	step("no script: open the relying party", chromedp.Navigate(rp.url+"/start?mode=query"),
		chromedp.WaitVisible(chromedp.CSS(`main[data-page="login"] #email`)))
	if vis, err := chromedp.Run(ctx, visible("#passkey")); err != nil || vis {
		t.Errorf("without JavaScript the passkey button is shown (%v)", err)
	}
	step("no script: password", chromedp.SendKeys(chromedp.ID("email"), aliceEmail), chromedp.SendKeys(chromedp.ID("password"), alicePW+kb.Enter))
	step("no script: the key's page", chromedp.WaitVisible(chromedp.CSS(`main[data-page="webauthn"] #webauthn-noscript`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-method="recovery"]`)))
	if vis, err := chromedp.Run(ctx, visible("#webauthn-start")); err != nil || vis {
		t.Errorf("without JavaScript the key's button is shown (%v)", err)
	}
}

// visible reports whether the element sel names is rendered (not hidden).
func visible(sel string) chromedp.Action[bool] {
	return chromedp.Evaluate[bool](`(() => { const e = document.querySelector(` + "`" + sel + "`" + `); return !!e && e.checkVisibility(); })()`)
}
