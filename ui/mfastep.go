package ui

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/recovery"
)

// The pages of a login's second-factor steps: a code form (mfa, and an
// email code's enrolment), the method choice and the TOTP enrolment
// (enrol), and the closing notice. They render what the flow's Outcome
// says; which page, method and buttons appear is the flow's decision.

const (
	msgCodeWrong   = "That code is not correct, or it was already used."
	msgNoMethod    = "Your organization requires a second sign-in step, and none of its methods is available to you here. Please contact your administrator."
	actionChoose   = "choose"
	actionResend   = "resend"
	actionSkip     = "skip"
	actionFinish   = "finish"
	recoveryMethod = mfa.Recovery
)

// methodLabel is what the pages call a second factor.
func methodLabel(m string) string {
	switch m {
	case mfa.TOTP:
		return "Authenticator app"
	case mfa.Email:
		return "Email code"
	case mfa.Recovery:
		return "Recovery code"
	case mfa.SMS:
		return "Text message"
	case mfa.WebAuthn:
		return "Security key or passkey"
	}
	return m
}

func methodHint(m string) string {
	switch m {
	case mfa.TOTP:
		return "An app on your phone, such as Google Authenticator, Microsoft Authenticator or 1Password, shows a new 6-digit code every 30 seconds."
	case mfa.Email:
		return "We email you a 6-digit code each time you sign in."
	case mfa.SMS:
		return "We text a 6-digit code to your mobile phone each time you sign in."
	case mfa.WebAuthn:
		return "A security key, such as a YubiKey, or a passkey on your phone or computer. Nothing to type, and no fake site can use it."
	}
	return ""
}

// secondStep renders an outcome of the second-factor steps; ok is false
// when the outcome is none of theirs.
func (h *Handlers) secondStep(w http.ResponseWriter, r *http.Request, status int, door Door, out authflow.Outcome) bool {
	switch {
	case out.Action == authflow.Choose:
		h.chooseForm(w, r, status, door, out)
	case out.Action == authflow.Enrol && out.Method == mfa.TOTP:
		h.totpEnrolForm(w, r, status, door, out)
	case (out.Action == authflow.Enrol || out.Action == authflow.Challenge) && out.Method == mfa.WebAuthn:
		h.webauthnForm(w, r, status, door, out)
	case out.Action == authflow.Enrol, out.Action == authflow.Challenge && out.Method != "" && h.isFactor(out.Method):
		h.factorCodeForm(w, r, status, door, out)
	case out.Action == authflow.Notice:
		h.noticePage(w, r, status, door, out)
	default:
		return false
	}
	return true
}

func (h *Handlers) isFactor(m string) bool {
	_, ok := h.Flow.Factor(m)
	return ok
}

// failureText is what a second-factor page says of out.Failure.
func failureText(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, authflow.ErrThrottled):
		return msgThrottled
	case errors.Is(err, authflow.ErrInvalidCredentials):
		return msgCodeWrong
	}
	return sentence(err.Error())
}

// sentence makes a method's plain message a sentence for the page.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

func failureStatus(status int, out authflow.Outcome) int {
	if out.Failure != nil && status == http.StatusOK {
		return http.StatusUnprocessableEntity
	}
	return status
}

func (h *Handlers) chooseForm(w http.ResponseWriter, r *http.Request, status int, door Door, out authflow.Outcome) {
	req := out.Request
	d := MFAChooseData{Branding: Branding{h.brandFor(r.Context(), out)}, PostURL: PathLogin, CSRFToken: h.CSRF.Token(w, r, req.ID), AuthRequestID: req.ID,
		ClientName: out.Party.Name, Required: true, Skip: out.CanSkip, Error: failureText(out.Failure),
		FormActionOrigins: door.ResponseOrigins(req), Lang: "en"}
	for _, c := range out.Choices {
		v := ChoiceView{Method: c.Method, Label: methodLabel(c.Method), Hint: methodHint(c.Method),
			Button: "Use " + strings.ToLower(methodLabel(c.Method)), AskAddress: c.AskAddress, Address: c.Address,
			AskPhone: c.AskPhone, AskLabel: c.Method == mfa.WebAuthn, Unavailable: c.Unavailable}
		if c.Phone != "" {
			v.Phone = maskPhone(c.Phone)
		}
		d.Choices = append(d.Choices, v)
	}
	if err := h.Render.RenderMFAChoose(w, failureStatus(status, out), d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render mfa choice", "err", err)
	}
}

func (h *Handlers) totpEnrolForm(w http.ResponseWriter, r *http.Request, status int, door Door, out authflow.Outcome) {
	req := out.Request
	d := TOTPEnrolData{Branding: Branding{h.brandFor(r.Context(), out)}, PostURL: PathLogin, CSRFToken: h.CSRF.Token(w, r, req.ID), AuthRequestID: req.ID,
		Grouped: out.View.Secret, QR: QRDataURL(out.View.QR), ChooseAgain: len(out.Choices) > 1, Skip: out.CanSkip,
		Error: failureText(out.Failure), FormActionOrigins: door.ResponseOrigins(req), Lang: "en"}
	if err := h.Render.RenderTOTPEnrol(w, failureStatus(status, out), d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render totp enrolment", "err", err)
	}
}

