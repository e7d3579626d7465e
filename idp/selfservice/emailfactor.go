package selfservice

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/emailcode"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/smscode"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Factors at /me whose enrolment sends a code: email addresses and phone
// numbers. The methods (idp/mfa/emailcode, idp/mfa/smscode) keep a code
// in per-attempt state that a login keeps in its auth request; /me has no
// login, so the state lives in the pending factor's Data, and the factor's
// id stands for the login's id: a code is bound to the one enrolment it
// was sent for, a resend replaces it and the misses it counts burn it.

// beginRequest stands for the login's id when a factor is added at /me:
// BeginEnrol only checks that the turn names one (the code or challenge
// is bound to the factor's id, which does not exist yet).
const beginRequest = "selfservice:me"

// CodeEnrolment is what the page of a pending email or phone factor
// shows.
type CodeEnrolment struct {
	Factor storage.Factor
	// Address is where the code went, masked.
	Address string
	// Sent: a code was sent for this showing.
	Sent bool
	// Notice is the method's plain words about the code (expired, burnt,
	// too many sent), nil when it may be typed.
	Notice error
}

// codeTurn is the method's turn for pending factor f of u.
func codeTurn(u storage.User, p storage.MFAPolicy, f storage.Factor) authflow.Turn {
	return authflow.Turn{Request: storage.AuthRequest{ID: f.ID}, User: u, Policy: p, State: f.Data}
}

// enroller is the method that adds factors of kind at /me, nil when
// none is offered.
func (s *Service) enroller(kind string) Enroller {
	switch kind {
	case mfa.Email:
		return s.EmailCodes
	case mfa.SMS:
		return s.SMS
	case mfa.WebAuthn:
		return s.Keys
	}
	return nil
}

// BeginEmail starts adding address (the account's own when blank) as an
// email factor and sends its first code. ErrNotAllowed when email codes
// are not offered; a *Refused (ErrAddressRefused) when the address is
// malformed or the policy refuses it; ErrSendFailed when the mail server
// did not take the code (the enrolment is dropped: the user starts again).
func (s *Service) BeginEmail(ctx context.Context, userID, address string) (CodeEnrolment, error) {
	u, p, err := s.account(ctx, userID)
	if err != nil {
		return CodeEnrolment{}, err
	}
	if s.EmailCodes == nil || !mfa.Allowed(p, mfa.Email) {
		return CodeEnrolment{}, ErrNotAllowed
	}
	return s.beginCode(ctx, u, p, mfa.Email, authflow.Input{emailcode.FieldAddress: address}, ErrAddressRefused)
}

// BeginSMS starts adding a phone number as a text-message factor and
// texts its first code: the profile's number, or typed when the account
// has none and the organization lets users enter their own
// (mfa.SMSNumber). ErrNotAllowed when text messages are not offered;
// ErrNoPhone when the account has no number and may not enter one; a
// *Refused (ErrNumberRefused) for a malformed number or a country codes
// may not be sent to; ErrSendFailed when the gateway did not take it.
func (s *Service) BeginSMS(ctx context.Context, userID, typed string) (CodeEnrolment, error) {
	u, p, err := s.account(ctx, userID)
	if err != nil {
		return CodeEnrolment{}, err
	}
	if s.SMS == nil || !mfa.Allowed(p, mfa.SMS) {
		return CodeEnrolment{}, ErrNotAllowed
	}
	number, ask := mfa.SMSNumber(p, u)
	switch {
	case ask:
		number = typed
	case number == "":
		return CodeEnrolment{}, ErrNoPhone
	}
	return s.beginCode(ctx, u, p, mfa.SMS, authflow.Input{smscode.FieldPhone: number}, ErrNumberRefused)
}

