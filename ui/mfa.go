package ui

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/recovery"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/webauthnmfa"
	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The user's two-step sign-in pages (/me/mfa): the list of their factors
// and every change to them (add, reset, remove, new recovery codes). Each
// change is a POST with a CSRF token, after a sign-in of the last few
// minutes; idp/selfservice decides what may change and does it.

// Paths of the two-step sign-in pages.
const (
	PathMFA          = "/me/mfa"
	PathTOTPAdd      = "/me/mfa/totp"
	PathTOTPConfirm  = "/me/mfa/totp/confirm"
	PathTOTPReset    = "/me/mfa/totp/reset"
	PathEmailAdd     = "/me/mfa/email"
	PathEmailConfirm = "/me/mfa/email/confirm"
	PathEmailResend  = "/me/mfa/email/resend"
	PathFactorDrop   = "/me/mfa/remove"
	PathRecoveryNew  = "/me/mfa/recovery"
	PathSMSAdd       = "/me/mfa/sms"
	PathSMSConfirm   = "/me/mfa/sms/confirm"
	PathSMSResend    = "/me/mfa/sms/resend"
	PathKeyAdd       = "/me/mfa/webauthn"
	PathKeyConfirm   = "/me/mfa/webauthn/confirm"
)

const (
	bindMFA         = "mfa:manage"
	recentAuth      = 5 * time.Minute
	msgWrongCode    = "That code is not correct, or it was already used. Enter the code your app shows now."
	msgEmailWrong   = "That code is not correct. Check the email and try again."
	msgEnrolExpired = "This setup has expired. Start again."
	msgLastFactor   = "Your organization requires two-step sign-in, so you cannot remove your last method."
	msgNotAllowed   = "Your organization does not allow this method."
	msgCodeUnsent   = "We could not send the code. Try again in a moment."
	msgBadAddress   = "Enter one email address, like name@example.com."
	msgBadLabel     = "Name the key in at most 64 characters, without line breaks."
	msgSMSWrong     = "That code is not correct. Check the text message and try again."
	msgBadPhone     = "Enter the number with its country code, starting with +, like +44 7700 900123."
	msgKeyRefused   = "Your security key's answer was not accepted. Try again."
	// maxPhone bounds a typed number before the method reads it (E.164
	// is 16 characters; spaces and dashes may double that).
	maxPhone = 32
)

// Factors is what the pages need of idp/selfservice for second factors.
type Factors interface {
	Overview(ctx context.Context, userID string) (selfservice.MFAOverview, error)
	BeginTOTP(ctx context.Context, userID, replace string) (storage.Factor, error)
	TOTPEnrolment(ctx context.Context, userID, id string) (selfservice.TOTPSetup, error)
	ConfirmTOTP(ctx context.Context, userID, id, code, ip string) (selfservice.Confirmed, error)
	BeginEmail(ctx context.Context, userID, address string) (selfservice.CodeEnrolment, error)
	EmailEnrolment(ctx context.Context, userID, id string, resend bool) (selfservice.CodeEnrolment, error)
	ConfirmEmail(ctx context.Context, userID, id, code, ip string) (selfservice.Confirmed, error)
	BeginSMS(ctx context.Context, userID, typed string) (selfservice.CodeEnrolment, error)
	SMSEnrolment(ctx context.Context, userID, id string, resend bool) (selfservice.CodeEnrolment, error)
	ConfirmSMS(ctx context.Context, userID, id, code, ip string) (selfservice.Confirmed, error)
	BeginKey(ctx context.Context, userID, label string) (selfservice.SecurityKey, error)
	KeyEnrolment(ctx context.Context, userID, id string) (selfservice.SecurityKey, error)
	ConfirmKey(ctx context.Context, userID, id, credential, ip string) (selfservice.Confirmed, error)
	RemoveFactor(ctx context.Context, userID, id string) error
	RegenerateRecoveryCodes(ctx context.Context, userID string) (selfservice.RecoveryCodes, error)
	SecureOthers(ctx context.Context, userID, current string, c selfservice.Confirmed) (int, error)
}

var _ Factors = (*selfservice.Service)(nil)

