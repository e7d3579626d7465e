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

// Failure reasons in the audit log.
const (
	ReasonWrong     = "wrong_code"
	ReasonReplayed  = "replayed_code"
	ReasonMalformed = "malformed_code"
)

// ErrRetype is what the page shows for a submission that is not 6 digits:
// it says nothing about the secret.
var ErrRetype = errors.New("enter the 6-digit code from your authenticator app")

// FactorStore is the storage the method reads and writes.
type FactorStore interface {
	ListFactors(ctx context.Context, userID string, now time.Time) ([]storage.Factor, error)
	UseFactorStep(ctx context.Context, id string, step int64, now time.Time) (storage.Factor, error)
}

var _ FactorStore = storage.Factors(nil)

// Method checks a TOTP code for the user the request names.
type Method struct {
	Factors FactorStore
	// Sealer opens the stored secrets (*masterkey.Key).
	Sealer totp.Sealer
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger gets factors whose secret does not open; nil is
	// slog.Default().
	Logger *slog.Logger
}

var (
	_ authflow.Method  = (*Method)(nil)
	_ authflow.Guarded = (*Method)(nil)
	_ authflow.Usable  = (*Method)(nil)
)

func (m *Method) Name() string        { return Name }
func (m *Method) Step() authflow.Step { return authflow.StepMFA }

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

// confirmed are userID's confirmed TOTP factors.
func (m *Method) confirmed(ctx context.Context, userID string, now time.Time) ([]storage.Factor, error) {
	all, err := m.Factors.ListFactors(ctx, userID, now)
	if err != nil {
		return nil, fmt.Errorf("totplogin: list factors: %w", err)
	}
	var out []storage.Factor
	for _, f := range all {
		if f.Kind == storage.FactorTOTP && !f.ConfirmedAt.IsZero() && f.UserID == userID {
			out = append(out, f)
		}
	}
	return out, nil
}

// Verify checks in[FieldCode] against each confirmed TOTP factor of
// r.UserID and, on a match, uses the matched step. A secret that does not
// open is logged and its factor skipped; a storage error is an outage.
func (m *Method) Verify(ctx context.Context, r storage.AuthRequest, in authflow.Input) (authflow.Proof, error) {
	who := storage.User{ID: r.UserID, OrgID: r.OrgID} // for the audit of a failure
	if r.UserID == "" {
		return authflow.Proof{}, errors.New("totplogin: the request names no user")
	}
	code, err := totp.ParseCode(in[FieldCode])
	if err != nil {
		return authflow.Proof{}, &authflow.Failure{User: who, Reason: ReasonMalformed, Show: ErrRetype}
	}
	now := m.now()
	factors, err := m.confirmed(ctx, r.UserID, now)
	if err != nil {
		return authflow.Proof{}, err
	}
	reason := ReasonWrong
	for _, f := range factors {
		secret, err := totp.Open(m.Sealer, f.Secret, f.ID, f.UserID)
		if err != nil {
			m.logger().WarnContext(ctx, "totplogin: a factor's secret does not open; skipped", "factor", f, "err", err)
			continue
		}
		step, err := totp.Match(secret, code, now)
		clear(secret)
		switch {
		case errors.Is(err, totp.ErrWrongCode):
			continue
		case err != nil:
			m.logger().WarnContext(ctx, "totplogin: a factor's code check failed; skipped", "factor", f, "err", err)
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
		return authflow.Proof{UserID: r.UserID, AMR: []string{AMROTP}, Event: audit.LoginTOTP}, nil
	}
	return authflow.Proof{}, &authflow.Failure{User: who, Reason: reason}
}

// Usable: u has a confirmed authenticator app.
func (m *Method) Usable(ctx context.Context, u storage.User) (bool, error) {
	f, err := m.confirmed(ctx, u.ID, m.now())
	if err != nil {
		return false, err
	}
	return len(f) > 0, nil
}

// Account is the user the request names: a code is a guess at their
// factor.
func (m *Method) Account(_ context.Context, r storage.AuthRequest, _ authflow.Input) (string, error) {
	return r.UserID, nil
}

// Decoy does nothing: a code check is cheap, so refusing one unchecked
// takes as long as checking it.
func (m *Method) Decoy(context.Context, authflow.Input) {}
