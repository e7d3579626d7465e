package ui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/csrf"
	"github.com/gatehouse-idp/gatehouse/idp/passwordlogin"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Door is what the login pages need of a front door, beyond what the flow
// needs (authflow.Door). Doors register once, with the flow
// (authflow.Flow.RegisterDoor); the pages find this side of them there.
type Door interface {
	authflow.Door
	// ContinueURL is where the browser goes once the flow says the login
	// is done; the door calls authflow.Flow.Complete there and answers its
	// relying party.
	ContinueURL(authRequestID string) string
	// LoginRequired ends a passive request at its relying party.
	LoginRequired(w http.ResponseWriter, r *http.Request, req storage.AuthRequest)
	// ResponseOrigins are the origins the door's response takes the
	// browser to. A login POST ends, after redirects, there, so the login
	// form's CSP form-action must allow them.
	ResponseOrigins(req storage.AuthRequest) []string
}

// Sessions is what the pages need of the browser session manager.
type Sessions interface {
	Browser(r *http.Request) (session.Browser, error)
	SetCookie(w http.ResponseWriter, r *http.Request, st session.Started) error
	End(ctx context.Context, w http.ResponseWriter, r *http.Request) (storage.Session, bool, error)
}

var _ Sessions = (*session.Manager)(nil)

// Handlers serves the login and logout pages. It parses forms, asks the
// flow, and renders the flow's outcome; the flow decides.
type Handlers struct {
	Flow      *authflow.Flow
	Sessions  Sessions
	CSRF      *csrf.Protector
	Render    *Renderer
	Logger    *slog.Logger
	RequestID func(context.Context) string
	// DiscoveryURL is linked from the home page for developers.
	DiscoveryURL string
	// Self serves the password pages (reset and invite links, change);
	// nil leaves them out.
	Self SelfService
	// Factors serves the two-step sign-in pages (/me/mfa); nil leaves
	// them out.
	Factors Factors
	// Forgot adds "Forgot password?" to the login page, with the form it
	// leads to and the one-click "send me a new link" of a dead link.
	Forgot bool
	// ClientIP is the request's client address (rate limits, lockout).
	ClientIP func(context.Context) string
	// MinLength is the policy's minimum password length for u, for the
	// forms' hint (nil or 0: the default).
	MinLength func(ctx context.Context, u storage.User) int
	// Issuer is the server's base URL (federation's bounce page posts
	// to it); SecureCookies gives cookies the __Host- prefix and Secure
	// (off only in dev mode on http).
	Issuer        string
	SecureCookies bool
	// SSOOffered reports whether any organization has an enabled
	// connector (federation.Registry.Offered): only then does the login
	// page offer "Sign in with SSO". Nil: never.
	SSOOffered func(ctx context.Context) bool
	// Links serves /me/links (idp/admin); nil leaves it out.
	Links Links
	// Apps serves /me/apps; nil leaves it out.
	Apps Apps
	// Devices serves /me/sessions; nil leaves it out.
	Devices Devices
	// Profiles serves /me, the profile; nil leaves it out.
	Profiles Profiles
	// Brands gives the sign-in pages their organization's look; nil
	// leaves Gatehouse's.
	Brands Brands
	// SingleLogout is the SAML door's part in signing out at Gatehouse
	// (SignOut); nil: a sign-out ends the session only.
	SingleLogout SingleLogout
}

// RetryAfter is the Retry-After of the pages' 503 answers, in seconds.
const RetryAfter = "5"

// Paths of the pages.
const (
	PathLogin  = "/login"
	PathLogout = "/logout"
)

// Mount registers the pages.
func (h *Handlers) Mount(handle func(pattern string, handler http.Handler)) {
	handle("GET /{$}", http.HandlerFunc(h.home))
	handle("GET "+PathLogin, http.HandlerFunc(h.loginPage))
	handle("POST "+PathLogin, http.HandlerFunc(h.loginSubmit))
	handle("GET "+PathLogout, http.HandlerFunc(h.logoutPage))
	handle("POST "+PathLogout, http.HandlerFunc(h.logoutSubmit))
	handle("GET /static/", h.Render.StaticHandler())
	handle("GET "+PathAccountContinue, http.HandlerFunc(h.accountContinue))
	h.mountPasswords(handle)
	h.mountMFA(handle)
	h.mountFederation(handle)
	h.mountLinks(handle)
	h.mountApps(handle)
	h.mountSessions(handle)
	h.mountProfile(handle)
}

