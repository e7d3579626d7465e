package instance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/lockout"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// passwordRules applies an organization's password policy to a new
// password: the one implementation behind the reset and invite pages,
// /me/password and the expired-password step of the login.
type passwordRules struct {
	policies *password.Policies
	checker  *password.Checker
	now      func() time.Time
}

// Check refuses pw as u's new password. The minimum age comes first: a
// user told "changed too recently" should not have been made to invent a
// password that meets every other rule.
func (p passwordRules) Check(ctx context.Context, u storage.User, pw string, selfService bool) error {
	pol, err := p.policies.For(ctx, u.OrgID)
	if err != nil {
		return fmt.Errorf("password policy: %w", err)
	}
	if selfService {
		if err := pol.TooSoon(u.PasswordChangedAt, p.now()); err != nil {
			return err
		}
	}
	return p.checker.Check(ctx, pol, pw)
}

// Expired: u's password is older than the policy's maximum age.
func (p passwordRules) Expired(ctx context.Context, u storage.User) (bool, error) {
	pol, err := p.policies.For(ctx, u.OrgID)
	if err != nil {
		return false, fmt.Errorf("password policy: %w", err)
	}
	return pol.Expired(u.PasswordChangedAt, p.now()), nil
}

// MinLength is the policy's minimum for u, for the forms' hint.
func (p passwordRules) MinLength(ctx context.Context, u storage.User) int {
	pol, err := p.policies.For(ctx, u.OrgID)
	if err != nil {
		return password.MinLengthFloor
	}
	return pol.MinimumLength()
}

// guard puts idp/lockout behind selfservice.Guard: the current-password
// check of /me/password counts toward the same lockout as a login.
type guard struct{ l *lockout.Limiter }

func (g guard) Reserve(ctx context.Context, userID, ip string) (selfservice.Attempt, error) {
	a, err := g.l.Reserve(ctx, userID, ip)
	if errors.Is(err, lockout.ErrLocked) || errors.Is(err, lockout.ErrThrottled) {
		return nil, fmt.Errorf("%w: %w", selfservice.ErrAttemptRefused, err)
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}