// factorCodeForm asks for a code: an app's, one sent by email (at mfa or
// confirming an email enrolment), or a recovery code.
func (h *Handlers) factorCodeForm(w http.ResponseWriter, r *http.Request, status int, door Door, out authflow.Outcome) {
	req := out.Request
	d := MFACodeData{Branding: Branding{h.brandFor(r.Context(), out)}, PostURL: PathLogin, CSRFToken: h.CSRF.Token(w, r, req.ID), AuthRequestID: req.ID, Method: out.Method,
		ClientName: out.Party.Name, FormActionOrigins: door.ResponseOrigins(req), Error: failureText(out.Failure), Lang: "en"}
	v := authflow.View{}
	if out.View != nil {
		v = *out.View
	}
	switch out.Method {
	case mfa.TOTP:
		d.Heading, d.Lead, d.Label = "Enter your code", "Open your authenticator app and enter the 6-digit code it shows", "Code"
	case mfa.Email:
		d.Heading, d.Label, d.Resend = "Check your email", "Code from the email", true
		d.Lead = "Enter the 6-digit code we emailed you"
		if v.Address != "" {
			d.Lead = "Enter the 6-digit code we emailed to " + v.Address
		}
		if v.Sent {
			d.Notice = "We sent a new code. It is valid for 10 minutes."
		}
	case mfa.SMS:
		d.Heading, d.Label, d.Resend = "Check your phone", "Code from the text message", true
		d.Lead = "Enter the 6-digit code we texted you"
		if v.Address != "" {
			d.Lead = "Enter the 6-digit code we texted to " + v.Address
		}
		if v.Sent {
			d.Notice = "We sent a new code. It is valid for 10 minutes."
		}
	case recoveryMethod:
		d.Heading, d.Lead, d.Label = "Use a recovery code", "Enter one of the recovery codes you saved when you set up two-step sign-in", "Recovery code"
		d.InputMode, d.Autocomplete = "text", "off"
	default:
		d.Heading, d.Lead, d.Label = "Enter your code", "Enter the code for "+methodLabel(out.Method), "Code"
	}
	if v.Notice != nil {
		d.Notice = sentence(v.Notice.Error())
	}
	if out.Action == authflow.Enrol {
		d.Submit, d.Skip = "Turn on", out.CanSkip
		if len(out.Choices) > 1 {
			d.Others = append(d.Others, OtherMethod{Method: "", Label: "Choose another method"})
		}
	}
	for _, m := range out.Methods {
		if m != out.Method {
			d.Others = append(d.Others, OtherMethod{Method: m, Label: methodLabel(m)})
		}
	}
	if err := h.Render.RenderMFACode(w, failureStatus(status, out), d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render mfa code", "err", err)
	}
}

// webauthnForm is a security key's page at a login: registering one
// (enrol) or signing in with one (mfa). webauthn.js runs the ceremony.
func (h *Handlers) webauthnForm(w http.ResponseWriter, r *http.Request, status int, door Door, out authflow.Outcome) {
	req := out.Request
	v := authflow.View{}
	if out.View != nil {
		v = *out.View
	}
	d := WebAuthnData{Branding: Branding{h.brandFor(r.Context(), out)}, PostURL: PathLogin, CSRFToken: h.CSRF.Token(w, r, req.ID), AuthRequestID: req.ID,
		ClientName: out.Party.Name, Options: string(v.Data), Error: failureText(out.Failure),
		FormActionOrigins: door.ResponseOrigins(req), Lang: "en"}
	if out.Action == authflow.Enrol {
		d.Register, d.Skip = true, out.CanSkip
		d.Heading, d.Submit = "Register a security key", "Register security key"
		d.Lead = "Insert your security key, or use your phone or computer as a passkey, and follow your browser's prompts"
		if len(out.Choices) > 1 {
			d.Others = append(d.Others, OtherMethod{Method: "", Label: "Choose another method"})
		}
	} else {
		d.Heading, d.Submit = "Use your security key", "Use security key"
		d.Lead = "Use your security key or passkey to confirm it is you"
	}
	if v.Notice != nil {
		d.Notice = sentence(v.Notice.Error())
	}
	for _, m := range out.Methods {
		if m != out.Method {
			d.Others = append(d.Others, OtherMethod{Method: m, Label: methodLabel(m)})
		}
	}
	if err := h.Render.RenderWebAuthn(w, failureStatus(status, out), d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render security key", "err", err)
	}
}

func (h *Handlers) noticePage(w http.ResponseWriter, r *http.Request, status int, door Door, out authflow.Outcome) {
	req := out.Request
	d := MFANoticeData{Branding: Branding{h.brandFor(r.Context(), out)}, PostURL: PathLogin, CSRFToken: h.CSRF.Token(w, r, req.ID), AuthRequestID: req.ID,
		Codes: out.Codes, FormActionOrigins: door.ResponseOrigins(req), Lang: "en"}
	switch out.Notice {
	case authflow.NoticeRecovery:
		d.Heading = "You signed in with a recovery code"
		d.Lead = "That code is now used up. You have " + plural(out.Remaining, "recovery code") + " left. If you lost your phone or app, set up a new method and remove the old one."
		if h.Factors != nil {
			d.AccountURL = PathMFA
		}
	default:
		d.Heading = "Two-step sign-in is on"
		d.Lead = "From now on, each sign-in asks for your second step after your password."
	}
	if len(d.Codes) > 0 {
		d.Download = textDataURL(recovery.Text(d.Codes, "", out.Account, h.Flow.Now()))
	}
	if err := h.Render.RenderMFANotice(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render mfa notice", "err", err)
	}
}

// maskPhone shows the last two digits of a number: enough for its owner.
func maskPhone(e164 string) string {
	if len(e164) < 4 {
		return "•••"
	}
	return "+•••" + e164[len(e164)-2:]
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// textDataURL is a text file as a data: URL, for a download link that
// needs no second request (and so no place where the codes live on).
func textDataURL(text string) template.URL {
	return template.URL("data:text/plain;charset=utf-8;base64," + base64.StdEncoding.EncodeToString([]byte(text)))
}
