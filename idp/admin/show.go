package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/mfa/webauthnmfa"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// FactorInfo is a second factor as an administrator sees it: what it is
// and when it was used, never its secret.
type FactorInfo struct {
	ID, Kind, Label string
	Confirmed       bool
	CreatedAt       time.Time
	ConfirmedAt     time.Time
	LastUsedAt      time.Time
	// Flagged: a security key whose signature counter went backwards (a
	// sign of a copy); it signs nobody in and should be removed.
	Flagged bool
}

// UserInfo is what `users show` and the console show of a user.
type UserInfo struct {
	User storage.User
	Org  string // the organization's name
	// Roles are the user's roles as people read them (DescribeRoles).
	Roles []string
	// Factors are the user's second factors, recovery codes counted
	// apart: RecoveryCodes left unused of RecoveryTotal issued.
	Factors       []FactorInfo
	RecoveryCodes int
	RecoveryTotal int
	// Failures is the lockout's current count of failed guesses;
	// LockedUntil, when in the future, is the end of a lock.
	Failures    int
	LockedUntil time.Time
}

// ShowUser gathers what an administrator needs to know of the user email
// names: state, roles, factors (no secrets), the skip flag, the lockout
// and the last login.
func (s *Service) ShowUser(ctx context.Context, email string) (UserInfo, error) {
	const op = "show user"
	u, err := s.userByEmail(ctx, op, email)
	if err != nil {
		return UserInfo{}, err
	}
	return s.userInfo(ctx, u)
}

// userInfo gathers ShowUser's answer for u.
func (s *Service) userInfo(ctx context.Context, u storage.User) (UserInfo, error) {
	const op = "show user"
	var err error
	info := UserInfo{User: u, LockedUntil: u.LockedUntil}
	if o, err := s.Store.GetOrganization(ctx, u.OrgID); err == nil {
		info.Org = o.Name
	} else {
		return UserInfo{}, fmt.Errorf("%s: organization: %w", op, err)
	}
	if info.Roles, err = s.DescribeRoles(ctx, u.Roles); err != nil {
		return UserInfo{}, fmt.Errorf("%s: %w", op, err)
	}
	fs, err := s.Store.ListFactors(ctx, u.ID, s.Now())
	if err != nil {
		return UserInfo{}, fmt.Errorf("%s: factors: %w", op, err)
	}
	for _, f := range fs {
		if f.Kind == storage.FactorRecovery {
			if !f.ConfirmedAt.IsZero() {
				info.RecoveryTotal++
				if f.LastUsedAt.IsZero() {
					info.RecoveryCodes++
				}
			}
			continue
		}
		info.Factors = append(info.Factors, FactorInfo{ID: f.ID, Kind: f.Kind, Label: f.Label,
			Confirmed: !f.ConfirmedAt.IsZero(), CreatedAt: f.CreatedAt, ConfirmedAt: f.ConfirmedAt, LastUsedAt: f.LastUsedAt,
			Flagged: webauthnmfa.Flagged(f)})
	}
	if s.Lockout != nil {
		n, until, err := s.Lockout.Status(ctx, u.ID)
		if err != nil {
			return UserInfo{}, fmt.Errorf("%s: lockout: %w", op, err)
		}
		info.Failures = n
		if until.After(info.LockedUntil) {
			info.LockedUntil = until
		}
	}
	return info, nil
}
