package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Links sends set-password links (idp/selfservice's Service).
type Links interface {
	Invite(ctx context.Context, actor string, u storage.User) error
	SendReset(ctx context.Context, actor string, u storage.User) error
}

var _ Links = (*selfservice.Service)(nil)

// ErrMailFailed: the link was stored but the mail server did not take the
// email; the wrapped error has the server's answer. Sending again (a new
// link) is the remedy once the server is back.
var ErrMailFailed = errors.New("the email could not be sent")

// ErrNoMail: no email can be sent: SMTP is not configured.
var ErrNoMail = errors.New("email is not configured (set smtp.host, see README, Email)")

// SendInvite sends the welcome email of an invited user: after `users
// create --invite`, and to resend one (`users resend-invite`). Each send
// voids the links sent before.
func (s *Service) SendInvite(ctx context.Context, actor, email string) (storage.User, error) {
	u, err := s.userByEmail(ctx, "send invite", email)
	if err != nil {
		return u, err
	}
	if s.Links == nil {
		return u, ErrNoMail
	}
	err = s.Links.Invite(ctx, actor, u)
	switch {
	case errors.Is(err, selfservice.ErrNotInvited):
		return u, inputErr("%s is %s, not waiting for an invite; send a password reset instead (users send-reset)", u.Email, u.State)
	case errors.Is(err, selfservice.ErrSendFailed):
		return u, fmt.Errorf("%w: %w", ErrMailFailed, err)
	case err != nil:
		return u, fmt.Errorf("send invite: %w", err)
	}
	return u, nil
}

// SendReset sends an administrator's password-reset link, which the
// minimum password age does not hold back. An invited user gets their
// invite instead.
func (s *Service) SendReset(ctx context.Context, actor, email string) (storage.User, error) {
	u, err := s.userByEmail(ctx, "send reset", email)
	if err != nil {
		return u, err
	}
	if s.Links == nil {
		return u, ErrNoMail
	}
	if u.State == storage.UserDisabled {
		return u, inputErr("%s is disabled; enable the account first (users enable)", u.Email)
	}
	err = s.Links.SendReset(ctx, actor, u)
	switch {
	case errors.Is(err, selfservice.ErrSendFailed):
		return u, fmt.Errorf("%w: %w", ErrMailFailed, err)
	case err != nil:
		return u, fmt.Errorf("send reset: %w", err)
	}
	return u, nil
}

// mailStatus is the admin API's answer to a send that failed: the
// administrator may see the mail server's answer.
func mailStatus(err error) (*apiError, bool) {
	switch {
	case errors.Is(err, ErrMailFailed):
		return &apiError{status: http.StatusBadGateway, code: "mail_failed", desc: err.Error()}, true
	case errors.Is(err, ErrNoMail):
		return &apiError{status: http.StatusConflict, code: "mail_not_configured", desc: err.Error()}, true
	}
	return nil, false
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, p Principal) error {
	var req struct {
		Email         string `json:"email"`
		Name          string `json:"name"`
		Phone         string `json:"phone"`
		Org           string `json:"org"`
		Admin         bool   `json:"admin"`
		EmailVerified bool   `json:"email_verified"`
		// Invite sends the welcome email with a set-password link.
		Invite bool `json:"invite"`
	}
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	if req.Invite && a.Service.Links == nil {
		return &apiError{status: http.StatusConflict, code: "mail_not_configured", desc: ErrNoMail.Error()}
	}
	u, err := a.Service.CreateUser(r.Context(), actorOf(p), CreateUserInput{Email: req.Email, Name: req.Name, Phone: req.Phone,
		Org: req.Org, Admin: req.Admin, EmailVerified: req.EmailVerified})
	if err != nil {
		return err
	}
	view := struct {
		userView
		InviteSent  bool   `json:"invite_sent"`
		InviteError string `json:"invite_error,omitempty"`
	}{userView: viewUser(u)}
	if req.Invite {
		if _, err := a.Service.SendInvite(r.Context(), actorOf(p), u.Email); err != nil {
			// The user exists either way; say what happened to the email.
			a.logger().ErrorContext(r.Context(), "admin API: invite not sent", "user_id", u.ID, "err", err)
			view.InviteError = err.Error()
		} else {
			view.InviteSent = true
		}
	}
	writeJSON(w, http.StatusCreated, view)
	return nil
}

func (a *API) userLink(send func(ctx context.Context, actor, email string) (storage.User, error)) func(http.ResponseWriter, *http.Request, Principal) error {
	return func(w http.ResponseWriter, r *http.Request, p Principal) error {
		if err := decodeBody(w, r, &struct{}{}, true); err != nil {
			return err
		}
		email := r.PathValue("email")
		if err := a.knownUser(r, p, "send link", email); err != nil {
			return err
		}
		u, err := send(r.Context(), actorOf(p), email)
		if ae, ok := mailStatus(err); ok {
			a.logger().ErrorContext(r.Context(), "admin API: link not sent", "err", err)
			return ae
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, struct {
			userView
			Sent bool `json:"sent"`
		}{viewUser(u), true})
		return nil
	}
}
