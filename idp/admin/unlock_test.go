package admin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/lockout"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// withLockout gives s a Limiter (3 failures lock for 10 minutes) over its
// store and returns it.
func withLockout(t *testing.T, s *Service) *lockout.Limiter {
	t.Helper()
	st := backend(t, s)
	l := &lockout.Limiter{Store: st, Audit: s.Audit, Now: s.Now, MaxFailures: 3, Duration: 10 * time.Minute,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.Lockout = l
	return l
}

// lock fails userID's guesses until the account is locked.
func lock(t *testing.T, l *lockout.Limiter, userID string) {
	t.Helper()
	for range 3 {
		a, err := l.Reserve(context.Background(), userID, "")
		if err != nil {
			t.Fatal(err)
		}
		a.Failed(context.Background())
	}
	if _, err := l.Reserve(context.Background(), userID, ""); !errors.Is(err, lockout.ErrLocked) {
		t.Fatalf("not locked: %v", err)
	}
}

func TestUnlockUser(t *testing.T) {
	ctx := context.Background()
	s, u := lifecycleEnv(t, CreateUserInput{Email: "bob@example.com", Password: "long enough pw"})
	l := withLockout(t, s)
	lock(t, l, u.ID)

	res, err := s.UnlockUser(ctx, "cli:root", "BOB@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if res.User.ID != u.ID || !res.User.LockedUntil.IsZero() || res.Failures != 3 || !res.WasLockedUntil.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("UnlockUser = %+v; want bob unlocked, 3 failures reset, was locked until %s", res, now.Add(10*time.Minute))
	}
	if _, err := l.Reserve(ctx, u.ID, ""); err != nil {
		t.Fatalf("Reserve after unlock: %v", err)
	}
	evs, _ := backend(t, s).ListAuditEvents(ctx, storage.AuditQuery{Type: audit.UserUnlocked})
	if len(evs) != 1 || evs[0].ActorID != "cli:root" || evs[0].UserID != u.ID || evs[0].Details["failures"] != "3" {
		t.Fatalf("user.unlocked events %+v", evs)
	}
	// Unlocking an unlocked user is harmless and says so.
	if res, err := s.UnlockUser(ctx, "cli:root", u.Email); err != nil || !res.WasLockedUntil.IsZero() || res.Failures != 1 {
		t.Fatalf("second UnlockUser = %+v, %v; want not locked, 1 failure reset", res, err)
	}

	var ie *InputError
	if _, err := s.UnlockUser(ctx, "cli:root", "nobody@example.com"); !errors.As(err, &ie) || !strings.Contains(ie.Msg, "no user") {
		t.Fatalf("UnlockUser of an unknown email: %v; want an InputError", err)
	}
	s.Lockout = nil
	if _, err := s.UnlockUser(ctx, "cli:root", u.Email); err == nil {
		t.Fatal("UnlockUser without a lockout succeeded")
	}
}

// EnableUser lifts a lock: the count goes too, or the next wrong guess
// would lock again at once.
func TestEnableUserResetsFailures(t *testing.T) {
	ctx := context.Background()
	s, u := lifecycleEnv(t, CreateUserInput{Email: "bob@example.com", Password: "long enough pw"})
	l := withLockout(t, s)
	lock(t, l, u.ID)
	got, err := s.EnableUser(ctx, "test", u.Email)
	if err != nil || !got.LockedUntil.IsZero() {
		t.Fatalf("EnableUser = %+v, %v", got, err)
	}
	if n, until, _ := l.Status(ctx, u.ID); n != 0 || !until.IsZero() {
		t.Fatalf("after EnableUser: %d failures, locked until %s", n, until)
	}
}

func TestAPIUnlock(t *testing.T) {
	srv, s, _ := newAPI(t)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "test", CreateUserInput{Email: "bob@example.com", Org: "default", Password: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	l := withLockout(t, s)
	lock(t, l, u.ID)
	if r := call(t, srv, "admin", "GET", "/admin/api/v1/users", "", ""); !strings.Contains(r.body, `"locked_until":"`+now.Add(10*time.Minute).Format(time.RFC3339)) {
		t.Fatalf("user list does not show the lock: %s", r.body)
	}
	for _, st := range []struct {
		name, path, ct, body string
		status               int
		want                 string
	}{
		{"unknown", "/admin/api/v1/users/nobody@example.com/unlock", jsonCT, "", 404, "no user"},
		{"without content type", "/admin/api/v1/users/bob@example.com/unlock", "", "", 415, "application/json"},
		{"unlock", "/admin/api/v1/users/BOB@example.com/unlock", jsonCT, "{}", 200, `"failures_reset":3`},
		{"again", "/admin/api/v1/users/bob@example.com/unlock", jsonCT, "", 200, `"failures_reset":0`},
	} {
		t.Run(st.name, func(t *testing.T) {
			r := call(t, srv, "admin", "POST", st.path, st.ct, st.body)
			if r.status != st.status || !strings.Contains(r.body, st.want) {
				t.Fatalf("status %d body %s; want %d and %q", r.status, r.body, st.status, st.want)
			}
			if st.name == "unlock" && (strings.Contains(r.body, `"locked_until"`) || !strings.Contains(r.body, `"was_locked_until"`)) {
				t.Fatalf("unlock answer %s; want no lock left and the one lifted", r.body)
			}
		})
	}
	if r := call(t, srv, "user", "POST", "/admin/api/v1/users/bob@example.com/unlock", jsonCT, ""); r.status != 403 {
		t.Fatalf("unlock by a non-admin: %d", r.status)
	}
	if _, err := l.Reserve(ctx, u.ID, ""); err != nil {
		t.Fatalf("Reserve after the API's unlock: %v", err)
	}
}