// CheckDoors fails unless every door registered with the flow can also
// answer the browser (Door); start-up calls it.
func (h *Handlers) CheckDoors() error {
	var errs []error
	for _, p := range h.Flow.Doors() {
		d, _ := h.Flow.Door(p)
		if _, ok := d.(Door); !ok {
			errs = append(errs, fmt.Errorf("ui: the %q door does not implement ui.Door", p))
		}
	}
	return errors.Join(errs...)
}

// LoginURL is where a front door sends the browser to log in.
func LoginURL(authRequestID string) string {
	return PathLogin + "?id=" + url.QueryEscape(authRequestID)
}

const (
	msgExpired     = "This sign-in request has expired or was already used. Please go back to the application and start again."
	msgUnavailable = "Sign-in is temporarily unavailable. Please try again in a moment."
	msgBadCreds    = "Incorrect email or password."
	// msgPasskeyFailed, like msgBadCreds, never says whether the key or
	// its account exists.
	msgPasskeyFailed = "That passkey could not sign you in. Try again, or sign in with your email and password."
	msgFormExpired   = "This form has expired. Please go back and try again."
	msgThrottled     = "Too many failed sign-ins from your network. Please try again in a few minutes."
)

// home says what this server is, to someone who opened it directly.
func (h *Handlers) home(w http.ResponseWriter, r *http.Request) {
	if err := h.Render.RenderHome(w, HomeData{DiscoveryURL: h.DiscoveryURL, Lang: "en"}); err != nil {
		h.Logger.ErrorContext(r.Context(), "render home", "err", err)
	}
}

func (h *Handlers) loginPage(w http.ResponseWriter, r *http.Request) {
	if !r.URL.Query().Has("id") {
		// Opened directly, not from an application: nothing expired, the
		// person needs to know where sign-in starts.
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	b, err := h.Sessions.Browser(r)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	out, err := h.Flow.Next(r.Context(), r.URL.Query().Get("id"), b)
	if err != nil {
		h.flowError(w, r, err)
		return
	}
	h.show(w, r, http.StatusOK, out, "")
}

func (h *Handlers) loginSubmit(w http.ResponseWriter, r *http.Request) {
	id, b, ok := h.loginPost(w, r)
	if !ok {
		return
	}
	method := r.PostForm.Get("method")
	if method == "" {
		method = passwordlogin.Name // the form /login has always been
	}
	in := authflow.Input{}
	for k, v := range r.PostForm {
		if k != "csrf_token" && k != "id" && k != "method" && k != "action" && len(v) > 0 {
			in[k] = v[0]
		}
	}
	refused := boundInput(in)
	var out authflow.Outcome
	var err error
	switch r.PostForm.Get("action") {
	case actionChoose:
		out, err = h.Flow.Choose(r.Context(), id, b, r.PostForm.Get("method"), in)
	case actionResend:
		out, err = h.Flow.Resend(r.Context(), id, b)
	case actionSkip:
		out, err = h.Flow.Skip(r.Context(), id, b)
	case actionFinish:
		out, err = h.Flow.Finish(r.Context(), id, b)
	case actionRestart:
		out, err = h.Flow.Restart(r.Context(), id, b)
	case actionSendCode:
		out, err = h.Flow.SendLinkCode(r.Context(), id, b)
	default:
		// An email alone is discovery; a password blanked for its size
		// is a wrong one.
		if h.Flow.Federation != nil && !refused && identifyOnly(method, in) {
			out, err = h.Flow.Identify(r.Context(), id, b, in[passwordlogin.FieldEmail])
			break
		}
		out, err = h.Flow.Submit(r.Context(), id, b, method, in)
	}
	switch {
	case errors.Is(err, authflow.ErrOutOfTurn):
		// The server, not the form, decides what comes next.
		http.Redirect(w, r, LoginURL(id), http.StatusSeeOther)
	case err != nil:
		h.federationError(w, r, err)
	case errors.Is(out.Failure, authflow.ErrThrottled):
		// About the client's network, never the account: 429 says so to
		// scripts as well.
		h.show(w, r, http.StatusTooManyRequests, out, in[passwordlogin.FieldEmail])
	case refused && out.Action == authflow.Challenge && out.Failure != nil:
		// The generic answer, as a 400: the form was not one a person
		// could have typed.
		h.show(w, r, http.StatusBadRequest, out, in[passwordlogin.FieldEmail])
	default:
		h.show(w, r, http.StatusOK, out, in[passwordlogin.FieldEmail])
	}
}

// loginPost parses a form of a login's pages and checks its CSRF token
// against the login it names: the login's id and the browser, or false
// when it has answered.
func (h *Handlers) loginPost(w http.ResponseWriter, r *http.Request) (string, session.Browser, bool) {
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, http.StatusBadRequest, msgExpired, err)
		return "", session.Browser{}, false
	}
	id := r.PostForm.Get("id")
	if err := h.CSRF.Verify(r, id); err != nil {
		h.fail(w, r, http.StatusForbidden, msgFormExpired, err)
		return "", session.Browser{}, false
	}
	b, err := h.Sessions.Browser(r)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return "", session.Browser{}, false
	}
	return id, b, true
}

