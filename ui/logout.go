package ui

import (
	"net/http"
	"net/url"
)

// Pages front doors use for their own protocol endpoints: the door parses
// and verifies its protocol (an RP-initiated logout, a SAML logout), these
// render and end the browser session.

// csrfLogout binds the logout forms' CSRF tokens.
const csrfLogout = "logout"

func (h *Handlers) logoutPage(w http.ResponseWriter, r *http.Request) {
	h.ConfirmLogout(w, r, LogoutConfirm{})
}

func (h *Handlers) logoutSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.VerifyLogoutForm(w, r) {
		return
	}
	h.SignOut(w, r, "", "")
}

// SingleLogout signs the browser out of the SAML applications its session
// signed in to, when a sign-out starts at Gatehouse.
type SingleLogout interface {
	// BeginLogout takes over the sign-out when the browser's session has
	// SAML applications: it ends the session, sends the browser through
	// their logouts and then to returnTo ("" : the signed-out page naming
	// clientName), and returns true (having answered, also on failure).
	// false: nothing to do, the caller signs out.
	BeginLogout(w http.ResponseWriter, r *http.Request, returnTo, clientName string) bool
}

// SignOut is a confirmed sign-out at Gatehouse (its own page, or an OIDC
// client's RP-initiated logout): the session ends, the SAML applications
// it signed in to are signed out (SingleLogout), and the browser goes to
// returnTo, a validated URL, or "" to the signed-out page.
func (h *Handlers) SignOut(w http.ResponseWriter, r *http.Request, returnTo, clientName string) {
	if h.SingleLogout != nil && h.SingleLogout.BeginLogout(w, r, returnTo, clientName) {
		return
	}
	if !h.EndSession(w, r) {
		return
	}
	if returnTo != "" {
		http.Redirect(w, r, returnTo, http.StatusSeeOther)
		return
	}
	h.LoggedOut(w, r, clientName)
}

// LogoutConfirm is a "Sign out?" page a door asks for.
type LogoutConfirm struct {
	// PostURL is where the confirmation posts (default /logout).
	PostURL string
	// Fields are the door's parameters, passed through as hidden fields;
	// the confirmation adds confirm=1.
	Fields     []Field
	ClientName string
	// RedirectURL is where the confirmed logout will redirect, so the
	// form's CSP allows its origin.
	RedirectURL string
}

// ConfirmLogout renders the logout confirmation.
func (h *Handlers) ConfirmLogout(w http.ResponseWriter, r *http.Request, c LogoutConfirm) {
	data := LogoutData{PostURL: PathLogout, CSRFToken: h.CSRF.Token(w, r, csrfLogout), Fields: c.Fields, ClientName: c.ClientName, Lang: "en"}
	// The confirmed POST redirects to the client: allow its origin.
	if u, err := url.Parse(c.RedirectURL); err == nil && u.Host != "" {
		data.FormActionOrigins = []string{u.Scheme + "://" + u.Host}
	}
	if c.PostURL != "" {
		data.PostURL = c.PostURL
		data.Fields = append(data.Fields, Field{Name: "confirm", Value: "1"})
	}
	if err := h.Render.RenderLogoutConfirm(w, data); err != nil {
		h.Logger.ErrorContext(r.Context(), "render logout", "err", err)
	}
}

// VerifyLogoutForm checks the CSRF token of a confirmed logout; when it
// fails it has answered.
func (h *Handlers) VerifyLogoutForm(w http.ResponseWriter, r *http.Request) bool {
	if err := h.CSRF.Verify(r, csrfLogout); err != nil {
		h.fail(w, r, http.StatusForbidden, msgFormExpired, err)
		return false
	}
	return true
}

// EndSession ends the browser's session; when it fails it has answered.
func (h *Handlers) EndSession(w http.ResponseWriter, r *http.Request) bool {
	if _, _, err := h.Sessions.End(r.Context(), w, r); err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return false
	}
	return true
}

// LoggedOut renders the signed-out page.
func (h *Handlers) LoggedOut(w http.ResponseWriter, r *http.Request, clientName string) {
	if err := h.Render.RenderLoggedOut(w, LoggedOutData{ClientName: clientName, Lang: "en"}); err != nil {
		h.Logger.ErrorContext(r.Context(), "render logged out", "err", err)
	}
}

// AutoPost answers with a page that posts fields to action (OIDC
// form_post, SAML HTTP-POST binding). action must be the relying party's
// validated URL.
func (h *Handlers) AutoPost(w http.ResponseWriter, r *http.Request, action string, fields url.Values) {
	d := AutoPostData{Action: action, Lang: "en"}
	for _, k := range sortedKeys(fields) {
		for _, v := range fields[k] {
			d.Fields = append(d.Fields, Field{Name: k, Value: v})
		}
	}
	if err := h.Render.RenderAutoPost(w, d); err != nil {
		h.fail(w, r, http.StatusInternalServerError, "Something went wrong. Please try again.", err)
	}
}
