package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/webauthnmfa"
)

// TestCredentialBound: the login form lets through a security key's
// answer as long as the method reads one, and no longer.
func TestCredentialBound(t *testing.T) {
	if maxCredential != webauthnmfa.MaxInput || fieldCredential != webauthnmfa.FieldCredential {
		t.Fatalf("ui bounds %q at %d; the method reads %q up to %d", fieldCredential, maxCredential,
			webauthnmfa.FieldCredential, webauthnmfa.MaxInput)
	}
	for _, tc := range []struct {
		n       int
		blanked bool
	}{{maxField + 1, false}, {maxCredential, false}, {maxCredential + 1, true}} {
		in := authflow.Input{fieldCredential: strings.Repeat("a", tc.n)}
		if got := boundInput(in); got != tc.blanked || (in[fieldCredential] == "") != tc.blanked {
			t.Errorf("%d bytes: blanked %v; want %v", tc.n, got, tc.blanked)
		}
	}
}

// TestPasskeyOffer: the login page loads the WebAuthn script, offers the
// passkey form and passkeys in the email field's autofill only when the
// flow made an offer; the security key's page always loads it, and
// without options (a notice instead) has no ceremony to run.
func TestPasskeyOffer(t *testing.T) {
	r := newRenderer(t)
	script := `<script src="` + r.keyURL + `" defer></script>`
	for _, tc := range []struct {
		name    string
		passkey *PasskeyForm
	}{{"offered", &PasskeyForm{Method: "passkey", Options: `{"challenge":"c"}`}}, {"not offered", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			if err := r.RenderLogin(w, http.StatusOK, LoginData{PostURL: "/login", AuthRequestID: "r", Passkey: tc.passkey}); err != nil {
				t.Fatal(err)
			}
			body, on := w.Body.String(), tc.passkey != nil
			for what, has := range map[string]bool{
				"script":   strings.Contains(body, script),
				"form":     strings.Contains(body, `data-webauthn="passkey"`) && strings.Contains(body, `name="method" value="passkey"`),
				"autofill": strings.Contains(body, `autocomplete="username webauthn"`),
				"options":  strings.Contains(body, `data-options="{&#34;challenge&#34;:&#34;c&#34;}"`),
			} {
				if has != on {
					t.Errorf("%s: %v; want %v", what, has, on)
				}
			}
		})
	}
	for _, tc := range []struct {
		options  string
		ceremony bool
	}{{`{"challenge":"c"}`, true}, {"", false}} {
		w := httptest.NewRecorder()
		if err := r.RenderWebAuthn(w, http.StatusOK, WebAuthnData{PostURL: "/login", Options: tc.options, Notice: "None of your keys."}); err != nil {
			t.Fatal(err)
		}
		body := w.Body.String()
		if !strings.Contains(body, script) || strings.Contains(body, `id="webauthn-start"`) != tc.ceremony ||
			strings.Contains(body, "<noscript>") != tc.ceremony {
			t.Errorf("options %q: script %v, ceremony %v", tc.options, strings.Contains(body, script), strings.Contains(body, `id="webauthn-start"`))
		}
	}
}
