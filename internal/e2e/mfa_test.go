package e2e

import (
	"encoding/base32"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/mfa/totp"
)

var secretRE = regexp.MustCompile(`<code class="ref" id="secret">([A-Z2-7 ]+)</code>`)

// totpSecret reads the key an enrolment page shows as text, the way a
// person types it into an app that cannot scan.
func totpSecret(t *testing.T, p page) []byte {
	t.Helper()
	m := secretRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no secret on the enrolment page:\n%s", p.body)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func (h *harness) code(t *testing.T, secret []byte) string {
	t.Helper()
	c, err := totp.Code(secret, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTOTPSelfEnrolAndLogin: a user turns on an authenticator app from
// /me/mfa (after a fresh sign-in) in an organization without MFA; every
// later login then asks for its code; a code works once; the ID token says
// a second factor was used.
func TestTOTPSelfEnrolAndLogin(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		secretC := h.client("web", nil)
		h.user(aliceEmail, alicePW)
		b := h.browser()
		p := b.get(h.issuer + "/me/mfa")
		if !p.isLoginForm() {
			t.Fatalf("/me/mfa without a session: %d\n%s", p.resp.StatusCode, p.body)
		}
		p = b.login(p, aliceEmail, alicePW)
		wantPage(t, "/me/mfa", p, http.StatusOK, "Two-step sign-in is off")
		p = b.submit(p, "/me/mfa/totp", nil)
		wantPage(t, "enrolment", p, http.StatusOK, "Scan this code")
		secret := totpSecret(t, p)
		if len(secret) < 20 {
			t.Fatalf("secret of %d bytes, want at least 160 bits", len(secret))
		}
		qr := b.get(h.issuer + "/me/mfa/totp/qr?factor=" + url.QueryEscape(p.hidden().Get("factor")))
		if qr.resp.StatusCode != http.StatusOK || qr.resp.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(qr.body, "\x89PNG") {
			t.Fatalf("QR image: %d %s", qr.resp.StatusCode, qr.resp.Header.Get("Content-Type"))
		}
		// Not on until a code confirms it: a login now needs no code.
		if cb := h.loginFlow(h.browser(), "web", aliceEmail, nil); cb.q.Get("code") == "" {
			t.Fatalf("login before the enrolment is confirmed: %v", cb.q)
		}
		wantPage(t, "wrong code", b.submit(p, "/me/mfa/totp/confirm", map[string]string{"code": "000000"}), http.StatusUnprocessableEntity, "not correct")
		enrolCode := h.code(t, secret)
		wantPage(t, "confirmed", b.submit(p, "/me/mfa/totp/confirm", map[string]string{"code": enrolCode}), http.StatusOK, "authenticator app is on")

		// A later login asks for the code, after the password.
		c := h.browser()
		q, verifier := withPKCE(nil)
		lp := c.login(c.get(h.authURL("web", q)), aliceEmail, alicePW)
		wantPage(t, "second step", lp, http.StatusOK, `autocomplete="one-time-code"`)
		// The code the enrolment used is spent, in this login too.
		replay := c.submit(lp, "/login", map[string]string{"code": enrolCode})
		wantPage(t, "replayed code", replay, http.StatusUnprocessableEntity, "already used")
		h.clock.Advance(30 * time.Second)
		done := c.submit(lp, "/login", map[string]string{"code": h.code(t, secret)})
		cb := done.callback(t)
		if cb.Get("code") == "" {
			t.Fatalf("login with the code: %v", cb)
		}
		status, tok := h.tokenRequest("web", secretC, codeForm("web", cb.Get("code"), verifier))
		if status != http.StatusOK {
			t.Fatalf("token: %d %v", status, tok)
		}
		claims := jwtClaims(t, jsonStr(tok, "id_token"))
		var amr []string
		for _, v := range claims["amr"].([]any) {
			amr = append(amr, v.(string))
		}
		if !slices.Contains(amr, "pwd") || !slices.Contains(amr, "otp") || !slices.Contains(amr, "mfa") || claims["acr"] != "urn:gatehouse:acr:mfa" {
			t.Errorf("ID token amr %v acr %v, want pwd, otp, mfa and the MFA acr", amr, claims["acr"])
		}

		// Changing factors needs a recent sign-in: after 5 minutes, the
		// page asks for the password again.
		h.clock.Advance(6 * time.Minute)
		if p := b.get(h.issuer + "/me/mfa"); !p.isLoginForm() {
			t.Fatalf("/me/mfa with an old sign-in: %d\n%s", p.resp.StatusCode, p.body)
		}
	})
}
