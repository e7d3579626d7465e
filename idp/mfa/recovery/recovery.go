package recovery

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Name is the method's name in forms and the audit log, and the Kind of
// its factors.
const Name = mfa.Recovery

// FieldCode is the form field the code is posted in.
const FieldCode = "code"

// AMROTP is the RFC 8176 value of the proof. A recovery code is a
// one-time password ("otp"): a secret that works once, which the user
// holds apart from the password (NIST SP 800-63B calls it a look-up
// secret, a possession factor). RFC 8176 has no closer value; "pwd"
// (memorized) and "kba" (knowledge questions) would both misdescribe it.
// The audit event, not the token, tells it apart from an app's code.
const AMROTP = "otp"

// Count is the number of codes in a set.
const Count = 10

// Failure reasons in the audit log.
const (
	ReasonMalformed = "malformed_code"
	ReasonWrong     = "wrong_code"
	// ReasonUsed: the code was spent before. Worth a look: the set may
	// have leaked.
	ReasonUsed = "used_code"
)

// What the page shows, in plain words. At the mfa step the user is
// known, so telling a spent code from a wrong one reveals nothing new.
var (
	ErrRetype    = errors.New("Enter one of your recovery codes, like k7mq-2xhd-9fta.")
	ErrWrongCode = errors.New("This recovery code is not right. Check it and try again.")
	ErrUsedCode  = errors.New("This recovery code was used before. Each code works once: use another one.")
)

// Store is the storage the method reads and writes.
type Store interface {
	ListFactors(ctx context.Context, userID string, now time.Time) ([]storage.Factor, error)
	ConsumeRecoveryCode(ctx context.Context, userID string, hash []byte, now time.Time) (storage.Factor, error)
	ReplaceRecoveryCodes(ctx context.Context, userID string, codes []storage.Factor) error
}

var _ Store = storage.Factors(nil)

// Method issues and checks recovery codes. Set the fields before use; it
// is then safe for concurrent use.
type Method struct {
	Store Store
	// Now is the clock and Rand the source of codes; nil: time.Now and
	// crypto/rand.
	Now  func() time.Time
	Rand io.Reader
	// Logger gets storage errors that only cost an audit detail; nil is
	// slog.Default().
	Logger *slog.Logger
}

var (
	_ authflow.SecondFactor  = (*Method)(nil)
	_ authflow.Fallback      = (*Method)(nil)
	_ authflow.RecoveryCodes = (*Method)(nil)
)

// Name is "recovery".
func (m *Method) Name() string { return Name }

// Fallback: a recovery code stands in for a lost factor.
func (m *Method) Fallback() bool { return true }

// Challenge has nothing to send or show: the user has the codes.
func (m *Method) Challenge(_ context.Context, t authflow.Turn) (authflow.View, []byte, error) {
	return authflow.View{}, t.State, nil
}

// Issue makes a new set of Count codes for userID and stores their hashes,
// confirmed now (the caller shows them at once), in place of the old set.
// It returns the codes as the user should see them.
func (m *Method) Issue(ctx context.Context, userID string) ([]string, error) {
	if userID == "" {
		return nil, errors.New("recovery: issue codes for no user")
	}
	now := m.now()
	codes := make([]string, 0, Count)
	rows := make([]storage.Factor, 0, Count)
	seen := map[string]bool{}
	for len(codes) < Count {
		c, err := newCode(m.rand())
		if err != nil {
			return nil, err
		}
		if seen[c] { // 2^-59 a pair; a repeat would be one code, not two
			continue
		}
		seen[c] = true
		codes = append(codes, group(c))
		rows = append(rows, storage.Factor{ID: storage.NewID(), UserID: userID, Kind: storage.FactorRecovery,
			Label: fmt.Sprintf("Recovery code %d", len(codes)), Secret: hash(userID, c), ConfirmedAt: now, CreatedAt: now})
	}
	if err := m.Store.ReplaceRecoveryCodes(ctx, userID, rows); err != nil {
		return nil, fmt.Errorf("recovery: store codes: %w", err)
	}
	return codes, nil
}

// Verify checks the typed code against t.Factors (the user's codes that
// count) and spends it. A code that is not among them (another set,
// another user, or one the policy no longer counts) is wrong without
// touching storage: refusing it must not spend it.
func (m *Method) Verify(ctx context.Context, t authflow.Turn, in authflow.Input) (authflow.Proof, error) {
	if t.User.ID == "" {
		return authflow.Proof{}, errors.New("recovery: the turn names no user")
	}
	code, ok := parse(in[FieldCode])
	if !ok {
		return authflow.Proof{}, m.failure(t, ReasonMalformed)
	}
	h := hash(t.User.ID, code)
	if !among(t, h) {
		return authflow.Proof{}, m.failure(t, m.spentOrWrong(ctx, t.User.ID, h))
	}
	_, err := m.Store.ConsumeRecoveryCode(ctx, t.User.ID, h, m.now())
	switch {
	case errors.Is(err, storage.ErrAlreadyUsed):
		return authflow.Proof{}, m.failure(t, ReasonUsed) // another submission won
	case errors.Is(err, storage.ErrNotFound):
		return authflow.Proof{}, m.failure(t, ReasonWrong) // replaced meanwhile
	case err != nil:
		return authflow.Proof{}, fmt.Errorf("recovery: spend code: %w", err)
	}
	return authflow.Proof{UserID: t.User.ID, AMR: []string{AMROTP}, Event: audit.LoginRecoveryCode}, nil
}

// among reports whether h is the hash of one of t's unspent codes of
// t.User, comparing every one in constant time.
func among(t authflow.Turn, h []byte) bool {
	found := 0
	for _, f := range t.Factors {
		if f.Kind == storage.FactorRecovery && f.UserID == t.User.ID && !f.ConfirmedAt.IsZero() && f.LastUsedAt.IsZero() {
			found |= subtle.ConstantTimeCompare(f.Secret, h)
		}
	}
	return found == 1
}

// spentOrWrong tells, for the audit log, a code of the user's that was
// spent before from one that is simply wrong. It only reads; an outage
// here costs the detail, not the answer.
func (m *Method) spentOrWrong(ctx context.Context, userID string, h []byte) string {
	fs, err := m.Store.ListFactors(ctx, userID, m.now())
	if err != nil {
		m.logger().WarnContext(ctx, "recovery: listing codes to tell a spent one failed", "user_id", userID, "err", err)
		return ReasonWrong
	}
	for _, f := range fs {
		if f.Kind == storage.FactorRecovery && !f.LastUsedAt.IsZero() && subtle.ConstantTimeCompare(f.Secret, h) == 1 {
			return ReasonUsed
		}
	}
	return ReasonWrong
}

func (m *Method) failure(t authflow.Turn, reason string) *authflow.Failure {
	show := ErrWrongCode
	switch reason {
	case ReasonMalformed:
		show = ErrRetype
	case ReasonUsed:
		show = ErrUsedCode
	}
	return &authflow.Failure{User: t.User, Reason: reason, Show: show}
}

func (m *Method) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

func (m *Method) rand() io.Reader {
	if m.Rand == nil {
		return rand.Reader
	}
	return m.Rand
}

func (m *Method) logger() *slog.Logger {
	if m.Logger == nil {
		return slog.Default()
	}
	return m.Logger
}
