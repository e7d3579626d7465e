package totplogin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/totp"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Name is the method's name in forms and registrations.
const Name = "totp"

// FieldCode is the form field the code is posted in.
const FieldCode = "code"

// AMROTP is the RFC 8176 value of a one-time password proof.
const AMROTP = "otp"

// EnrolTTL bounds a pending enrolment: leaving the page abandons it.
const EnrolTTL = 10 * time.Minute

// Failure reasons in the audit log.
const (
	ReasonWrong     = "wrong_code"
	ReasonReplayed  = "replayed_code"
	ReasonMalformed = "malformed_code"
	ReasonExpired   = "enrolment_expired"
)

// ErrRetype is what the page shows for a submission that is not 6 digits:
// it says nothing about the secret.
var ErrRetype = errors.New("enter the 6-digit code from your authenticator app")

// FactorStore is the storage the method reads and writes.
type FactorStore interface {
	CreateFactor(ctx context.Context, f storage.Factor) error
	ConfirmFactor(ctx context.Context, id string, now time.Time, replace ...string) (storage.Factor, error)
	UseFactorStep(ctx context.Context, id string, step int64, now time.Time) (storage.Factor, error)
}

var _ FactorStore = storage.Factors(nil)

// Method checks and enrols authenticator apps.
type Method struct {
	Factors FactorStore
	// Sealer seals and opens the stored secrets (*masterkey.Key).
	Sealer totp.Sealer
	// Issuer is what the app calls the account's issuer (the
	// organization's display name); nil or "" is "Gatehouse".
	Issuer func(ctx context.Context, u storage.User) string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger gets factors whose secret does not open; nil is
	// slog.Default().
	Logger *slog.Logger
}

var _ authflow.Enroller = (*Method)(nil)

func (m *Method) Name() string { return Name }

func (m *Method) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

func (m *Method) logger() *slog.Logger {
	if m.Logger == nil {
		return slog.Default()
	}
	return m.Logger
}

func (m *Method) issuer(ctx context.Context, u storage.User) string {
	if m.Issuer != nil {
		if n := m.Issuer(ctx, u); n != "" {
			return n
		}
	}
	return "Gatehouse"
}

// Challenge: an app needs nothing sent.
func (m *Method) Challenge(context.Context, authflow.Turn) (authflow.View, []byte, error) {
	return authflow.View{}, nil, nil
}

// Verify checks in[FieldCode] against each factor of t and, on a match,
// uses the matched step. A secret that does not open is logged and its
// factor skipped; a storage error is an outage.
func (m *Method) Verify(ctx context.Context, t authflow.Turn, in authflow.Input) (authflow.Proof, error) {
	who := t.User // for the audit of a failure
	code, err := totp.ParseCode(in[FieldCode])
	if err != nil {
		return authflow.Proof{}, &authflow.Failure{User: who, Reason: ReasonMalformed, Show: ErrRetype}
	}
	now := m.now()
	reason := ReasonWrong
	for _, f := range t.Factors {
		if f.Kind != storage.FactorTOTP || f.UserID != t.User.ID || f.ConfirmedAt.IsZero() {
			continue
		}
		step, ok := m.match(ctx, f, code, now)
		if !ok {
			continue
		}
		_, err = m.Factors.UseFactorStep(ctx, f.ID, step, now)
		switch {
		case errors.Is(err, storage.ErrAlreadyUsed):
			// This code, or a later one, was accepted already. Another
			// factor may still take it.
			reason = ReasonReplayed
			continue
		case errors.Is(err, storage.ErrNotFound):
			continue // deleted meanwhile (a reset): it proves nothing
		case err != nil:
			return authflow.Proof{}, fmt.Errorf("totplogin: use step: %w", err)
		}
		return authflow.Proof{UserID: t.User.ID, AMR: []string{AMROTP}, Event: audit.LoginTOTP}, nil
	}
	return authflow.Proof{}, &authflow.Failure{User: who, Reason: reason}
}

// match opens f's secret and matches code at now (±1 step).
func (m *Method) match(ctx context.Context, f storage.Factor, code string, now time.Time) (int64, bool) {
	secret, err := totp.Open(m.Sealer, f.Secret, f.ID, f.UserID)
	if err != nil {
		m.logger().WarnContext(ctx, "totplogin: a factor's secret does not open; skipped", "factor", f, "err", err)
		return 0, false
	}
	step, err := totp.Match(secret, code, now)
	clear(secret)
	switch {
	case errors.Is(err, totp.ErrWrongCode):
		return 0, false
	case err != nil:
		m.logger().WarnContext(ctx, "totplogin: a factor's code check failed; skipped", "factor", f, "err", err)
		return 0, false
	}
	return step, true
}

