package ui

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// /me: the account's profile (name, mobile number), whether two-step
// sign-in is on with "Turn on" for a user who has none (it leads to
// /me/mfa, whose first method signs the other sessions out), and the menu
// of the account pages. idp/selfservice decides who may change what.

// Paths of the profile page.
const (
	PathProfile     = "/me"
	PathProfileSave = "/me/profile"
)

const bindProfile = "me:profile"

// Profiles is what the profile page needs of idp/selfservice.
type Profiles interface {
	Profile(ctx context.Context, userID string) (selfservice.Profile, error)
	UpdateProfile(ctx context.Context, userID, name, number string) (storage.User, error)
}

var _ Profiles = (*selfservice.Service)(nil)

// ProfileData is the page.
type ProfileData struct {
	selfservice.Profile
	// Name and Phone are what the form shows: what was typed, after a
	// refusal.
	Name, Phone          string
	Notice, Error        string
	CSRFToken, SaveURL   string
	MFAURL, EnableMFAURL string
	Lang                 string
}

// RenderProfile renders the page.
func (r *Renderer) RenderProfile(w http.ResponseWriter, status int, d ProfileData) error {
	return r.render(w, status, pageMeProfile, d.Lang, d, nil)
}

func (h *Handlers) mountProfile(handle func(pattern string, handler http.Handler)) {
	if h.Profiles == nil {
		return
	}
	handle("GET "+PathProfile, http.HandlerFunc(h.profilePage))
	handle("POST "+PathProfileSave, http.HandlerFunc(h.profileSave))
}

func (h *Handlers) profileShow(w http.ResponseWriter, r *http.Request, status int, p selfservice.Profile, d ProfileData) {
	d.Profile, d.Lang = p, "en"
	d.CSRFToken, d.SaveURL, d.MFAURL, d.EnableMFAURL = h.CSRF.Token(w, r, bindProfile), PathProfileSave, PathMFA, PathMFA+"?enable=1"
	if err := h.Render.RenderProfile(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render profile", "err", err)
	}
}

func (h *Handlers) profilePage(w http.ResponseWriter, r *http.Request) {
	s := h.signedIn(w, r, PathProfile)
	if s == nil {
		return
	}
	p, err := h.Profiles.Profile(r.Context(), s.UserID)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	d := ProfileData{Name: p.User.Name, Phone: p.User.Phone}
	if r.URL.Query().Get("done") == "saved" {
		d.Notice = "Your profile is saved."
	}
	h.profileShow(w, r, http.StatusOK, p, d)
}

// profileSave needs a recent sign-in: the number is where text-message
// codes may go.
func (h *Handlers) profileSave(w http.ResponseWriter, r *http.Request) {
	if !h.parsePost(w, r, bindProfile) {
		return
	}
	s := h.recentSession(w, r, PathProfile)
	if s == nil {
		return
	}
	name, number := r.PostForm.Get("name"), r.PostForm.Get("phone")
	_, err := h.Profiles.UpdateProfile(r.Context(), s.UserID, name, number)
	var pe *selfservice.ProfileError
	switch {
	case errors.As(err, &pe):
		p, perr := h.Profiles.Profile(r.Context(), s.UserID)
		if perr != nil {
			h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, perr)
			return
		}
		h.profileShow(w, r, http.StatusUnprocessableEntity, p, ProfileData{Name: name, Phone: number, Error: pe.Msg})
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
	default:
		http.Redirect(w, r, PathProfile+"?done=saved", http.StatusSeeOther)
	}
}
