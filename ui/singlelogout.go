package ui

import "net/http"

// SingleLogoutData is the last page of a single logout that did not go
// cleanly: what each application answered, and the way back to the one
// that asked (a link for HTTP-Redirect, a form for HTTP-POST). A logout
// where every application signed out does not show it: the browser goes
// straight back.
type SingleLogoutData struct {
	Parties []LogoutPartyRow
	// ReturnName is the application that asked; ReturnLink (a signed
	// HTTP-Redirect URL) or ReturnAction with ReturnFields (an HTTP-POST
	// form) takes the browser back there.
	ReturnName   string
	ReturnLink   string
	ReturnAction string
	ReturnFields []Field
	Lang         string
}

// LogoutPartyRow is one application's part in the logout.
type LogoutPartyRow struct {
	Name    string
	OK      bool
	Problem string
}

// SingleLogoutDone renders the page.
func (h *Handlers) SingleLogoutDone(w http.ResponseWriter, r *http.Request, d SingleLogoutData) {
	if d.Lang == "" {
		d.Lang = "en"
	}
	var origins []string
	if d.ReturnAction != "" {
		origins = []string{d.ReturnAction}
	}
	if err := h.Render.render(w, http.StatusOK, pageSingleLogout, d.Lang, d, origins); err != nil {
		h.Logger.ErrorContext(r.Context(), "render single logout", "err", err)
	}
}
