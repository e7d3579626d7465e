package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
)

// TestMeMFASMS: text-message codes added at /me/mfa, under the same rules
// as at a login's enrolment: to the profile's number when it has one; a
// number the user types when the organization allows it (one without its
// country code is refused in words that say so); otherwise the page says
// to ask an administrator. The code arrives through the webhook gateway
// and, once confirmed, the next login asks for a texted code.
func TestMeMFASMS(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) { eachMeMFASMS(t, backend) })
	}
}

func eachMeMFASMS(t *testing.T, backend string) {
	h, gw := newSMSHarness(t, backend, nil)
	h.client("web", nil)
	h.user(aliceEmail, alicePW)

	// No number on the profile, and users may not enter one. (Signed in
	// before the policy, which would have her enrol at the login.)
	b := h.browser()
	h.meMFA(t, b)
	h.setMFAPolicy(admin.MFAPolicyInput{Required: true, Methods: []string{"sms", "totp"}})
	p := b.get(h.issuer + "/me/mfa")
	wantPage(t, "no number", p, http.StatusOK, `id="sms-unavailable">Your account has no mobile number; contact your administrator.`)
	if strings.Contains(p.body, `id="add-sms"`) {
		t.Fatal("text messages offered to a user without a number who may not enter one")
	}

	// Users may enter their own.
	h.setMFAPolicy(admin.MFAPolicyInput{Required: true, Methods: []string{"sms", "totp"}, SMSSelfEnrol: true})
	p = b.get(h.issuer + "/me/mfa")
	p = b.act(p, `id="add-sms"`, map[string]string{"phone": "079 123 45 67"})
	wantPage(t, "no country code", p, http.StatusUnprocessableEntity, "Enter the number with its country code")
	if gw.count() != 0 {
		t.Fatal("a text was sent to a number without its country code")
	}
	const typed = "+41791234567"
	p = b.act(p, `id="add-sms"`, map[string]string{"phone": "+41 79 123 45 67"})
	wantPage(t, "code page", p, http.StatusOK, "Check your phone")
	wantPage(t, "wrong code", b.act(p, `name="code"`, map[string]string{"code": "000000"}), http.StatusUnprocessableEntity, "Check the text message")
	p = b.act(p, `name="code"`, map[string]string{"code": gw.last(t, typed)})
	wantPage(t, "added", p, http.StatusOK, "Text-message codes are on")

	// The next login asks for a texted code, to that number.
	c, lp := h.codeLogin(t)
	wantPage(t, "code step", lp, http.StatusOK, "we texted to &#43;•••67")
	c.press(lp, `name="code"`, map[string]string{"code": gw.last(t, typed)}).callback(t)

	// With a number on the profile, codes go there, whatever is typed.
	if _, err := h.inst.Admin.SetPhone(h.ctx, "test-admin", aliceEmail, "+44 7700 900123"); err != nil {
		t.Fatal(err)
	}
	p = b.get(h.issuer + "/me/mfa")
	wantPage(t, "profile number", p, http.StatusOK, "your number on file, <strong>&#43;•••23</strong>")
	p = b.act(p, `id="add-sms"`, map[string]string{"phone": "+15005550006"})
	wantPage(t, "code page", p, http.StatusOK, "Check your phone")
	if code := gw.last(t, "+447700900123"); code == "" {
		t.Fatal("no code to the profile's number")
	}
	gw.mu.Lock()
	defer gw.mu.Unlock()
	for _, text := range gw.texts {
		if text.To == "+15005550006" {
			t.Fatal("a code went to a typed number instead of the profile's")
		}
	}
}
