package selfservice

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/totp"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// A user's own second factors, from /me: adding an authenticator app at
// any time (even where the organization does not require MFA) and
// removing one. A factor is usable only once its first code is confirmed;
// an enrolment left unconfirmed expires (EnrolTTL) and is never usable.

// EnrolTTL bounds an unconfirmed enrolment.
const EnrolTTL = 10 * time.Minute

var (
	// ErrNoFactor: the factor is not one of the user's, or its enrolment
	// expired.
	ErrNoFactor = errors.New("selfservice: no such factor")
	// ErrWrongCode: the code does not confirm the enrolment.
	ErrWrongCode = errors.New("selfservice: the code is not correct")
	// ErrLastFactor: the organization requires MFA and this is the user's
	// last factor.
	ErrLastFactor = errors.New("selfservice: the last second factor cannot be removed while MFA is required")
)

// FactorStore is the storage of factors the service uses.
type FactorStore interface {
	CreateFactor(ctx context.Context, f storage.Factor) error
	GetFactor(ctx context.Context, id string) (storage.Factor, error)
	ListFactors(ctx context.Context, userID string, now time.Time) ([]storage.Factor, error)
	ConfirmFactor(ctx context.Context, id string, now time.Time, replace ...string) (storage.Factor, error)
	UseFactorStep(ctx context.Context, id string, step int64, now time.Time) (storage.Factor, error)
	DeleteFactor(ctx context.Context, id string) error
}

// Factors lists the user's factors (recovery codes left out).
func (s *Service) Factors(ctx context.Context, userID string) ([]storage.Factor, error) {
	all, err := s.Store.ListFactors(ctx, userID, s.now())
	if err != nil {
		return nil, fmt.Errorf("selfservice: factors: %w", err)
	}
	var out []storage.Factor
	for _, f := range all {
		if f.Kind != storage.FactorRecovery && !f.ConfirmedAt.IsZero() {
			out = append(out, f)
		}
	}
	return out, nil
}

// BeginTOTP starts adding an authenticator app: a new secret, sealed with
// the master key, in an unconfirmed factor that expires in EnrolTTL.
func (s *Service) BeginTOTP(ctx context.Context, userID string) (storage.Factor, error) {
	u, err := s.Store.GetUser(ctx, userID)
	if err != nil {
		return storage.Factor{}, fmt.Errorf("selfservice: load account: %w", err)
	}
	e, err := totp.New(s.issuerName(ctx, u), u.Email)
	if err != nil {
		return storage.Factor{}, fmt.Errorf("selfservice: new TOTP secret: %w", err)
	}
	now := s.now()
	f := storage.Factor{ID: storage.NewID(), UserID: u.ID, Kind: storage.FactorTOTP, Label: "Authenticator app",
		CreatedAt: now, ExpiresAt: now.Add(EnrolTTL)}
	if f.Secret, err = totp.Seal(s.Sealer, e.Secret, f.ID, u.ID); err != nil {
		return storage.Factor{}, fmt.Errorf("selfservice: seal TOTP secret: %w", err)
	}
	if err := s.Store.CreateFactor(ctx, f); err != nil {
		return storage.Factor{}, fmt.Errorf("selfservice: store enrolment: %w", err)
	}
	return f, nil
}

// TOTPEnrolment is what the enrolment page shows of the user's pending
// factor id (the QR code, the secret as text): only while it is pending.
func (s *Service) TOTPEnrolment(ctx context.Context, userID, id string) (totp.Enrolment, error) {
	f, u, err := s.pending(ctx, userID, id)
	if err != nil {
		return totp.Enrolment{}, err
	}
	secret, err := totp.Open(s.Sealer, f.Secret, f.ID, f.UserID)
	if err != nil {
		return totp.Enrolment{}, fmt.Errorf("selfservice: open TOTP secret: %w", err)
	}
	return totp.For(secret, s.issuerName(ctx, u), u.Email)
}