// beginCode begins kind's enrolment with in and sends its first code; a
// refusal of in is refused.
func (s *Service) beginCode(ctx context.Context, u storage.User, p storage.MFAPolicy, kind string, in authflow.Input, refused error) (CodeEnrolment, error) {
	t := authflow.Turn{Request: storage.AuthRequest{ID: beginRequest}, User: u, Policy: p}
	id, _, err := s.enroller(kind).BeginEnrol(ctx, t, in)
	var fail *authflow.Failure
	if errors.As(err, &fail) {
		return CodeEnrolment{}, &Refused{Err: refused, Show: fail.Show}
	} else if err != nil {
		return CodeEnrolment{}, fmt.Errorf("selfservice: begin a %s factor: %w", kind, err)
	}
	f, err := s.Store.GetFactor(ctx, id)
	if err != nil {
		return CodeEnrolment{}, fmt.Errorf("selfservice: load the enrolment: %w", err)
	}
	c, err := s.codeView(ctx, u, p, f, false)
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
func (s *Service) EmailEnrolment(ctx context.Context, userID, id string, resend bool) (CodeEnrolment, error) {
	return s.codeEnrolment(ctx, mfa.Email, userID, id, resend)
}

// SMSEnrolment is EmailEnrolment for a pending phone factor.
func (s *Service) SMSEnrolment(ctx context.Context, userID, id string, resend bool) (CodeEnrolment, error) {
	return s.codeEnrolment(ctx, mfa.SMS, userID, id, resend)
}

func (s *Service) codeEnrolment(ctx context.Context, kind, userID, id string, resend bool) (CodeEnrolment, error) {
	u, p, err := s.account(ctx, userID)
	if err != nil {
		return CodeEnrolment{}, err
	}
	if s.enroller(kind) == nil {
		return CodeEnrolment{}, ErrNotAllowed
	}
	f, err := s.pending(ctx, u, id, kind)
	if err != nil {
		return CodeEnrolment{}, err
	}
	return s.codeView(ctx, u, p, f, resend)
}

// codeView asks f's method for its page and keeps the state it returns.
func (s *Service) codeView(ctx context.Context, u storage.User, p storage.MFAPolicy, f storage.Factor, resend bool) (CodeEnrolment, error) {
	t := codeTurn(u, p, f)
	t.Resend = resend
	v, state, err := s.enroller(f.Kind).EnrolView(ctx, t, f)
	switch {
	case errors.Is(err, authflow.ErrNotSent):
		return CodeEnrolment{}, fmt.Errorf("%w: %w", ErrSendFailed, err)
	case err != nil:
		return CodeEnrolment{}, fmt.Errorf("selfservice: show the %s enrolment: %w", f.Kind, err)
	}
	if !bytes.Equal(state, f.Data) {
		err := s.Store.SetFactorData(ctx, f.ID, state, s.now())
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return CodeEnrolment{}, ErrNoFactor // expired meanwhile: the code sent is worth nothing
		case err != nil:
			return CodeEnrolment{}, fmt.Errorf("selfservice: keep the code's state: %w", err)
		}
		f.Data = state
	}
	return CodeEnrolment{Factor: f, Address: v.Address, Sent: v.Sent, Notice: v.Notice}, nil
}

// ConfirmEmail confirms the user's pending email factor id with the code
// sent to it. A wrong code counts toward the account's lockout and, in
// the factor's state, toward the misses that burn the code; both are
// written whatever the outcome, the miss in the unit that read the state.
func (s *Service) ConfirmEmail(ctx context.Context, userID, id, code, ip string) (Confirmed, error) {
	return s.confirmCode(ctx, mfa.Email, userID, id, authflow.Input{emailcode.FieldCode: code}, ip)
}

// ConfirmSMS is ConfirmEmail for a pending phone factor.
func (s *Service) ConfirmSMS(ctx context.Context, userID, id, code, ip string) (Confirmed, error) {
	return s.confirmCode(ctx, mfa.SMS, userID, id, authflow.Input{smscode.FieldCode: code}, ip)
}

func (s *Service) confirmCode(ctx context.Context, kind, userID, id string, in authflow.Input, ip string) (Confirmed, error) {
	return s.confirmPending(ctx, kind, userID, id, in, ip, func(_ context.Context, u storage.User, p storage.MFAPolicy, cur storage.Factor) (authflow.Turn, error) {
		return codeTurn(u, p, cur), nil
	})
}

// confirmPending confirms the user's pending factor id of kind with in,
// through its method's ConfirmEnrol on turn's Turn. A refusal counts
// toward the account's lockout and its state (a miss, a spent challenge)
// is written in the unit that read the old one, whatever the outcome.
func (s *Service) confirmPending(ctx context.Context, kind, userID, id string, in authflow.Input, ip string,
	turn func(ctx context.Context, u storage.User, p storage.MFAPolicy, cur storage.Factor) (authflow.Turn, error)) (Confirmed, error) {
	u, p, err := s.account(ctx, userID)
	if err != nil {
		return Confirmed{}, err
	}
	m := s.enroller(kind)
	if m == nil {
		return Confirmed{}, ErrNotAllowed
	}
	f, err := s.pending(ctx, u, id, kind)
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
		cur, err := s.pending(ctx, u, id, kind)
		if err != nil {
			return err
		}
		t, err := turn(ctx, u, p, cur)
		if err != nil {
			return err
		}
		_, err = m.ConfirmEnrol(ctx, t, cur, in)
		if errors.As(err, &refusal) {
			if refusal.State == nil {
				return nil
			}
			return s.Store.SetFactorData(ctx, cur.ID, refusal.State, s.now())
		} else if err != nil {
			return err
		}
		// As the method left it (a key's record is its Data now).
		if cur, err = s.Store.GetFactor(ctx, cur.ID); err != nil {
			return fmt.Errorf("selfservice: load the factor: %w", err)
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
