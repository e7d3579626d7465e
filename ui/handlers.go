package ui

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/csrf"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// FrontDoor is what the login pages need of the protocol that started the
// login (OIDC now, SAML later).
type FrontDoor interface {
	// CallbackURL is where a finished login continues.
	CallbackURL(authRequestID string) string
	// LoginRequired ends a silent (prompt=none) login at the client.
	LoginRequired(w http.ResponseWriter, r *http.Request, req storage.AuthRequest)
	// VerifyLogout checks an RP-initiated logout request.
	VerifyLogout(ctx context.Context, form url.Values) (Logout, error)
}

// Logout is a verified logout request.
type Logout struct {
	// RedirectURL is the registered post-logout URI with state, or "".
	RedirectURL string
	ClientName  string
	// Subject is the user an id_token_hint named; "" means unconfirmed.
	Subject string
}

// Handlers serves the login and logout pages. It parses forms and calls
// the flow; the flow decides.
type Handlers struct {
	Flow      *authflow.Flow
	Sessions  *session.Manager
	CSRF      *csrf.Protector
	Render    *Renderer
	Door      FrontDoor
	Logger    *slog.Logger
	RequestID func(context.Context) string
}

// Paths of the pages.
const (
	PathLogin      = "/login"
	PathLogout     = "/logout"
	PathEndSession = "/end_session"
)

// Mount registers the pages.
func (h *Handlers) Mount(handle func(pattern string, handler http.Handler)) {
	handle("GET "+PathLogin, http.HandlerFunc(h.loginPage))
	handle("POST "+PathLogin, http.HandlerFunc(h.loginSubmit))
	handle("GET "+PathLogout, http.HandlerFunc(h.logoutPage))
	handle("POST "+PathLogout, http.HandlerFunc(h.logoutSubmit))
	handle("GET "+PathEndSession, http.HandlerFunc(h.endSession))
	handle("POST "+PathEndSession, http.HandlerFunc(h.endSession))
	handle("GET /static/", h.Render.StaticHandler())
}

// LoginURL is where a front door sends the browser to log in.
func LoginURL(authRequestID string) string {
	return PathLogin + "?id=" + url.QueryEscape(authRequestID)
}

const (
	msgExpired     = "This sign-in request has expired or was already used. Please go back to the application and start again."
	msgUnavailable = "Sign-in is temporarily unavailable. Please try again in a moment."
	msgBadCreds    = "Incorrect email or password."
	msgMFA         = "Your organization requires a second sign-in step, which this server cannot offer yet. Please contact your administrator."
)

func (h *Handlers) loginPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.URL.Query().Get("id")
	req, err := h.Flow.Load(ctx, id)
	if err != nil {
		h.flowError(w, r, err)
		return
	}
	switch req.Step {
	case authflow.StepLogin:
		sess, ok, err := h.Sessions.Current(r)
		if err != nil {
			h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
			return
		}
		if ok {
			next, err := h.Flow.ResumeSession(ctx, id, sess)
			if err == nil {
				if _, err := h.Sessions.Touch(ctx, sess); err != nil {
					h.Logger.WarnContext(ctx, "touch session", "err", err)
				}
				h.proceed(w, r, next)
				return
			}
			if !errors.Is(err, authflow.ErrLoginRequired) {
				h.flowError(w, r, err)
				return
			}
		}
		if authflow.Prompted(req, "none") {
			h.Door.LoginRequired(w, r, req)
			return
		}
		h.renderLogin(w, r, http.StatusOK, req, req.LoginHint, "")
	case authflow.StepMFA:
		if authflow.Prompted(req, "none") {
			// A silent login cannot ask for a second factor.
			h.Door.LoginRequired(w, r, req)
			return
		}
		h.fail(w, r, http.StatusForbidden, msgMFA, errors.New("mfa required but no method is available"))
	case authflow.StepDone:
		h.proceed(w, r, req)
	default:
		h.fail(w, r, http.StatusBadRequest, msgExpired, errors.New("auth request past done: "+req.Step))
	}
}

