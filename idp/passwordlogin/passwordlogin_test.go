package passwordlogin_test

// The password back door on its own: what Verify proves, how it fails,
// what it costs and when it re-hashes. What the flow then decides
// (disabled, locked, MFA, done) is tested in idp/authflow.

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-idp/gatehouse/internal/testenv"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/passwordlogin"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// cheap keeps argon2 fast; the parameters are tested in idp/password.
var cheap = password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

const goodPW = "correct horse battery staple"

type env struct {
	t      *testing.T
	ctx    context.Context
	st     storage.Storage
	hasher *password.Hasher
	m      *passwordlogin.Method
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := testenv.SQLite(t)
	h := password.NewHasher(cheap, 0)
	e := &env{t: t, ctx: context.Background(), st: st, hasher: h, m: &passwordlogin.Method{Users: st, Hasher: h}}
	if err := st.CreateOrganization(e.ctx, storage.Organization{ID: "org", Name: "org", DisplayName: "Org", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	return e
}

// user stores an active user with password pw ("" for none) after mod.
func (e *env) user(email, pw string, mod func(*storage.User)) storage.User {
	e.t.Helper()
	u := storage.User{
		ID: storage.NewID(), OrgID: "org", Email: storage.NormalizeEmail(email), EmailVerified: true,
		Name: email, State: storage.UserActive, CreatedAt: t0, UpdatedAt: t0,
	}
	if pw != "" {
		h, err := e.hasher.Hash(e.ctx, pw)
		if err != nil {
			e.t.Fatal(err)
		}
		u.PasswordHash = h
	}
	if mod != nil {
		mod(&u)
	}
	if err := e.st.CreateUser(e.ctx, u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) verify(ctx context.Context, email, pw string) (authflow.Proof, error) {
	return e.m.Verify(ctx, storage.AuthRequest{ID: "req", Step: authflow.StepLogin.String()},
		authflow.Input{passwordlogin.FieldEmail: email, passwordlogin.FieldPassword: pw})
}

func (e *env) hashOf(id string) string {
	e.t.Helper()
	u, err := e.st.GetUser(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.PasswordHash
}

func TestMethod(t *testing.T) {
	m := &passwordlogin.Method{}
	if m.Name() != passwordlogin.Name || m.Name() != "password" || m.Step() != authflow.StepLogin {
		t.Fatalf("Name %q, Step %v; want password at login", m.Name(), m.Step())
	}
}

func TestVerifyEmailNormalized(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com", goodPW, nil)
	for _, typed := range []string{"alice@example.com", "Alice@Example.COM", "  alice@example.com\t", " ALICE@EXAMPLE.COM\n"} {
		t.Run(typed, func(t *testing.T) {
			p, err := e.verify(e.ctx, typed, goodPW)
			if err != nil {
				t.Fatalf("Verify(%q): %v", typed, err)
			}
			if p.UserID != u.ID || len(p.AMR) != 1 || p.AMR[0] != authflow.AMRPassword || p.Event != audit.LoginPassword ||
				p.Upstream != nil || p.Then != nil {
				t.Fatalf("proof %+v; want %s with amr [pwd], event %s, no rehash", p, u.ID, audit.LoginPassword)
			}
		})
	}
}

// Verify proves only the password: whether the user may sign in is the
// flow's decision, so a disabled, invited or locked account with the
// right password is proved here and refused there.
func TestVerifyDecidesNothingElse(t *testing.T) {
	for name, mod := range map[string]func(*storage.User){
		"disabled": func(u *storage.User) { u.State = storage.UserDisabled },
		"invited":  func(u *storage.User) { u.State = storage.UserInvited },
		"locked":   func(u *storage.User) { u.LockedUntil = t0.Add(100 * 365 * 24 * time.Hour) },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com", goodPW, mod)
			if p, err := e.verify(e.ctx, u.Email, goodPW); err != nil || p.UserID != u.ID {
				t.Fatalf("Verify = %+v, %v; want a proof for %s", p, err, u.ID)
			}
		})
	}
}

func TestVerifyFailures(t *testing.T) {
	tests := []struct {
		name   string
		email  string
		pw     string
		mod    func(*storage.User) // nil: an active user with goodPW
		reason string
	}{
		{"unknown email", "nobody@example.com", goodPW, nil, "unknown_user"},
		{"empty email", "", goodPW, nil, "unknown_user"},
		{"wrong password", "alice@example.com", "correct horse battery stapler", nil, "wrong_password"},
		{"empty password", "alice@example.com", "", nil, "wrong_password"},
		{"password with other case", "alice@example.com", strings.ToUpper(goodPW), nil, "wrong_password"},
		{"disabled, wrong password", "alice@example.com", "nope-nope-nope",
			func(u *storage.User) { u.State = storage.UserDisabled }, "wrong_password"},
		{"invited, no password", "alice@example.com", "",
			func(u *storage.User) { u.State = storage.UserInvited; u.PasswordHash = "" }, "no_password"},
		{"invited, no password, some password typed", "alice@example.com", goodPW,
			func(u *storage.User) { u.State = storage.UserInvited; u.PasswordHash = "" }, "no_password"},
		{"active SSO-only user, no password", "alice@example.com", goodPW,
			func(u *storage.User) { u.PasswordHash = "" }, "no_password"},
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
			p, err := e.verify(e.ctx, tt.email, tt.pw)
			if !errors.Is(err, authflow.ErrInvalidCredentials) {
				t.Fatalf("Verify err = %v; want a failure matching ErrInvalidCredentials", err)
			}
			var fail *authflow.Failure
			if !errors.As(err, &fail) || fail.Reason != tt.reason {
				t.Fatalf("Verify err = %#v; want a *Failure with reason %q", err, tt.reason)
			}
			wantUser := u.ID
			if tt.reason == "unknown_user" {
				wantUser = ""
			}
			if fail.User.ID != wantUser {
				t.Fatalf("failure user %q; want %q", fail.User.ID, wantUser)
			}
			if p.UserID != "" || p.Then != nil || p.AMR != nil {
				t.Fatalf("a proof with the failure: %+v", p)
			}
			if tt.pw != "" && strings.Contains(err.Error(), tt.pw) {
				t.Fatalf("error %q contains the password", err)
			}
			if e.hashOf(u.ID) != u.PasswordHash {
				t.Fatal("a failed verification changed the hash")
			}
		})
	}
}