func (s *Service) pending(ctx context.Context, userID, id string) (storage.Factor, storage.User, error) {
	if id == "" || len(id) > MaxToken || !storage.Storable(id) {
		return storage.Factor{}, storage.User{}, ErrNoFactor
	}
	f, err := s.Store.GetFactor(ctx, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return f, storage.User{}, ErrNoFactor
	case err != nil:
		return f, storage.User{}, fmt.Errorf("selfservice: load factor: %w", err)
	case f.UserID != userID || f.Kind != storage.FactorTOTP || !f.Pending(s.now()):
		return f, storage.User{}, ErrNoFactor
	}
	u, err := s.Store.GetUser(ctx, userID)
	if err != nil {
		return f, u, fmt.Errorf("selfservice: load account: %w", err)
	}
	return f, u, nil
}

// ConfirmTOTP confirms the user's pending factor id with its first code:
// the factor becomes usable and that code's step is spent, in one
// transaction. A wrong code counts toward the account's lockout.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, id, code, ip string) error {
	f, u, err := s.pending(ctx, userID, id)
	if err != nil {
		return err
	}
	secret, err := totp.Open(s.Sealer, f.Secret, f.ID, f.UserID)
	if err != nil {
		return fmt.Errorf("selfservice: open TOTP secret: %w", err)
	}
	var att Attempt
	if s.Guard != nil {
		if att, err = s.Guard.Reserve(ctx, u.ID, ip); err != nil {
			if errors.Is(err, ErrAttemptRefused) {
				return ErrWrongCode
			}
			return fmt.Errorf("selfservice: lockout: %w", err)
		}
	}
	now := s.now()
	step, err := totp.Match(secret, code, now)
	if err != nil {
		if att != nil {
			att.Failed(context.WithoutCancel(ctx))
		}
		s.record(ctx, audit.FactorAddFailed, u.ID, u, map[string]string{"kind": f.Kind})
		return ErrWrongCode
	}
	err = storage.Atomically(ctx, s.Store, func(ctx context.Context) error {
		if _, err := s.Store.ConfirmFactor(ctx, f.ID, now); err != nil {
			return err
		}
		_, err := s.Store.UseFactorStep(ctx, f.ID, step, now)
		return err
	})
	if err != nil {
		if att != nil {
			att.Released(context.WithoutCancel(ctx))
		}
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrAlreadyUsed) {
			return ErrNoFactor // expired or confirmed meanwhile
		}
		return fmt.Errorf("selfservice: confirm factor: %w", err)
	}
	if att != nil {
		att.Succeeded(context.WithoutCancel(ctx))
	}
	s.record(ctx, audit.FactorAdded, u.ID, u, map[string]string{"kind": f.Kind, "factor_id": f.ID})
	return nil
}

// RemoveFactor removes one of the user's factors, unless it is the last
// one and the organization requires MFA.
func (s *Service) RemoveFactor(ctx context.Context, userID, id string) error {
	fs, err := s.Factors(ctx, userID)
	if err != nil {
		return err
	}
	var found *storage.Factor
	for i := range fs {
		if fs[i].ID == id {
			found = &fs[i]
		}
	}
	if found == nil {
		return ErrNoFactor
	}
	u, err := s.Store.GetUser(ctx, userID)
	if err != nil {
		return fmt.Errorf("selfservice: load account: %w", err)
	}
	if len(fs) == 1 && u.OrgID != "" {
		o, err := s.Store.GetOrganization(ctx, u.OrgID)
		if err != nil {
			return fmt.Errorf("selfservice: organization: %w", err)
		}
		if o.MFA.Required {
			return ErrLastFactor
		}
	}
	if err := s.Store.DeleteFactor(ctx, id); err != nil {
		return fmt.Errorf("selfservice: remove factor: %w", err)
	}
	s.record(ctx, audit.FactorRemoved, u.ID, u, map[string]string{"kind": found.Kind, "factor_id": id})
	return nil
}

// issuerName is what an authenticator app calls the account's issuer: the
// organization's display name, or "Gatehouse".
func (s *Service) issuerName(ctx context.Context, u storage.User) string {
	if n := s.orgName(ctx, u); n != "" {
		return n
	}
	return "Gatehouse"
}
