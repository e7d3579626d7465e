package admin

import (
	"net/http"
)

// setPhone is PUT users/{email}/phone {"phone": "+41 79 123 45 67"}; an
// empty string clears the number, and a body without "phone" is refused
// rather than read as a clear. Organization admins may call it for their
// organizations' users, not for an admin's account: the number will carry
// SMS codes, and changing an admin's would let the lesser role take over
// the greater's second factor.
func (a *API) setPhone(w http.ResponseWriter, r *http.Request, p Principal) error {
	var req struct {
		Phone *string `json:"phone"`
	}
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	if req.Phone == nil {
		return badRequest(`the body must name "phone" (an empty string clears the number)`)
	}
	email := r.PathValue("email")
	if err := a.knownUser(r, p, "set phone", email); err != nil {
		return err
	}
	u, err := a.Service.SetPhone(r.Context(), actorOf(p), email, *req.Phone)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewUser(u))
	return nil
}
