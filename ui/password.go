package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-idp/gatehouse/federation"

	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// SelfService is what the password pages need of idp/selfservice.
type SelfService interface {
	RequestReset(ctx context.Context, email, ip, authRequestID string) error
	Open(ctx context.Context, kind selfservice.Kind, raw string) (selfservice.Link, error)
	SetPassword(ctx context.Context, kind selfservice.Kind, raw, pw, confirm string) (selfservice.Set, error)
	Renew(ctx context.Context, kind selfservice.Kind, raw, ip string) error
	ChangePassword(ctx context.Context, c selfservice.Change) (storage.User, error)
}

var _ SelfService = (*selfservice.Service)(nil)

const (
	msgSendFailed  = "We could not send the email right now; try again in a few minutes."
	msgRateLimited = "Too many emails were asked for this address or from your network. Please wait a while before trying again."
	msgWrongCur    = "Your current password is not correct."
	msgTooLong     = "Use at most 1,024 characters."
	msgNoPassword  = "Your account signs in through your organization and has no password here."
	// noticePasswordSet is the query value that makes the login page say
	// the new password is ready.
	noticePasswordSet = "password_set"
)

// mountPasswords registers the password pages, when self-service is on.
func (h *Handlers) mountPasswords(handle func(pattern string, handler http.Handler)) {
	if h.Self == nil {
		return
	}
	if h.Forgot {
		handle("GET "+selfservice.PathForgot, http.HandlerFunc(h.forgotPage))
		handle("POST "+selfservice.PathForgot, http.HandlerFunc(h.forgotSubmit))
		handle("POST "+selfservice.PathRenew, http.HandlerFunc(h.renewSubmit))
	}
	handle("GET "+selfservice.PathReset, h.linkPage(selfservice.KindReset))
	handle("POST "+selfservice.PathReset, h.linkSubmit(selfservice.KindReset))
	handle("GET "+selfservice.PathInvite, h.linkPage(selfservice.KindInvite))
	handle("POST "+selfservice.PathInvite, h.linkSubmit(selfservice.KindInvite))
	handle("GET "+selfservice.PathChange, http.HandlerFunc(h.changePage))
	handle("POST "+selfservice.PathChange, http.HandlerFunc(h.changeSubmit))
}

// Bindings of the password forms' CSRF tokens: each form's token is good
// for that form only.
const (
	bindForgot = "password:forgot"
	bindRenew  = "password:renew"
	bindChange = "password:change"
)

func bindLink(kind selfservice.Kind, token string) string {
	// Bound to the token's hash: a token from another link's form does
	// not verify, and the raw token does not go into a MAC input.
	return "password:link:" + kindName(kind) + ":" + storage.HashSecret(token)
}

func kindName(k selfservice.Kind) string {
	if k == selfservice.KindInvite {
		return "invite"
	}
	return "reset"
}

func linkPath(k selfservice.Kind) string {
	if k == selfservice.KindInvite {
		return selfservice.PathInvite
	}
	return selfservice.PathReset
}

func (h *Handlers) clientIP(ctx context.Context) string {
	if h.ClientIP == nil {
		return ""
	}
	return h.ClientIP(ctx)
}

// forgotURL is the forgot-password form, returning to login id.
func forgotURL(id string) string {
	if id == "" {
		return selfservice.PathForgot
	}
	return selfservice.PathForgot + "?id=" + url.QueryEscape(id)
}

func (h *Handlers) forgotData(w http.ResponseWriter, r *http.Request, id, email, msg string) ForgotData {
	d := ForgotData{PostURL: selfservice.PathForgot, CSRFToken: h.CSRF.Token(w, r, bindForgot), AuthRequestID: id,
		Email: email, Error: msg, Lang: "en"}
	if id != "" {
		d.BackURL = LoginURL(id)
	}
	return d
}

func (h *Handlers) forgotPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if len(id) > maxField || !storage.Storable(id) {
		id = ""
	}
	if err := h.Render.RenderForgot(w, http.StatusOK, h.forgotData(w, r, id, "", "")); err != nil {
		h.Logger.ErrorContext(r.Context(), "render forgot", "err", err)
	}
}

