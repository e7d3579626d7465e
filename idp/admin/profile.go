package admin

import (
	"context"
	"errors"
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
	// Email replaces the account's address (another account's is a
	// conflict). A new address is unverified unless EmailVerified says
	// otherwise in the same change: nobody has proven it yet.
	Email *string
}

// UpdateProfile changes what a user's profile shows: their display name
// and their phone number. Every field is checked before anything is
// written, and each field that really changed is one audit event. No
// session ends: a profile is not a credential.
func (s *Service) UpdateProfile(ctx context.Context, actor, email string, ch ProfileChange) (storage.User, error) {
	v, err := checkProfile(ch)
	if err != nil {
		return storage.User{}, err
	}
	u, err := s.userByEmail(ctx, "update user", email)
	if err != nil {
		return u, err
	}
	return s.updateProfile(ctx, actor, u, ch, v)
}

// UpdateUserProfile is UpdateProfile of user id, within reach (an
// organization admin does not change an admin's profile).
func (s *Service) UpdateUserProfile(ctx context.Context, actor string, reach Reach, id string, ch ProfileChange) (storage.User, error) {
	v, err := checkProfile(ch)
	if err != nil {
		return storage.User{}, err
	}
	u, err := s.UserByID(ctx, reach, id)
	if err != nil {
		return u, err
	}
	return s.updateProfile(ctx, actor, u, ch, v)
}

// checkedProfile is a ProfileChange's values as stored.
type checkedProfile struct{ name, number, email string }

// checkProfile checks every field of ch before anything is written: the
// name as stored, the number in E.164, the email normalised.
func checkProfile(ch ProfileChange) (checkedProfile, error) {
	var v checkedProfile
	var err error
	if ch.Name != nil {
		v.name = strings.TrimSpace(*ch.Name)
		if err := checkText("name", v.name, MaxUserName); err != nil {
			return v, err
		}
	}
	if ch.Phone != nil {
		if v.number, err = parsePhone(*ch.Phone); err != nil {
			return v, err
		}
	}
	if ch.Email != nil {
		if v.email, err = ValidateEmail(*ch.Email); err != nil {
			return v, err
		}
	}
	return v, nil
}

// updateProfile writes ch (its values checked: v) to u.
func (s *Service) updateProfile(ctx context.Context, actor string, u storage.User, ch ProfileChange, v checkedProfile) (storage.User, error) {
	const op = "update user"
	// The old values are read inside the update, so that the audit
	// record says what this change replaced even when another one ran
	// just before it.
	var old storage.User
	now := s.Now()
	u, err := s.Store.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
		old = u
		if ch.Name != nil {
			u.Name = v.name
		}
		if ch.Phone != nil {
			u.Phone = v.number
		}
		if ch.Email != nil && v.email != u.Email {
			u.Email, u.EmailVerified = v.email, false
		}
		if ch.EmailVerified != nil {
			u.EmailVerified = *ch.EmailVerified
		}
		if u.Name != old.Name || u.Phone != old.Phone || u.Email != old.Email || u.EmailVerified != old.EmailVerified {
			u.UpdatedAt = now
		}
		return u, nil
	})
	if errors.Is(err, storage.ErrConflict) {
		return storage.User{}, conflictErr("another account has the email %q", v.email)
	} else if err != nil {
		return storage.User{}, fmt.Errorf("%s: %w", op, err)
	}
	if u.Email != old.Email {
		if err := s.Audit.Record(ctx, storage.AuditEvent{Type: audit.UserEmailChanged, OrgID: u.OrgID, ActorID: actor, UserID: u.ID,
			Details: map[string]string{"old": old.Email, "new": u.Email}}); err != nil {
			return u, err
		}
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