// failingUsers is a user store that is down.
type failingUsers struct{ err error }

func (f failingUsers) GetUserByEmail(context.Context, string) (storage.User, error) {
	return storage.User{}, f.err
}

func (f failingUsers) UpdateUser(context.Context, string, func(storage.User) (storage.User, error)) (storage.User, error) {
	return storage.User{}, f.err
}

// An outage is not a failed login: it must not count against the user
// nor be answered as a wrong password.
func TestVerifyOutage(t *testing.T) {
	down := errors.New("database down")
	m := &passwordlogin.Method{Users: failingUsers{down}, Hasher: password.NewHasher(cheap, 0)}
	_, err := m.Verify(context.Background(), storage.AuthRequest{}, authflow.Input{"email": "alice@example.com", "password": goodPW})
	var fail *authflow.Failure
	if !errors.Is(err, down) || errors.Is(err, authflow.ErrInvalidCredentials) || errors.As(err, &fail) {
		t.Fatalf("Verify err = %v; want the outage, not a failed proof", err)
	}
}

// probeCtx counts calls to Done while armed. Between the user lookup and
// Verify's return the method touches its context only in the password
// hasher (its semaphore select), so one count is one argon2
// verification. The probing store hands the database a context without
// Done, so database/sql's own goroutines never count.
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

type probeUsers struct {
	passwordlogin.Users
	armed *atomic.Bool
}

func (p probeUsers) GetUserByEmail(ctx context.Context, email string) (storage.User, error) {
	u, err := p.Users.GetUserByEmail(context.WithoutCancel(ctx), email)
	p.armed.Store(true)
	return u, err
}

