package authflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/lockout"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Lockout counts guesses at secrets (idp/lockout.Limiter): a guess is
// reserved before its secret is checked, and the returned Attempt is told
// what the check said. Reserve fails with lockout.ErrLocked (the account
// is at its limit), lockout.ErrThrottled (the network is) or an outage.
type Lockout interface {
	Reserve(ctx context.Context, userID, ip string) (*lockout.Attempt, error)
}

var _ Lockout = (*lockout.Limiter)(nil)

// Guarded is a Method that checks a guessable secret (a password, a TOTP,
// SMS, email or recovery code), whose guesses the flow counts against the
// account and the client's network.
type Guarded interface {
	// Account names the user the submission is against, without checking
	// anything ("" when unknown). An error is an outage.
	Account(ctx context.Context, r storage.AuthRequest, in Input) (userID string, err error)
	// Decoy spends what a check of in costs without checking it, for a
	// guess refused unchecked: the time a refusal takes must not tell a
	// locked account from a wrong secret.
	Decoy(ctx context.Context, in Input)
}

// Reasons in the audit log of guesses refused before they were checked.
const (
	ReasonLocked    = "locked"
	ReasonThrottled = "ip_throttled"
)

// ErrThrottled is what a page shows when the client's network is over its
// failure limit. It says nothing about any account.
var ErrThrottled = errors.New("authflow: too many failed sign-ins from your network; try again in a few minutes")

// guard reserves the guess a Guarded method is about to check. A locked
// account is a *Failure exactly like a wrong secret, after a Decoy, and
// its secret is never checked: not even the right one gets in. A throttled
// network is a *Failure the page may name. A nil Attempt (no lockout, or
// not a guarded method) settles as a no-op.
func (f *Flow) guard(ctx context.Context, r storage.AuthRequest, b session.Browser, m Method, in Input) (*lockout.Attempt, error) {
	g, ok := m.(Guarded)
	if !ok || f.Lockout == nil {
		return nil, nil
	}
	id, err := g.Account(ctx, r, in)
	if err != nil {
		return nil, fmt.Errorf("authflow: %s: name the account: %w", m.Name(), err)
	}
	return f.reserve(ctx, id, b, func() { g.Decoy(ctx, in) })
}

// reserve reserves a guess at account id's secrets from b's network;
// decoy (nil for none) spends a check's cost when the account is locked.
// Every second factor's code is such a guess, against the user the
// request names.
func (f *Flow) reserve(ctx context.Context, id string, b session.Browser, decoy func()) (*lockout.Attempt, error) {
	if f.Lockout == nil {
		return nil, nil
	}
	// The account's and the network's reservations are one transaction.
	var a *lockout.Attempt
	var err error
	if uerr := storage.Atomically(ctx, f.Store, func(ctx context.Context) error {
		a, err = f.Lockout.Reserve(ctx, id, b.IP())
		return nil // a refusal is an answer, and what Reserve wrote stays
	}); uerr != nil {
		err = uerr
	}
	switch {
	case errors.Is(err, lockout.ErrLocked):
		if decoy != nil {
			decoy()
		}
		return nil, &Failure{User: f.auditUser(ctx, id), Reason: ReasonLocked}
	case errors.Is(err, lockout.ErrThrottled):
		return nil, &Failure{User: f.auditUser(ctx, id), Reason: ReasonThrottled}
	case err != nil:
		return nil, fmt.Errorf("authflow: %w", err)
	}
	return a, nil
}

// auditUser is the user id names, for the audit of a refused guess; a
// lookup that fails leaves only the id, since it must not change the
// answer.
func (f *Flow) auditUser(ctx context.Context, id string) storage.User {
	if id == "" {
		return storage.User{}
	}
	if u, err := f.Store.GetUser(ctx, id); err == nil {
		return u
	}
	return storage.User{ID: id}
}

// settleVerify settles a guess the method refused: a *Failure is a wrong
// guess and counts; anything else is an outage and does not.
func settleVerify(ctx context.Context, a *lockout.Attempt, err error) {
	var fail *Failure
	if errors.As(err, &fail) {
		a.Failed(ctx)
		return
	}
	a.Released(ctx)
}

// settleProved settles a guess the method accepted and proved refused. The
// secret was right, so a refusal for the account's state (disabled,
// invited, locked) is not a guess and does not count; nor does it reset
// the count, since no login succeeded. A factor that proved someone other
// than the user the request names was a wrong guess at theirs.
func settleProved(ctx context.Context, a *lockout.Attempt, err error) {
	var fail *Failure
	if errors.As(err, &fail) && fail.Reason == "other_user" {
		a.Failed(ctx)
		return
	}
	a.Released(ctx)
}