func (h *Handlers) renderLogin(w http.ResponseWriter, r *http.Request, status int, req storage.AuthRequest, email, msg string) {
	data := LoginData{
		PostURL:       PathLogin,
		CSRFToken:     h.CSRF.Token(w, r, req.ID),
		AuthRequestID: req.ID,
		Email:         email,
		Error:         msg,
		ClientName:    h.clientName(r.Context(), req.ClientID),
		Lang:          "en",
	}
	// The login POST ends, after redirects, at the client: the form-action
	// CSP must allow the client's origin or the browser blocks the chain.
	if u, err := url.Parse(req.RedirectURI); err == nil && u.Host != "" {
		data.FormActionOrigins = []string{u.Scheme + "://" + u.Host}
	}
	if err := h.Render.RenderLogin(w, status, data); err != nil {
		h.Logger.ErrorContext(r.Context(), "render login", "err", err)
	}
}

func (h *Handlers) clientName(ctx context.Context, id string) string {
	c, err := h.Flow.Store.GetClient(ctx, id)
	if err != nil || c.Name == "" {
		return id
	}
	return c.Name
}

func (h *Handlers) loginSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, http.StatusBadRequest, msgExpired, err)
		return
	}
	id := r.PostForm.Get("id")
	if err := h.CSRF.Verify(r, id); err != nil {
		h.fail(w, r, http.StatusForbidden, "This form has expired. Please go back and try again.", err)
		return
	}
	email := r.PostForm.Get("email")
	req, err := h.Flow.SubmitPassword(ctx, id, email, r.PostForm.Get("password"))
	switch {
	case errors.Is(err, authflow.ErrInvalidCredentials):
		cur, lerr := h.Flow.Load(ctx, id)
		if lerr != nil {
			h.flowError(w, r, lerr)
			return
		}
		h.renderLogin(w, r, http.StatusOK, cur, email, msgBadCreds)
	case errors.Is(err, authflow.ErrOutOfTurn):
		// The server, not the form, decides what comes next.
		http.Redirect(w, r, LoginURL(id), http.StatusSeeOther)
	case err != nil:
		h.flowError(w, r, err)
	default:
		h.proceed(w, r, req)
	}
}

// proceed moves the browser on from a request's current step.
func (h *Handlers) proceed(w http.ResponseWriter, r *http.Request, req storage.AuthRequest) {
	ctx := r.Context()
	if req.Step != authflow.StepDone {
		http.Redirect(w, r, LoginURL(req.ID), http.StatusSeeOther)
		return
	}
	if req.SessionID == "" {
		// A fresh login: a new session id, whatever the browser held.
		sess, err := h.Sessions.Start(ctx, w, r, req.UserID, req.AMR, req.AuthTime)
		if err != nil {
			h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
			return
		}
		if _, err := h.Flow.AttachSession(ctx, req.ID, sess.Hash); err != nil {
			h.flowError(w, r, err)
			return
		}
	}
	http.Redirect(w, r, h.Door.CallbackURL(req.ID), http.StatusSeeOther)
}

// flowError maps flow errors to pages: the user sees a generic message,
// the log gets the detail.
func (h *Handlers) flowError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, authflow.ErrRequestGone), errors.Is(err, authflow.ErrOutOfTurn):
		h.fail(w, r, http.StatusBadRequest, msgExpired, err)
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
	default:
		h.fail(w, r, http.StatusInternalServerError, "Something went wrong. Please try again.", err)
	}
}

// Error renders the generic error page; other packages use it for their
// own user-facing failures.
func (h *Handlers) Error(w http.ResponseWriter, r *http.Request, status int, msg string) {
	data := ErrorData{Title: http.StatusText(status), Message: msg, Lang: "en"}
	if h.RequestID != nil {
		data.RequestID = h.RequestID(r.Context())
	}
	if err := h.Render.RenderError(w, status, data); err != nil {
		h.Logger.ErrorContext(r.Context(), "render error page", "err", err)
	}
}