// Every answer costs exactly one verification, so that its timing does
// not tell whether the account exists or has a password.
func TestVerifyCostsOneVerification(t *testing.T) {
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
		{"disabled", "alice@example.com", goodPW, func(u *storage.User) { u.State = storage.UserDisabled }, true},
		{"success", "alice@example.com", goodPW, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.user("alice@example.com", goodPW, tt.mod)
			var armed atomic.Bool
			var dones atomic.Int32
			e.m.Users = probeUsers{Users: e.st, armed: &armed}
			ctx := probeCtx{Context: e.ctx, armed: &armed, dones: &dones}
			_, err := e.verify(ctx, tt.email, tt.pw)
			armed.Store(false)
			if tt.ok != (err == nil) {
				t.Fatalf("Verify err = %v; want success %v", err, tt.ok)
			}
			if n := dones.Load(); n != 1 {
				t.Fatalf("%d password verifications between lookup and answer; want exactly 1", n)
			}
		})
	}
}

// A proof of a password hashed with other parameters carries the
// re-hash as its follow-up (Then); the flow runs it only for an accepted
// login, so Verify itself never writes.
func TestVerifyRehash(t *testing.T) {
	tests := []struct {
		name   string
		params password.Params
		bcrypt bool // an imported bcrypt hash instead
		rehash bool
	}{
		{"weaker memory", password.Params{MemoryKiB: 32, Iterations: 1, Parallelism: 1}, false, true},
		{"different iterations", password.Params{MemoryKiB: 64, Iterations: 2, Parallelism: 1}, false, true},
		{"imported bcrypt", cheap, true, true},
		{"current parameters", cheap, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			old, err := password.NewHasher(tt.params, 0).Hash(e.ctx, goodPW)
			if tt.bcrypt {
				var b []byte
				b, err = bcrypt.GenerateFromPassword([]byte(goodPW), bcrypt.MinCost)
				old = "$2y$" + string(b)[4:]
			}
			if err != nil {
				t.Fatal(err)
			}
			u := e.user("alice@example.com", "", func(u *storage.User) { u.PasswordHash = old })

			if _, err := e.verify(e.ctx, u.Email, "wrong-wrong-wrong"); err == nil {
				t.Fatal("wrong password verified")
			}
			if e.hashOf(u.ID) != old {
				t.Fatal("hash rewritten by a failed verification")
			}
			p, err := e.verify(e.ctx, u.Email, goodPW)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if (p.Then != nil) != tt.rehash {
				t.Fatalf("proof has a re-hash %v; want %v", p.Then != nil, tt.rehash)
			}
			if e.hashOf(u.ID) != old {
				t.Fatal("Verify wrote the hash before the flow accepted the login")
			}
			if !tt.rehash {
				return
			}
			p.Then(e.ctx)
			stored := e.hashOf(u.ID)
			if stored == old || !strings.HasPrefix(stored, "$argon2id$v=19$m=64,t=1,p=1$") {
				t.Fatalf("stored hash %q; want a new one with the method's parameters", stored)
			}
			if ok, again, err := e.hasher.Verify(e.ctx, stored, goodPW); !ok || again || err != nil {
				t.Fatalf("stored hash Verify = %v, %v, %v; want true, false, nil", ok, again, err)
			}
			if p, err := e.verify(e.ctx, u.Email, goodPW); err != nil || p.Then != nil {
				t.Fatalf("after the re-hash: %+v, %v; want a proof without another re-hash", p, err)
			}
		})
	}
}

// A re-hash does not overwrite a password changed since the verification.
func TestRehashKeepsNewerPassword(t *testing.T) {
	e := newEnv(t)
	old, err := password.NewHasher(password.Params{MemoryKiB: 32, Iterations: 1, Parallelism: 1}, 0).Hash(e.ctx, goodPW)
	if err != nil {
		t.Fatal(err)
	}
	u := e.user("alice@example.com", "", func(u *storage.User) { u.PasswordHash = old })
	p, err := e.verify(e.ctx, u.Email, goodPW)
	if err != nil || p.Then == nil {
		t.Fatalf("Verify = %+v, %v; want a proof with a re-hash", p, err)
	}
	changed, err := e.hasher.Hash(e.ctx, "a brand new password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateUser(e.ctx, u.ID, func(u storage.User) (storage.User, error) {
		u.PasswordHash = changed
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	p.Then(e.ctx)
	if got := e.hashOf(u.ID); got != changed {
		t.Fatalf("re-hash overwrote a password changed meanwhile")
	}
}
