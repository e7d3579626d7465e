package admin

import (
	"context"
	"fmt"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/phone"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// parsePhone is the E.164 form of a number an operator typed, "" for an
// empty one (no number), or an InputError that says what to fix. The
// error wraps idp/phone's, so callers can tell which mistake it was.
func parsePhone(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	e, err := phone.Parse(s)
	if err != nil {
		return "", &InputError{Msg: "phone: " + err.Error(), Err: err}
	}
	return e, nil
}

// ProfileChange names the profile fields to change; a nil field stays as
// it is, so that `users update --phone …` leaves the name alone.
type ProfileChange struct {
	Name  *string
	Phone *string // as typed; "" clears the number
	// EmailVerified marks the email as proven (or not): federation links
	// an upstream identity to an account by email only when it is.
	EmailVerified *bool
}

// UpdateProfile changes what a user's profile shows: their display name
// and their phone number. Every field is checked before anything is
// written, and each field that really changed is one audit event. No
// session ends: a profile is not a credential.
func (s *Service) UpdateProfile(ctx context.Context, actor, email string, ch ProfileChange) (storage.User, error) {
	name, number, err := checkProfile(ch)
	if err != nil {
		return storage.User{}, err
	}
	u, err := s.userByEmail(ctx, "update user", email)
	if err != nil {
		return u, err
	}
	return s.updateProfile(ctx, actor, u, ch, name, number)
}

// UpdateUserProfile is UpdateProfile of user id, within reach (an
// organization admin does not change an admin's profile).
func (s *Service) UpdateUserProfile(ctx context.Context, actor string, reach Reach, id string, ch ProfileChange) (storage.User, error) {
	name, number, err := checkProfile(ch)
	if err != nil {
		return storage.User{}, err
	}
	u, err := s.UserByID(ctx, reach, id)
	if err != nil {
		return u, err
	}
	return s.updateProfile(ctx, actor, u, ch, name, number)
}

// checkProfile checks every field of ch before anything is written: the
// name as stored, and the number in E.164.
func checkProfile(ch ProfileChange) (name, number string, err error) {
	if ch.Name != nil {
		name = strings.TrimSpace(*ch.Name)
		if err := checkText("name", name, MaxUserName); err != nil {
			return "", "", err
		}
	}
	if ch.Phone != nil {
		if number, err = parsePhone(*ch.Phone); err != nil {
			return "", "", err
		}
	}
	return name, number, nil
}

// updateProfile writes ch (its name and number checked) to u.
func (s *Service) updateProfile(ctx context.Context, actor string, u storage.User, ch ProfileChange, name, number string) (storage.User, error) {
	const op = "update user"
	// The old values are read inside the update, so that the audit
	// record says what this change replaced even when another one ran
	// just before it.
	var old storage.User
	now := s.Now()
	u, err := s.Store.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
		old = u
		if ch.Name != nil {
			u.Name = name
		}
		if ch.Phone != nil {
			u.Phone = number
		}
		if ch.EmailVerified != nil {
			u.EmailVerified = *ch.EmailVerified
		}
		if u.Name != old.Name || u.Phone != old.Phone || u.EmailVerified != old.EmailVerified {
			u.UpdatedAt = now
		}
		return u, nil
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("%s: %w", op, err)
	}
	if u.Name != old.Name {
		if err := s.Audit.Record(ctx, storage.AuditEvent{Type: audit.UserNameChanged, OrgID: u.OrgID, ActorID: actor, UserID: u.ID}); err != nil {
			return u, err
		}
	}
	if u.EmailVerified != old.EmailVerified {
		if err := s.Audit.Record(ctx, storage.AuditEvent{Type: audit.UserEmailVerified, OrgID: u.OrgID, ActorID: actor, UserID: u.ID,
			Details: map[string]string{"verified": fmt.Sprint(u.EmailVerified)}}); err != nil {
			return u, err
		}
	}
	if u.Phone != old.Phone {
		return u, s.Audit.Record(ctx, storage.AuditEvent{Type: audit.UserPhoneChanged, OrgID: u.OrgID, ActorID: actor, UserID: u.ID,
			Details: map[string]string{"old": phone.Mask(old.Phone), "new": phone.Mask(u.Phone)}})
	}
	return u, nil
}

// SetPhone sets the phone number on a user's profile to number, as typed
// (idp/phone.Parse keeps its E.164 form); "" clears it.
func (s *Service) SetPhone(ctx context.Context, actor, email, number string) (storage.User, error) {
	return s.UpdateProfile(ctx, actor, email, ProfileChange{Phone: &number})
}
