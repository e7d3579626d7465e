package totplogin_test

import (
	"context"
	"encoding/base32"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/totp"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/totplogin"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// t0 is 10 seconds into a time step, with whole seconds.
var t0 = time.Date(2030, 1, 2, 3, 4, 10, 0, time.UTC)

type env struct {
	t   *testing.T
	ctx context.Context
	st  storage.Storage
	key *masterkey.Key
	now *time.Time
	m   *totplogin.Method
	org storage.Organization
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st := testenv.SQLite(t)
	enc, err := masterkey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := masterkey.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	key, err := masterkey.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	e := &env{t: t, ctx: ctx, st: st, key: key, now: &now,
		org: storage.Organization{ID: "org-1", Name: "one", DisplayName: "One", CreatedAt: t0, UpdatedAt: t0}}
	e.m = &totplogin.Method{Factors: st, Sealer: key, Now: func() time.Time { return *e.now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := st.CreateOrganization(ctx, e.org); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) user(email string) storage.User {
	e.t.Helper()
	u := storage.User{ID: storage.NewID(), OrgID: e.org.ID, Email: email, Name: email, State: storage.UserActive, CreatedAt: t0, UpdatedAt: t0}
	if err := e.st.CreateUser(e.ctx, u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// factor stores a TOTP factor of owner whose secret is sealed for
// (factor id, sealFor); confirmed or pending. It returns the factor and
// the clear secret.
func (e *env) factor(owner, sealFor string, confirmed bool) (storage.Factor, []byte) {
	e.t.Helper()
	en, err := totp.New("Gatehouse", "x@example.com")
	if err != nil {
		e.t.Fatal(err)
	}
	f := storage.Factor{ID: storage.NewID(), UserID: owner, Kind: storage.FactorTOTP, Label: "Phone", CreatedAt: t0}
	f.Secret, err = totp.Seal(e.key, en.Secret, f.ID, sealFor)
	if err != nil {
		e.t.Fatal(err)
	}
	if confirmed {
		f.ConfirmedAt = t0
	} else {
		f.ExpiresAt = t0.Add(time.Hour)
	}
	if err := e.st.CreateFactor(e.ctx, f); err != nil {
		e.t.Fatal(err)
	}
	return f, en.Secret
}

func code(t *testing.T, secret []byte, at time.Time) string {
	t.Helper()
	c, err := totp.Code(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongCode is a well-formed code that matches no step in the window.
func wrongCode(t *testing.T, secret []byte, now time.Time) string {
	t.Helper()
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if _, err := totp.Match(secret, c, now); errors.Is(err, totp.ErrWrongCode) {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

func req(u storage.User) storage.AuthRequest {
	return storage.AuthRequest{ID: storage.NewID(), UserID: u.ID, OrgID: u.OrgID, Step: authflow.StepMFA.String()}
}

// turn is what the flow hands the method for r: here every factor of the
// user, pending ones too, so that the method's own checks are tested.
func (e *env) turn(r storage.AuthRequest) authflow.Turn {
	e.t.Helper()
	u, err := e.st.GetUser(e.ctx, r.UserID)
	if err != nil {
		e.t.Fatal(err)
	}
	fs, err := e.st.ListFactors(e.ctx, u.ID, *e.now)
	if err != nil {
		e.t.Fatal(err)
	}
	return authflow.Turn{Request: r, User: u, Factors: fs}
}

func (e *env) verify(r storage.AuthRequest, c string) (authflow.Proof, error) {
	return e.m.Verify(e.ctx, e.turn(r), authflow.Input{totplogin.FieldCode: c})
}

// refused fails unless err is a *Failure with reason, naming u.
func refused(t *testing.T, what string, u storage.User, err error, reason string) {
	t.Helper()
	var fail *authflow.Failure
	if !errors.As(err, &fail) || fail.Reason != reason {
		t.Fatalf("%s: err %v; want a Failure %q", what, err, reason)
	}
	if fail.User.ID != u.ID {
		t.Fatalf("%s: failure names user %q; want %q", what, fail.User.ID, u.ID)
	}
}

func (e *env) lastStep(id string) int64 {
	e.t.Helper()
	f, err := e.st.GetFactor(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return f.LastStep
}

func TestMethodShape(t *testing.T) {
	var m authflow.Enroller = &totplogin.Method{}
	if m.Name() != "totp" || totplogin.FieldCode != "code" {
		t.Fatalf("Name %q FieldCode %q", m.Name(), totplogin.FieldCode)
	}
}

func TestRightCodeAccepted(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	f, secret := e.factor(u.ID, u.ID, true)
	p, err := e.verify(req(u), code(t, secret, *e.now))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if p.UserID != u.ID || len(p.AMR) != 1 || p.AMR[0] != "otp" || p.Event != audit.LoginTOTP || p.Upstream != nil {
		t.Fatalf("proof %+v", p)
	}
	got, err := e.st.GetFactor(e.ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastStep != totp.Step(*e.now) || !got.LastUsedAt.Equal(*e.now) {
		t.Fatalf("stored LastStep %d LastUsedAt %v; want %d, %v", got.LastStep, got.LastUsedAt, totp.Step(*e.now), *e.now)
	}
	// As typed: spaces inside, a newline from a paste.
	e.advance(totp.Period)
	c := code(t, secret, *e.now)
	if _, err := e.verify(req(u), c[:3]+" "+c[3:]+"\n"); err != nil {
		t.Fatalf("Verify of a spaced code: %v", err)
	}
}

func (e *env) advance(d time.Duration) { *e.now = e.now.Add(d) }

func TestReplayRefused(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	f, secret := e.factor(u.ID, u.ID, true)
	r := req(u)
	c := code(t, secret, *e.now)
	if _, err := e.verify(r, c); err != nil {
		t.Fatal(err)
	}
	_, err := e.verify(r, c)
	refused(t, "the same code in the same login", u, err, totplogin.ReasonReplayed)
	_, err = e.verify(req(u), c)
	refused(t, "the same code in another login", u, err, totplogin.ReasonReplayed)
	// Still within the skew window 20 seconds later: still refused.
	e.advance(20 * time.Second)
	_, err = e.verify(req(u), c)
	refused(t, "the same code a step later", u, err, totplogin.ReasonReplayed)
	if e.lastStep(f.ID) != totp.Step(t0) {
		t.Fatalf("LastStep moved to %d", e.lastStep(f.ID))
	}
}

func TestEarlierStepRefused(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	_, secret := e.factor(u.ID, u.ID, true)
	if _, err := e.verify(req(u), code(t, secret, *e.now)); err != nil {
		t.Fatal(err)
	}
	// The previous step's code is in the window, but older than the one
	// used.
	_, err := e.verify(req(u), code(t, secret, e.now.Add(-totp.Period)))
	refused(t, "the code of step t-1 after t", u, err, totplogin.ReasonReplayed)
	// The next step's code is fine.
	if _, err := e.verify(req(u), code(t, secret, e.now.Add(totp.Period))); err != nil {
		t.Fatalf("the code of step t+1: %v", err)
	}
}

func TestWrongAndMalformedRefused(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	f, secret := e.factor(u.ID, u.ID, true)
	_, err := e.verify(req(u), wrongCode(t, secret, *e.now))
	refused(t, "a wrong code", u, err, totplogin.ReasonWrong)
	_, err = e.verify(req(u), code(t, secret, e.now.Add(-3*totp.Period)))
	refused(t, "a code outside the window", u, err, totplogin.ReasonWrong)
	for _, c := range []string{"", "12345", "1234567", "12a456", "１２３４５６", "123456\x00"} {
		_, err := e.verify(req(u), c)
		refused(t, "malformed "+c, u, err, totplogin.ReasonMalformed)
		var fail *authflow.Failure
		if errors.As(err, &fail); !errors.Is(fail.Show, totplogin.ErrRetype) {
			t.Fatalf("malformed %q shows %v", c, fail.Show)
		}
	}
	if e.lastStep(f.ID) != 0 {
		t.Fatalf("a refused code recorded step %d", e.lastStep(f.ID))
	}
	// The right code still works after all that.
	if _, err := e.verify(req(u), code(t, secret, *e.now)); err != nil {
		t.Fatal(err)
	}
}

func TestParallelOneWinner(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	_, secret := e.factor(u.ID, u.ID, true)
	c := code(t, secret, *e.now)
	const n = 2
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = e.verify(req(u), c)
		}()
	}
	close(start)
	wg.Wait()
	ok, replayed := 0, 0
	for _, err := range errs {
		var fail *authflow.Failure
		switch {
		case err == nil:
			ok++
		case errors.As(err, &fail) && fail.Reason == totplogin.ReasonReplayed:
			replayed++
		default:
			t.Fatalf("Verify: %v", err)
		}
	}
	if ok != 1 || replayed != 1 {
		t.Fatalf("%d proofs, %d replays; want 1 and 1", ok, replayed)
	}
}

func TestOtherUsersFactorDoesNotMatch(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	// A row of alice's whose secret was sealed for bob (copied between
	// users): it does not open, and is skipped.
	copied, secret := e.factor(alice.ID, bob.ID, true)
	_, err := e.verify(req(alice), code(t, secret, *e.now))
	refused(t, "alice's row with a secret sealed for bob", alice, err, totplogin.ReasonWrong)
	if e.lastStep(copied.ID) != 0 {
		t.Fatal("a factor whose secret does not open recorded a step")
	}
	// Bob's own factor's code does not prove alice.
	_, bobSecret := e.factor(bob.ID, bob.ID, true)
	_, err = e.verify(req(alice), code(t, bobSecret, *e.now))
	refused(t, "bob's code for alice", alice, err, totplogin.ReasonWrong)
	// A broken factor is no outage: alice's good one still works.
	_, good := e.factor(alice.ID, alice.ID, true)
	if _, err := e.verify(req(alice), code(t, good, *e.now)); err != nil {
		t.Fatalf("alice's good factor next to a broken one: %v", err)
	}
}

func TestUnconfirmedIgnored(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	pending, secret := e.factor(u.ID, u.ID, false)
	_, err := e.verify(req(u), code(t, secret, *e.now))
	refused(t, "the code of an unconfirmed factor", u, err, totplogin.ReasonWrong)
	if e.lastStep(pending.ID) != 0 {
		t.Fatal("an unconfirmed factor recorded a step")
	}
	// No factors at all: a wrong code, not an error.
	other := e.user("bob@example.com")
	_, err = e.verify(req(other), "123456")
	refused(t, "a user without factors", other, err, totplogin.ReasonWrong)
}

// useFails lists from a real store but cannot record a step.
type useFails struct {
	totplogin.FactorStore
	err error
}

func (u useFails) UseFactorStep(context.Context, string, int64, time.Time) (storage.Factor, error) {
	return storage.Factor{}, u.err
}

func TestStorageErrorsAreOutages(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	_, secret := e.factor(u.ID, u.ID, true)
	outage := errors.New("database is down")
	m := *e.m
	m.Factors = useFails{e.st, outage}
	_, err := m.Verify(e.ctx, e.turn(req(u)), authflow.Input{totplogin.FieldCode: code(t, secret, *e.now)})
	var fail *authflow.Failure
	if !errors.Is(err, outage) || errors.As(err, &fail) {
		t.Fatalf("err %v; want the outage, not a Failure", err)
	}
}

// Enrolment: a pending factor with a new secret, shown as text, URI and
// QR; a wrong code leaves it pending; its first code confirms it and is
// spent (the same code then fails at the mfa step); an expired enrolment
// is refused.
func TestEnrol(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	tn := e.turn(req(u))
	id, _, err := e.m.BeginEnrol(e.ctx, tn, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := e.st.GetFactor(e.ctx, id)
	if err != nil || !f.Pending(*e.now) || f.Kind != storage.FactorTOTP || f.UserID != u.ID {
		t.Fatalf("pending factor %+v, %v", f, err)
	}
	v, _, err := e.m.EnrolView(e.ctx, tn, f)
	if err != nil || v.Secret == "" || !strings.HasPrefix(v.URI, "otpauth://totp/") || len(v.QR) == 0 {
		t.Fatalf("view %+v, %v", v, err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(v.Secret, " ", ""))
	if err != nil || len(secret) < 20 {
		t.Fatalf("shown secret: %d bytes, %v; want ≥ 160 bits", len(secret), err)
	}
	_, err = e.m.ConfirmEnrol(e.ctx, tn, f, authflow.Input{totplogin.FieldCode: wrongCode(t, secret, *e.now)})
	refused(t, "a wrong confirming code", u, err, totplogin.ReasonWrong)
	c := code(t, secret, *e.now)
	if p, err := e.m.ConfirmEnrol(e.ctx, tn, f, authflow.Input{totplogin.FieldCode: c}); err != nil || p.UserID != u.ID {
		t.Fatalf("confirm: %+v, %v", p, err)
	}
	if got, _ := e.st.GetFactor(e.ctx, id); got.ConfirmedAt.IsZero() || got.LastStep == 0 {
		t.Fatalf("after confirming: %+v; want confirmed with its step spent", got)
	}
	_, err = e.verify(req(u), c)
	refused(t, "the confirming code again", u, err, totplogin.ReasonReplayed)

	id2, _, err := e.m.BeginEnrol(e.ctx, tn, nil)
	if err != nil {
		t.Fatal(err)
	}
	f2, _ := e.st.GetFactor(e.ctx, id2)
	v2, _, _ := e.m.EnrolView(e.ctx, tn, f2)
	s2, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(v2.Secret, " ", ""))
	e.advance(totplogin.EnrolTTL + time.Second)
	_, err = e.m.ConfirmEnrol(e.ctx, tn, f2, authflow.Input{totplogin.FieldCode: code(t, s2, *e.now)})
	refused(t, "an expired enrolment", u, err, totplogin.ReasonExpired)
}
