package selfservice

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/webauthnmfa"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Security keys and passkeys at /me. As for email codes, /me has no
// login to keep the method's state in: the ceremony's challenge lives in
// the pending key's Data and the key's id stands for the login's id. The
// challenge is thereby bound to the one enrolment, of the signed-in
// user, it was issued for; every confirmation spends it, and the key's
// record replaces it when the key is confirmed.

// SecurityKey is what the page of a pending key shows.
type SecurityKey struct {
	Factor storage.Factor
	// Options is the create ceremony's options JSON for the page's
	// script; nil when there is no ceremony to run (Notice says why).
	Options []byte
	Notice  error
}

// keyTurn is the method's turn for pending key f of u, with u's keys
// (the browser is told not to register one of them again).
func (s *Service) keyTurn(ctx context.Context, u storage.User, p storage.MFAPolicy, id string, state []byte) (authflow.Turn, error) {
	all, err := s.Store.ListFactors(ctx, u.ID, s.now())
	if err != nil {
		return authflow.Turn{}, fmt.Errorf("selfservice: factors: %w", err)
	}
	var keys []storage.Factor
	for _, f := range all {
		if f.Kind == mfa.WebAuthn && !f.ConfirmedAt.IsZero() {
			keys = append(keys, f)
		}
	}
	return authflow.Turn{Request: storage.AuthRequest{ID: id}, User: u, Policy: p, Factors: keys, State: state}, nil
}

// BeginKey starts registering a security key named label (the method's
// default when blank). ErrNotAllowed when keys are not offered; a
// *Refused (ErrLabelRefused) for a label the method refuses.
func (s *Service) BeginKey(ctx context.Context, userID, label string) (SecurityKey, error) {
	u, p, err := s.account(ctx, userID)
	if err != nil {
		return SecurityKey{}, err
	}
	if s.Keys == nil || !mfa.Allowed(p, mfa.WebAuthn) {
		return SecurityKey{}, ErrNotAllowed
	}
	t, err := s.keyTurn(ctx, u, p, beginRequest, nil)
	if err != nil {
		return SecurityKey{}, err
	}
	id, state, err := s.Keys.BeginEnrol(ctx, t, authflow.Input{webauthnmfa.FieldLabel: label})
	var fail *authflow.Failure
	if errors.As(err, &fail) {
		return SecurityKey{}, &Refused{Err: ErrLabelRefused, Show: fail.Show}
	} else if err != nil {
		return SecurityKey{}, fmt.Errorf("selfservice: begin a security key: %w", err)
	}
	if err := s.Store.SetFactorData(ctx, id, state, s.now()); err != nil {
		return SecurityKey{}, fmt.Errorf("selfservice: keep the ceremony: %w", err)
	}
	f, err := s.Store.GetFactor(ctx, id)
	if err != nil {
		return SecurityKey{}, fmt.Errorf("selfservice: load the enrolment: %w", err)
	}
	t.Request.ID, t.State = f.ID, f.Data
	return s.keyView(ctx, t, f)
}

// KeyEnrolment shows the user's pending key id: its live ceremony again
// (a reload), or a new one for a spent or expired one.
func (s *Service) KeyEnrolment(ctx context.Context, userID, id string) (SecurityKey, error) {
	u, p, err := s.account(ctx, userID)
	if err != nil {
		return SecurityKey{}, err
	}
	if s.Keys == nil {
		return SecurityKey{}, ErrNotAllowed
	}
	f, err := s.pending(ctx, u, id, mfa.WebAuthn)
	if err != nil {
		return SecurityKey{}, err
	}
	t, err := s.keyTurn(ctx, u, p, f.ID, f.Data)
	if err != nil {
		return SecurityKey{}, err
	}
	return s.keyView(ctx, t, f)
}

// keyView asks the method for pending key f's page on turn t and keeps
// the state it returns.
func (s *Service) keyView(ctx context.Context, t authflow.Turn, f storage.Factor) (SecurityKey, error) {
	v, state, err := s.Keys.EnrolView(ctx, t, f)
	if err != nil {
		return SecurityKey{}, fmt.Errorf("selfservice: show the security key: %w", err)
	}
	if state != nil && !bytes.Equal(state, f.Data) {
		err := s.Store.SetFactorData(ctx, f.ID, state, s.now())
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return SecurityKey{}, ErrNoFactor
		case err != nil:
			return SecurityKey{}, fmt.Errorf("selfservice: keep the ceremony: %w", err)
		}
		f.Data = state
	}
	return SecurityKey{Factor: f, Options: v.Data, Notice: v.Notice}, nil
}

// ConfirmKey registers the user's pending key id with the browser's
// answer to its ceremony. A refused answer counts toward the account's
// lockout, like a wrong code, and spends the challenge.
func (s *Service) ConfirmKey(ctx context.Context, userID, id, credential, ip string) (Confirmed, error) {
	return s.confirmPending(ctx, mfa.WebAuthn, userID, id, authflow.Input{webauthnmfa.FieldCredential: credential}, ip,
		func(ctx context.Context, u storage.User, p storage.MFAPolicy, cur storage.Factor) (authflow.Turn, error) {
			return s.keyTurn(ctx, u, p, cur.ID, cur.Data)
		})
}
