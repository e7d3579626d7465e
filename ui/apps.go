package ui

import (
	"context"
	"net/http"
)

// /me/apps: "My apps", the applications a user can open from Gatehouse
// (SAML service providers that allow IdP-initiated sign-on, OIDC clients
// that registered an initiate_login_uri). Which ones is the doors'; this
// page lists them.

// PathApps is the "My apps" page.
const PathApps = "/me/apps"

// AppLink is one application on the page.
type AppLink struct {
	Name string
	// URL starts the sign-in into it.
	URL string
}

// Apps lists the applications a user may open (idp/instance composes the
// doors' lists).
type Apps interface {
	UserApps(ctx context.Context, userID string) ([]AppLink, error)
}

// AppsData is the page.
type AppsData struct {
	Apps []AppLink
	Lang string
}

// RenderApps renders the page.
func (r *Renderer) RenderApps(w http.ResponseWriter, status int, d AppsData) error {
	return r.render(w, status, pageMeApps, d.Lang, d, nil)
}

func (h *Handlers) mountApps(handle func(pattern string, handler http.Handler)) {
	if h.Apps == nil {
		return
	}
	handle("GET "+PathApps, http.HandlerFunc(h.appsPage))
}

func (h *Handlers) appsPage(w http.ResponseWriter, r *http.Request) {
	s := h.signedIn(w, r, PathApps)
	if s == nil {
		return
	}
	apps, err := h.Apps.UserApps(r.Context(), s.UserID)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	if err := h.Render.RenderApps(w, http.StatusOK, AppsData{Apps: apps, Lang: "en"}); err != nil {
		h.Logger.ErrorContext(r.Context(), "render apps", "err", err)
	}
}