func (h *Handlers) forgotSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.parsePost(w, r, bindForgot) {
		return
	}
	id, email := r.PostForm.Get("id"), r.PostForm.Get("email")
	if len(id) > maxField || !storage.Storable(id) {
		id = ""
	}
	if len(email) > MaxEmail || !storage.Storable(email) {
		// No account has it: the same answer as any unknown address,
		// without a lookup storage would refuse.
		email = ""
	}
	err := h.Self.RequestReset(r.Context(), email, h.clientIP(r.Context()), id)
	switch {
	case errors.Is(err, selfservice.ErrRateLimited):
		h.Logger.InfoContext(r.Context(), "forgot password: rate limited", "err", err)
		h.renderForgot(w, r, http.StatusTooManyRequests, h.forgotData(w, r, id, email, msgRateLimited))
	case errors.Is(err, selfservice.ErrSendFailed):
		h.Logger.ErrorContext(r.Context(), "forgot password: mail not sent", "err", err)
		w.Header().Set("Retry-After", "60")
		h.renderForgot(w, r, http.StatusServiceUnavailable, h.forgotData(w, r, id, email, msgSendFailed))
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
	default:
		d := sentNotice(id)
		if name := h.ssoName(r, email); name != "" {
			// Said for every address of the domain, account or not: no
			// more than the domain rule itself tells.
			d.Paragraphs = append(d.Paragraphs, fmt.Sprintf("Addresses at %s sign in with %s: on the sign-in page, leave the password empty or choose “Sign in with SSO”. An account that signs in that way has no password here to reset.", federation.Domain(email), name))
		}
		h.notice(w, r, http.StatusOK, d)
	}
}

// ssoName is the name of the upstream that serves email's domain ("" for
// none, or when discovery fails: the notice is only a hint).
func (h *Handlers) ssoName(r *http.Request, email string) string {
	if h.Flow.Federation == nil || !strings.Contains(email, "@") {
		return ""
	}
	c, err := h.Flow.Federation.Upstreams.Discover(r.Context(), email)
	if err != nil {
		return ""
	}
	if c.Name != "" {
		return c.Name
	}
	return "your company sign-in"
}

func (h *Handlers) renderForgot(w http.ResponseWriter, r *http.Request, status int, d ForgotData) {
	if err := h.Render.RenderForgot(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render forgot", "err", err)
	}
}

// sentNotice is the one answer to every link request.
func sentNotice(id string) NoticeData {
	d := NoticeData{Title: "Check your email", Lang: "en", Paragraphs: []string{
		"If an account exists for that address, we sent it a link to choose a password. The link is valid for a limited time.",
		"If nothing arrives within a few minutes, check your spam folder.",
	}}
	if id != "" {
		d.LinkURL, d.LinkLabel = LoginURL(id), "Back to sign-in"
	}
	return d
}

func (h *Handlers) notice(w http.ResponseWriter, r *http.Request, status int, d NoticeData) {
	if err := h.Render.RenderNotice(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render notice", "err", err)
	}
}

// parsePost parses a posted form and checks its CSRF token against
// binding; on failure it has answered.
func (h *Handlers) parsePost(w http.ResponseWriter, r *http.Request, binding string) bool {
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, http.StatusBadRequest, msgFormExpired, err)
		return false
	}
	if err := h.CSRF.Verify(r, binding); err != nil {
		h.fail(w, r, http.StatusForbidden, msgFormExpired, err)
		return false
	}
	return true
}

func linkCopy(kind selfservice.Kind) (heading, lead, submit string) {
	if kind == selfservice.KindInvite {
		return "Welcome", "Choose a password for your account.", "Set password and continue"
	}
	return "Choose a new password", "", "Set new password"
}

func (h *Handlers) minLength(ctx context.Context, u storage.User) int {
	if h.MinLength == nil {
		return 0
	}
	return h.MinLength(ctx, u)
}

func (h *Handlers) linkForm(w http.ResponseWriter, r *http.Request, status int, kind selfservice.Kind, token string, u storage.User, msg string) {
	heading, lead, submit := linkCopy(kind)
	d := SetPasswordData{Heading: heading, Lead: lead, PostURL: linkPath(kind), CSRFToken: h.CSRF.Token(w, r, bindLink(kind, token)),
		Token: token, Email: u.Email, MinLength: h.minLength(r.Context(), u), Submit: submit, Error: msg, Lang: "en"}
	if err := h.Render.RenderSetPassword(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render set password", "err", err)
	}
}

