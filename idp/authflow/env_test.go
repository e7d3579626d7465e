package authflow_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/internal/testenv"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/passwordlogin"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// t0 has whole microseconds, so that times survive the storage round trip.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// cheap keeps argon2 fast; the parameters are tested in idp/password.
var cheap = password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

const (
	goodPW = "correct horse battery staple"
	// otpCode is the one code the fake second factor accepts.
	otpCode = "123456"
	// otp is the fake second factor's method name.
	otp = "otp"
)

// Relying parties of the fake OIDC door.
const (
	plainRP  = "rp"     // no MFA policy (the default client of begin)
	plainRP2 = "plain"  // another party without MFA
	strictRP = "strict" // RequireMFA
)

// fakeDoor is a front door whose relying parties are a fixed map; an id
// not in it is unknown (storage.ErrNotFound), and err, when set, is what
// every Party call fails with.
type fakeDoor struct {
	parties map[string]authflow.Party
	err     error
}

func (d *fakeDoor) Party(_ context.Context, id string) (authflow.Party, error) {
	if d.err != nil {
		return authflow.Party{}, d.err
	}
	p, ok := d.parties[id]
	if !ok {
		return authflow.Party{}, fmt.Errorf("fake door: party %q: %w", id, storage.ErrNotFound)
	}
	return p, nil
}

// fakeOTP is a second factor: it accepts otpCode for any of the user's
// factors of its kind (or, with prove set, proves whoever prove says),
// and enrols by storing a pending factor that otpCode confirms.
type fakeOTP struct {
	name  string
	st    storage.Factors
	now   func() time.Time
	prove func(r storage.AuthRequest) string
}

var _ authflow.Enroller = (*fakeOTP)(nil)

func (m *fakeOTP) Name() string { return m.name }

func (m *fakeOTP) Challenge(context.Context, authflow.Turn) (authflow.View, []byte, error) {
	return authflow.View{}, nil, nil
}

func (m *fakeOTP) Verify(_ context.Context, t authflow.Turn, in authflow.Input) (authflow.Proof, error) {
	if in["code"] != otpCode || len(t.Factors) == 0 {
		return authflow.Proof{}, &authflow.Failure{User: t.User, Reason: "wrong_code"}
	}
	uid := t.User.ID
	if m.prove != nil {
		uid = m.prove(t.Request)
	}
	return authflow.Proof{UserID: uid, AMR: []string{"otp"}}, nil
}

func (m *fakeOTP) BeginEnrol(ctx context.Context, t authflow.Turn, _ authflow.Input) (string, []byte, error) {
	f := storage.Factor{ID: storage.NewID(), UserID: t.User.ID, Kind: m.name, Label: "fake", CreatedAt: m.now(), ExpiresAt: m.now().Add(10 * time.Minute)}
	return f.ID, nil, m.st.CreateFactor(ctx, f)
}

func (m *fakeOTP) EnrolView(context.Context, authflow.Turn, storage.Factor) (authflow.View, []byte, error) {
	return authflow.View{Secret: "FAKE"}, nil, nil
}

func (m *fakeOTP) ConfirmEnrol(ctx context.Context, t authflow.Turn, f storage.Factor, in authflow.Input) (authflow.Proof, error) {
	if in["code"] != otpCode {
		return authflow.Proof{}, &authflow.Failure{User: t.User, Reason: "wrong_code"}
	}
	if _, err := m.st.ConfirmFactor(ctx, f.ID, m.now()); err != nil {
		return authflow.Proof{}, err
	}
	return authflow.Proof{UserID: t.User.ID, AMR: []string{"otp"}}, nil
}

// env is one flow over a fresh SQLite database, with a clock the test
// moves, a real session.Manager over the same store, the password method
// and the fake second factor.
type env struct {
	t        testing.TB
	ctx      context.Context
	st       storage.Storage
	flow     *authflow.Flow
	sessions *session.Manager
	hasher   *password.Hasher
	pw       *passwordlogin.Method
	door     *fakeDoor
	now      *time.Time
	org      storage.Organization // MFA off
	mfaOrg   storage.Organization // MFA required
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, testenv.SQLite(t))
}

