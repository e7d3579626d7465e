package lockout_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/lockout"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// t0 starts a ten-minute window (windows are aligned to the Unix epoch).
var t0 = time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)

type env struct {
	t   *testing.T
	ctx context.Context
	st  storage.Storage
	now time.Time
	l   *lockout.Limiter
}

// newEnv is a Limiter over a fresh SQLite database with a clock the test
// moves: 3 failures lock for 10 minutes, 5 failures per 10 minutes
// throttle a network.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), st: testenv.SQLite(t), now: t0}
	clock := func() time.Time { return e.now }
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.l = &lockout.Limiter{Store: e.st, Audit: &audit.Recorder{Store: e.st, Logger: discard, Now: clock}, Now: clock,
		MaxFailures: 3, Duration: 10 * time.Minute, IPMaxFailures: 5, IPWindow: 10 * time.Minute, Logger: discard}
	if err := e.st.CreateOrganization(e.ctx, storage.Organization{ID: "org", Name: "org", DisplayName: "Org", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) advance(d time.Duration) { e.now = e.now.Add(d) }

func (e *env) user(id string) {
	e.t.Helper()
	err := e.st.CreateUser(e.ctx, storage.User{ID: id, OrgID: "org", Email: id + "@example.com", Name: id,
		State: storage.UserActive, CreatedAt: t0, UpdatedAt: t0})
	if err != nil {
		e.t.Fatal(err)
	}
}

// fail reserves a guess for userID from ip and settles it as wrong; the
// reservation must succeed.
func (e *env) fail(userID, ip string) {
	e.t.Helper()
	a, err := e.l.Reserve(e.ctx, userID, ip)
	if err != nil {
		e.t.Fatalf("Reserve(%q, %q) at +%s: %v", userID, ip, e.now.Sub(t0), err)
	}
	a.Failed(e.ctx)
}

func (e *env) lockedUntil(id string) time.Time {
	e.t.Helper()
	u, err := e.st.GetUser(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.LockedUntil
}

func (e *env) events(typ string) []storage.AuditEvent {
	e.t.Helper()
	evs, err := e.st.ListAuditEvents(e.ctx, storage.AuditQuery{Type: typ})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func TestLockAfterMaxFailures(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	e.fail("alice", "")
	e.advance(time.Minute)
	e.fail("alice", "")
	if !e.lockedUntil("alice").IsZero() {
		t.Fatal("locked before the limit")
	}
	e.advance(time.Minute)
	e.fail("alice", "") // the third: the lock runs 10 minutes from here
	want := t0.Add(12 * time.Minute)
	if got := e.lockedUntil("alice"); !got.Equal(want) {
		t.Fatalf("LockedUntil = %s, want %s", got, want)
	}
	u, _ := e.st.GetUser(e.ctx, "alice")
	if u.MaySignIn(e.now) {
		t.Fatal("MaySignIn is true for a locked user")
	}
	evs := e.events(audit.UserLocked)
	if len(evs) != 1 || evs[0].UserID != "alice" || evs[0].OrgID != "org" || evs[0].Details["failures"] != "3" {
		t.Fatalf("user.locked events %+v; want one for alice with 3 failures", evs)
	}
	// Refused guesses neither count nor extend the lock.
	for range 5 {
		e.advance(time.Minute)
		if _, err := e.l.Reserve(e.ctx, "alice", ""); !errors.Is(err, lockout.ErrLocked) {
			t.Fatalf("Reserve while locked: %v, want ErrLocked", err)
		}
	}
	if n, until, err := e.l.Status(e.ctx, "alice"); err != nil || n != 3 || !until.Equal(want) {
		t.Fatalf("Status = %d, %s, %v; want 3 failures, locked until %s", n, until, err, want)
	}
	if len(e.events(audit.UserLocked)) != 1 {
		t.Fatal("a refused guess locked again")
	}
	// The lock ends by itself, exactly when it said.
	e.now = want.Add(-time.Microsecond)
	if _, err := e.l.Reserve(e.ctx, "alice", ""); !errors.Is(err, lockout.ErrLocked) {
		t.Fatalf("Reserve just before the end: %v, want ErrLocked", err)
	}
	e.now = want
	a, err := e.l.Reserve(e.ctx, "alice", "")
	if err != nil {
		t.Fatalf("Reserve when the lock ended: %v", err)
	}
	a.Failed(e.ctx)
	if n, until, _ := e.l.Status(e.ctx, "alice"); n != 1 || !until.IsZero() {
		t.Fatalf("after the lock: Status = %d, %s; want a fresh count of 1, not locked", n, until)
	}
}

// TestFailuresForgottenAfterDuration: a count is of consecutive failures
// less than Duration apart.
func TestFailuresForgottenAfterDuration(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	e.fail("alice", "")
	e.fail("alice", "")
	e.advance(10 * time.Minute)
	e.fail("alice", "")
	if n, _, _ := e.l.Status(e.ctx, "alice"); n != 1 {
		t.Fatalf("count after a quiet Duration = %d, want 1", n)
	}
}

func TestSettlements(t *testing.T) {
	tests := []struct {
		name       string
		settle     func(a *lockout.Attempt, ctx context.Context)
		wantCount  int // the account's after two failures and this
		wantIPLeft int // reservations left for the network of limit 5
	}{
		{"failed", (*lockout.Attempt).Failed, 3, 2},
		{"succeeded resets the account and takes back the network's", (*lockout.Attempt).Succeeded, 0, 3},
		{"released counts nothing", (*lockout.Attempt).Released, 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.user("alice")
			e.fail("alice", "192.0.2.1")
			e.fail("alice", "192.0.2.1")
			a, err := e.l.Reserve(e.ctx, "alice", "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			tt.settle(a, e.ctx)
			tt.settle(a, e.ctx) // a second settlement changes nothing
			if n, _, _ := e.l.Status(e.ctx, "alice"); n != tt.wantCount {
				t.Fatalf("count = %d, want %d", n, tt.wantCount)
			}
			left := 0
			for ; left < 10; left++ {
				if _, err := e.l.Reserve(e.ctx, "", "192.0.2.1"); errors.Is(err, lockout.ErrThrottled) {
					break
				} else if err != nil {
					t.Fatal(err)
				}
			}
			if left != tt.wantIPLeft {
				t.Fatalf("network had %d reservations left, want %d", left, tt.wantIPLeft)
			}
		})
	}
}

func TestNilAttemptSettlesAsNoOp(t *testing.T) {
	var a *lockout.Attempt
	a.Failed(context.Background())
	a.Succeeded(context.Background())
	a.Released(context.Background())
}

func TestUnlock(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	for range 3 {
		e.fail("alice", "")
	}
	if _, err := e.l.Reserve(e.ctx, "alice", ""); !errors.Is(err, lockout.ErrLocked) {
		t.Fatalf("Reserve: %v, want ErrLocked", err)
	}
	if err := e.l.Unlock(e.ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if !e.lockedUntil("alice").IsZero() {
		t.Fatal("Unlock left LockedUntil set")
	}
	if n, until, _ := e.l.Status(e.ctx, "alice"); n != 0 || !until.IsZero() {
		t.Fatalf("Status after Unlock = %d, %s", n, until)
	}
	e.fail("alice", "")
	if err := e.l.Unlock(e.ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Unlock of an unknown user: %v, want ErrNotFound", err)
	}
}

// TestNetworkWindow: failures from one network across many accounts slow
// it down without locking any account, and the window slides.
func TestNetworkWindow(t *testing.T) {
	e := newEnv(t)
	for _, u := range []string{"u1", "u2", "u3", "u4", "u5", "u6"} {
		e.user(u)
	}
	e.now = t0.Add(5 * time.Minute) // half-way into a window
	for _, u := range []string{"u1", "u2", "u3", "u4", "u5"} {
		e.fail(u, "198.51.100.7")
	}
	if _, err := e.l.Reserve(e.ctx, "u6", "198.51.100.7"); !errors.Is(err, lockout.ErrThrottled) {
		t.Fatalf("sixth failure from the network: %v, want ErrThrottled", err)
	}
	if _, err := e.l.Reserve(e.ctx, "", "198.51.100.7"); !errors.Is(err, lockout.ErrThrottled) {
		t.Fatalf("unknown account from the network: %v, want ErrThrottled", err)
	}
	for _, u := range []string{"u1", "u5", "u6"} {
		if !e.lockedUntil(u).IsZero() {
			t.Fatalf("%s locked by the network's failures", u)
		}
	}
	if n, _, _ := e.l.Status(e.ctx, "u6"); n != 0 {
		t.Fatalf("a throttled attempt counted against u6: %d", n)
	}
	// Another network is not throttled.
	e.fail("u6", "203.0.113.9")

	// The window slides: one minute into the next one the 5 earlier
	// failures weigh 5 × 0.9 = 4.5, so one more passes (4.5 + 0 < 5);
	// six minutes in they weigh 2, so two more (2 + 1 + 2 = 5).
	for _, step := range []struct {
		at   time.Duration
		want int
	}{{11 * time.Minute, 1}, {16 * time.Minute, 2}} {
		e.now = t0.Add(step.at)
		passed := 0
		for range 5 {
			if a, err := e.l.Reserve(e.ctx, "", "198.51.100.7"); err == nil {
				a.Failed(e.ctx)
				passed++
			} else if !errors.Is(err, lockout.ErrThrottled) {
				t.Fatal(err)
			}
		}
		if passed != step.want {
			t.Fatalf("at +%s %d failures passed, want %d", step.at, passed, step.want)
		}
	}
	// Two windows on, the slate is clean.
	e.now = t0.Add(30 * time.Minute)
	for range 5 {
		e.fail("", "198.51.100.7")
	}
}

func TestNetworkKey(t *testing.T) {
	tests := []struct{ ip, want string }{
		{"192.0.2.1", "ip:192.0.2.1"},
		{"::ffff:192.0.2.1", "ip:192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "ip:2001:db8:1:2::/64"},
		{"2001:db8:1:2::ffff", "ip:2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "ip:2001:db8:1:3::/64"},
		{"fe80::1%eth0", "ip:fe80::/64"},
		{"not an address", "ip:?not an address"},
	}
	for _, tt := range tests {
		if got := lockout.NetworkKey(tt.ip); got != tt.want {
			t.Errorf("NetworkKey(%q) = %q, want %q", tt.ip, got, tt.want)
		}
	}
}

// TestIPv6SharesItsSlash64: moving to another address in one /64 does not
// escape the network's limit.
func TestIPv6SharesItsSlash64(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.fail("", "2001:db8:0:1::"+string(rune('a'+i)))
	}
	if _, err := e.l.Reserve(e.ctx, "", "2001:db8:0:1::ff"); !errors.Is(err, lockout.ErrThrottled) {
		t.Fatalf("another address of the /64: %v, want ErrThrottled", err)
	}
	e.fail("", "2001:db8:0:2::1")
}

// TestOutageFailsClosed: counters that cannot be reached refuse the
// attempt as an outage, never as a lock, and count nothing.
func TestOutageFailsClosed(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	e.st.Close()
	for _, ip := range []string{"", "192.0.2.1"} {
		_, err := e.l.Reserve(e.ctx, "alice", ip)
		if !errors.Is(err, storage.ErrUnavailable) || errors.Is(err, lockout.ErrLocked) || errors.Is(err, lockout.ErrThrottled) {
			t.Fatalf("Reserve on a closed store (ip %q): %v; want an outage (ErrUnavailable)", ip, err)
		}
	}
}

func TestWindowAllow(t *testing.T) {
	e := newEnv(t)
	w := &lockout.Window{Store: e.st, Limit: 3, Window: time.Hour, Now: func() time.Time { return e.now }}
	for i, want := range []bool{true, true, true, false, false} {
		ok, err := w.Allow(e.ctx, "send:alice@example.com")
		if err != nil || ok != want {
			t.Fatalf("Allow #%d = %v, %v; want %v", i+1, ok, err, want)
		}
	}
	if ok, _ := w.Allow(e.ctx, "send:bob@example.com"); !ok {
		t.Fatal("another key was limited")
	}
	e.advance(2 * time.Hour)
	if ok, _ := w.Allow(e.ctx, "send:alice@example.com"); !ok {
		t.Fatal("still limited two windows later")
	}
	if _, err := (&lockout.Window{Store: e.st, Limit: 3, Now: time.Now}).Allow(e.ctx, "k"); err == nil {
		t.Fatal("a zero Window was accepted")
	}
}
