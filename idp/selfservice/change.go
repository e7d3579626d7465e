package selfservice

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Change is a password change by a signed-in user.
type Change struct {
	UserID string
	// SessionHash is the session the change is made in: it stays, the
	// user's other sessions end.
	SessionHash string
	// IP is the client's address, for the lockout's per-IP window.
	IP string
	// Current, New and Confirm are the form's three passwords.
	Current, New, Confirm string
}

// ChangePassword sets c.New after checking c.Current. A wrong current
// password counts toward the account's lockout like a wrong login, and a
// locked account gets the same ErrWrongPassword, without a check. Then
// the policy applies, minimum age included. It ends the user's other
// sessions, revokes their tokens and sends a notice.
func (s *Service) ChangePassword(ctx context.Context, c Change) (storage.User, error) {
	u, err := s.Store.GetUser(ctx, c.UserID)
	if err != nil {
		return storage.User{}, fmt.Errorf("selfservice: load account: %w", err)
	}
	if u.PasswordHash == "" {
		return storage.User{}, ErrNoPassword
	}
	if err := s.checkCurrent(ctx, u, c); err != nil {
		return storage.User{}, err
	}
	if c.New != c.Confirm {
		return storage.User{}, ErrMismatch
	}
	if err := s.Rules.Check(ctx, u, c.New, true); err != nil {
		return storage.User{}, err
	}
	hash, err := s.Hasher.Hash(ctx, c.New)
	if err != nil {
		return storage.User{}, fmt.Errorf("selfservice: hash: %w", err)
	}
	now := s.now()
	u, err = s.Store.UpdateUser(ctx, u.ID, func(cur storage.User) (storage.User, error) {
		if cur.PasswordHash != u.PasswordHash {
			// Changed meanwhile (another tab, an admin): the current
			// password this change checked is no longer current.
			return cur, ErrWrongPassword
		}
		cur.PasswordHash, cur.PasswordChangedAt = hash, now
		return cur, nil
	})
	if err != nil {
		if errors.Is(err, ErrWrongPassword) {
			return storage.User{}, err
		}
		return storage.User{}, fmt.Errorf("selfservice: store password: %w", err)
	}
	sessions, tokens := s.endAccess(ctx, u, c.SessionHash)
	s.record(ctx, audit.PasswordChanged, u.ID, u, map[string]string{"sessions_ended": fmt.Sprint(sessions), "tokens_revoked": fmt.Sprint(tokens)})
	s.notice(ctx, u)
	return u, nil
}

// checkCurrent verifies the current password under the lockout.
func (s *Service) checkCurrent(ctx context.Context, u storage.User, c Change) error {
	var att Attempt
	if s.Guard != nil {
		a, err := s.Guard.Reserve(ctx, u.ID, c.IP)
		if err != nil {
			if !errors.Is(err, ErrAttemptRefused) {
				return fmt.Errorf("selfservice: lockout: %w", err)
			}
			s.Hasher.VerifyDummy(ctx, c.Current) // a lock must not answer faster
			s.record(ctx, audit.PasswordChangeFailed, u.ID, u, map[string]string{"reason": "locked"})
			return ErrWrongPassword
		}
		att = a
	}
	ok, _, err := s.Hasher.Verify(ctx, u.PasswordHash, c.Current)
	switch {
	case err != nil && !errors.Is(err, password.ErrMalformedHash):
		if att != nil {
			att.Released(context.WithoutCancel(ctx))
		}
		return fmt.Errorf("selfservice: verify: %w", err)
	case err != nil || !ok:
		if att != nil {
			att.Failed(context.WithoutCancel(ctx))
		}
		s.record(ctx, audit.PasswordChangeFailed, u.ID, u, map[string]string{"reason": "wrong_password"})
		return ErrWrongPassword
	}
	if att != nil {
		att.Succeeded(context.WithoutCancel(ctx))
	}
	return nil
}
