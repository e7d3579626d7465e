package authflow

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/internal/testenv"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// t0 has whole microseconds, so that times survive the storage round trip.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// cheap keeps argon2 fast; the parameters are tested in idp/password.
var cheap = password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

const goodPW = "correct horse battery staple"

// env is one flow over a fresh SQLite database, with a clock the test moves.
type env struct {
	t      *testing.T
	ctx    context.Context
	st     storage.Storage
	flow   *Flow
	now    *time.Time
	org    storage.Organization // MFA off
	mfaOrg storage.Organization // MFA required
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st := testenv.SQLite(t)
	now := t0
	clock := func() time.Time { return now }
	e := &env{
		t:   t,
		ctx: ctx,
		st:  st,
		now: &now,
		flow: &Flow{
			Store:  st,
			Hasher: password.NewHasher(cheap, 0),
			Audit:  &audit.Recorder{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock},
			Now:    clock,
		},
		org:    storage.Organization{ID: "org-plain", Name: "plain", DisplayName: "Plain", CreatedAt: t0, UpdatedAt: t0},
		mfaOrg: storage.Organization{ID: "org-mfa", Name: "strict", DisplayName: "Strict", MFA: storage.MFAPolicy{Required: true}, CreatedAt: t0, UpdatedAt: t0},
	}
	for _, o := range []storage.Organization{e.org, e.mfaOrg} {
		if err := st.CreateOrganization(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) advance(d time.Duration) { *e.now = e.now.Add(d) }

// user stores an active user of e.org with password pw ("" for none),
// after mod has adjusted it.
func (e *env) user(email, pw string, mod func(*storage.User)) storage.User {
	e.t.Helper()
	u := storage.User{
		ID: storage.NewID(), OrgID: e.org.ID, Email: storage.NormalizeEmail(email), EmailVerified: true,
		Name: email, State: storage.UserActive, CreatedAt: t0, UpdatedAt: t0,
	}
	if pw != "" {
		h, err := e.flow.Hasher.Hash(e.ctx, pw)
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

func (e *env) client(id string, requireMFA bool) {
	e.t.Helper()
	c := storage.Client{
		ID: id, OrgID: e.org.ID, Name: id, RedirectURIs: []string{"https://rp.example/cb"},
		RequireMFA: requireMFA, Source: "api", CreatedAt: t0, UpdatedAt: t0,
	}
	if err := e.st.CreateClient(e.ctx, c); err != nil {
		e.t.Fatal(err)
	}
}

// begin starts a request after mod has filled in the protocol fields.
func (e *env) begin(mod func(*storage.AuthRequest)) storage.AuthRequest {
	e.t.Helper()
	r := storage.AuthRequest{Protocol: "oidc", RedirectURI: "https://rp.example/cb", State: "st", Nonce: "n", Scopes: []string{"openid"}, ResponseType: "code"}
	if mod != nil {
		mod(&r)
	}
	r, err := e.flow.Begin(e.ctx, r)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// stored is the request as the database holds it.
func (e *env) stored(id string) storage.AuthRequest {
	e.t.Helper()
	r, err := e.st.GetAuthRequest(e.ctx, id)
	if err != nil {
		e.t.Fatalf("GetAuthRequest(%s): %v", id, err)
	}
	return r
}

func (e *env) storedUser(id string) storage.User {
	e.t.Helper()
	u, err := e.st.GetUser(e.ctx, id)
	if err != nil {
		e.t.Fatalf("GetUser(%s): %v", id, err)
	}
	return u
}

func (e *env) events(typ string) []storage.AuditEvent {
	e.t.Helper()
	evs, err := e.st.ListAuditEvents(e.ctx, storage.AuditQuery{Type: typ})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// unchanged fails the test when the stored request differs from before.
func (e *env) unchanged(before storage.AuthRequest) {
	e.t.Helper()
	if after := e.stored(before.ID); !reflect.DeepEqual(after, before) {
		e.t.Fatalf("request changed:\n before %+v\n after  %+v", before, after)
	}
}

func ptr[T any](v T) *T { return &v }

func TestBegin(t *testing.T) {
	e := newEnv(t)
	in := storage.AuthRequest{
		ID: "chosen-by-caller", Protocol: "oidc", ClientID: "rp", RedirectURI: "https://rp.example/cb",
		State: "st", Nonce: "n", Scopes: []string{"openid", "email"}, ResponseType: "code",
		CodeChallenge: "abc", CodeChallengeMethod: "S256", Prompt: []string{"consent"}, MaxAge: ptr(int64(60)),
		LoginHint: "a@example.com", ACRValues: []string{ACRMFA}, Extra: map[string]string{"k": "v"},
		// Flow state a front door must not be able to preset:
		Step: StepDone, OrgID: e.org.ID, UserID: "victim", SessionID: "sess", AuthTime: t0.Add(-time.Hour),
		AMR: []string{AMRPassword, AMRMFA}, CreatedAt: t0.Add(-48 * time.Hour), ExpiresAt: t0.Add(100 * time.Hour),
	}
	tests := []struct {
		name string
		ttl  time.Duration
		want time.Duration
	}{
		{"default TTL", 0, 30 * time.Minute},
		{"negative TTL means default", -time.Minute, DefaultTTL},
		{"configured TTL", 5 * time.Minute, 5 * time.Minute},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.flow.TTL = tt.ttl
			got, err := e.flow.Begin(e.ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			st := e.stored(got.ID)
			if got.ID == "" || got.ID == in.ID || seen[got.ID] {
				t.Fatalf("ID = %q; want a fresh server-chosen id", got.ID)
			}
			seen[got.ID] = true
			if st.Step != StepLogin {
				t.Errorf("Step = %q; want %q", st.Step, StepLogin)
			}
			if !st.CreatedAt.Equal(t0) || !st.ExpiresAt.Equal(t0.Add(tt.want)) {
				t.Errorf("CreatedAt, ExpiresAt = %v, %v; want %v, %v", st.CreatedAt, st.ExpiresAt, t0, t0.Add(tt.want))
			}
			if st.UserID != "" || st.OrgID != "" || st.SessionID != "" || st.AMR != nil || !st.AuthTime.IsZero() {
				t.Errorf("caller-set identity survived: user %q org %q session %q amr %v auth_time %v",
					st.UserID, st.OrgID, st.SessionID, st.AMR, st.AuthTime)
			}
			if st.ClientID != in.ClientID || st.Nonce != in.Nonce || st.CodeChallenge != in.CodeChallenge ||
				!slices.Equal(st.Scopes, in.Scopes) || !slices.Equal(st.Prompt, in.Prompt) ||
				!slices.Equal(st.ACRValues, in.ACRValues) || st.MaxAge == nil || *st.MaxAge != 60 ||
				!reflect.DeepEqual(st.Extra, in.Extra) {
				t.Errorf("protocol fields not kept: %+v", st)
			}
			if !reflect.DeepEqual(got, st) {
				t.Errorf("Begin returned %+v\nstored %+v", got, st)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	e := newEnv(t)
	r := e.begin(nil) // expires at t0+30m
	tests := []struct {
		name    string
		id      string
		advance time.Duration // from t0
		wantErr error
	}{
		{"live", r.ID, 0, nil},
		{"one microsecond before expiry", r.ID, DefaultTTL - time.Microsecond, nil},
		{"unknown id", "no-such-request", 0, ErrRequestGone},
		{"empty id", "", 0, ErrRequestGone},
		{"at expiry", r.ID, DefaultTTL, ErrRequestGone},
		{"after expiry", r.ID, DefaultTTL + time.Second, ErrRequestGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			*e.now = t0.Add(tt.advance)
			got, err := e.flow.Load(e.ctx, tt.id)
			if !errors.Is(err, tt.wantErr) || (err != nil && err != tt.wantErr) {
				t.Fatalf("Load err = %v; want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && !reflect.DeepEqual(got, e.stored(r.ID)) {
				t.Fatalf("Load = %+v; want the stored row", got)
			}
			if tt.wantErr != nil && got.ID != "" {
				t.Fatalf("Load returned a request with an error: %+v", got)
			}
		})
	}
}

func TestSubmitPasswordSuccess(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com", goodPW, nil)
	e.client("rp", false)
	r := e.begin(func(r *storage.AuthRequest) { r.ClientID = "rp" })
	e.advance(time.Minute)
	loginAt := *e.now

	got, err := e.flow.SubmitPassword(e.ctx, r.ID, "alice@example.com", goodPW)
	if err != nil {
		t.Fatalf("SubmitPassword: %v", err)
	}
	st := e.stored(r.ID)
	if !reflect.DeepEqual(got, st) {
		t.Errorf("returned %+v\nstored %+v", got, st)
	}
	if st.Step != StepDone || st.UserID != u.ID || st.OrgID != u.OrgID || st.SessionID != "" ||
		!st.AuthTime.Equal(loginAt) || !slices.Equal(st.AMR, []string{AMRPassword}) {
		t.Fatalf("stored request %+v; want done for %s at %v with amr [pwd]", st, u.ID, loginAt)
	}
	if ACR(st) != ACRPassword {
		t.Errorf("ACR = %q; want %q", ACR(st), ACRPassword)
	}
	if lu := e.storedUser(u.ID); !lu.LastLoginAt.Equal(loginAt) || lu.PasswordHash != u.PasswordHash {
		t.Errorf("user LastLoginAt = %v (want %v), hash changed %v", lu.LastLoginAt, loginAt, lu.PasswordHash != u.PasswordHash)
	}
	evs := e.events(audit.LoginPassword)
	if len(evs) != 1 || evs[0].UserID != u.ID || evs[0].OrgID != u.OrgID || evs[0].ClientID != "rp" || !evs[0].Time.Equal(loginAt) {
		t.Fatalf("login.password_ok events = %+v; want one for %s", evs, u.ID)
	}
	if f := e.events(audit.LoginFailed); len(f) != 0 {
		t.Fatalf("login.failed events after success: %+v", f)
	}
}

func TestSubmitPasswordEmailNormalized(t *testing.T) {
	for _, typed := range []string{"alice@example.com", "Alice@Example.COM", "  alice@example.com\t", " ALICE@EXAMPLE.COM\n"} {
		t.Run(typed, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com", goodPW, nil)
			r := e.begin(nil)
			if _, err := e.flow.SubmitPassword(e.ctx, r.ID, typed, goodPW); err != nil {
				t.Fatalf("SubmitPassword(%q): %v", typed, err)
			}
			if st := e.stored(r.ID); st.Step != StepDone || st.UserID != u.ID {
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
		{"stored hash of another algorithm", "alice@example.com", goodPW,
			func(u *storage.User) { u.PasswordHash = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy" }, "hash_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com", goodPW, tt.mod)
			r := e.begin(func(r *storage.AuthRequest) { r.ClientID = "rp" })
			before := e.stored(r.ID)

			got, err := e.flow.SubmitPassword(e.ctx, r.ID, tt.email, tt.pw)
			if err != ErrInvalidCredentials { // exactly the sentinel: nothing to tell cases apart
				t.Fatalf("SubmitPassword err = %v; want exactly ErrInvalidCredentials", err)
			}
			if got.ID != "" || got.UserID != "" {
				t.Fatalf("SubmitPassword returned a request on failure: %+v", got)
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
			if ev.Details["reason"] != tt.reason || ev.ClientID != "rp" {
				t.Fatalf("login.failed %+v; want reason %q, client rp", ev, tt.reason)
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
		})
	}
}

// After a lock ends the right password works again; the same request may
// retry after a failure because a failure leaves it at the login step.
func TestSubmitPasswordRetryAndLockExpiry(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com", goodPW, func(u *storage.User) { u.LockedUntil = t0.Add(10 * time.Minute) })
	r := e.begin(nil)
	if _, err := e.flow.SubmitPassword(e.ctx, r.ID, u.Email, goodPW); err != ErrInvalidCredentials {
		t.Fatalf("while locked: err = %v; want ErrInvalidCredentials", err)
	}
	e.advance(10 * time.Minute) // now == LockedUntil: the lock has ended
	if _, err := e.flow.SubmitPassword(e.ctx, r.ID, u.Email, goodPW); err != nil {
		t.Fatalf("after the lock: err = %v", err)
	}
	if st := e.stored(r.ID); st.Step != StepDone || st.UserID != u.ID || !st.AuthTime.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("stored %+v; want done for %s", st, u.ID)
	}
}

func TestSubmitPasswordExpiredOrUnknownRequest(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com", goodPW, nil)
	r := e.begin(nil)
	before := e.stored(r.ID)
	if _, err := e.flow.SubmitPassword(e.ctx, "no-such-request", u.Email, goodPW); err != ErrRequestGone {
		t.Fatalf("unknown request: err = %v; want ErrRequestGone", err)
	}
	e.advance(DefaultTTL)
	if _, err := e.flow.SubmitPassword(e.ctx, r.ID, u.Email, goodPW); err != ErrRequestGone {
		t.Fatalf("expired request: err = %v; want ErrRequestGone", err)
	}
	e.unchanged(before)
	if lu := e.storedUser(u.ID); !lu.LastLoginAt.IsZero() {
		t.Fatalf("LastLoginAt set by a login on an expired request: %v", lu.LastLoginAt)
	}
}

func TestOutOfTurn(t *testing.T) {
	sess := storage.Session{Hash: storage.HashSecret("cookie"), AuthTime: t0, AMR: []string{AMRPassword, AMRMFA}, ExpiresAt: t0.Add(24 * time.Hour)}
	tests := []struct {
		name string
		org  bool                                                                 // user in the MFA org
		prep func(e *env, id string, u storage.User)                              // moves the request on
		op   func(e *env, id string, u storage.User) (storage.AuthRequest, error) // the out-of-turn call
	}{
		{"SubmitPassword at done", false,
			func(e *env, id string, u storage.User) { mustSubmit(e, id, u) },
			func(e *env, id string, u storage.User) (storage.AuthRequest, error) {
				return e.flow.SubmitPassword(e.ctx, id, u.Email, goodPW)
			}},
		{"SubmitPassword at mfa", true,
			func(e *env, id string, u storage.User) { mustSubmit(e, id, u) },
			func(e *env, id string, u storage.User) (storage.AuthRequest, error) {
				return e.flow.SubmitPassword(e.ctx, id, u.Email, goodPW)
			}},
		{"SubmitPassword with a wrong password at done", false,
			func(e *env, id string, u storage.User) { mustSubmit(e, id, u) },
			func(e *env, id string, u storage.User) (storage.AuthRequest, error) {
				return e.flow.SubmitPassword(e.ctx, id, u.Email, "wrong-wrong-wrong")
			}},
		{"ResumeSession at done", false,
			func(e *env, id string, u storage.User) { mustSubmit(e, id, u) },
			func(e *env, id string, u storage.User) (storage.AuthRequest, error) {
				s := sess
				s.UserID = u.ID
				return e.flow.ResumeSession(e.ctx, id, s)
			}},
		{"ResumeSession with an MFA session at mfa", true,
			func(e *env, id string, u storage.User) { mustSubmit(e, id, u) },
			func(e *env, id string, u storage.User) (storage.AuthRequest, error) {
				s := sess
				s.UserID = u.ID
				return e.flow.ResumeSession(e.ctx, id, s)
			}},
		{"AttachSession at login", false,
			func(*env, string, storage.User) {},
			func(e *env, id string, _ storage.User) (storage.AuthRequest, error) {
				return e.flow.AttachSession(e.ctx, id, "sess-hash")
			}},
		{"AttachSession at mfa", true,
			func(e *env, id string, u storage.User) { mustSubmit(e, id, u) },
			func(e *env, id string, _ storage.User) (storage.AuthRequest, error) {
				return e.flow.AttachSession(e.ctx, id, "sess-hash")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com", goodPW, func(u *storage.User) {
				if tt.org {
					u.OrgID = e.mfaOrg.ID
				}
			})
			r := e.begin(nil)
			tt.prep(e, r.ID, u)
			before := e.stored(r.ID)
			e.advance(time.Second)
			got, err := tt.op(e, r.ID, u)
			if err != ErrOutOfTurn {
				t.Fatalf("err = %v; want ErrOutOfTurn", err)
			}
			if got.ID != "" {
				t.Fatalf("returned a request with the error: %+v", got)
			}
			e.unchanged(before)
		})
	}
}

func mustSubmit(e *env, id string, u storage.User) storage.AuthRequest {
	e.t.Helper()
	r, err := e.flow.SubmitPassword(e.ctx, id, u.Email, goodPW)
	if err != nil {
		e.t.Fatalf("SubmitPassword: %v", err)
	}
	return r
}

func TestAttachSession(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com", goodPW, nil)
	r := e.begin(nil)
	mustSubmit(e, r.ID, u)
	before := e.stored(r.ID)
	got, err := e.flow.AttachSession(e.ctx, r.ID, "sess-hash")
	if err != nil {
		t.Fatalf("AttachSession: %v", err)
	}
	want := before
	want.SessionID = "sess-hash"
	if st := e.stored(r.ID); !reflect.DeepEqual(st, want) || !reflect.DeepEqual(got, st) {
		t.Fatalf("stored %+v\nreturned %+v\nwant %+v", st, got, want)
	}
	if _, err := e.flow.AttachSession(e.ctx, "no-such-request", "x"); err != ErrRequestGone {
		t.Fatalf("unknown request: err = %v; want ErrRequestGone", err)
	}
	e.advance(DefaultTTL)
	if _, err := e.flow.AttachSession(e.ctx, r.ID, "later"); err != ErrRequestGone {
		t.Fatalf("expired request: err = %v; want ErrRequestGone", err)
	}
	if st := e.stored(r.ID); st.SessionID != "sess-hash" {
		t.Fatalf("expired request was changed: SessionID %q", st.SessionID)
	}
}

func TestMFAGatePassword(t *testing.T) {
	tests := []struct {
		name     string
		mfaOrg   bool
		noOrg    bool
		client   string // "" none, "plain", "strict" (RequireMFA)
		acr      []string
		wantStep string
	}{
		{"no policy", false, false, "", nil, StepDone},
		{"user without organization", false, true, "", nil, StepDone},
		{"org requires MFA", true, false, "", nil, StepMFA},
		{"org requires MFA, plain client", true, false, "plain", nil, StepMFA},
		{"client requires MFA", false, false, "strict", nil, StepMFA},
		{"client does not require MFA", false, false, "plain", nil, StepDone},
		{"unregistered client id", false, false, "ghost", nil, StepDone},
		{"RP asks for the MFA ACR", false, false, "", []string{ACRMFA}, StepMFA},
		{"RP asks for the MFA ACR among others", false, false, "plain", []string{ACRPassword, ACRMFA}, StepMFA},
		{"RP asks for the password ACR", false, false, "", []string{ACRPassword}, StepDone},
		{"MFA ACR and client policy", false, false, "strict", []string{ACRMFA}, StepMFA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.client("plain", false)
			e.client("strict", true)
			u := e.user("alice@example.com", goodPW, func(u *storage.User) {
				switch {
				case tt.mfaOrg:
					u.OrgID = e.mfaOrg.ID
				case tt.noOrg:
					u.OrgID = ""
				}
			})
			r := e.begin(func(r *storage.AuthRequest) { r.ClientID, r.ACRValues = tt.client, tt.acr })
			got, err := e.flow.SubmitPassword(e.ctx, r.ID, u.Email, goodPW)
			if err != nil {
				t.Fatalf("SubmitPassword: %v", err)
			}
			st := e.stored(r.ID)
			if st.Step != tt.wantStep || got.Step != tt.wantStep {
				t.Fatalf("Step stored %q, returned %q; want %q", st.Step, got.Step, tt.wantStep)
			}
			if st.UserID != u.ID || st.OrgID != u.OrgID || !slices.Equal(st.AMR, []string{AMRPassword}) {
				t.Fatalf("stored %+v; want user %s with amr [pwd]", st, u.ID)
			}
			if ACR(st) != ACRPassword {
				t.Fatalf("ACR after the password alone = %q", ACR(st))
			}
		})
	}
}

func TestResumeSession(t *testing.T) {
	type fixture struct {
		e     *env
		u     storage.User
		sess  storage.Session
		reqID string
	}
	tests := []struct {
		name     string
		mfaOrg   bool
		user     func(*storage.User)
		after    func(f *fixture) // after the user is stored (delete, point the session elsewhere)
		age      time.Duration    // session AuthTime = now - age
		amr      []string         // session AMR; nil means [pwd]
		req      func(r *storage.AuthRequest)
		wantErr  error
		wantStep string
	}{
		{name: "live session", age: time.Hour, wantStep: StepDone},
		{name: "prompt=none", age: time.Hour, req: func(r *storage.AuthRequest) { r.Prompt = []string{"none"} }, wantStep: StepDone},
		{name: "prompt=consent", age: time.Hour, req: func(r *storage.AuthRequest) { r.Prompt = []string{"consent"} }, wantStep: StepDone},
		{name: "prompt=login", age: time.Second, req: func(r *storage.AuthRequest) { r.Prompt = []string{"login"} }, wantErr: ErrLoginRequired},
		{name: "prompt=consent login", age: time.Second, req: func(r *storage.AuthRequest) { r.Prompt = []string{"consent", "login"} }, wantErr: ErrLoginRequired},
		{name: "max_age=0, session 1s old", age: time.Second, req: maxAge(0), wantErr: ErrLoginRequired},
		{name: "max_age=0, session 1µs old", age: time.Microsecond, req: maxAge(0), wantErr: ErrLoginRequired},
		// OIDC Core 1.0 (errata set 1) §3.1.2.1: "max_age=0 is equivalent
		// to prompt=login", so even a session from this very instant
		// must not satisfy it.
		{name: "max_age=0, session from this instant", age: 0, req: maxAge(0), wantErr: ErrLoginRequired},
		{name: "max_age=3600, 10 minutes", age: 10 * time.Minute, req: maxAge(3600), wantStep: StepDone},
		{name: "max_age=3600, exactly 3600s", age: time.Hour, req: maxAge(3600), wantStep: StepDone},
		{name: "max_age=3600, 3600s and 1µs", age: time.Hour + time.Microsecond, req: maxAge(3600), wantErr: ErrLoginRequired},
		{name: "max_age=3600, 2 hours", age: 2 * time.Hour, req: maxAge(3600), wantErr: ErrLoginRequired},
		{name: "hint names this user", age: time.Minute, after: func(f *fixture) {
			hint(f.e, f.reqID, f.u.ID)
		}, wantStep: StepDone},
		{name: "hint names another user", age: time.Minute, after: func(f *fixture) {
			hint(f.e, f.reqID, "someone-else")
		}, wantErr: ErrLoginRequired},
		{name: "disabled user", age: time.Minute, user: func(u *storage.User) { u.State = storage.UserDisabled }, wantErr: ErrLoginRequired},
		{name: "invited user", age: time.Minute, user: func(u *storage.User) { u.State = storage.UserInvited }, wantErr: ErrLoginRequired},
		{name: "locked user", age: time.Minute, user: func(u *storage.User) { u.LockedUntil = t0.Add(5 * time.Minute) }, wantErr: ErrLoginRequired},
		{name: "lock over", age: time.Minute, user: func(u *storage.User) { u.LockedUntil = t0.Add(-time.Second) }, wantStep: StepDone},
		{name: "deleted user", age: time.Minute, after: func(f *fixture) {
			if err := f.e.st.DeleteUser(f.e.ctx, f.u.ID); err != nil {
				f.e.t.Fatal(err)
			}
		}, wantErr: ErrLoginRequired},
		{name: "session for an unknown user id", age: time.Minute, after: func(f *fixture) { f.sess.UserID = "ghost" }, wantErr: ErrLoginRequired},
		{name: "session with no user", age: time.Minute, after: func(f *fixture) { f.sess.UserID = "" }, wantErr: ErrLoginRequired},
		{name: "org MFA, password-only session", mfaOrg: true, age: time.Minute, wantStep: StepMFA},
		{name: "org MFA, MFA session", mfaOrg: true, age: time.Minute, amr: []string{AMRPassword, AMRMFA}, wantStep: StepDone},
		{name: "MFA ACR asked, password-only session", age: time.Minute,
			req: func(r *storage.AuthRequest) { r.ACRValues = []string{ACRMFA} }, wantStep: StepMFA},
		{name: "MFA ACR asked, MFA session", age: time.Minute, amr: []string{AMRPassword, AMRMFA},
			req: func(r *storage.AuthRequest) { r.ACRValues = []string{ACRMFA} }, wantStep: StepDone},
		{name: "client requires MFA, password-only session", age: time.Minute,
			req: func(r *storage.AuthRequest) { r.ClientID = "strict" }, wantStep: StepMFA},
		{name: "client requires MFA, MFA session", age: time.Minute, amr: []string{AMRPassword, AMRMFA},
			req: func(r *storage.AuthRequest) { r.ClientID = "strict" }, wantStep: StepDone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.client("strict", true)
			u := e.user("alice@example.com", goodPW, func(u *storage.User) {
				if tt.mfaOrg {
					u.OrgID = e.mfaOrg.ID
				}
				if tt.user != nil {
					tt.user(u)
				}
			})
			amr := tt.amr
			if amr == nil {
				amr = []string{AMRPassword}
			}
			f := &fixture{e: e, u: u, sess: storage.Session{
				Hash: storage.HashSecret("cookie-" + tt.name), UserID: u.ID, AuthTime: t0.Add(-tt.age), AMR: amr,
				ExpiresAt: t0.Add(24 * time.Hour),
			}}
			r := e.begin(tt.req)
			f.reqID = r.ID
			if tt.after != nil {
				tt.after(f)
			}
			before := e.stored(r.ID)

			got, err := e.flow.ResumeSession(e.ctx, r.ID, f.sess)
			if tt.wantErr != nil {
				if err != tt.wantErr {
					t.Fatalf("ResumeSession err = %v; want %v", err, tt.wantErr)
				}
				if got.ID != "" {
					t.Fatalf("returned a request with the error: %+v", got)
				}
				e.unchanged(before)
				return
			}
			if err != nil {
				t.Fatalf("ResumeSession: %v", err)
			}
			st := e.stored(r.ID)
			if !reflect.DeepEqual(got, st) {
				t.Errorf("returned %+v\nstored %+v", got, st)
			}
			if st.Step != tt.wantStep || st.UserID != u.ID || st.OrgID != u.OrgID || st.SessionID != f.sess.Hash ||
				!st.AuthTime.Equal(f.sess.AuthTime) || !slices.Equal(st.AMR, amr) {
				t.Fatalf("stored %+v\nwant step %q, user %s, session %s, auth_time %v, amr %v",
					st, tt.wantStep, u.ID, f.sess.Hash, f.sess.AuthTime, amr)
			}
			wantACR := ACRPassword
			if slices.Contains(amr, AMRMFA) {
				wantACR = ACRMFA
			}
			if ACR(st) != wantACR {
				t.Errorf("ACR = %q; want %q", ACR(st), wantACR)
			}
		})
	}
}

func maxAge(s int64) func(*storage.AuthRequest) {
	return func(r *storage.AuthRequest) { r.MaxAge = ptr(s) }
}

// hint sets a verified id_token_hint subject on request id.
func hint(e *env, id, sub string) {
	e.t.Helper()
	if _, err := e.st.UpdateAuthRequest(e.ctx, id, func(r storage.AuthRequest) (storage.AuthRequest, error) {
		r.Extra = map[string]string{ExtraHintSubject: sub}
		return r, nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

func TestResumeSessionExpiredRequest(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com", goodPW, nil)
	r := e.begin(nil)
	before := e.stored(r.ID)
	e.advance(DefaultTTL)
	s := storage.Session{Hash: "h", UserID: u.ID, AuthTime: *e.now, AMR: []string{AMRPassword}, ExpiresAt: e.now.Add(24 * time.Hour)}
	if _, err := e.flow.ResumeSession(e.ctx, r.ID, s); err != ErrRequestGone {
		t.Fatalf("expired request: err = %v; want ErrRequestGone", err)
	}
	if _, err := e.flow.ResumeSession(e.ctx, "no-such-request", s); err != ErrRequestGone {
		t.Fatalf("unknown request: err = %v; want ErrRequestGone", err)
	}
	e.unchanged(before)
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
			if _, err := e.flow.SubmitPassword(e.ctx, r1.ID, u.Email, "wrong-wrong-wrong"); err != ErrInvalidCredentials {
				t.Fatalf("wrong password: %v", err)
			}
			if got := e.storedUser(u.ID).PasswordHash; got != old {
				t.Fatalf("hash rewritten by a failed login")
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
			ok, again, err := e.flow.Hasher.Verify(e.ctx, stored, goodPW)
			if !ok || again || err != nil {
				t.Fatalf("stored hash Verify = %v, %v, %v; want true, false, nil", ok, again, err)
			}
			// And the next login works with the new hash.
			r2 := e.begin(nil)
			mustSubmit(e, r2.ID, u)
		})
	}
}

func TestConcurrentSubmitPassword(t *testing.T) {
	for _, mfa := range []bool{false, true} {
		name, wantStep := "mfa off", StepDone
		if mfa {
			name, wantStep = "mfa required", StepMFA
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com", goodPW, func(u *storage.User) {
				if mfa {
					u.OrgID = e.mfaOrg.ID
				}
			})
			r := e.begin(nil)
			const n = 10
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					_, errs[i] = e.flow.SubmitPassword(e.ctx, r.ID, u.Email, goodPW)
				})
			}
			close(start)
			wg.Wait()
			wins := 0
			for i, err := range errs {
				switch {
				case err == nil:
					wins++
				case err != ErrOutOfTurn:
					t.Errorf("goroutine %d: err = %v; want nil or ErrOutOfTurn", i, err)
				}
			}
			if wins != 1 {
				t.Errorf("%d goroutines moved the request; want exactly 1", wins)
			}
			st := e.stored(r.ID)
			if st.Step != wantStep || st.UserID != u.ID || st.OrgID != u.OrgID ||
				!slices.Equal(st.AMR, []string{AMRPassword}) || !st.AuthTime.Equal(t0) {
				t.Fatalf("stored %+v; want %s for %s", st, wantStep, u.ID)
			}
			if evs := e.events(audit.LoginPassword); len(evs) != 1 {
				t.Fatalf("%d login.password_ok events; want 1", len(evs))
			}
		})
	}
}

func TestACR(t *testing.T) {
	tests := []struct {
		amr  []string
		want string
	}{
		{nil, ACRPassword},
		{[]string{AMRPassword}, ACRPassword},
		{[]string{"otp"}, ACRPassword},
		{[]string{AMRPassword, AMRMFA}, ACRMFA},
		{[]string{AMRMFA}, ACRMFA},
		{[]string{"MFA"}, ACRPassword},
	}
	for _, tt := range tests {
		if got := ACR(storage.AuthRequest{AMR: tt.amr}); got != tt.want {
			t.Errorf("ACR(amr %v) = %q; want %q", tt.amr, got, tt.want)
		}
	}
}

// probeCtx counts calls to Done while armed. Between the user lookup and
// the audit write, SubmitPassword touches its context only in the
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

func (p probeStore) UpdateUser(ctx context.Context, id string, fn func(storage.User) (storage.User, error)) (storage.User, error) {
	return p.Storage.UpdateUser(p.plain(ctx), id, fn)
}

func (p probeStore) GetClient(ctx context.Context, id string) (storage.Client, error) {
	return p.Storage.GetClient(p.plain(ctx), id)
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
// verification, so the response time does not tell them apart.
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
			ctx := probeCtx{Context: e.ctx, armed: &armed, dones: &dones}

			_, err := e.flow.SubmitPassword(ctx, r.ID, tt.email, tt.pw)
			if tt.ok != (err == nil) {
				t.Fatalf("SubmitPassword err = %v; want success %v", err, tt.ok)
			}
			if n := dones.Load(); n != 1 {
				t.Fatalf("%d password verifications between lookup and answer; want exactly 1", n)
			}
		})
	}
}

// A session past its own expiry, or authenticated "in the future" (clock
// skew between instances), cannot satisfy a login even if a caller hands
// it over.
func TestResumeSessionRejectsUnusableSessions(t *testing.T) {
	tests := []struct {
		name string
		mod  func(s *storage.Session, now time.Time)
	}{
		{"absolute expiry passed", func(s *storage.Session, now time.Time) { s.ExpiresAt = now }},
		{"idle expiry passed", func(s *storage.Session, now time.Time) { s.IdleExpiresAt = now.Add(-time.Second) }},
		{"auth time in the future", func(s *storage.Session, now time.Time) { s.AuthTime = now.Add(time.Minute) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com", goodPW, nil)
			r := e.begin(nil)
			before := e.stored(r.ID)
			s := storage.Session{Hash: "h", UserID: u.ID, AuthTime: e.now.Add(-time.Minute), AMR: []string{AMRPassword},
				ExpiresAt: e.now.Add(time.Hour)}
			tt.mod(&s, *e.now)
			if _, err := e.flow.ResumeSession(e.ctx, r.ID, s); err != ErrLoginRequired {
				t.Fatalf("err = %v; want ErrLoginRequired", err)
			}
			e.unchanged(before)
		})
	}
}
