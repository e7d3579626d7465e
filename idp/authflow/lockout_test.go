package authflow_test

// The flow with idp/lockout: guesses at the password are counted before
// they are checked, a locked account gets the answer of a wrong password
// (at its cost) even for the right one, and the lock ends by itself. What
// the Limiter does on its own is tested in idp/lockout.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/lockout"
	"github.com/gatehouse-idp/gatehouse/idp/passwordlogin"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/idp/storage/postgres"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// countingPW is the password method that counts how often it checks a
// password and how often it pays for a decoy instead.
type countingPW struct {
	*passwordlogin.Method
	verifies, decoys atomic.Int64
	// outage, when set, is what every check fails with.
	outage error
}

func (c *countingPW) Verify(ctx context.Context, r storage.AuthRequest, in authflow.Input) (authflow.Proof, error) {
	c.verifies.Add(1)
	if c.outage != nil {
		return authflow.Proof{}, c.outage
	}
	return c.Method.Verify(ctx, r, in)
}

func (c *countingPW) Decoy(ctx context.Context, in authflow.Input) {
	c.decoys.Add(1)
	c.Method.Decoy(ctx, in)
}

// withLockout gives e's flow a Limiter (maxFailures per account, ipMax
// per network, both over 10 minutes) and the counting password method.
func withLockout(e *env, maxFailures, ipMax int) (*lockout.Limiter, *countingPW) {
	clock := func() time.Time { return *e.now }
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	l := &lockout.Limiter{Store: e.st, Audit: &audit.Recorder{Store: e.st, Logger: discard, Now: clock}, Now: clock,
		MaxFailures: maxFailures, Duration: 10 * time.Minute, IPMaxFailures: ipMax, IPWindow: 10 * time.Minute, Logger: discard}
	pw := &countingPW{Method: e.pw}
	e.flow.Lockout = l
	e.flow.RegisterMethod(pw)
	return l, pw
}

// refusedLike fails unless out is the answer to a wrong password: the
// form again, with the generic failure, and the request unchanged.
func refusedLike(t *testing.T, e *env, what string, before storage.AuthRequest, out authflow.Outcome, err error) {
	t.Helper()
	if err != nil || out.Action != authflow.Challenge || out.Method != passwordlogin.Name ||
		!errors.Is(out.Failure, authflow.ErrInvalidCredentials) || out.Session != nil {
		t.Fatalf("%s: outcome %v %q failure %v session %v, err %v; want the password form with the generic failure",
			what, out.Action, out.Method, out.Failure, out.Session, err)
	}
	e.unchanged(before)
}

