package ui

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Adding a factor at /me: an authenticator app (also its reset), an
// email address, a phone number and a security key. Each begins with a POST that makes the pending factor
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
		h.confirmed(w, r, s, c, "reset")
	default:
		h.confirmed(w, r, s, c, "added")
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

func (h *Handlers) smsBegin(w http.ResponseWriter, r *http.Request) {
	s := h.mfaPost(w, r)
	if s == nil {
		return
	}
	typed := r.PostForm.Get("phone")
	if len(typed) > maxPhone || !storage.Storable(typed) {
		h.renderMFA(w, r, http.StatusUnprocessableEntity, s, mfaView{Error: msgBadPhone, BadPhone: true})
		return
	}
	v, err := h.Factors.BeginSMS(r.Context(), s.UserID, typed)
	switch {
	case errors.Is(err, selfservice.ErrNumberRefused):
		h.renderMFA(w, r, http.StatusUnprocessableEntity, s, mfaView{Error: refusalText(err, msgBadPhone), TypedPhone: typed, BadPhone: true})
	case errors.Is(err, selfservice.ErrNoPhone):
		h.renderMFA(w, r, http.StatusConflict, s, mfaView{Error: authflow.NoPhone})
	case err != nil:
		h.changeFailed(w, r, s, err)
	default:
		http.Redirect(w, r, PathSMSAdd+"?factor="+url.QueryEscape(v.Factor.ID), http.StatusSeeOther)
	}
}

// codeKind is what the pages of a pending email or phone factor say and
// where they post.
type codeKind struct {
	heading, lead, sentTo, label string
	confirm, resend              string
	wrong, done                  string
	enrolment                    func(h *Handlers, r *http.Request, userID, id string, resend bool) (selfservice.CodeEnrolment, error)
	confirmCode                  func(h *Handlers, r *http.Request, userID, id, code string) (selfservice.Confirmed, error)
}

var (
	emailKind = codeKind{heading: "Check your email", lead: "Enter the 6-digit code we emailed you",
		sentTo: "Enter the 6-digit code we emailed to ", label: "Code from the email",
		confirm: PathEmailConfirm, resend: PathEmailResend, wrong: msgEmailWrong, done: "email",
		enrolment: func(h *Handlers, r *http.Request, userID, id string, resend bool) (selfservice.CodeEnrolment, error) {
			return h.Factors.EmailEnrolment(r.Context(), userID, id, resend)
		},
		confirmCode: func(h *Handlers, r *http.Request, userID, id, code string) (selfservice.Confirmed, error) {
			return h.Factors.ConfirmEmail(r.Context(), userID, id, code, h.clientIP(r.Context()))
		}}
	smsKind = codeKind{heading: "Check your phone", lead: "Enter the 6-digit code we texted you",
		sentTo: "Enter the 6-digit code we texted to ", label: "Code from the text message",
		confirm: PathSMSConfirm, resend: PathSMSResend, wrong: msgSMSWrong, done: "sms",
		enrolment: func(h *Handlers, r *http.Request, userID, id string, resend bool) (selfservice.CodeEnrolment, error) {
			return h.Factors.SMSEnrolment(r.Context(), userID, id, resend)
		},
		confirmCode: func(h *Handlers, r *http.Request, userID, id, code string) (selfservice.Confirmed, error) {
			return h.Factors.ConfirmSMS(r.Context(), userID, id, code, h.clientIP(r.Context()))
		}}
)

// codeForm is the page that asks for the code sent to a new address or
// number.
func (h *Handlers) codeForm(w http.ResponseWriter, r *http.Request, status int, k codeKind, v selfservice.CodeEnrolment, msg string) {
	d := MFACodeData{PostURL: k.confirm, CSRFToken: h.CSRF.Token(w, r, bindMFA), FactorID: v.Factor.ID,
		Heading: k.heading, Lead: k.lead, Label: k.label,
		Resend: true, ResendURL: k.resend, BackURL: PathMFA, Submit: "Turn on", Error: msg, Lang: "en"}
	if v.Address != "" {
		d.Lead = k.sentTo + v.Address
	}
	if v.Sent {
		d.Notice = "We sent a code. It is valid for 10 minutes."
	}
	// A notice that says what the error already says is said once.
	if v.Notice != nil && sentence(v.Notice.Error()) != msg {
		d.Notice = sentence(v.Notice.Error())
	}
	if err := h.Render.RenderMFACode(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render code form", "err", err)
	}
}

// codeShow shows pending factor id again (resend: with a new code).
func (h *Handlers) codeShow(w http.ResponseWriter, r *http.Request, status int, k codeKind, s *storage.Session, id string, resend bool, msg string) {
	v, err := k.enrolment(h, r, s.UserID, id, resend)
	if err != nil {
		h.changeFailed(w, r, s, err)
		return
	}
	h.codeForm(w, r, status, k, v, msg)
}

// codePage, codeResend and codeConfirm are the handlers of kind k's
// pending factor: its page, a new code, its first code.
func (h *Handlers) codePage(k codeKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := h.recentSession(w, r, PathMFA)
		if s == nil {
			return
		}
		h.codeShow(w, r, http.StatusOK, k, s, r.URL.Query().Get("factor"), false, "")
	}
}

func (h *Handlers) codeResend(k codeKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := h.mfaPost(w, r)
		if s == nil {
			return
		}
		h.codeShow(w, r, http.StatusOK, k, s, r.PostForm.Get("factor"), true, "")
	}
}

func (h *Handlers) codeConfirm(k codeKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := h.mfaPost(w, r)
		if s == nil {
			return
		}
		id := r.PostForm.Get("factor")
		c, err := k.confirmCode(h, r, s.UserID, id, r.PostForm.Get("code"))
		switch {
		case errors.Is(err, selfservice.ErrWrongCode):
			h.codeShow(w, r, http.StatusUnprocessableEntity, k, s, id, false, refusalText(err, k.wrong))
		case err != nil:
			h.changeFailed(w, r, s, err)
		default:
			h.confirmed(w, r, s, c, k.done)
		}
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
	// The method bounds the answer (webauthnmfa.MaxInput) and refuses a
	// longer one like any malformed answer.
	id, cred := r.PostForm.Get("factor"), r.PostForm.Get(fieldCredential)
	c, err := h.Factors.ConfirmKey(r.Context(), s.UserID, id, cred, h.clientIP(r.Context()))
	switch {
	case errors.Is(err, selfservice.ErrWrongCode):
		h.keyForm(w, r, http.StatusUnprocessableEntity, s, id, refusalText(err, msgKeyRefused))
	case err != nil:
		h.changeFailed(w, r, s, err)
	default:
		h.confirmed(w, r, s, c, "key")
	}
}
