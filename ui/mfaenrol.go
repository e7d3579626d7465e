package ui

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Adding a factor at /me: an authenticator app (also its reset), an
// email address and a security key. Each begins with a POST that makes the pending factor
// and redirects to its page (a reload shows the same enrolment and makes
// no other), and ends with the POST of its first code.

func (h *Handlers) totpBegin(w http.ResponseWriter, r *http.Request) {
	s := h.mfaPost(w, r)
	if s == nil {
		return
	}
	replace := ""
	if r.URL.Path == PathTOTPReset {
		if replace = r.PostForm.Get("factor"); replace == "" {
			http.Redirect(w, r, PathMFA, http.StatusSeeOther)
			return
		}
	}
	f, err := h.Factors.BeginTOTP(r.Context(), s.UserID, replace)
	switch {
	case errors.Is(err, selfservice.ErrNoFactor):
		// The app to reset is gone (another tab): the list shows why.
		http.Redirect(w, r, PathMFA, http.StatusSeeOther)
	case err != nil:
		h.changeFailed(w, r, s, err)
	default:
		http.Redirect(w, r, PathTOTPAdd+"?factor="+url.QueryEscape(f.ID), http.StatusSeeOther)
	}
}

func (h *Handlers) totpForm(w http.ResponseWriter, r *http.Request, status int, s *storage.Session, id, msg string) {
	e, err := h.Factors.TOTPEnrolment(r.Context(), s.UserID, id)
	if err != nil {
		h.changeFailed(w, r, s, err)
		return
	}
	d := TOTPEnrolData{PostURL: PathTOTPConfirm, CSRFToken: h.CSRF.Token(w, r, bindMFA), FactorID: id,
		QR: QRDataURL(e.QRPNG), Grouped: e.Grouped, Reset: e.Reset, BackURL: PathMFA, Error: msg, Lang: "en"}
	if err := h.Render.RenderTOTPEnrol(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render totp enrolment", "err", err)
	}
}

func (h *Handlers) totpPage(w http.ResponseWriter, r *http.Request) {
	s := h.recentSession(w, r, PathMFA)
	if s == nil {
		return
	}
	h.totpForm(w, r, http.StatusOK, s, r.URL.Query().Get("factor"), "")
}

func (h *Handlers) totpConfirm(w http.ResponseWriter, r *http.Request) {
	s := h.mfaPost(w, r)
	if s == nil {
		return
	}
	id := r.PostForm.Get("factor")
	c, err := h.Factors.ConfirmTOTP(r.Context(), s.UserID, id, r.PostForm.Get("code"), h.clientIP(r.Context()))
	switch {
	case errors.Is(err, selfservice.ErrWrongCode):
		h.totpForm(w, r, http.StatusUnprocessableEntity, s, id, refusalText(err, msgWrongCode))
	case err != nil:
		h.changeFailed(w, r, s, err)
	case c.Reset:
		h.confirmed(w, r, c, "reset")
	default:
		h.confirmed(w, r, c, "added")
	}
}

func (h *Handlers) emailBegin(w http.ResponseWriter, r *http.Request) {
	s := h.mfaPost(w, r)
	if s == nil {
		return
	}
	addr := r.PostForm.Get("address")
	if len(addr) > MaxEmail || !storage.Storable(addr) {
		// No address is like it; it is not echoed either.
		h.renderMFA(w, r, http.StatusUnprocessableEntity, s, mfaView{Error: msgBadAddress, BadAddress: true})
		return
	}
	v, err := h.Factors.BeginEmail(r.Context(), s.UserID, addr)
	switch {
	case errors.Is(err, selfservice.ErrAddressRefused):
		h.renderMFA(w, r, http.StatusUnprocessableEntity, s, mfaView{Error: refusalText(err, msgBadAddress), Typed: addr, BadAddress: true})
	case err != nil:
		h.changeFailed(w, r, s, err)
	default:
		http.Redirect(w, r, PathEmailAdd+"?factor="+url.QueryEscape(v.Factor.ID), http.StatusSeeOther)
	}
}

// emailForm is the page that asks for the code sent to a new address.
func (h *Handlers) emailForm(w http.ResponseWriter, r *http.Request, status int, v selfservice.EmailCode, msg string) {
	d := MFACodeData{PostURL: PathEmailConfirm, CSRFToken: h.CSRF.Token(w, r, bindMFA), FactorID: v.Factor.ID,
		Heading: "Check your email", Lead: "Enter the 6-digit code we emailed you", Label: "Code from the email",
		Resend: true, ResendURL: PathEmailResend, BackURL: PathMFA, Submit: "Turn on", Error: msg, Lang: "en"}
	if v.Address != "" {
		d.Lead = "Enter the 6-digit code we emailed to " + v.Address
	}
	if v.Sent {
		d.Notice = "We sent a code. It is valid for 10 minutes."
	}
	// A notice that says what the error already says is said once.
	if v.Notice != nil && sentence(v.Notice.Error()) != msg {
		d.Notice = sentence(v.Notice.Error())
	}
	if err := h.Render.RenderMFACode(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render email code", "err", err)
	}
}