func TestLockoutLocksAndEndsByItself(t *testing.T) {
	e := newEnv(t)
	l, pw := withLockout(e, 3, 100)
	u := e.user("alice@example.com", goodPW, nil)
	r := e.begin(nil)

	var wrong authflow.Outcome
	for i := range 3 {
		out, err := e.submitPW(r.ID, u.Email, "wrong password")
		refusedLike(t, e, "wrong password", r, out, err)
		wrong = out
		if i < 2 && !e.storedUser(u.ID).LockedUntil.IsZero() {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	if got := e.storedUser(u.ID).LockedUntil; !got.Equal(t0.Add(10 * time.Minute)) {
		t.Fatalf("LockedUntil = %s, want 10 minutes from the third failure", got)
	}

	// The right password, while locked: the same answer as a wrong one,
	// at the cost of one (decoy) check, and the password is not checked.
	before := pw.verifies.Load()
	e.advance(9 * time.Minute)
	out, err := e.submitPW(r.ID, u.Email, goodPW)
	refusedLike(t, e, "right password while locked", r, out, err)
	if out.Failure != wrong.Failure || out.Action != wrong.Action || out.Party != wrong.Party {
		t.Fatalf("locked answer %+v differs from the wrong-password answer %+v", out, wrong)
	}
	if pw.verifies.Load() != before || pw.decoys.Load() != 1 {
		t.Fatalf("while locked: %d checks, %d decoys; want 0 checks and 1 decoy", pw.verifies.Load()-before, pw.decoys.Load())
	}
	evs := e.events(audit.LoginFailed)
	if last := evs[0]; last.Details["reason"] != authflow.ReasonLocked || last.UserID != u.ID || last.OrgID != u.OrgID {
		t.Fatalf("last login.failed %+v; want reason locked for %s", last, u.ID)
	}
	if n := len(e.events(audit.UserLocked)); n != 1 {
		t.Fatalf("%d user.locked events, want 1", n)
	}

	// It ends by itself, with no admin: the right password works.
	e.advance(time.Minute)
	if out := mustSubmit(e, r.ID, u); out.Action != authflow.Continue {
		t.Fatalf("after the lock: %v", out.Action)
	}
	if n, _, _ := l.Status(e.ctx, u.ID); n != 0 {
		t.Fatalf("count after a success = %d, want 0", n)
	}
}

func TestLockoutSuccessResets(t *testing.T) {
	e := newEnv(t)
	l, _ := withLockout(e, 3, 100)
	u := e.user("alice@example.com", goodPW, nil)
	for range 3 {
		r := e.begin(nil)
		for range 2 {
			out, err := e.submitPW(r.ID, u.Email, "wrong password")
			refusedLike(t, e, "wrong password", r, out, err)
		}
		mustSubmit(e, r.ID, u)
	}
	if n, until, _ := l.Status(e.ctx, u.ID); n != 0 || !until.IsZero() {
		t.Fatalf("Status = %d, %s; want a reset count", n, until)
	}
}

// TestLockoutCountsOnlyGuesses: what proved refuses had the right secret:
// it neither counts nor resets; an outage counts nothing either.
func TestLockoutCountsOnlyGuesses(t *testing.T) {
	e := newEnv(t)
	l, pw := withLockout(e, 3, 100)
	u := e.user("alice@example.com", goodPW, func(u *storage.User) { u.State = storage.UserDisabled })
	r := e.begin(nil)
	out, err := e.submitPW(r.ID, u.Email, "wrong password")
	refusedLike(t, e, "wrong password", r, out, err)
	for range 5 {
		out, err := e.submitPW(r.ID, u.Email, goodPW)
		refusedLike(t, e, "disabled, right password", r, out, err)
	}
	if n, _, _ := l.Status(e.ctx, u.ID); n != 1 {
		t.Fatalf("count = %d, want 1 (the wrong password only)", n)
	}
	// An outage during the check (a hash slot not had in time) is an
	// error, not a failure, and counts nothing.
	pw.outage = fmt.Errorf("passwordlogin: verify: %w", context.DeadlineExceeded)
	for range 5 {
		if _, err := e.submitPW(r.ID, u.Email, "wrong password"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Submit during an outage: %v, want the outage", err)
		}
	}
	if n, _, _ := l.Status(e.ctx, u.ID); n != 1 {
		t.Fatalf("count after an outage = %d, want 1", n)
	}
}

// TestLockoutThrottlesNetwork: guesses at unknown emails lock nothing but
// count against the network, which is then throttled with its own
// message, for every account alike.
func TestLockoutThrottlesNetwork(t *testing.T) {
	e := newEnv(t)
	l, pw := withLockout(e, 3, 4)
	u := e.user("alice@example.com", goodPW, nil)
	r := e.begin(nil)
	for _, email := range []string{"a@example.com", "b@example.com", "c@example.com", u.Email} {
		out, err := e.submitPW(r.ID, email, "wrong password")
		refusedLike(t, e, "wrong password", r, out, err)
	}
	checks := pw.verifies.Load()
	for _, email := range []string{"d@example.com", u.Email} {
		out, err := e.submitPW(r.ID, email, goodPW)
		if err != nil || out.Action != authflow.Challenge || !errors.Is(out.Failure, authflow.ErrThrottled) ||
			errors.Is(out.Failure, authflow.ErrInvalidCredentials) {
			t.Fatalf("%s from a throttled network: %v %v %v; want the form with ErrThrottled", email, out.Action, out.Failure, err)
		}
		e.unchanged(r)
	}
	if pw.verifies.Load() != checks || pw.decoys.Load() != 0 {
		t.Fatal("a throttled attempt was checked")
	}
	if ev := e.events(audit.LoginFailed)[0]; ev.Details["reason"] != authflow.ReasonThrottled || ev.UserID != u.ID {
		t.Fatalf("last login.failed %+v; want reason ip_throttled for %s", ev, u.ID)
	}
	if n, until, _ := l.Status(e.ctx, u.ID); n != 1 || !until.IsZero() {
		t.Fatalf("alice: %d failures, locked until %s; the network's limit must not lock her", n, until)
	}
	e.advance(20 * time.Minute)
	mustSubmit(e, r.ID, u)
}

// TestLockoutConcurrentGuesses: 50 concurrent wrong passwords against a
// limit of 5 check at most 5 passwords; the rest are refused before
// hashing, at the cost of a decoy. On SQLite and PostgreSQL.
func TestLockoutConcurrentGuesses(t *testing.T) {
	backends := map[string]func(t *testing.T) storage.Storage{
		"sqlite": func(t *testing.T) storage.Storage { return testenv.SQLite(t) },
		"postgres": func(t *testing.T) storage.Storage {
			s, err := postgres.Open(t.Context(), testenv.Postgres(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			if _, err := s.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			e := newEnvOn(t, open(t))
			_, pw := withLockout(e, 5, 1000)
			u := e.user("alice@example.com", goodPW, nil)
			const n = 50
			reqs := make([]storage.AuthRequest, n)
			for i := range reqs {
				reqs[i] = e.begin(nil)
			}
			b := e.browser()
			outs := make([]authflow.Outcome, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					outs[i], errs[i] = e.submitPWFrom(b, reqs[i].ID, u.Email, "wrong password")
				})
			}
			close(start)
			wg.Wait()
			for i := range n {
				if errs[i] != nil || !errors.Is(outs[i].Failure, authflow.ErrInvalidCredentials) {
					t.Fatalf("attempt %d: %v, failure %v; want the generic failure", i, errs[i], outs[i].Failure)
				}
			}
			if v, d := pw.verifies.Load(), pw.decoys.Load(); v > 5 || v+d != n {
				t.Fatalf("%d concurrent wrong passwords against a limit of 5: %d checked, %d decoys; want at most 5 checked, the rest decoys", n, v, d)
			} else {
				t.Logf("%d concurrent wrong passwords, limit 5: %d checked, %d refused before hashing", n, v, d)
			}
			if e.storedUser(u.ID).LockedUntil.IsZero() {
				t.Fatal("not locked after the race")
			}
		})
	}
}