// BeginEnrol stores a new secret, sealed, in a pending factor that
// expires in EnrolTTL.
func (m *Method) BeginEnrol(ctx context.Context, t authflow.Turn, _ authflow.Input) (string, []byte, error) {
	f, err := m.Begin(ctx, t.User, "Authenticator app")
	return f.ID, nil, err
}

// Begin stores a new pending authenticator app for u (also /me's "add"
// and "reset").
func (m *Method) Begin(ctx context.Context, u storage.User, label string) (storage.Factor, error) {
	e, err := totp.New(m.issuer(ctx, u), u.Email)
	if err != nil {
		return storage.Factor{}, fmt.Errorf("totplogin: new secret: %w", err)
	}
	defer clear(e.Secret)
	now := m.now()
	f := storage.Factor{ID: storage.NewID(), UserID: u.ID, Kind: storage.FactorTOTP, Label: label,
		CreatedAt: now, ExpiresAt: now.Add(EnrolTTL)}
	if f.Secret, err = totp.Seal(m.Sealer, e.Secret, f.ID, u.ID); err != nil {
		return storage.Factor{}, fmt.Errorf("totplogin: seal secret: %w", err)
	}
	if err := m.Factors.CreateFactor(ctx, f); err != nil {
		return storage.Factor{}, fmt.Errorf("totplogin: store enrolment: %w", err)
	}
	return f, nil
}

// EnrolView shows pending factor f: its QR code and secret as text.
func (m *Method) EnrolView(ctx context.Context, t authflow.Turn, f storage.Factor) (authflow.View, []byte, error) {
	e, err := m.Enrolment(ctx, t.User, f)
	if err != nil {
		return authflow.View{}, nil, err
	}
	return authflow.View{Secret: e.Grouped, URI: e.URI, QR: e.QRPNG}, nil, nil
}

// Enrolment opens pending factor f of u for its page: the URI, the
// grouped text and the QR code. Its Secret is left out (nil): the page
// needs none, and the opened secret is wiped before this returns.
func (m *Method) Enrolment(ctx context.Context, u storage.User, f storage.Factor) (totp.Enrolment, error) {
	secret, err := totp.Open(m.Sealer, f.Secret, f.ID, f.UserID)
	if err != nil {
		return totp.Enrolment{}, fmt.Errorf("totplogin: open secret: %w", err)
	}
	defer clear(secret)
	e, err := totp.For(secret, m.issuer(ctx, u), u.Email)
	e.Secret = nil
	return e, err
}

// ConfirmEnrol confirms pending factor f with its first code, spending
// that code's step.
func (m *Method) ConfirmEnrol(ctx context.Context, t authflow.Turn, f storage.Factor, in authflow.Input) (authflow.Proof, error) {
	return m.Confirm(ctx, t.User, f, in[FieldCode])
}

// Confirm confirms u's pending factor f with code, replacing the factors
// in replace (a reset's old app) in the same write.
func (m *Method) Confirm(ctx context.Context, u storage.User, f storage.Factor, code string, replace ...string) (authflow.Proof, error) {
	c, err := totp.ParseCode(code)
	if err != nil {
		return authflow.Proof{}, &authflow.Failure{User: u, Reason: ReasonMalformed, Show: ErrRetype}
	}
	now := m.now()
	step, ok := m.match(ctx, f, c, now)
	if !ok {
		return authflow.Proof{}, &authflow.Failure{User: u, Reason: ReasonWrong}
	}
	// Confirming and spending the code are one unit of work (joining the
	// caller's, such as the flow's): a confirmed factor whose confirming
	// code could be used again must never exist.
	var expired bool
	err = storage.Atomically(ctx, m.Factors, func(ctx context.Context) error {
		_, err := m.Factors.ConfirmFactor(ctx, f.ID, now, replace...)
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrAlreadyUsed) {
			expired = true
			return err
		} else if err != nil {
			return fmt.Errorf("totplogin: confirm: %w", err)
		}
		if _, err := m.Factors.UseFactorStep(ctx, f.ID, step, now); err != nil {
			return fmt.Errorf("totplogin: spend the confirming code: %w", err)
		}
		return nil
	})
	if expired {
		return authflow.Proof{}, &authflow.Failure{User: u, Reason: ReasonExpired, Show: authflow.ErrEnrolExpired}
	} else if err != nil {
		return authflow.Proof{}, err
	}
	return authflow.Proof{UserID: u.ID, AMR: []string{AMROTP}, Event: audit.LoginTOTP}, nil
}
