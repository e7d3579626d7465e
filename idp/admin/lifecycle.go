package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// userByEmail finds the user an admin names, or an InputError.
func (s *Service) userByEmail(ctx context.Context, op, email string) (storage.User, error) {
	u, err := s.Store.GetUserByEmail(ctx, storage.NormalizeEmail(email))
	if errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, inputErr("no user with email %q", email)
	} else if err != nil {
		return storage.User{}, fmt.Errorf("%s: %w", op, err)
	}
	return u, nil
}

// changeEndingAccess applies change to user id, then ends the user's
// sessions and revokes their tokens, and records typ with the counts: what
// disabling a user and setting their password have in common.
func (s *Service) changeEndingAccess(ctx context.Context, actor, op, id, typ string, change func(*storage.User)) (storage.User, error) {
	now := s.Now()
	u, err := s.Store.UpdateUser(ctx, id, func(u storage.User) (storage.User, error) {
		change(&u)
		u.UpdatedAt = now
		return u, nil
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("%s: %w", op, err)
	}
	sessions, err := s.Store.DeleteUserSessions(ctx, u.ID)
	if err != nil {
		return u, fmt.Errorf("%s: end sessions: %w", op, err)
	}
	tokens, err := s.Store.RevokeUserTokens(ctx, u.ID, now)
	if err != nil {
		return u, fmt.Errorf("%s: revoke tokens: %w", op, err)
	}
	return u, s.Audit.Record(ctx, storage.AuditEvent{Type: typ, OrgID: u.OrgID, ActorID: actor, UserID: u.ID,
		Details: map[string]string{"sessions_ended": fmt.Sprint(sessions), "tokens_revoked": fmt.Sprint(tokens)}})
}

// SetPassword gives a user a new password under their organization's
// policy (the bootstrap admin's first task). The minimum age does not
// apply: an administrator's action overrides it. An invited user becomes
// active; a disabled one stays disabled. Existing sessions and tokens end,
// since a password set by an administrator usually answers a lost or
// leaked one.
func (s *Service) SetPassword(ctx context.Context, actor, email, pw string) (storage.User, error) {
	const op = "set password"
	u, err := s.userByEmail(ctx, op, email)
	if err != nil {
		return u, err
	}
	org, err := s.Store.GetOrganization(ctx, u.OrgID)
	if err != nil {
		return storage.User{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := s.checkPassword(ctx, org, pw); err != nil {
		return storage.User{}, fmt.Errorf("%s: %w", op, err)
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return storage.User{}, fmt.Errorf("%s: %w", op, err)
	}
	now := s.Now()
	return s.changeEndingAccess(ctx, actor, op, u.ID, audit.UserPasswordSet, func(u *storage.User) {
		u.PasswordHash, u.PasswordChangedAt = hash, now
		if u.State == storage.UserInvited {
			u.State = storage.UserActive
		}
	})
}

// EnableUser lets a disabled or temporarily locked user sign in again: a
// disabled user becomes active (invited when they have no password yet),
// and a temporary lock is lifted.
func (s *Service) EnableUser(ctx context.Context, actor, email string) (storage.User, error) {
	const op = "enable user"
	u, err := s.userByEmail(ctx, op, email)
	if err != nil {
		return u, err
	}
	now := s.Now()
	prev := u.State
	u, err = s.Store.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
		if u.State == storage.UserDisabled {
			u.State = storage.UserActive
			if u.PasswordHash == "" {
				u.State = storage.UserInvited
			}
		}
		u.LockedUntil, u.UpdatedAt = time.Time{}, now
		return u, nil
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("%s: %w", op, err)
	}
	if s.Lockout != nil {
		// A lifted lock must not return at the next wrong guess.
		if err := s.Lockout.Unlock(ctx, u.ID); err != nil {
			return u, fmt.Errorf("%s: reset failure count: %w", op, err)
		}
	}
	return u, s.Audit.Record(ctx, storage.AuditEvent{Type: audit.UserEnabled, OrgID: u.OrgID, ActorID: actor, UserID: u.ID,
		Details: map[string]string{"from": string(prev), "to": string(u.State)}})
}

// Unlocked says what UnlockUser did.
type Unlocked struct {
	User storage.User
	// Failures is the failure count it reset.
	Failures int
	// WasLockedUntil is when the lock it lifted would have ended (zero:
	// the user was not locked).
	WasLockedUntil time.Time
}

// UnlockUser lifts a user's temporary lock and resets their failure count,
// for a user who must sign in before the lock ends by itself. It changes
// nothing else: a disabled user stays disabled.
func (s *Service) UnlockUser(ctx context.Context, actor, email string) (Unlocked, error) {
	const op = "unlock user"
	if s.Lockout == nil {
		return Unlocked{}, fmt.Errorf("%s: no lockout is configured", op)
	}
	u, err := s.userByEmail(ctx, op, email)
	if err != nil {
		return Unlocked{}, err
	}
	res := Unlocked{WasLockedUntil: u.LockedUntil}
	if !u.LockedUntil.After(s.Now()) {
		res.WasLockedUntil = time.Time{}
	}
	if res.Failures, _, err = s.Lockout.Status(ctx, u.ID); err != nil {
		return Unlocked{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := s.Lockout.Unlock(ctx, u.ID); errors.Is(err, storage.ErrNotFound) {
		return Unlocked{}, inputErr("no user with email %q", email)
	} else if err != nil {
		return Unlocked{}, fmt.Errorf("%s: %w", op, err)
	}
	if res.User, err = s.Store.GetUser(ctx, u.ID); err != nil {
		return Unlocked{}, fmt.Errorf("%s: %w", op, err)
	}
	details := map[string]string{"failures": fmt.Sprint(res.Failures)}
	if !res.WasLockedUntil.IsZero() {
		details["was_locked_until"] = res.WasLockedUntil.UTC().Format(time.RFC3339)
	}
	return res, s.Audit.Record(ctx, storage.AuditEvent{Type: audit.UserUnlocked, OrgID: u.OrgID, ActorID: actor, UserID: u.ID,
		Details: details})
}

// DeleteUser deletes a user with their sessions, tokens and one-time
// tokens. The audit trail keeps the events about them, and this one
// records the email, since the user row is gone.
func (s *Service) DeleteUser(ctx context.Context, actor, email string) (storage.User, error) {
	const op = "delete user"
	u, err := s.userByEmail(ctx, op, email)
	if err != nil {
		return u, err
	}
	if err := s.Store.DeleteUser(ctx, u.ID); errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, inputErr("no user with email %q", email)
	} else if err != nil {
		return storage.User{}, fmt.Errorf("%s: %w", op, err)
	}
	return u, s.Audit.Record(ctx, storage.AuditEvent{Type: audit.UserDeleted, OrgID: u.OrgID, ActorID: actor, UserID: u.ID,
		Details: map[string]string{"email": u.Email}})
}

// DeleteOrg deletes an organization that has no users left. The
// bootstrap organization comes back at the next start.
func (s *Service) DeleteOrg(ctx context.Context, actor, name string) (storage.Organization, error) {
	const op = "delete organization"
	o, err := s.Store.GetOrganizationByName(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return o, inputErr("organization %q does not exist", name)
	} else if err != nil {
		return o, fmt.Errorf("%s: %w", op, err)
	}
	switch err := s.Store.DeleteOrganization(ctx, o.ID); {
	case errors.Is(err, storage.ErrConflict):
		return o, conflictErr("organization %q still has users: delete or move them first", name)
	case errors.Is(err, storage.ErrNotFound):
		return o, inputErr("organization %q does not exist", name)
	case err != nil:
		return o, fmt.Errorf("%s: %w", op, err)
	}
	return o, s.Audit.Record(ctx, storage.AuditEvent{Type: audit.OrgDeleted, OrgID: o.ID, ActorID: actor,
		Details: map[string]string{"name": o.Name}})
}
