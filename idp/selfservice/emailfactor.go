package selfservice

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/emailcode"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Email-code factors at /me. The method (idp/mfa/emailcode) keeps a code
// in per-attempt state that a login keeps in its auth request; /me has no
// login, so the state lives in the pending factor's Data, and the factor's
// id stands for the login's id: a code is bound to the one enrolment it
// was sent for, a resend replaces it and the misses it counts burn it.

// beginRequest stands for the login's id when an address is added at /me:
// BeginEnrol only checks that the turn names one (the code it will send
// is bound to the factor's id, which does not exist yet).
const beginRequest = "selfservice:me"

// EmailCode is what the page of a pending email factor shows.
type EmailCode struct {
	Factor storage.Factor
	// Address is where the code went, masked.
	Address string
	// Sent: a code was sent for this showing.
	Sent bool
	// Notice is the method's plain words about the code (expired, burnt,
	// too many sent), nil when it may be typed.
	Notice error
}

// emailTurn is the method's turn for pending factor f of u.
func emailTurn(u storage.User, p storage.MFAPolicy, f storage.Factor) authflow.Turn {
	return authflow.Turn{Request: storage.AuthRequest{ID: f.ID}, User: u, Policy: p, State: f.Data}
}

// BeginEmail starts adding address (the account's own when blank) as an
// email factor and sends its first code. ErrNotAllowed when email codes
// are not offered; a *Refused (ErrAddressRefused) when the address is
// malformed or the policy refuses it; ErrSendFailed when the mail server
// did not take the code (the enrolment is dropped: the user starts again).
func (s *Service) BeginEmail(ctx context.Context, userID, address string) (EmailCode, error) {
	u, p, err := s.account(ctx, userID)
	if err != nil {
		return EmailCode{}, err
	}
	if s.EmailCodes == nil || !mfa.Allowed(p, mfa.Email) {
		return EmailCode{}, ErrNotAllowed
	}
	t := authflow.Turn{Request: storage.AuthRequest{ID: beginRequest}, User: u, Policy: p}
	id, _, err := s.EmailCodes.BeginEnrol(ctx, t, authflow.Input{emailcode.FieldAddress: address})
	var fail *authflow.Failure
	if errors.As(err, &fail) {
		return EmailCode{}, &Refused{Err: ErrAddressRefused, Show: fail.Show}
	} else if err != nil {
		return EmailCode{}, fmt.Errorf("selfservice: begin an email factor: %w", err)
	}
	f, err := s.Store.GetFactor(ctx, id)
	if err != nil {
		return EmailCode{}, fmt.Errorf("selfservice: load the enrolment: %w", err)
	}
	c, err := s.emailView(ctx, u, p, f, false)
	if errors.Is(err, ErrSendFailed) {
		// No code reached the user: a page to type one into would be a
		// dead end. The pending row would expire anyway.
		if derr := s.Store.DeleteFactor(context.WithoutCancel(ctx), f.ID); derr != nil {
			s.log().WarnContext(ctx, "selfservice: dropping an enrolment whose code was not sent failed", "factor_id", f.ID, "err", derr)
		}
	}
	return c, err
}

// EmailEnrolment shows the user's pending email factor id: the code
// already sent, or (resend) a new one that voids it. A showing sends a
// code only when none was sent yet, so a reload cannot undo a burn.
func (s *Service) EmailEnrolment(ctx context.Context, userID, id string, resend bool) (EmailCode, error) {
	u, p, err := s.account(ctx, userID)
	if err != nil {
		return EmailCode{}, err
	}
	if s.EmailCodes == nil {
		return EmailCode{}, ErrNotAllowed
	}
	f, err := s.pending(ctx, u, id, storage.FactorEmail)
	if err != nil {
		return EmailCode{}, err
	}
	return s.emailView(ctx, u, p, f, resend)
}

// emailView asks the method for f's page and keeps the state it returns.
func (s *Service) emailView(ctx context.Context, u storage.User, p storage.MFAPolicy, f storage.Factor, resend bool) (EmailCode, error) {
	t := emailTurn(u, p, f)
	t.Resend = resend
	v, state, err := s.EmailCodes.EnrolView(ctx, t, f)
	switch {
	case errors.Is(err, emailcode.ErrSendFailed):
		return EmailCode{}, fmt.Errorf("%w: %w", ErrSendFailed, err)
	case err != nil:
		return EmailCode{}, fmt.Errorf("selfservice: show the email enrolment: %w", err)
	}
	if !bytes.Equal(state, f.Data) {
		err := s.Store.SetFactorData(ctx, f.ID, state, s.now())
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return EmailCode{}, ErrNoFactor // expired meanwhile: the code sent is worth nothing
		case err != nil:
			return EmailCode{}, fmt.Errorf("selfservice: keep the code's state: %w", err)
		}
		f.Data = state
	}
	return EmailCode{Factor: f, Address: v.Address, Sent: v.Sent, Notice: v.Notice}, nil
}

// ConfirmEmail confirms the user's pending email factor id with the code
// sent to it. A wrong code counts toward the account's lockout and, in
// the factor's state, toward the misses that burn the code; both are
// written whatever the outcome, the miss in the unit that read the state.
func (s *Service) ConfirmEmail(ctx context.Context, userID, id, code, ip string) (Confirmed, error) {
	u, p, err := s.account(ctx, userID)
	if err != nil {
		return Confirmed{}, err
	}
	if s.EmailCodes == nil {
		return Confirmed{}, ErrNotAllowed
	}
	f, err := s.pending(ctx, u, id, storage.FactorEmail)
	if err != nil {
		return Confirmed{}, err
	}
	att, err := s.reserve(ctx, u, f.Kind, ip)
	if err != nil {
		return Confirmed{}, err
	}
	var c Confirmed
	var refusal *authflow.Failure
	err = storage.Atomically(ctx, s.Store, func(ctx context.Context) error {
		c, refusal = Confirmed{}, nil
		cur, err := s.pending(ctx, u, id, storage.FactorEmail)
		if err != nil {
			return err
		}
		_, err = s.EmailCodes.ConfirmEnrol(ctx, emailTurn(u, p, cur), cur, authflow.Input{emailcode.FieldCode: code})
		if errors.As(err, &refusal) {
			if refusal.State == nil {
				return nil
			}
			return s.Store.SetFactorData(ctx, cur.ID, refusal.State, s.now())
		} else if err != nil {
			return err
		}
		c, err = s.confirmed(ctx, u, cur)
		return err
	})
	if err == nil && refusal != nil {
		err = refusal
	}
	if err := s.settle(ctx, att, u, f, err); err != nil {
		return Confirmed{}, err
	}
	s.added(ctx, u, c, "")
	return c, nil
}
