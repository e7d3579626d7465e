package otpcode

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/lockout"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// ReasonEnrolExpired: a pending factor died (or was purged) before its
// first code came back.
const ReasonEnrolExpired = "enrolment_expired"

// Store is the storage a code method writes: enrolments, their
// confirmation and the last use of a factor.
type Store interface {
	CreateFactor(ctx context.Context, f storage.Factor) error
	ConfirmFactor(ctx context.Context, id string, now time.Time, replace ...string) (storage.Factor, error)
	TouchFactor(ctx context.Context, id string, now time.Time) error
}

var _ Store = storage.Factors(nil)

// Shown is what a showing of the step does with the code in state: keep
// is true when that code, sent to f (one of factors), stands and is only
// shown again, which is every showing but a resend. Otherwise f is where
// a new code goes: the same factor on a resend, else the one used most
// recently. A page shown again never sends by itself: that would undo a
// burn and run up the sends. factors must not be empty.
func Shown(state []byte, factors []storage.Factor, resend bool) (f storage.Factor, st State, keep bool) {
	st, had := Read(state)
	ok := false
	if had {
		f, ok = Find(factors, st.Factor)
	}
	if !ok {
		return Latest(factors), State{}, false
	}
	return f, st, !resend
}

// Spend records that f proved the login of t (a Verify's last step); a
// factor removed meanwhile is a Failure in c's words.
func (c Code) Spend(ctx context.Context, s Store, t authflow.Turn, f storage.Factor, now time.Time) error {
	switch err := s.TouchFactor(ctx, f.ID, now); {
	case errors.Is(err, storage.ErrNotFound):
		return &authflow.Failure{User: t.User, Reason: ReasonUnknownFactor, Show: c.Words.Expired}
	case err != nil:
		return fmt.Errorf("otpcode: record the factor's use: %w", err)
	}
	return nil
}

// Confirm confirms pending factor f of t.User, whose code was just
// checked: one gone meanwhile (expired and purged, reset) or confirmed
// already (a replay) is a Failure in c's words.
func (c Code) Confirm(ctx context.Context, s Store, t authflow.Turn, f storage.Factor, now time.Time) error {
	_, err := s.ConfirmFactor(ctx, f.ID, now)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return &authflow.Failure{User: t.User, Reason: ReasonEnrolExpired, Show: c.Words.EnrolExpired}
	case errors.Is(err, storage.ErrAlreadyUsed):
		return &authflow.Failure{User: t.User, Reason: ReasonUsed, Show: c.Words.Expired}
	case err != nil:
		return fmt.Errorf("otpcode: confirm the enrolment: %w", err)
	}
	return nil
}

// Windows makes caps as sliding windows over st's attempt counters,
// shared by every instance on the database: the cap it returns for
// (limit, defaultLimit) allows limit events (defaultLimit when limit is
// not positive) per window (defaultWindow when window is not positive).
// now nil is time.Now.
func Windows(st storage.Attempts, window, defaultWindow time.Duration, now func() time.Time) func(limit, defaultLimit int) *lockout.Window {
	if now == nil {
		now = time.Now
	}
	if window <= 0 {
		window = defaultWindow
	}
	return func(limit, defaultLimit int) *lockout.Window {
		if limit <= 0 {
			limit = defaultLimit
		}
		return &lockout.Window{Store: st, Limit: limit, Window: window, Now: now}
	}
}

// Cap is one cap a send is counted under.
type Cap struct {
	Name    string
	Limiter Limiter
	Key     string
}

// Allow counts one send under each of caps, in order, and returns the
// name of the first that refused it ("" when none did); the caps before it
// have counted it. An error is an outage of a cap: the caller sends
// nothing.
func Allow(ctx context.Context, caps []Cap) (refused string, err error) {
	for _, c := range caps {
		ok, err := c.Limiter.Allow(ctx, c.Key)
		if err != nil {
			return "", fmt.Errorf("%s send cap: %w", c.Name, err)
		}
		if !ok {
			return c.Name, nil
		}
	}
	return "", nil
}
