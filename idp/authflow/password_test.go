package authflow_test

// The flow with the password back door (idp/passwordlogin): what a login
// by password does end to end. What passwordlogin.Method does on its own
// is tested in idp/passwordlogin.

import (
	"context"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func TestSubmitPasswordEmailNormalized(t *testing.T) {
	for _, typed := range []string{"alice@example.com", "Alice@Example.COM", "  alice@example.com\t", " ALICE@EXAMPLE.COM\n"} {
		t.Run(typed, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com", goodPW, nil)
			r := e.begin(nil)
			if out, err := e.submitPW(r.ID, typed, goodPW); err != nil || out.Failure != nil {
				t.Fatalf("Submit(%q): %v, failure %v", typed, err, out.Failure)
			}
			if st := e.stored(r.ID); authflow.StepOf(st) != authflow.StepDone || st.UserID != u.ID {
				t.Fatalf("stored %+v; want done for %s", st, u.ID)
			}
		})
	}
}

func TestSubmitPasswordFailures(t *testing.T) {
	tests := []struct {
		name   string
		email  string
		pw     string
		mod    func(*storage.User) // nil: an active user with goodPW
		reason string
	}{
		{"unknown email", "nobody@example.com", goodPW, nil, "unknown_user"},
		{"wrong password", "alice@example.com", "correct horse battery stapler", nil, "wrong_password"},
		{"empty password", "alice@example.com", "", nil, "wrong_password"},
		{"password with other case", "alice@example.com", strings.ToUpper(goodPW), nil, "wrong_password"},
		{"disabled, right password", "alice@example.com", goodPW,
			func(u *storage.User) { u.State = storage.UserDisabled }, "state_disabled"},
		{"disabled, wrong password", "alice@example.com", "nope-nope-nope",
			func(u *storage.User) { u.State = storage.UserDisabled }, "wrong_password"},
		{"invited, no password", "alice@example.com", "",
			func(u *storage.User) { u.State = storage.UserInvited; u.PasswordHash = "" }, "no_password"},
		{"invited, no password, some password typed", "alice@example.com", goodPW,
			func(u *storage.User) { u.State = storage.UserInvited; u.PasswordHash = "" }, "no_password"},
		{"active SSO-only user, no password", "alice@example.com", goodPW,
			func(u *storage.User) { u.PasswordHash = "" }, "no_password"},
		{"invited with a password set", "alice@example.com", goodPW,
			func(u *storage.User) { u.State = storage.UserInvited }, "state_invited"},
		{"locked, right password", "alice@example.com", goodPW,
			func(u *storage.User) { u.LockedUntil = t0.Add(10 * time.Minute) }, "locked"},
		{"locked until one microsecond from now, right password", "alice@example.com", goodPW,
			func(u *storage.User) { u.LockedUntil = t0.Add(time.Microsecond) }, "locked"},
		{"locked, wrong password", "alice@example.com", "nope-nope-nope",
			func(u *storage.User) { u.LockedUntil = t0.Add(10 * time.Minute) }, "wrong_password"},
		{"malformed stored hash", "alice@example.com", goodPW,
			func(u *storage.User) { u.PasswordHash = "plaintext-password" }, "hash_error"},
		{"stored hash with a memory bomb", "alice@example.com", goodPW,
			func(u *storage.User) {
				u.PasswordHash = "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5"
			}, "hash_error"},
		{"stored hash of an unsupported algorithm (md5crypt; bcrypt verifies)", "alice@example.com", goodPW,
			func(u *storage.User) { u.PasswordHash = "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/" }, "hash_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com", goodPW, tt.mod)
			r := e.begin(nil)
			before := e.stored(r.ID)

			got, err := e.submitPW(r.ID, tt.email, tt.pw)
			// A failed proof is an outcome now (the form again), not an
			// error; its Failure is exactly the one sentinel, so nothing
			// tells the cases apart.
			if err != nil || got.Failure != authflow.ErrInvalidCredentials {
				t.Fatalf("Submit err = %v, failure %v; want exactly ErrInvalidCredentials", err, got.Failure)
			}
			if got.Action != authflow.Challenge || got.Method != "password" || got.Session != nil {
				t.Fatalf("outcome %v %q (session %v); want the password form again", got.Action, got.Method, got.Session)
			}
			// The outcome carries the request as it was (it carried none).
			if got.Request.UserID != "" || !reflect.DeepEqual(got.Request, before) {
				t.Fatalf("Submit returned a changed request on failure: %+v", got.Request)
			}
			e.unchanged(before)
			if lu := e.storedUser(u.ID); !lu.LastLoginAt.IsZero() || lu.PasswordHash != u.PasswordHash {
				t.Fatalf("user changed by a failed login: LastLoginAt %v, hash changed %v", lu.LastLoginAt, lu.PasswordHash != u.PasswordHash)
			}
			if ok := e.events(audit.LoginPassword); len(ok) != 0 {
				t.Fatalf("login.password_ok written for a failure: %+v", ok)
			}
			evs := e.events(audit.LoginFailed)
			if len(evs) != 1 {
				t.Fatalf("login.failed events = %+v; want one", evs)
			}
			ev := evs[0]
			if ev.Details["reason"] != tt.reason || ev.ClientID != plainRP || ev.Details["method"] != "password" || ev.Details["step"] != "login" {
				t.Fatalf("login.failed %+v; want reason %q, client %s, method password, step login", ev, tt.reason, plainRP)
			}
			wantUser := u.ID
			if tt.reason == "unknown_user" {
				wantUser = ""
			}
			if ev.UserID != wantUser {
				t.Fatalf("login.failed user = %q; want %q", ev.UserID, wantUser)
			}
			for k, v := range ev.Details {
				if tt.pw != "" && strings.Contains(v, tt.pw) {
					t.Fatalf("audit detail %s = %q contains the password", k, v)
				}
			}
			if n := e.countSessions(u.ID); n != 0 {
				t.Fatalf("%d sessions started by a failed login", n)
			}
		})
	}
}

