package ui

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// /me/sessions: the user's browsers and devices signed in here, with
// "Sign out" for each other one and "Sign out everywhere else". Each
// change is a POST with a CSRF token; idp/selfservice ends the sessions.

// Paths of the sessions page.
const (
	PathSessions       = "/me/sessions"
	PathSessionsRevoke = "/me/sessions/revoke"
	PathSessionsOthers = "/me/sessions/others"
)

const bindSessions = "me:sessions"

// Devices is what the sessions page needs of idp/selfservice.
type Devices interface {
	Sessions(ctx context.Context, userID string) ([]storage.Session, error)
	SignOutSession(ctx context.Context, userID, current, hash string) error
	SignOutOthers(ctx context.Context, userID, current string) (int, error)
}

var _ Devices = (*selfservice.Service)(nil)

// SessionRow is one session on the page.
type SessionRow struct {
	Handle    string // the value its sign-out form posts
	Browser   string
	IP        string
	SignedIn  string
	LastSeen  string
	Current   bool
	Federated bool
}

// SessionsData is the page.
type SessionsData struct {
	Sessions                     []SessionRow
	Others                       int
	Notice                       string
	CSRFToken, RevokeURL, AllURL string
	Lang                         string
}

// RenderSessions renders the page.
func (r *Renderer) RenderSessions(w http.ResponseWriter, status int, d SessionsData) error {
	return r.render(w, status, pageMeSessions, d.Lang, d, nil)
}

func (h *Handlers) mountSessions(handle func(pattern string, handler http.Handler)) {
	if h.Devices == nil {
		return
	}
	handle("GET "+PathSessions, http.HandlerFunc(h.sessionsPage))
	handle("POST "+PathSessionsRevoke, http.HandlerFunc(h.sessionRevoke))
	handle("POST "+PathSessionsOthers, http.HandlerFunc(h.sessionsOthers))
}

func stamp(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") }

func (h *Handlers) sessionsList(w http.ResponseWriter, r *http.Request, s *storage.Session, status int, notice string) {
	list, err := h.Devices.Sessions(r.Context(), s.UserID)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	d := SessionsData{Notice: notice, CSRFToken: h.CSRF.Token(w, r, bindSessions), RevokeURL: PathSessionsRevoke,
		AllURL: PathSessionsOthers, Lang: "en"}
	for _, x := range list {
		row := SessionRow{Handle: x.Hash, Browser: x.UserAgent, IP: x.IP, SignedIn: stamp(x.AuthTime), LastSeen: stamp(x.LastSeenAt),
			Current: x.Hash == s.Hash, Federated: x.ConnectorID != ""}
		if row.Browser == "" {
			row.Browser = "Unknown browser"
		}
		if !row.Current {
			d.Others++
		}
		d.Sessions = append(d.Sessions, row)
	}
	if err := h.Render.RenderSessions(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render sessions", "err", err)
	}
}

func (h *Handlers) sessionsPage(w http.ResponseWriter, r *http.Request) {
	s := h.signedIn(w, r, PathSessions)
	if s == nil {
		return
	}
	h.sessionsList(w, r, s, http.StatusOK, "")
}

func (h *Handlers) sessionRevoke(w http.ResponseWriter, r *http.Request) {
	if !h.parsePost(w, r, bindSessions) {
		return
	}
	s := h.signedIn(w, r, PathSessions)
	if s == nil {
		return
	}
	err := h.Devices.SignOutSession(r.Context(), s.UserID, s.Hash, r.PostForm.Get("session"))
	switch {
	case errors.Is(err, selfservice.ErrCurrentSession):
		h.sessionsList(w, r, s, http.StatusUnprocessableEntity, "To end the session you are using, sign out.")
	case errors.Is(err, selfservice.ErrNoSession):
		h.sessionsList(w, r, s, http.StatusOK, "That session had already ended.")
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
	default:
		h.sessionsList(w, r, s, http.StatusOK, "That session is signed out.")
	}
}

func (h *Handlers) sessionsOthers(w http.ResponseWriter, r *http.Request) {
	if !h.parsePost(w, r, bindSessions) {
		return
	}
	s := h.signedIn(w, r, PathSessions)
	if s == nil {
		return
	}
	n, err := h.Devices.SignOutOthers(r.Context(), s.UserID, s.Hash)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	msg := "You are signed out everywhere else."
	if n == 0 {
		msg = "You were signed in nowhere else."
	}
	h.sessionsList(w, r, s, http.StatusOK, msg)
}
