package lockout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Defaults (config lockout.*).
const (
	DefaultMaxFailures   = 10
	DefaultDuration      = 10 * time.Minute
	DefaultIPMaxFailures = 100
	DefaultIPWindow      = 10 * time.Minute
)

var (
	// ErrLocked: the account is at its failure limit. The guess was not
	// evaluated; the caller answers it as a wrong one, at the same cost.
	ErrLocked = errors.New("lockout: account temporarily locked")
	// ErrThrottled: the client's network is over its failure limit.
	ErrThrottled = errors.New("lockout: too many failures from this network")
)

// Store is what the Limiter needs of storage: the counters, and the user
// row whose LockedUntil mirrors a lock.
type Store interface {
	storage.Attempts
	UpdateUser(ctx context.Context, id string, fn func(storage.User) (storage.User, error)) (storage.User, error)
}

var _ Store = storage.Storage(nil)

// Limiter counts failed guesses per account and per client network. Zero
// limits and durations take the defaults. It is safe for concurrent use.
type Limiter struct {
	Store Store
	Audit *audit.Recorder
	Now   func() time.Time
	// MaxFailures consecutive failures lock the account for Duration from
	// the failure that reached the limit. A failure counts while the one
	// before it is less than Duration old; a success resets the count.
	MaxFailures int
	Duration    time.Duration
	// IPMaxFailures failures per sliding IPWindow from one network (see
	// NetworkKey) throttle it; no account is locked by them.
	IPMaxFailures int
	IPWindow      time.Duration
	Logger        *slog.Logger
}

// UserKey is the counter key of a user's failed guesses, whatever secret
// they were at: a password and a second factor share one count, so an
// attacker cannot get MaxFailures guesses at each.
func UserKey(userID string) string { return "user:" + userID }

// Attempt is one reserved guess. Settle it with exactly one of Failed,
// Succeeded or Released once the secret has been evaluated; a nil Attempt
// (no lockout configured) settles as a no-op.
type Attempt struct {
	l        *Limiter
	userID   string
	count    int       // the account's count with this guess
	until    time.Time // the account counter's expiry with this guess
	ipBucket string    // "" when the network was not counted
	settled  bool
}

// Reserve counts a guess against userID ("" when the submission names no
// known account: only the network counts) and ip's network ("" when
// unknown: only the account counts), before the secret is evaluated. It
// returns ErrThrottled when the network is over its limit (nothing is
// counted) and ErrLocked when the account is at its limit (the network
// keeps the guess: it is still a failure from there, and the caller pays a
// decoy check for it). Any other error is an outage: the attempt fails
// closed, counted against nobody, and the error wraps
// storage.ErrUnavailable.
func (l *Limiter) Reserve(ctx context.Context, userID, ip string) (*Attempt, error) {
	a := &Attempt{l: l, userID: userID}
	if ip != "" {
		bucket, ok, err := l.window().reserve(ctx, NetworkKey(ip))
		if err != nil {
			return nil, l.outage(ctx, "reserve network", err)
		}
		if !ok {
			l.logger().InfoContext(ctx, "lockout: network throttled", "network", NetworkKey(ip))
			return nil, ErrThrottled
		}
		a.ipBucket = bucket
	}
	if userID == "" {
		return a, nil
	}
	c, err := l.Store.ReserveAttempt(ctx, UserKey(userID), l.maxFailures(), l.duration(), l.now())
	switch {
	case errors.Is(err, storage.ErrLimited):
		return nil, fmt.Errorf("%w until %s", ErrLocked, c.ExpiresAt.UTC().Format(time.RFC3339))
	case err != nil:
		a.releaseNetwork(ctx)
		return nil, l.outage(ctx, "reserve account", err)
	}
	a.count, a.until = c.Count, c.ExpiresAt
	return a, nil
}

// Failed settles a wrong guess: both reservations stand. The guess that
// reached MaxFailures locks the account until its counter expires, mirrors
// that in User.LockedUntil and records user.locked.
func (a *Attempt) Failed(ctx context.Context) {
	if !a.settle() || a.userID == "" || a.count < a.l.maxFailures() {
		return
	}
	a.l.lock(context.WithoutCancel(ctx), a.userID, a.count, a.until)
}

// Succeeded settles a right guess: the account's count starts again and
// the network's reservation is taken back (successes are not failures).
func (a *Attempt) Succeeded(ctx context.Context) {
	if !a.settle() {
		return
	}
	ctx = context.WithoutCancel(ctx)
	// The network first, then the account, as Reserve takes them: in one
	// transaction with a reservation (a unit of work), the same order
	// never deadlocks.
	a.releaseNetwork(ctx)
	if a.userID != "" {
		if err := a.l.Store.ResetAttempts(ctx, UserKey(a.userID)); err != nil {
			a.l.logger().WarnContext(ctx, "lockout: reset after a success failed", "user_id", a.userID, "err", err)
		}
	}
}