// Limits of the login form's fields (README.md, "Limits").
const (
	// MaxEmail is the longest email address accepted (RFC 3696's 64 + 1
	// + 255, rounded down to the 320 of its erratum), in bytes.
	MaxEmail = 320
	// MaxPassword bounds what a login sends to the password hash, in
	// bytes. idp/password accepts new passwords of up to 1,024
	// characters after NFKC, which is at most 4,096 bytes of UTF-8.
	MaxPassword = 4096
	// maxField bounds every other field of a method's form.
	maxField = 4096
	// maxCredential bounds a security key's answer (the "credential"
	// field), as webauthnmfa.MaxInput does (a test keeps them equal).
	maxCredential   = 64 << 10
	fieldCredential = "credential"
)

// boundInput blanks the fields of a login form that no account can match:
// an email over MaxEmail or with bytes storage cannot hold (NUL, invalid
// UTF-8), a password over MaxPassword, any other field over maxField.
// The attempt still goes through the flow, so it is answered, audited and
// counted like any wrong password, at the cost of one ordinary hash, and
// the blanked value is never echoed. It reports whether it blanked any.
func boundInput(in authflow.Input) bool {
	refused := false
	for k, v := range in {
		limit := maxField
		switch k {
		case passwordlogin.FieldEmail:
			limit = MaxEmail
			if !storage.Storable(v) {
				limit = -1
			}
		case passwordlogin.FieldPassword:
			limit = MaxPassword
		case fieldCredential:
			limit = maxCredential
		}
		if len(v) > limit {
			in[k] = ""
			refused = true
		}
	}
	return refused
}

// show renders an outcome of the flow. email is what the user typed, for
// the form shown again after a failure; status is the form's.
func (h *Handlers) show(w http.ResponseWriter, r *http.Request, status int, out authflow.Outcome, email string) {
	door, ok := h.door(out.Request)
	if !ok {
		h.fail(w, r, http.StatusInternalServerError, msgUnavailable, fmt.Errorf("no ui door for protocol %q", out.Request.Protocol))
		return
	}
	if h.secondStep(w, r, status, door, out) {
		return
	}
	switch out.Action {
	case authflow.Challenge:
		h.challenge(w, r, status, door, out, email)
	case authflow.NoMethod:
		h.fail(w, r, http.StatusForbidden, msgNoMethod, errors.New("a second factor is required and no method is available"))
	case authflow.Continue:
		if out.Session != nil {
			if err := h.Sessions.SetCookie(w, r, *out.Session); err != nil {
				h.fail(w, r, http.StatusInternalServerError, msgUnavailable, err)
				return
			}
		}
		http.Redirect(w, r, door.ContinueURL(out.Request.ID), http.StatusSeeOther)
	case authflow.LoginRequired:
		door.LoginRequired(w, r, out.Request)
	case authflow.Federate:
		h.federate(w, r, out)
	case authflow.LinkAccount:
		h.linkAccountForm(w, r, status, door, out)
	case authflow.NoAccount:
		h.noAccount(w, r, out)
	default:
		h.fail(w, r, http.StatusInternalServerError, msgUnavailable, fmt.Errorf("unknown flow action %v", out.Action))
	}
}