// linkDead is the page of an expired, used or unknown link: it says so and
// offers a new one in one click, and the forgot-password form.
func (h *Handlers) linkDead(w http.ResponseWriter, r *http.Request, kind selfservice.Kind, token string) {
	d := NoticeData{Title: "This link has expired", Lang: "en", Paragraphs: []string{
		"The link you followed has expired or was already used. For your security, each link works once and for a limited time.",
	}}
	if !h.Forgot {
		d.Paragraphs = append(d.Paragraphs, "Ask your administrator to send you a new link.")
		h.notice(w, r, http.StatusGone, d)
		return
	}
	d.LinkURL, d.LinkLabel = selfservice.PathForgot, "Enter my email instead"
	if token != "" && len(token) <= selfservice.MaxToken && storage.Storable(token) {
		d.Renew = &RenewForm{PostURL: selfservice.PathRenew, CSRFToken: h.CSRF.Token(w, r, bindRenew), Token: token, Kind: kindName(kind)}
	}
	h.notice(w, r, http.StatusGone, d)
}

func (h *Handlers) linkPage(kind selfservice.Kind) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("token")
		// Opening the link consumes nothing: mail scanners open links.
		l, err := h.Self.Open(r.Context(), kind, token)
		switch {
		case errors.Is(err, selfservice.ErrLinkInvalid):
			h.linkDead(w, r, kind, token)
		case err != nil:
			h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		default:
			h.linkForm(w, r, http.StatusOK, kind, token, l.User, "")
		}
	})
}

func (h *Handlers) linkSubmit(kind selfservice.Kind) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			h.fail(w, r, http.StatusBadRequest, msgFormExpired, err)
			return
		}
		token := r.PostForm.Get("token")
		if err := h.CSRF.Verify(r, bindLink(kind, token)); err != nil {
			h.fail(w, r, http.StatusForbidden, msgFormExpired, err)
			return
		}
		pw, confirm := r.PostForm.Get("password"), r.PostForm.Get("confirm")
		if len(pw) > MaxPassword || len(confirm) > MaxPassword {
			h.linkAgain(w, r, kind, token, msgTooLong)
			return
		}
		set, err := h.Self.SetPassword(r.Context(), kind, token, pw, confirm)
		if msg, ok := selfservice.UserMessage(err); ok {
			h.linkAgain(w, r, kind, token, msg)
			return
		}
		switch {
		case errors.Is(err, selfservice.ErrLinkInvalid):
			h.linkDead(w, r, kind, token)
			return
		case err != nil:
			h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
			return
		}
		h.passwordSet(w, r, set)
	})
}

// linkAgain shows a link's form again with what was wrong with the
// password; the link is still usable (a refused password consumes
// nothing), unless it died meanwhile.
func (h *Handlers) linkAgain(w http.ResponseWriter, r *http.Request, kind selfservice.Kind, token, msg string) {
	l, err := h.Self.Open(r.Context(), kind, token)
	if err != nil {
		h.linkDead(w, r, kind, token)
		return
	}
	h.linkForm(w, r, http.StatusUnprocessableEntity, kind, token, l.User, msg)
}

// passwordSet takes the user back into the login they started, when it is
// still live (the new password then signs them in, with every factor the
// policy asks: a reset is never a login), or says they can sign in now.
func (h *Handlers) passwordSet(w http.ResponseWriter, r *http.Request, set selfservice.Set) {
	if set.AuthRequestID != "" {
		if _, err := h.Flow.Load(r.Context(), set.AuthRequestID); err == nil {
			http.Redirect(w, r, LoginURL(set.AuthRequestID)+"&notice="+noticePasswordSet, http.StatusSeeOther)
			return
		}
	}
	h.notice(w, r, http.StatusOK, NoticeData{Title: "Your password is set", Lang: "en", Paragraphs: []string{
		"You can now sign in with your new password. Go back to the application you wanted to use and sign in there.",
	}, LinkURL: "/", LinkLabel: "Continue"})
}

func (h *Handlers) renewSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.parsePost(w, r, bindRenew) {
		return
	}
	kind := selfservice.KindReset
	if r.PostForm.Get("kind") == "invite" {
		kind = selfservice.KindInvite
	}
	err := h.Self.Renew(r.Context(), kind, r.PostForm.Get("token"), h.clientIP(r.Context()))
	switch {
	case errors.Is(err, selfservice.ErrRateLimited):
		h.fail(w, r, http.StatusTooManyRequests, msgRateLimited, err)
	case errors.Is(err, selfservice.ErrSendFailed):
		h.Logger.ErrorContext(r.Context(), "renew link: mail not sent", "err", err)
		h.Error(w, r, http.StatusServiceUnavailable, msgSendFailed)
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
	default:
		d := sentNotice("")
		d.Paragraphs[0] = "If your account can still use a link, we sent a new one to its email address."
		h.notice(w, r, http.StatusOK, d)
	}
}