func TestRehash(t *testing.T) {
	tests := []struct {
		name   string
		params password.Params
		rehash bool
	}{
		{"weaker memory", password.Params{MemoryKiB: 32, Iterations: 1, Parallelism: 1}, true},
		{"different iterations", password.Params{MemoryKiB: 64, Iterations: 2, Parallelism: 1}, true},
		{"current parameters", cheap, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			old, err := password.NewHasher(tt.params, 0).Hash(e.ctx, goodPW)
			if err != nil {
				t.Fatal(err)
			}
			u := e.user("alice@example.com", "", func(u *storage.User) { u.PasswordHash = old })

			// A failed login never rewrites the hash.
			r1 := e.begin(nil)
			if out, err := e.submitPW(r1.ID, u.Email, "wrong-wrong-wrong"); err != nil || out.Failure != authflow.ErrInvalidCredentials {
				t.Fatalf("wrong password: %v, failure %v", err, out.Failure)
			}
			if got := e.storedUser(u.ID).PasswordHash; got != old {
				t.Fatalf("hash rewritten by a failed login")
			}
			// Nor does a right password the flow refuses: the method proved
			// the user, but a disabled user may not sign in, so the proof's
			// follow-up (the rehash) must not run.
			setState(e, u.ID, storage.UserDisabled)
			r0 := e.begin(nil)
			if out, err := e.submitPW(r0.ID, u.Email, goodPW); err != nil || out.Failure != authflow.ErrInvalidCredentials {
				t.Fatalf("disabled: %v, failure %v", err, out.Failure)
			}
			if got := e.storedUser(u.ID).PasswordHash; got != old {
				t.Fatalf("hash rewritten by a login the flow refused")
			}
			setState(e, u.ID, storage.UserActive)
			// Nor a passive login for another user than the hinted one.
			rn := e.begin(func(r *storage.AuthRequest) { r.Prompt, r.SubjectHint = []string{"none"}, "someone-else" })
			if out, err := e.submitPW(rn.ID, u.Email, goodPW); err != nil || out.Action != authflow.LoginRequired {
				t.Fatalf("prompt=none, other user: %v, outcome %v", err, out.Action)
			}
			if got := e.storedUser(u.ID).PasswordHash; got != old {
				t.Fatalf("hash rewritten by a login the flow refused")
			}

			r := e.begin(nil)
			mustSubmit(e, r.ID, u)
			stored := e.storedUser(u.ID).PasswordHash
			if changed := stored != old; changed != tt.rehash {
				t.Fatalf("hash changed = %v; want %v (stored %q)", changed, tt.rehash, stored)
			}
			if !strings.HasPrefix(stored, "$argon2id$v=19$m=64,t=1,p=1$") {
				t.Fatalf("stored hash %q does not use the flow's parameters", stored)
			}
			ok, again, err := e.hasher.Verify(e.ctx, stored, goodPW)
			if !ok || again || err != nil {
				t.Fatalf("stored hash Verify = %v, %v, %v; want true, false, nil", ok, again, err)
			}
			// And the next login works with the new hash.
			r2 := e.begin(nil)
			mustSubmit(e, r2.ID, u)
		})
	}
}