// challenge renders a method's form.
func (h *Handlers) challenge(w http.ResponseWriter, r *http.Request, status int, door Door, out authflow.Outcome, email string) {
	if out.Method == passwordlogin.RenewName {
		h.renewForm(w, r, status, door, out)
		return
	}
	if out.Method == authflow.MethodSSO {
		h.ssoForm(w, r, status, door, out, email)
		return
	}
	if out.Method != passwordlogin.Name {
		h.fail(w, r, http.StatusInternalServerError, msgUnavailable, fmt.Errorf("no page for method %q", out.Method))
		return
	}
	req := out.Request
	data := LoginData{
		PostURL:           PathLogin,
		CSRFToken:         h.CSRF.Token(w, r, req.ID),
		AuthRequestID:     req.ID,
		Method:            out.Method,
		Email:             req.LoginHint,
		ClientName:        out.Party.Name,
		Lang:              "en",
		FormActionOrigins: door.ResponseOrigins(req),
	}
	if out.Passkey != nil && len(out.Passkey.Data) > 0 && h.Flow.Passkeys != nil {
		data.Passkey = &PasskeyForm{Method: h.Flow.Passkeys.PasskeyName(), Options: string(out.Passkey.Data)}
	}
	if out.Failure != nil {
		data.Email, data.Error = email, loginMessage(out.Failure)
		if h.Flow.Passkeys != nil && r.PostForm.Get("method") == h.Flow.Passkeys.PasskeyName() && errors.Is(out.Failure, authflow.ErrInvalidCredentials) {
			data.Error = msgPasskeyFailed
		}
	} else if r.URL.Query().Get("notice") == noticePasswordSet {
		data.Notice = "Your password is set. Sign in with it to continue."
	}
	if h.Self != nil && h.Forgot {
		data.ForgotPasswordURL = forgotURL(req.ID)
	}
	if h.Flow.Federation != nil && h.SSOOffered != nil && h.SSOOffered(r.Context()) {
		data.SSOURL = ssoURL(req.ID)
	}
	if data.ClientName == "" {
		data.ClientName = req.ClientID
	}
	if err := h.Render.RenderLogin(w, status, data); err != nil {
		h.Logger.ErrorContext(r.Context(), "render login", "err", err)
	}
}

// renewForm asks for a new password in place of an expired one, as a step
// of the login.
func (h *Handlers) renewForm(w http.ResponseWriter, r *http.Request, status int, door Door, out authflow.Outcome) {
	req := out.Request
	d := SetPasswordData{Branding: Branding{h.brandFor(r.Context(), out)}, Heading: "Your password has expired",
		Lead:    "Your organization asks you to choose a new password before you continue.",
		PostURL: PathLogin, CSRFToken: h.CSRF.Token(w, r, req.ID), AuthRequestID: req.ID, Method: out.Method,
		MinLength: h.minLength(r.Context(), storage.User{ID: req.UserID, OrgID: req.OrgID}), Submit: "Set password and continue", Lang: "en",
		FormActionOrigins: door.ResponseOrigins(req)}
	if out.Failure != nil {
		d.Error = out.Failure.Error()
		if errors.Is(out.Failure, authflow.ErrInvalidCredentials) {
			d.Error = msgBadCreds
		}
		if status == http.StatusOK {
			status = http.StatusUnprocessableEntity
		}
	}
	if err := h.Render.RenderSetPassword(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render new password", "err", err)
	}
}

func (h *Handlers) door(req storage.AuthRequest) (Door, bool) {
	d, ok := h.Flow.Door(req.Protocol)
	if !ok {
		return nil, false
	}
	ud, ok := d.(Door)
	return ud, ok
}

// flowError maps flow errors to pages: the user sees a generic message,
// the log gets the detail.
func (h *Handlers) flowError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, authflow.ErrRequestGone), errors.Is(err, authflow.ErrOutOfTurn),
		errors.Is(err, authflow.ErrUnknownParty), errors.Is(err, authflow.ErrUnknownMethod):
		h.fail(w, r, http.StatusBadRequest, msgExpired, err)
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
	default:
		h.fail(w, r, http.StatusInternalServerError, "Something went wrong. Please try again.", err)
	}
}

// Error renders the generic error page; doors use it for their own
// user-facing failures.
func (h *Handlers) Error(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if status == http.StatusServiceUnavailable {
		// Every 503 here is an outage (storage unavailable or too slow):
		// say when to try again, as the protocol endpoints do.
		w.Header().Set("Retry-After", RetryAfter)
	}
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