// emailShow shows pending address id again (resend: with a new code).
func (h *Handlers) emailShow(w http.ResponseWriter, r *http.Request, status int, s *storage.Session, id string, resend bool, msg string) {
	v, err := h.Factors.EmailEnrolment(r.Context(), s.UserID, id, resend)
	if err != nil {
		h.changeFailed(w, r, s, err)
		return
	}
	h.emailForm(w, r, status, v, msg)
}

func (h *Handlers) emailPage(w http.ResponseWriter, r *http.Request) {
	s := h.recentSession(w, r, PathMFA)
	if s == nil {
		return
	}
	h.emailShow(w, r, http.StatusOK, s, r.URL.Query().Get("factor"), false, "")
}

func (h *Handlers) emailResend(w http.ResponseWriter, r *http.Request) {
	s := h.mfaPost(w, r)
	if s == nil {
		return
	}
	h.emailShow(w, r, http.StatusOK, s, r.PostForm.Get("factor"), true, "")
}

func (h *Handlers) emailConfirm(w http.ResponseWriter, r *http.Request) {
	s := h.mfaPost(w, r)
	if s == nil {
		return
	}
	id := r.PostForm.Get("factor")
	c, err := h.Factors.ConfirmEmail(r.Context(), s.UserID, id, r.PostForm.Get("code"), h.clientIP(r.Context()))
	switch {
	case errors.Is(err, selfservice.ErrWrongCode):
		h.emailShow(w, r, http.StatusUnprocessableEntity, s, id, false, refusalText(err, msgEmailWrong))
	case err != nil:
		h.changeFailed(w, r, s, err)
	default:
		h.confirmed(w, r, c, "email")
	}
}

func (h *Handlers) keyBegin(w http.ResponseWriter, r *http.Request) {
	s := h.mfaPost(w, r)
	if s == nil {
		return
	}
	k, err := h.Factors.BeginKey(r.Context(), s.UserID, r.PostForm.Get("label"))
	switch {
	case errors.Is(err, selfservice.ErrLabelRefused):
		h.renderMFA(w, r, http.StatusUnprocessableEntity, s, mfaView{Error: refusalText(err, msgBadLabel)})
	case err != nil:
		h.changeFailed(w, r, s, err)
	default:
		http.Redirect(w, r, PathKeyAdd+"?factor="+url.QueryEscape(k.Factor.ID), http.StatusSeeOther)
	}
}

// keyForm is the page that registers pending key id; webauthn.js runs
// the ceremony.
func (h *Handlers) keyForm(w http.ResponseWriter, r *http.Request, status int, s *storage.Session, id, msg string) {
	k, err := h.Factors.KeyEnrolment(r.Context(), s.UserID, id)
	if err != nil {
		h.changeFailed(w, r, s, err)
		return
	}
	d := WebAuthnData{PostURL: PathKeyConfirm, CSRFToken: h.CSRF.Token(w, r, bindMFA), FactorID: k.Factor.ID,
		Register: true, Heading: "Add a security key or passkey", Submit: "Register security key",
		Lead:    "Insert your security key, or use your phone or computer as a passkey, and follow your browser's prompts",
		Options: string(k.Options), BackURL: PathMFA, Error: msg, Lang: "en"}
	if k.Notice != nil {
		d.Notice = sentence(k.Notice.Error())
	}
	if err := h.Render.RenderWebAuthn(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render security key", "err", err)
	}
}

func (h *Handlers) keyPage(w http.ResponseWriter, r *http.Request) {
	s := h.recentSession(w, r, PathMFA)
	if s == nil {
		return
	}
	h.keyForm(w, r, http.StatusOK, s, r.URL.Query().Get("factor"), "")
}

func (h *Handlers) keyConfirm(w http.ResponseWriter, r *http.Request) {
	s := h.mfaPost(w, r)
	if s == nil {
		return
	}
	id, cred := r.PostForm.Get("factor"), r.PostForm.Get(fieldCredential)
	if len(cred) > maxCredential {
		cred = "" // read by no method: refused like any malformed answer
	}
	c, err := h.Factors.ConfirmKey(r.Context(), s.UserID, id, cred, h.clientIP(r.Context()))
	switch {
	case errors.Is(err, selfservice.ErrWrongCode):
		h.keyForm(w, r, http.StatusUnprocessableEntity, s, id, refusalText(err, msgKeyRefused))
	case err != nil:
		h.changeFailed(w, r, s, err)
	default:
		h.confirmed(w, r, c, "key")
	}
}