func setState(e *env, id string, s storage.UserState) {
	e.t.Helper()
	if _, err := e.st.UpdateUser(e.ctx, id, func(u storage.User) (storage.User, error) {
		u.State = s
		return u, nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

// probeCtx counts calls to Done while armed. Between the user lookup and
// the flow's next storage call, Submit touches its context only in the
// password hasher (its semaphore select), so one count there is one
// argon2 verification. The probing store hands the database a context
// without Done, so database/sql's own goroutines never count.
type probeCtx struct {
	context.Context
	armed *atomic.Bool
	dones *atomic.Int32
}

func (c probeCtx) Done() <-chan struct{} {
	if c.armed.Load() {
		c.dones.Add(1)
	}
	return c.Context.Done()
}

// probeStore arms the probe when the user lookup returns and disarms it
// on the next storage call the flow makes.
type probeStore struct {
	storage.Storage
	armed *atomic.Bool
}

func (p probeStore) plain(ctx context.Context) context.Context {
	p.armed.Store(false)
	return context.WithoutCancel(ctx)
}

func (p probeStore) GetUserByEmail(ctx context.Context, email string) (storage.User, error) {
	u, err := p.Storage.GetUserByEmail(p.plain(ctx), email)
	p.armed.Store(true)
	return u, err
}

func (p probeStore) GetAuthRequest(ctx context.Context, id string) (storage.AuthRequest, error) {
	return p.Storage.GetAuthRequest(p.plain(ctx), id)
}

func (p probeStore) UpdateAuthRequest(ctx context.Context, id string, fn func(storage.AuthRequest) (storage.AuthRequest, error)) (storage.AuthRequest, error) {
	return p.Storage.UpdateAuthRequest(p.plain(ctx), id, fn)
}

func (p probeStore) GetUser(ctx context.Context, id string) (storage.User, error) {
	return p.Storage.GetUser(p.plain(ctx), id)
}

func (p probeStore) UpdateUser(ctx context.Context, id string, fn func(storage.User) (storage.User, error)) (storage.User, error) {
	return p.Storage.UpdateUser(p.plain(ctx), id, fn)
}

func (p probeStore) GetOrganization(ctx context.Context, id string) (storage.Organization, error) {
	return p.Storage.GetOrganization(p.plain(ctx), id)
}

func (p probeStore) AppendAuditEvent(ctx context.Context, ev storage.AuditEvent) error {
	return p.Storage.AppendAuditEvent(p.plain(ctx), ev)
}

// TestEveryOutcomeCostsOneVerification is the timing-parity check: an
// unknown account, an account without a password, a wrong password, a
// locked or disabled account and a success each run exactly one argon2
// verification, so the response time does not tell them apart. Disabled
// and locked are the flow's decisions now, after the method's one
// verification: the flow must not add a second.
func TestEveryOutcomeCostsOneVerification(t *testing.T) {
	tests := []struct {
		name  string
		email string
		pw    string
		mod   func(*storage.User)
		ok    bool
	}{
		{"unknown user", "nobody@example.com", goodPW, nil, false},
		{"no password", "alice@example.com", goodPW, func(u *storage.User) { u.PasswordHash = ""; u.State = storage.UserInvited }, false},
		{"wrong password", "alice@example.com", "wrong-wrong-wrong", nil, false},
		{"disabled", "alice@example.com", goodPW, func(u *storage.User) { u.State = storage.UserDisabled }, false},
		{"locked", "alice@example.com", goodPW, func(u *storage.User) { u.LockedUntil = t0.Add(time.Hour) }, false},
		{"success", "alice@example.com", goodPW, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.user("alice@example.com", goodPW, tt.mod)
			r := e.begin(nil)
			var armed atomic.Bool
			var dones atomic.Int32
			ps := probeStore{Storage: e.st, armed: &armed}
			e.flow.Store = ps
			e.flow.Audit.Store = ps
			e.pw.Users = ps
			ctx := probeCtx{Context: e.ctx, armed: &armed, dones: &dones}

			out, err := e.flow.Submit(ctx, r.ID, e.browser(), "password",
				authflow.Input{"email": tt.email, "password": tt.pw})
			if err != nil || tt.ok != (out.Failure == nil) {
				t.Fatalf("Submit err = %v, failure %v; want success %v", err, out.Failure, tt.ok)
			}
			if n := dones.Load(); n != 1 {
				t.Fatalf("%d password verifications between lookup and answer; want exactly 1", n)
			}
		})
	}
}