func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	lvl := h.Logger.InfoContext
	if status >= 500 {
		lvl = h.Logger.ErrorContext
	}
	lvl(r.Context(), "login page", "status", status, "err", err)
	h.Error(w, r, status, msg)
}

func (h *Handlers) logoutPage(w http.ResponseWriter, r *http.Request) {
	h.renderLogoutConfirm(w, r, nil, Logout{})
}

func (h *Handlers) renderLogoutConfirm(w http.ResponseWriter, r *http.Request, fields []Field, lo Logout) {
	data := LogoutData{PostURL: PathLogout, CSRFToken: h.CSRF.Token(w, r, "logout"), Fields: fields, ClientName: lo.ClientName, Lang: "en"}
	// The confirmed POST redirects to the client: allow its origin.
	if u, err := url.Parse(lo.RedirectURL); err == nil && u.Host != "" {
		data.FormActionOrigins = []string{u.Scheme + "://" + u.Host}
	}
	if fields != nil {
		data.PostURL = PathEndSession
		data.Fields = append(data.Fields, Field{Name: "confirm", Value: "1"})
	}
	if err := h.Render.RenderLogoutConfirm(w, data); err != nil {
		h.Logger.ErrorContext(r.Context(), "render logout", "err", err)
	}
}

func (h *Handlers) logoutSubmit(w http.ResponseWriter, r *http.Request) {
	if err := h.CSRF.Verify(r, "logout"); err != nil {
		h.fail(w, r, http.StatusForbidden, "This form has expired. Please go back and try again.", err)
		return
	}
	if !h.endBrowserSession(w, r) {
		return
	}
	if err := h.Render.RenderLoggedOut(w, LoggedOutData{Lang: "en"}); err != nil {
		h.Logger.ErrorContext(r.Context(), "render logged out", "err", err)
	}
}

func (h *Handlers) endBrowserSession(w http.ResponseWriter, r *http.Request) bool {
	if _, _, err := h.Sessions.End(r.Context(), w, r); err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return false
	}
	return true
}

// endSession is RP-initiated logout. With a valid id_token_hint for the
// signed-in user it logs out at once; otherwise it asks, because any page
// can link here.
func (h *Handlers) endSession(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, http.StatusBadRequest, "This sign-out link is not valid.", err)
		return
	}
	lo, err := h.Door.VerifyLogout(ctx, r.Form)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "This sign-out link is not valid.", err)
		return
	}
	confirmed := r.Method == http.MethodPost && r.PostForm.Get("confirm") == "1"
	if confirmed {
		if err := h.CSRF.Verify(r, "logout"); err != nil {
			h.fail(w, r, http.StatusForbidden, "This form has expired. Please go back and try again.", err)
			return
		}
	} else {
		sess, ok, err := h.Sessions.Current(r)
		if err != nil {
			h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
			return
		}
		if lo.Subject == "" || (ok && sess.UserID != lo.Subject) {
			var fields []Field
			for _, k := range []string{"id_token_hint", "post_logout_redirect_uri", "state", "client_id"} {
				if v := r.Form.Get(k); v != "" {
					fields = append(fields, Field{Name: k, Value: v})
				}
			}
			h.renderLogoutConfirm(w, r, fields, lo)
			return
		}
	}
	if !h.endBrowserSession(w, r) {
		return
	}
	if lo.RedirectURL != "" {
		http.Redirect(w, r, lo.RedirectURL, http.StatusSeeOther)
		return
	}
	if err := h.Render.RenderLoggedOut(w, LoggedOutData{ClientName: lo.ClientName, Lang: "en"}); err != nil {
		h.Logger.ErrorContext(ctx, "render logged out", "err", err)
	}
}
