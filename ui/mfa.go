package ui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/mfa/totp"
	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The user's two-step sign-in pages (/me/mfa) and the code form of the
// login's mfa step.

// Paths of the two-step sign-in pages.
const (
	PathMFA         = "/me/mfa"
	PathTOTPAdd     = "/me/mfa/totp"
	PathFactorDrop  = "/me/mfa/remove"
	bindMFA         = "mfa:manage"
	methodTOTP      = "totp"
	recentAuth      = 5 * time.Minute
	msgWrongCode    = "That code is not correct, or it was already used. Enter the code your app shows now."
	msgEnrolExpired = "This setup has expired. Start again."
	msgLastFactor   = "Your organization requires two-step sign-in, so you cannot remove your last method."
)

// Factors is what the pages need of idp/selfservice for second factors.
type Factors interface {
	Factors(ctx context.Context, userID string) ([]storage.Factor, error)
	BeginTOTP(ctx context.Context, userID string) (storage.Factor, error)
	TOTPEnrolment(ctx context.Context, userID, id string) (totp.Enrolment, error)
	ConfirmTOTP(ctx context.Context, userID, id, code, ip string) error
	RemoveFactor(ctx context.Context, userID, id string) error
}

var _ Factors = (*selfservice.Service)(nil)

func (h *Handlers) mountMFA(handle func(pattern string, handler http.Handler)) {
	if h.Factors == nil {
		return
	}
	handle("GET "+PathMFA, http.HandlerFunc(h.mfaPage))
	handle("POST "+PathTOTPAdd, http.HandlerFunc(h.totpBegin))
	handle("GET "+PathTOTPAdd, http.HandlerFunc(h.totpPage))
	handle("POST "+PathTOTPAdd+"/confirm", http.HandlerFunc(h.totpConfirm))
	handle("POST "+PathFactorDrop, http.HandlerFunc(h.factorRemove))
}

// recentSession is the browser's session when it proved a login within
// recentAuth; otherwise it begins a fresh login that returns to page and
// answers nil. Changing one's factors needs a recent proof: a borrowed,
// unlocked browser must not be enough.
func (h *Handlers) recentSession(w http.ResponseWriter, r *http.Request, page string) *storage.Session {
	b, err := h.Sessions.Browser(r)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return nil
	}
	if b.Session == nil || h.Flow.Now().Sub(b.Session.AuthTime) > recentAuth {
		h.signInFresh(w, r, page, b.Session != nil)
		return nil
	}
	return b.Session
}

func (h *Handlers) mfaPage(w http.ResponseWriter, r *http.Request) {
	s := h.recentSession(w, r, PathMFA)
	if s == nil {
		return
	}
	h.renderMFA(w, r, http.StatusOK, s, r.URL.Query().Get("done"), "")
}

func (h *Handlers) renderMFA(w http.ResponseWriter, r *http.Request, status int, s *storage.Session, done, errMsg string) {
	fs, err := h.Factors.Factors(r.Context(), s.UserID)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	d := MeMFAData{AddURL: PathTOTPAdd, RemoveURL: PathFactorDrop, CSRFToken: h.CSRF.Token(w, r, bindMFA), Error: errMsg, Lang: "en"}
	for _, f := range fs {
		v := FactorView{ID: f.ID, Label: f.Label, Added: f.CreatedAt.UTC().Format("2 Jan 2006")}
		if !f.LastUsedAt.IsZero() {
			v.LastUsed = f.LastUsedAt.UTC().Format("2 Jan 2006 15:04 UTC")
		}
		d.Factors = append(d.Factors, v)
	}
	switch done {
	case "added":
		d.Notice = "Your authenticator app is on: each sign-in now asks for its code."
	case "removed":
		d.Notice = "The method was removed."
	}
	if err := h.Render.RenderMeMFA(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render mfa", "err", err)
	}
}

func (h *Handlers) totpBegin(w http.ResponseWriter, r *http.Request) {
	if !h.parsePost(w, r, bindMFA) {
		return
	}
	s := h.recentSession(w, r, PathMFA)
	if s == nil {
		return
	}
	f, err := h.Factors.BeginTOTP(r.Context(), s.UserID)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	http.Redirect(w, r, PathTOTPAdd+"?factor="+url.QueryEscape(f.ID), http.StatusSeeOther)
}

func (h *Handlers) totpForm(w http.ResponseWriter, r *http.Request, status int, s *storage.Session, id, msg string) {
	e, err := h.Factors.TOTPEnrolment(r.Context(), s.UserID, id)
	if errors.Is(err, selfservice.ErrNoFactor) {
		h.renderMFA(w, r, http.StatusGone, s, "", msgEnrolExpired)
		return
	} else if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	d := TOTPEnrolData{PostURL: PathTOTPAdd + "/confirm", CSRFToken: h.CSRF.Token(w, r, bindMFA), FactorID: id,
		QR: QRDataURL(e.QRPNG), Grouped: e.Grouped, Error: msg, Lang: "en"}
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
	if !h.parsePost(w, r, bindMFA) {
		return
	}
	s := h.recentSession(w, r, PathMFA)
	if s == nil {
		return
	}
	id := r.PostForm.Get("factor")
	err := h.Factors.ConfirmTOTP(r.Context(), s.UserID, id, r.PostForm.Get("code"), h.clientIP(r.Context()))
	switch {
	case errors.Is(err, selfservice.ErrWrongCode):
		h.totpForm(w, r, http.StatusUnprocessableEntity, s, id, msgWrongCode)
	case errors.Is(err, selfservice.ErrNoFactor):
		h.renderMFA(w, r, http.StatusGone, s, "", msgEnrolExpired)
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
	default:
		http.Redirect(w, r, PathMFA+"?done=added", http.StatusSeeOther)
	}
}

func (h *Handlers) factorRemove(w http.ResponseWriter, r *http.Request) {
	if !h.parsePost(w, r, bindMFA) {
		return
	}
	s := h.recentSession(w, r, PathMFA)
	if s == nil {
		return
	}
	err := h.Factors.RemoveFactor(r.Context(), s.UserID, r.PostForm.Get("factor"))
	switch {
	case errors.Is(err, selfservice.ErrLastFactor):
		h.renderMFA(w, r, http.StatusConflict, s, "", msgLastFactor)
	case errors.Is(err, selfservice.ErrNoFactor):
		http.Redirect(w, r, PathMFA, http.StatusSeeOther)
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
	default:
		http.Redirect(w, r, PathMFA+"?done=removed", http.StatusSeeOther)
	}
}