// newEnvOn is newEnv over st, a fresh, migrated store.
func newEnvOn(t testing.TB, st storage.Storage) *env {
	t.Helper()
	ctx := context.Background()
	now := t0
	clock := func() time.Time { return now }
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	sm, err := session.New(session.Options{Store: st, Secret: bytes.Repeat([]byte("k"), 32), Now: clock, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		t:        t,
		ctx:      ctx,
		st:       st,
		now:      &now,
		sessions: sm,
		hasher:   password.NewHasher(cheap, 0),
		door: &fakeDoor{parties: map[string]authflow.Party{
			plainRP:  {Name: "Plain RP"},
			plainRP2: {Name: "Another plain RP"},
			strictRP: {Name: "Strict RP", RequireMFA: true},
		}},
		org:    storage.Organization{ID: "org-plain", Name: "plain", DisplayName: "Plain", CreatedAt: t0, UpdatedAt: t0},
		mfaOrg: storage.Organization{ID: "org-mfa", Name: "strict", DisplayName: "Strict", MFA: storage.MFAPolicy{Required: true}, CreatedAt: t0, UpdatedAt: t0},
	}
	e.pw = &passwordlogin.Method{Users: st, Hasher: e.hasher}
	e.flow = &authflow.Flow{
		Store:    st,
		Sessions: sm,
		Audit:    &audit.Recorder{Store: st, Logger: discard, Now: clock},
		Now:      clock,
	}
	e.flow.RegisterDoor("oidc", e.door)
	e.flow.RegisterMethod(e.pw)
	e.flow.RegisterFactor(&fakeOTP{name: otp, st: st, now: clock})
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
	if u.OrgID == e.mfaOrg.ID {
		// Users of the organization that requires MFA have enrolled.
		e.factor(u, otp)
	}
	return u
}

// factor stores a confirmed factor of kind for u.
func (e *env) factor(u storage.User, kind string) storage.Factor {
	e.t.Helper()
	f := storage.Factor{ID: storage.NewID(), UserID: u.ID, Kind: kind, Label: kind, CreatedAt: *e.now, ConfirmedAt: *e.now}
	if err := e.st.CreateFactor(e.ctx, f); err != nil {
		e.t.Fatal(err)
	}
	return f
}

// begin starts an OIDC request for plainRP after mod has filled in the
// protocol fields.
func (e *env) begin(mod func(*storage.AuthRequest)) storage.AuthRequest {
	e.t.Helper()
	r := storage.AuthRequest{Protocol: "oidc", ClientID: plainRP, OIDC: &storage.OIDCParams{
		RedirectURI: "https://rp.example/cb", State: "st", Nonce: "n", Scopes: []string{"openid"}, ResponseType: "code",
	}}
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

// storedSession is the session row hash names; ok is false when there is
// none.
func (e *env) storedSession(hash string) (storage.Session, bool) {
	e.t.Helper()
	s, err := e.st.GetSession(e.ctx, hash)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Session{}, false
	} else if err != nil {
		e.t.Fatalf("GetSession: %v", err)
	}
	return s, true
}

// countSessions deletes userID's sessions and says how many there were;
// call it last.
func (e *env) countSessions(userID string) int {
	e.t.Helper()
	n, err := e.st.DeleteUserSessions(e.ctx, userID)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
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

// browser is what the flow sees of a request carrying cookies.
func (e *env) browser(cookies ...*http.Cookie) session.Browser {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/login", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	b, err := e.sessions.Browser(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// cookie is the cookie the page sets for st.
func (e *env) cookie(st session.Started) *http.Cookie {
	e.t.Helper()
	w := httptest.NewRecorder()
	if err := e.sessions.SetCookie(w, httptest.NewRequest(http.MethodPost, "/login", nil), st); err != nil {
		e.t.Fatal(err)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == e.sessions.CookieName() {
			return c
		}
	}
	e.t.Fatalf("SetCookie set no %s cookie", e.sessions.CookieName())
	return nil
}

// browserOf is the browser that received st's cookie; its session must be
// st's.
func (e *env) browserOf(st session.Started) session.Browser {
	e.t.Helper()
	b := e.browser(e.cookie(st))
	if b.Session == nil || b.Session.Hash != st.Session.Hash {
		e.t.Fatalf("browser with the cookie of %s has session %+v", st.Session.Hash, b.Session)
	}
	return b
}

// liveSession starts a session for u outside any login (another tab's
// earlier login) and returns it with the browser holding it.
func (e *env) liveSession(u storage.User, amr []string) (session.Started, session.Browser) {
	e.t.Helper()
	st, err := e.sessions.Create(e.ctx, e.browser(), session.Login{UserID: u.ID, AMR: amr, AuthTime: *e.now})
	if err != nil {
		e.t.Fatal(err)
	}
	return st, e.browserOf(st)
}

// submitPW submits the password form from a browser without a session.
func (e *env) submitPW(id, email, pw string) (authflow.Outcome, error) {
	return e.submitPWFrom(e.browser(), id, email, pw)
}

func (e *env) submitPWFrom(b session.Browser, id, email, pw string) (authflow.Outcome, error) {
	return e.flow.Submit(e.ctx, id, b, passwordlogin.Name,
		authflow.Input{passwordlogin.FieldEmail: email, passwordlogin.FieldPassword: pw})
}

// submitOTP submits the fake second factor's form.
func (e *env) submitOTP(b session.Browser, id, code string) (authflow.Outcome, error) {
	return e.flow.Submit(e.ctx, id, b, otp, authflow.Input{"code": code})
}

// mustSubmit logs u in with the right password; the outcome must be
// Continue or a Challenge without failure.
func mustSubmit(e *env, id string, u storage.User) authflow.Outcome {
	e.t.Helper()
	out, err := e.submitPW(id, u.Email, goodPW)
	if err != nil {
		e.t.Fatalf("Submit password: %v", err)
	}
	if out.Failure != nil || (out.Action != authflow.Continue && out.Action != authflow.Challenge) {
		e.t.Fatalf("Submit password: outcome %v, failure %v", out.Action, out.Failure)
	}
	return out
}

// mustDone logs u in with the right password to done and returns the
// session the login started.
func mustDone(e *env, id string, u storage.User) session.Started {
	e.t.Helper()
	out := mustSubmit(e, id, u)
	if out.Action != authflow.Continue || out.Session == nil {
		e.t.Fatalf("Submit password: outcome %v, session %v; want continue with a new session", out.Action, out.Session)
	}
	return *out.Session
}

func ptr[T any](v T) *T { return &v }
