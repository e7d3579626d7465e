package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The account door is the front door of Gatehouse's own pages for a
// signed-in user (/me/...): a page that needs a session and finds none
// begins a login through the flow, like any application, and comes back
// once the flow says it is done. So the account pages get the same login,
// policy and lockout as everything else, decided in one place.
const (
	// AccountProtocol is the account door's protocol in the flow.
	AccountProtocol = "account"
	// accountParty is its one relying party.
	accountParty = "account"
	// PathAccountContinue is where the flow sends the browser when done.
	PathAccountContinue = "/me/continue"
)

// accountReturns are the pages a login through the account door may
// return to.
var accountReturns = []string{selfservice.PathChange, PathMFA, PathLinks, PathApps, PathSessions, PathProfile}

type accountDoorData struct {
	Return string `json:"return"`
}

// AccountDoor is the account pages' front door; register it with the
// flow under AccountProtocol.
type AccountDoor struct{ h *Handlers }

// AccountDoor returns the door of the account pages.
func (h *Handlers) AccountDoor() *AccountDoor { return &AccountDoor{h: h} }

var _ Door = (*AccountDoor)(nil)

// Party is the one party of the door: the user's own account.
func (d *AccountDoor) Party(_ context.Context, id string) (authflow.Party, error) {
	if id != accountParty {
		return authflow.Party{}, fmt.Errorf("ui: account door party %q: %w", id, storage.ErrNotFound)
	}
	return authflow.Party{Name: "your account"}, nil
}

// ContinueURL completes the login and returns to the page that asked.
func (d *AccountDoor) ContinueURL(id string) string {
	return PathAccountContinue + "?id=" + url.QueryEscape(id)
}

// LoginRequired cannot happen (the door never asks for a silent login);
// answered like an expired request.
func (d *AccountDoor) LoginRequired(w http.ResponseWriter, r *http.Request, _ storage.AuthRequest) {
	d.h.Error(w, r, http.StatusBadRequest, msgExpired)
}

// ResponseOrigins: the door answers on Gatehouse's own origin.
func (d *AccountDoor) ResponseOrigins(storage.AuthRequest) []string { return nil }

// signIn begins a login that returns to page.
func (h *Handlers) signIn(w http.ResponseWriter, r *http.Request, page string) {
	h.signInFresh(w, r, page, false)
}

// signInFresh begins a login that returns to page; fresh asks for the
// password again even with a live session (prompt=login).
func (h *Handlers) signInFresh(w http.ResponseWriter, r *http.Request, page string, fresh bool) {
	data, _ := json.Marshal(accountDoorData{Return: page})
	ar := storage.AuthRequest{Protocol: AccountProtocol, ClientID: accountParty, DoorData: data}
	if fresh {
		ar.Prompt = []string{"login"}
	}
	req, err := h.Flow.Begin(r.Context(), ar)
	if err != nil {
		h.flowError(w, r, err)
		return
	}
	http.Redirect(w, r, LoginURL(req.ID), http.StatusSeeOther)
}

// accountContinue is where a finished account login arrives: the flow
// completes it for this browser, and the page that asked is shown.
func (h *Handlers) accountContinue(w http.ResponseWriter, r *http.Request) {
	b, err := h.Sessions.Browser(r)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	req, err := h.Flow.Complete(r.Context(), r.URL.Query().Get("id"), b)
	if err != nil {
		h.flowError(w, r, err)
		return
	}
	if req.Protocol != AccountProtocol {
		h.fail(w, r, http.StatusBadRequest, msgExpired, fmt.Errorf("account continue for a %q request", req.Protocol))
		return
	}
	var d accountDoorData
	_ = json.Unmarshal(req.DoorData, &d)
	target := "/"
	for _, p := range accountReturns {
		if d.Return == p {
			target = p
		}
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// signedIn is the browser's live session, or nil after it has answered
// (a login begun, or a 503).
func (h *Handlers) signedIn(w http.ResponseWriter, r *http.Request, page string) *storage.Session {
	b, err := h.Sessions.Browser(r)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return nil
	}
	if b.Session == nil {
		h.signIn(w, r, page)
		return nil
	}
	return b.Session
}

func (h *Handlers) changeForm(w http.ResponseWriter, r *http.Request, status int, u storage.User, msg string) {
	d := SetPasswordData{Heading: "Change your password", PostURL: selfservice.PathChange, CSRFToken: h.CSRF.Token(w, r, bindChange),
		Email: u.Email, AskCurrent: true, MinLength: h.minLength(r.Context(), u), Submit: "Change password", Error: msg, Lang: "en", Account: true}
	if err := h.Render.RenderSetPassword(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render change password", "err", err)
	}
}

func (h *Handlers) changePage(w http.ResponseWriter, r *http.Request) {
	s := h.signedIn(w, r, selfservice.PathChange)
	if s == nil {
		return
	}
	h.changeForm(w, r, http.StatusOK, storage.User{ID: s.UserID}, "")
}

func (h *Handlers) changeSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.parsePost(w, r, bindChange) {
		return
	}
	s := h.signedIn(w, r, selfservice.PathChange)
	if s == nil {
		return
	}
	f := r.PostForm
	u := storage.User{ID: s.UserID}
	c := selfservice.Change{UserID: s.UserID, SessionHash: s.Hash, IP: h.clientIP(r.Context()),
		Current: f.Get("current"), New: f.Get("password"), Confirm: f.Get("confirm")}
	if len(c.Current) > MaxPassword {
		c.Current = "" // no password is that long: a wrong one
	}
	if len(c.New) > MaxPassword || len(c.Confirm) > MaxPassword {
		h.changeForm(w, r, http.StatusUnprocessableEntity, u, msgTooLong)
		return
	}
	_, err := h.Self.ChangePassword(r.Context(), c)
	if msg, ok := selfservice.UserMessage(err); ok {
		h.changeForm(w, r, http.StatusUnprocessableEntity, u, msg)
		return
	}
	switch {
	case errors.Is(err, selfservice.ErrWrongPassword):
		h.changeForm(w, r, http.StatusUnprocessableEntity, u, msgWrongCur)
	case errors.Is(err, selfservice.ErrNoPassword):
		h.fail(w, r, http.StatusBadRequest, msgNoPassword, err)
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
	default:
		h.notice(w, r, http.StatusOK, NoticeData{Title: "Your password is changed", Lang: "en", Paragraphs: []string{
			"Use your new password from now on. Your other browsers and devices were signed out.",
		}, LinkURL: "/", LinkLabel: "Continue"})
	}
}