func (h *Handlers) mountMFA(handle func(pattern string, handler http.Handler)) {
	if h.Factors == nil {
		return
	}
	handle("GET "+PathMFA, http.HandlerFunc(h.mfaPage))
	handle("POST "+PathTOTPAdd, http.HandlerFunc(h.totpBegin))
	handle("POST "+PathTOTPReset, http.HandlerFunc(h.totpBegin))
	handle("GET "+PathTOTPAdd, http.HandlerFunc(h.totpPage))
	handle("POST "+PathTOTPConfirm, http.HandlerFunc(h.totpConfirm))
	handle("POST "+PathEmailAdd, http.HandlerFunc(h.emailBegin))
	handle("GET "+PathEmailAdd, h.codePage(emailKind))
	handle("POST "+PathEmailResend, h.codeResend(emailKind))
	handle("POST "+PathEmailConfirm, h.codeConfirm(emailKind))
	handle("POST "+PathSMSAdd, http.HandlerFunc(h.smsBegin))
	handle("GET "+PathSMSAdd, h.codePage(smsKind))
	handle("POST "+PathSMSResend, h.codeResend(smsKind))
	handle("POST "+PathSMSConfirm, h.codeConfirm(smsKind))
	handle("POST "+PathKeyAdd, http.HandlerFunc(h.keyBegin))
	handle("GET "+PathKeyAdd, http.HandlerFunc(h.keyPage))
	handle("POST "+PathKeyConfirm, http.HandlerFunc(h.keyConfirm))
	handle("POST "+PathFactorDrop, http.HandlerFunc(h.factorRemove))
	handle("POST "+PathRecoveryNew, http.HandlerFunc(h.recoveryNew))
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

// mfaPost checks a change's form and sign-in; nil when it has answered.
func (h *Handlers) mfaPost(w http.ResponseWriter, r *http.Request) *storage.Session {
	if !h.parsePost(w, r, bindMFA) {
		return nil
	}
	return h.recentSession(w, r, PathMFA)
}

// mfaNotices are what the list says after a change (?done=).
var mfaNotices = map[string]string{
	"added":   "Your authenticator app is on: each sign-in now asks for its code.",
	"reset":   "Your authenticator app is reset: only the new app's codes work now.",
	"email":   "Email codes are on: sign-ins can now ask for a code sent to your email.",
	"sms":     "Text-message codes are on: sign-ins can now ask for a code texted to your phone.",
	"removed": "The method was removed.",
	"key":     "Your security key is on: sign-ins can now ask for it, and a passkey signs you in without your password.",
}

func (h *Handlers) mfaPage(w http.ResponseWriter, r *http.Request) {
	s := h.recentSession(w, r, PathMFA)
	if s == nil {
		return
	}
	h.renderMFA(w, r, http.StatusOK, s, mfaView{Notice: mfaNotice(r.URL.Query().Get("done")), Enable: r.URL.Query().Get("enable") == "1"})
}

// mfaView is what the list says besides the factors: a notice or an
// error and, after a refused address, the address as typed (shown again
// in its field, which the error then describes).
type mfaView struct {
	Notice, Error string
	Enable        bool
	Typed         string
	BadAddress    bool
	// TypedPhone and BadPhone are the same for a phone number.
	TypedPhone string
	BadPhone   bool
}

func (h *Handlers) renderMFA(w http.ResponseWriter, r *http.Request, status int, s *storage.Session, v mfaView) {
	o, err := h.Factors.Overview(r.Context(), s.UserID)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	d := MeMFAData{AddURL: PathTOTPAdd, ResetURL: PathTOTPReset, RemoveURL: PathFactorDrop, EmailURL: PathEmailAdd,
		RecoveryURL: PathRecoveryNew, KeyURL: PathKeyAdd, CanAddKey: o.Keys, CSRFToken: h.CSRF.Token(w, r, bindMFA), CanAddTOTP: o.TOTP,
		Notice: v.Notice, Error: v.Error, Lang: "en", Enable: v.Enable && len(o.Factors) == 0}
	for _, f := range o.Factors {
		v := FactorView{ID: f.ID, Kind: methodLabel(f.Kind), Label: f.Label, Added: f.CreatedAt.UTC().Format("2 Jan 2006"),
			CanReset: f.Kind == mfa.TOTP && o.TOTP, Flagged: webauthnmfa.Flagged(f)}
		if !f.LastUsedAt.IsZero() {
			v.LastUsed = f.LastUsedAt.UTC().Format("2 Jan 2006 15:04 UTC")
		}
		d.Factors = append(d.Factors, v)
	}
	if o.Recovery {
		d.Recovery = &RecoveryView{Left: o.RecoveryLeft, Total: max(o.RecoveryTotal, recovery.Count)}
	}
	if o.EmailOwn || o.EmailOther {
		e := &EmailOption{AskAddress: o.EmailOther, OwnRefused: !o.EmailOwn, Invalid: v.BadAddress && o.EmailOther}
		if o.EmailOwn {
			e.Address = o.Email
		}
		if v.Typed != "" && o.EmailOther {
			e.Address = v.Typed
		}
		d.Email = e
	}
	if o.SMS {
		p := &SMSOption{AskPhone: o.SMSAsk, Invalid: v.BadPhone && o.SMSAsk}
		switch {
		case o.Phone != "":
			p.Phone = maskPhone(o.Phone)
		case o.SMSAsk:
			p.Typed = v.TypedPhone
		default:
			p.Unavailable = authflow.NoPhone
		}
		d.SMS, d.SMSURL = p, PathSMSAdd
	}
	if err := h.Render.RenderMeMFA(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render mfa", "err", err)
	}
}

// changeFailed answers the errors every change shares: a factor that is
// gone or expired, a method not allowed, an outage.
func (h *Handlers) changeFailed(w http.ResponseWriter, r *http.Request, s *storage.Session, err error) {
	switch {
	case errors.Is(err, selfservice.ErrNoFactor):
		h.renderMFA(w, r, http.StatusGone, s, mfaView{Error: msgEnrolExpired})
	case errors.Is(err, selfservice.ErrNotAllowed):
		h.renderMFA(w, r, http.StatusForbidden, s, mfaView{Error: msgNotAllowed})
	case errors.Is(err, selfservice.ErrSendFailed):
		h.Logger.WarnContext(r.Context(), "mfa page: a code was not sent", "err", err)
		h.renderMFA(w, r, http.StatusServiceUnavailable, s, mfaView{Error: msgCodeUnsent})
	default:
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
	}
}

// refusalText is what the page says of a refused code or address: the
// method's own plain words, else def.
func refusalText(err error, def string) string {
	var ref *selfservice.Refused
	if errors.As(err, &ref) && ref.Show != nil {
		return sentence(ref.Show.Error())
	}
	return def
}

// confirmed answers a confirmed factor: the list with done's notice, or,
// when recovery codes came with it, the page that shows them once. When
// it turned two-step sign-in on, idp/selfservice first signs the user's
// other sessions out (SecureOthers), and the notice says so.
func (h *Handlers) confirmed(w http.ResponseWriter, r *http.Request, s *storage.Session, c selfservice.Confirmed, done string) {
	n, err := h.Factors.SecureOthers(r.Context(), s.UserID, s.Hash, c)
	if err != nil {
		// The factor is on; the sessions are the user's to end from
		// /me/sessions, which the notice points to.
		h.Logger.ErrorContext(r.Context(), "mfa page: other sessions not signed out", "err", err)
		done += "-others-kept"
	} else if n > 0 {
		done += "-others"
	}
	if c.Codes == nil {
		http.Redirect(w, r, PathMFA+"?done="+done, http.StatusSeeOther)
		return
	}
	h.codesPage(w, r, "Two-step sign-in is on", mfaNotice(done)+" Save your recovery codes now.", *c.Codes)
}

// mfaNotice is the notice of a ?done= value: a change's, with what
// happened to the other sessions after it.
func mfaNotice(done string) string {
	change, others, _ := strings.Cut(done, "-")
	msg := mfaNotices[change]
	switch {
	case msg == "":
		return ""
	case others == "others":
		msg += " Your other sessions were signed out: sign in there again with your new method."
	case others == "others-kept":
		msg += " Your other sessions could not be signed out: end them from Your sessions."
	}
	return msg
}

// codesPage shows new recovery codes, once: the answer to the POST that
// made them, never stored (no-store) and never shown again.
func (h *Handlers) codesPage(w http.ResponseWriter, r *http.Request, heading, lead string, rc selfservice.RecoveryCodes) {
	d := MFANoticeData{Heading: heading, Lead: lead, Codes: rc.Codes, ContinueURL: PathMFA, Lang: "en",
		Download: textDataURL(recovery.Text(rc.Codes, rc.Org, rc.Account, rc.At))}
	if err := h.Render.RenderMFANotice(w, http.StatusOK, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render recovery codes", "err", err)
	}
}

func (h *Handlers) factorRemove(w http.ResponseWriter, r *http.Request) {
	s := h.mfaPost(w, r)
	if s == nil {
		return
	}
	err := h.Factors.RemoveFactor(r.Context(), s.UserID, r.PostForm.Get("factor"))
	switch {
	case errors.Is(err, selfservice.ErrLastFactor):
		h.renderMFA(w, r, http.StatusConflict, s, mfaView{Error: msgLastFactor})
	case errors.Is(err, selfservice.ErrNoFactor):
		// Removed already (another tab): the list shows what is left.
		http.Redirect(w, r, PathMFA, http.StatusSeeOther)
	case err != nil:
		h.changeFailed(w, r, s, err)
	default:
		http.Redirect(w, r, PathMFA+"?done=removed", http.StatusSeeOther)
	}
}

func (h *Handlers) recoveryNew(w http.ResponseWriter, r *http.Request) {
	s := h.mfaPost(w, r)
	if s == nil {
		return
	}
	rc, err := h.Factors.RegenerateRecoveryCodes(r.Context(), s.UserID)
	switch {
	case errors.Is(err, selfservice.ErrNoFactor):
		http.Redirect(w, r, PathMFA, http.StatusSeeOther)
	case err != nil:
		h.changeFailed(w, r, s, err)
	default:
		h.codesPage(w, r, "Your new recovery codes", "Your old recovery codes no longer work. Save these now.", rc)
	}
}
