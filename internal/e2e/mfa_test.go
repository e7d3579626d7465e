package e2e

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"html"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/gatehouse-idp/gatehouse/idp/mfa/totp"
)

var (
	secretRE = regexp.MustCompile(`<code class="ref" id="secret">([A-Z2-7 ]+)</code>`)
	qrRE     = regexp.MustCompile(`<img id="qr" src="data:image/png;base64,([^"]+)"`)
)

// qrImage is the enrolment page's QR code (a PNG in a data: URL), after
// checking that it decodes to an otpauth URI for the secret the page shows
// as text.
func qrImage(t *testing.T, p page) []byte {
	t.Helper()
	m := qrRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no QR image on the enrolment page:\n%s", p.body)
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	uri := decodeQR(t, raw)
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("QR holds %q; want an otpauth://totp URI", uri)
	}
	want := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(totpSecret(t, p))
	if u.Query().Get("secret") != want {
		t.Fatalf("QR secret %q; the page shows %q", u.Query().Get("secret"), want)
	}
	return raw
}

// decodeQR reads a QR code image the way a phone's camera would.
func decodeQR(t *testing.T, raw []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		// gozxing's finder-pattern detector misjudges the size of about
		// one code in a hundred (NotFoundException: dimension = …), which
		// phones' scanners read; the image is the server's own PNG, so
		// reading it as a pure barcode checks the same content.
		res, err = qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	}
	if err != nil {
		t.Fatalf("decode QR: %v", err)
	}
	return res.GetText()
}

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
		// The QR code is a PNG in the page itself, whose CSP allows
		// data: images; it decodes to the secret the page shows.
		if png := qrImage(t, p); !strings.HasPrefix(string(png), "\x89PNG") {
			t.Fatalf("QR image is not a PNG: %.20q", png)
		}
		if csp := p.resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data:") {
			t.Fatalf("enrolment CSP %q does not allow its data: image", csp)
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
		// The code the enrolment used is spent, in this login too. (The
		// page also offers the recovery codes the enrolment came with.)
		replay := c.press(lp, `name="code"`, map[string]string{"code": enrolCode})
		wantPage(t, "replayed code", replay, http.StatusUnprocessableEntity, "already used")
		h.clock.Advance(30 * time.Second)
		done := c.press(lp, `name="code"`, map[string]string{"code": h.code(t, secret)})
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
