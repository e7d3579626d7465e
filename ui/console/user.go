package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
)

// The user page: profile, state and lockout, factors (no secrets), the
// actions of the bulk list for this one user, sessions with sign-out,
// linked upstream identities with unlink, roles and the audit trail.

// Paths of the user page (with the user's ID).
const (
	pathUser       = "/admin/users/{id}"
	pathUserRevoke = "/admin/users/{id}/sessions/revoke"
	pathUserUnlink = "/admin/users/{id}/links/remove"
	pathUserEdit   = "/admin/users/{id}/profile"
	pathUserRoles  = "/admin/users/{id}/roles"
)

// UserURL is the page of user id.
func UserURL(id string) string { return PathUsers + "/" + url.PathEscape(id) }

type userData struct {
	admin.UserDetail
	Notice                  string
	Actions                 []option
	Methods                 []string
	CSRFToken               string
	RunURL, RevokeURL       string
	UnlinkURL, OlderURL     string
	SkipStatus, MFARequired string
	ProfileURL              string
	// ProfileError is the profile form's mistake; Name and Phone what
	// it shows (what was typed, after one).
	ProfileError, Name, Phone, Email string
	// CanRoles: the caller is an admin, who grants and revokes roles
	// (RolesURL); Orgs are the organizations an org-admin role may name.
	CanRoles  bool
	RolesURL  string
	Orgs      []orgOption
	RoleError string
}

var userNotices = map[string]string{
	"revoked":  "That session is signed out.",
	"profile":  "The profile is saved.",
	"roles":    "The roles are changed.",
	"unlinked": "That sign-in is disconnected from the account.",
}

func (h *Handlers) userPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := h.who(w, r, UserURL(id)+queryOf(r), false)
	if !ok {
		return
	}
	v, ok := h.userData(w, r, c, id)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, pageUser, v.User.Email, &c, v)
}

// userData is the page of user id, as stored.
func (h *Handlers) userData(w http.ResponseWriter, r *http.Request, c caller, id string) (userData, bool) {
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	d, err := h.Admin.GetUserDetail(r.Context(), c.reach, id, max(before, 0))
	if err != nil {
		h.actionError(w, r, err)
		return userData{}, false
	}
	v := userData{UserDetail: d, Notice: userNotices[r.URL.Query().Get("done")], Methods: h.Methods,
		CSRFToken: h.CSRF.Token(w, r, bindForms), RunURL: PathBulkRun,
		RevokeURL: UserURL(id) + "/sessions/revoke", UnlinkURL: UserURL(id) + "/links/remove",
		ProfileURL: UserURL(id) + "/profile", Name: d.User.Name, Phone: d.User.Phone, Email: d.User.Email, CanRoles: c.admin, RolesURL: UserURL(id) + "/roles"}
	if c.admin {
		var err error
		if v.Orgs, err = h.orgsInReach(r, c, "", byName); err != nil {
			h.actionError(w, r, err)
			return userData{}, false
		}
	}
	v.Actions = options(admin.BulkActions, "")[1:]
	if id == c.user.ID {
		// idp/admin refuses both for oneself; the page does not offer them.
		v.Actions = slices.DeleteFunc(v.Actions, func(o option) bool { return o.Value == admin.BulkResetMFA || o.Value == admin.BulkDisable })
	}
	if d.OlderEvents > 0 {
		v.OlderURL = UserURL(id) + "?before=" + strconv.FormatInt(d.OlderEvents, 10)
	}
	u := d.User
	switch {
	case u.MFAEnrollRequired && u.MFAEnrolMethod != "":
		v.MFARequired = "Must set up " + u.MFAEnrolMethod + " at the next sign-in (reset by an administrator)."
	case u.MFAEnrollRequired:
		v.MFARequired = "Must set up two-step sign-in at the next sign-in (reset by an administrator)."
	}
	if u.MFASkipped {
		v.SkipStatus = "Chose \"Skip for now\" on " + when(u.MFASkippedAt) + "; remembered until an administrator resets it."
	}
	return v, true
}

func (h *Handlers) userRevoke(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := h.who(w, r, UserURL(id), true)
	if !ok {
		return
	}
	if err := h.Admin.RevokeSession(r.Context(), c.actor(), c.reach, id, r.PostForm.Get("session")); err != nil {
		h.actionError(w, r, err)
		return
	}
	http.Redirect(w, r, UserURL(id)+"?done=revoked", http.StatusSeeOther)
}

func (h *Handlers) userUnlink(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := h.who(w, r, UserURL(id), true)
	if !ok {
		return
	}
	u, err := h.Admin.UserByID(r.Context(), c.reach, id)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	if err := h.Admin.RemoveLink(r.Context(), c.reach, c.actor(), u.Email, r.PostForm.Get("connector"), r.PostForm.Get("subject")); err != nil {
		h.actionError(w, r, err)
		return
	}
	http.Redirect(w, r, UserURL(id)+"?done=unlinked", http.StatusSeeOther)
}

// userEdit saves the profile form: name, email, phone (with its country
// code) and whether the email is verified.
func (h *Handlers) userEdit(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := h.who(w, r, UserURL(id), true)
	if !ok {
		return
	}
	f := r.PostForm
	name, number, email, verified := f.Get("name"), f.Get("phone"), f.Get("email"), f.Get("email_verified") == "on"
	ch := admin.ProfileChange{Name: &name, Phone: &number, EmailVerified: &verified}
	if strings.TrimSpace(email) != "" {
		ch.Email = &email
	}
	_, err := h.Admin.UpdateUserProfile(r.Context(), c.actor(), c.reach, id, ch)
	if msg, isInput := inputMessage(err); isInput {
		v, ok := h.userData(w, r, c, id)
		if !ok {
			return
		}
		v.ProfileError, v.Name, v.Phone, v.Email = msg, name, number, email
		h.render(w, r, http.StatusUnprocessableEntity, pageUser, v.User.Email, &c, v)
		return
	} else if err != nil {
		h.actionError(w, r, err)
		return
	}
	http.Redirect(w, r, UserURL(id)+"?done=profile", http.StatusSeeOther)
}

// userRoles grants or revokes a role: an admin's action (roles are
// install-wide), with a recent sign-in.
func (h *Handlers) userRoles(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := h.who(w, r, UserURL(id), true)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	u, err := h.Admin.UserByID(r.Context(), c.reach, id)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	f := r.PostForm
	ch := admin.RoleChange{Email: u.Email, Role: f.Get("role"), Org: f.Get("org"), Self: c.user.ID}
	if ch.Role == admin.RoleNameAdmin {
		ch.Org = ""
	}
	if f.Get("op") == "revoke" {
		_, err = h.Admin.RevokeRole(r.Context(), c.actor(), ch)
	} else {
		_, err = h.Admin.GrantRole(r.Context(), c.actor(), ch)
	}
	if msg, isInput := inputMessage(err); isInput {
		v, ok := h.userData(w, r, c, id)
		if !ok {
			return
		}
		v.RoleError = msg
		h.render(w, r, http.StatusUnprocessableEntity, pageUser, v.User.Email, &c, v)
		return
	} else if err != nil {
		h.actionError(w, r, err)
		return
	}
	http.Redirect(w, r, UserURL(id)+"?done=roles", http.StatusSeeOther)
}