// Released settles an attempt whose secret could not be evaluated, or was
// right but refused for another reason: neither reservation counts.
func (a *Attempt) Released(ctx context.Context) {
	if !a.settle() {
		return
	}
	ctx = context.WithoutCancel(ctx)
	a.releaseNetwork(ctx) // the network first, as in Succeeded
	if a.userID != "" {
		if err := a.l.Store.ReleaseAttempt(ctx, UserKey(a.userID), a.l.now()); err != nil {
			a.l.logger().WarnContext(ctx, "lockout: release failed", "user_id", a.userID, "err", err)
		}
	}
}

// settle reports whether a may be settled now: once, and not when nil.
func (a *Attempt) settle() bool {
	if a == nil || a.settled {
		return false
	}
	a.settled = true
	return true
}

func (a *Attempt) releaseNetwork(ctx context.Context) {
	if a.ipBucket == "" {
		return
	}
	if err := a.l.Store.ReleaseAttempt(context.WithoutCancel(ctx), a.ipBucket, a.l.now()); err != nil {
		a.l.logger().WarnContext(ctx, "lockout: network release failed", "err", err)
	}
}

// lock mirrors a lock in the user row and audits it. The counter already
// refuses every guess; a failure here is logged, not an answer.
func (l *Limiter) lock(ctx context.Context, userID string, failures int, until time.Time) {
	u, err := l.Store.UpdateUser(ctx, userID, func(u storage.User) (storage.User, error) {
		if until.After(u.LockedUntil) {
			u.LockedUntil = until
		}
		return u, nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return // deleted meanwhile: nothing left to lock
	} else if err != nil {
		l.logger().ErrorContext(ctx, "lockout: recording a lock on the user failed", "user_id", userID, "err", err)
		u = storage.User{ID: userID}
	}
	l.logger().WarnContext(ctx, "lockout: account locked", "user_id", userID, "failures", failures, "until", until)
	if l.Audit != nil {
		_ = l.Audit.Record(ctx, storage.AuditEvent{Type: audit.UserLocked, OrgID: u.OrgID, UserID: userID,
			Details: map[string]string{"failures": fmt.Sprint(failures), "until": until.UTC().Format(time.RFC3339)}})
	}
}

// Unlock ends a lock and resets the failure count of userID. The caller
// (an administrator's action) audits it.
func (l *Limiter) Unlock(ctx context.Context, userID string) error {
	if err := l.Store.ResetAttempts(ctx, UserKey(userID)); err != nil {
		return fmt.Errorf("lockout: unlock: %w", err)
	}
	_, err := l.Store.UpdateUser(ctx, userID, func(u storage.User) (storage.User, error) {
		u.LockedUntil = time.Time{}
		return u, nil
	})
	if err != nil {
		return fmt.Errorf("lockout: unlock: %w", err)
	}
	return nil
}

// Status reports userID's current count of failures and, when they have
// reached the limit, when the lock ends (zero otherwise).
func (l *Limiter) Status(ctx context.Context, userID string) (failures int, lockedUntil time.Time, err error) {
	c, err := l.Store.GetAttempts(ctx, UserKey(userID), l.now())
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("lockout: status: %w", err)
	}
	if c.Count >= l.maxFailures() {
		lockedUntil = c.ExpiresAt
	}
	return c.Count, lockedUntil, nil
}

// outage logs err and returns it as an outage: a lockout that cannot count
// must not let a guess through, nor count it.
func (l *Limiter) outage(ctx context.Context, what string, err error) error {
	l.logger().ErrorContext(ctx, "lockout: counters unavailable; refusing the attempt", "op", what, "err", err)
	if errors.Is(err, storage.ErrUnavailable) {
		return fmt.Errorf("lockout: %s: %w", what, err)
	}
	return fmt.Errorf("lockout: %s: %w: %w", what, storage.ErrUnavailable, err)
}

func (l *Limiter) window() *Window {
	return &Window{Store: l.Store, Limit: orDefault(l.IPMaxFailures, DefaultIPMaxFailures),
		Window: orDefault(l.IPWindow, DefaultIPWindow), Now: l.now}
}

func (l *Limiter) maxFailures() int        { return orDefault(l.MaxFailures, DefaultMaxFailures) }
func (l *Limiter) duration() time.Duration { return orDefault(l.Duration, DefaultDuration) }

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Limiter) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
