package ui

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
)

// /me/links: the company sign-ins (upstream identities) linked to the
// account, each with "Disconnect". The rules (whose links, the last way to
// sign in kept) are idp/admin's; this page lists and asks.

// Paths of the links pages.
const (
	PathLinks      = "/me/links"
	PathLinkRemove = "/me/links/remove"
	bindLinks      = "links:manage"
)

// Links is what the page needs (idp/admin).
type Links interface {
	UserLinks(ctx context.Context, userID string) ([]admin.LinkInfo, error)
	RemoveOwnLink(ctx context.Context, userID, connectorID, subject string) error
}

var _ Links = (*admin.Service)(nil)

// LinksData is the page.
type LinksData struct {
	Links             []LinkRow
	RemoveURL, MFAURL string
	CSRFToken         string
	Notice, Error     string
	Lang              string
}

// LinkRow is one link as the page shows it.
type LinkRow struct {
	Connector, Subject string
	Provider, Email    string
	Added, LastUsed    string
}

// RenderLinks renders the page with status.
func (r *Renderer) RenderLinks(w http.ResponseWriter, status int, d LinksData) error {
	return r.render(w, status, pageMeLinks, d.Lang, d, nil)
}

func (h *Handlers) mountLinks(handle func(pattern string, handler http.Handler)) {
	if h.Links == nil {
		return
	}
	handle("GET "+PathLinks, http.HandlerFunc(h.linksPage))
	handle("POST "+PathLinkRemove, http.HandlerFunc(h.linkRemove))
}

func (h *Handlers) linksPage(w http.ResponseWriter, r *http.Request) {
	s := h.signedIn(w, r, PathLinks)
	if s == nil {
		return
	}
	notice := ""
	if r.URL.Query().Get("done") == "removed" {
		notice = "The company sign-in was disconnected: it no longer signs you in here."
	}
	h.renderLinks(w, r, http.StatusOK, s.UserID, notice, "")
}

func (h *Handlers) linkRemove(w http.ResponseWriter, r *http.Request) {
	if !h.parsePost(w, r, bindLinks) {
		return
	}
	// Disconnecting needs a recent sign-in, as changing factors does.
	s := h.recentSession(w, r, PathLinks)
	if s == nil {
		return
	}
	err := h.Links.RemoveOwnLink(r.Context(), s.UserID, r.PostForm.Get("connector"), r.PostForm.Get("subject"))
	var in *admin.InputError
	switch {
	case err == nil:
		http.Redirect(w, r, PathLinks+"?done=removed", http.StatusSeeOther)
	case errors.Is(err, admin.ErrLastSignIn):
		h.renderLinks(w, r, http.StatusConflict, s.UserID, "", "This company sign-in is how you sign in: your account has no password. Set one first (or ask your administrator) to disconnect it.")
	case errors.As(err, &in):
		h.renderLinks(w, r, http.StatusNotFound, s.UserID, "", "That company sign-in is not connected to your account.")
	default:
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
	}
}

func (h *Handlers) renderLinks(w http.ResponseWriter, r *http.Request, status int, userID, notice, msg string) {
	ls, err := h.Links.UserLinks(r.Context(), userID)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	d := LinksData{RemoveURL: PathLinkRemove, MFAURL: PathMFA, CSRFToken: h.CSRF.Token(w, r, bindLinks),
		Notice: notice, Error: msg, Lang: "en"}
	for _, l := range ls {
		row := LinkRow{Connector: l.Link.ConnectorID, Subject: l.Link.Subject, Provider: l.ConnectorName, Email: l.Link.Email,
			Added: l.Link.CreatedAt.UTC().Format("2 Jan 2006")}
		if row.Provider == "" {
			row.Provider = l.Link.ConnectorID
		}
		if !l.Link.LastLoginAt.IsZero() {
			row.LastUsed = l.Link.LastLoginAt.UTC().Format("2 Jan 2006 15:04 UTC")
		}
		d.Links = append(d.Links, row)
	}
	if err := h.Render.RenderLinks(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render links", "err", err)
	}
}
