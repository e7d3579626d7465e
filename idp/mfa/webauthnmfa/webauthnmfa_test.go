package webauthnmfa_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/webauthnmfa"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/softkey"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 10, 0, time.UTC)

var testKey = bytes.Repeat([]byte{7}, 32)

const (
	rightOrigin = "https://id.example.com"
	rightRPID   = "id.example.com"
)

var b64 = base64.RawURLEncoding

type env struct {
	t   testing.TB
	ctx context.Context
	st  storage.Storage
	now *time.Time
	m   *webauthnmfa.Method
	org storage.Organization
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	st := testenv.SQLite(t)
	now := t0
	e := &env{t: t, ctx: ctx, st: st, now: &now,
		org: storage.Organization{ID: "org-1", Name: "one", DisplayName: "One", CreatedAt: t0, UpdatedAt: t0}}
	m, err := webauthnmfa.New(webauthnmfa.Config{Issuer: "https://id.example.com/", RPDisplayName: "One", Key: testKey,
		Store: st, Now: func() time.Time { return *e.now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	if err := st.CreateOrganization(ctx, e.org); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) advance(d time.Duration) { *e.now = e.now.Add(d) }

func (e *env) user(email string) storage.User {
	e.t.Helper()
	u := storage.User{ID: storage.NewID(), OrgID: e.org.ID, Email: email, Name: email, State: storage.UserActive, CreatedAt: t0, UpdatedAt: t0}
	if err := e.st.CreateUser(e.ctx, u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// turn is what the flow hands the method for a login of u: every factor
// of u, pending ones too, so that the method's own checks are tested.
func (e *env) turn(u storage.User) authflow.Turn {
	e.t.Helper()
	fs, err := e.st.ListFactors(e.ctx, u.ID, *e.now)
	if err != nil {
		e.t.Fatal(err)
	}
	return authflow.Turn{Request: storage.AuthRequest{ID: storage.NewID(), UserID: u.ID, OrgID: u.OrgID}, User: u, Factors: fs}
}

func (e *env) factor(id string) storage.Factor {
	e.t.Helper()
	f, err := e.st.GetFactor(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

func (e *env) record(id string) webauthnmfa.Record {
	e.t.Helper()
	r, err := webauthnmfa.ReadRecord(e.factor(id).Data)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// enrolment is a begun registration: its turn (with the state) and
// pending factor.
type enrolment struct {
	t    authflow.Turn
	f    storage.Factor
	data []byte // the creation options
}

func (e *env) beginEnrol(u storage.User, label string) *enrolment {
	e.t.Helper()
	tn := e.turn(u)
	id, st, err := e.m.BeginEnrol(e.ctx, tn, authflow.Input{webauthnmfa.FieldLabel: label})
	if err != nil {
		e.t.Fatalf("BeginEnrol: %v", err)
	}
	tn.State = st
	f := e.factor(id)
	v, st, err := e.m.EnrolView(e.ctx, tn, f)
	if err != nil || len(v.Data) == 0 {
		e.t.Fatalf("EnrolView: %+v, %v", v, err)
	}
	tn.State = st
	return &enrolment{t: tn, f: f, data: v.Data}
}

func (e *env) confirm(en *enrolment, credential string) (authflow.Proof, error) {
	p, err := e.m.ConfirmEnrol(e.ctx, en.t, en.f, authflow.Input{webauthnmfa.FieldCredential: credential})
	var fail *authflow.Failure
	if errors.As(err, &fail) && fail.State != nil {
		en.t.State = fail.State
	}
	return p, err
}

// register enrols a and returns its confirmed factor id.
func (e *env) register(u storage.User, a *softkey.Key) string {
	e.t.Helper()
	en := e.beginEnrol(u, "")
	if _, err := e.confirm(en, a.Create(en.data)); err != nil {
		e.t.Fatalf("ConfirmEnrol: %v", err)
	}
	return en.f.ID
}

// login is one showing of the mfa step.
type login struct {
	t    authflow.Turn
	data []byte // the request options
}

func (e *env) challenge(tn authflow.Turn) *login {
	e.t.Helper()
	v, st, err := e.m.Challenge(e.ctx, tn)
	if err != nil || len(v.Data) == 0 {
		e.t.Fatalf("Challenge: %+v, %v", v, err)
	}
	tn.State = st
	return &login{t: tn, data: v.Data}
}

func (e *env) verify(l *login, credential string) (authflow.Proof, error) {
	p, err := e.m.Verify(e.ctx, l.t, authflow.Input{webauthnmfa.FieldCredential: credential})
	var fail *authflow.Failure
	if errors.As(err, &fail) && fail.State != nil {
		l.t.State = fail.State
	}
	return p, err
}

// refused fails unless err is a *Failure with reason (and show, when not
// nil), naming u.
func refused(t *testing.T, what string, u storage.User, err error, reason string, show error) {
	t.Helper()
	var fail *authflow.Failure
	if !errors.As(err, &fail) || fail.Reason != reason {
		t.Fatalf("%s: err %v; want a Failure %q", what, err, reason)
	}
	if fail.User.ID != u.ID {
		t.Fatalf("%s: failure names user %q; want %q", what, fail.User.ID, u.ID)
	}
	if show != nil && !errors.Is(fail.Show, show) {
		t.Fatalf("%s: shows %v; want %v", what, fail.Show, show)
	}
}

func accepted(t *testing.T, what string, u storage.User, p authflow.Proof, err error, amr ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if p.UserID != u.ID || !slices.Equal(p.AMR, amr) || p.Event != audit.LoginWebAuthn {
		t.Fatalf("%s: proof %+v; want user %s, AMR %v, event %s", what, p, u.ID, amr, audit.LoginWebAuthn)
	}
}

func TestMethodShape(t *testing.T) {
	var m authflow.Enroller = newEnv(t).m
	if m.Name() != "webauthn" || webauthnmfa.FieldCredential != "credential" || webauthnmfa.FieldLabel != "label" {
		t.Fatalf("Name %q", m.Name())
	}
}

func TestNewRelyingParty(t *testing.T) {
	st := testenv.SQLite(t)
	tests := []struct {
		issuer, rpID, origin string
	}{
		{"https://id.example.com", "id.example.com", "https://id.example.com"},
		{"https://ID.Example.com:8443/base/", "id.example.com", "https://id.example.com:8443"},
		{"https://id.example.com:443/", "id.example.com", "https://id.example.com"},
		{"http://localhost:8080", "localhost", "http://localhost:8080"},
	}
	for _, tt := range tests {
		m, err := webauthnmfa.New(webauthnmfa.Config{Issuer: tt.issuer, Key: testKey, Store: st})
		if err != nil {
			t.Fatalf("New(%s): %v", tt.issuer, err)
		}
		if m.RPID() != tt.rpID || m.Origin() != tt.origin {
			t.Fatalf("New(%s): RP ID %q origin %q; want %q, %q", tt.issuer, m.RPID(), m.Origin(), tt.rpID, tt.origin)
		}
	}
	for _, ip := range []string{"https://127.0.0.1", "https://10.1.2.3:8443/", "http://[::1]:8080", "https://[2001:db8::1]/"} {
		_, err := webauthnmfa.New(webauthnmfa.Config{Issuer: ip, Key: testKey, Store: st})
		if !errors.Is(err, webauthnmfa.ErrIPAddress) {
			t.Fatalf("New(%s): %v; want ErrIPAddress", ip, err)
		}
	}
	for _, bad := range []string{"", "id.example.com", "ftp://id.example.com", "https://user:pw@id.example.com", "https://"} {
		if _, err := webauthnmfa.New(webauthnmfa.Config{Issuer: bad, Key: testKey, Store: st}); err == nil {
			t.Fatalf("New(%q) accepted", bad)
		}
	}
	// Every mistake at once.
	_, err := webauthnmfa.New(webauthnmfa.Config{Issuer: "https://127.0.0.1", Key: []byte("short")})
	if msg := err.Error(); !errors.Is(err, webauthnmfa.ErrIPAddress) || !strings.Contains(msg, "key") || !strings.Contains(msg, "store") {
		t.Fatalf("New with three mistakes: %v", err)
	}
}

func TestUserHandle(t *testing.T) {
	e := newEnv(t)
	h := e.m.UserHandle("user-1")
	if len(h) != 32 || !bytes.Equal(h, e.m.UserHandle("user-1")) || bytes.Equal(h, e.m.UserHandle("user-2")) ||
		bytes.Contains(h, []byte("user-1")) {
		t.Fatalf("handle %x", h)
	}
	other, err := webauthnmfa.New(webauthnmfa.Config{Issuer: "https://id.example.com", Key: bytes.Repeat([]byte{8}, 32), Store: e.st})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(h, other.UserHandle("user-1")) {
		t.Fatal("the handle does not depend on the key")
	}
}

// Registration then login: the options the page gets, the stored record,
// the proofs, the counter kept, the use recorded, and a second key's
// registration excluding the first.
func TestRegisterThenLogin(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	a := softkey.New(t, rightOrigin)
	a.Count = 7
	en := e.beginEnrol(u, "  Blue key  ")
	if !en.f.Pending(*e.now) || en.f.Kind != "webauthn" || en.f.Label != "Blue key" || en.f.UserID != u.ID {
		t.Fatalf("pending factor %+v", en.f)
	}
	o := softkey.ReadOptions(t, en.data)
	if o.RP.ID != rightRPID || o.User.ID != b64.EncodeToString(e.m.UserHandle(u.ID)) || len(o.Exclude) != 0 ||
		o.AuthenticatorSelection.ResidentKey != "preferred" || o.AuthenticatorSelection.UserVerification != "preferred" ||
		o.Attestation != "none" {
		t.Fatalf("creation options %s", en.data)
	}
	var st webauthnmfa.State
	if err := json.Unmarshal(en.t.State, &st); err != nil || st.Session.Challenge != o.Challenge || st.Factor != en.f.ID ||
		st.Expires.Sub(*e.now) > 5*time.Minute {
		t.Fatalf("state %s: %v", en.t.State, err)
	}
	// A reload shows the same ceremony.
	if v, st2, err := e.m.EnrolView(e.ctx, en.t, en.f); err != nil || !bytes.Equal(v.Data, en.data) || !bytes.Equal(st2, en.t.State) {
		t.Fatalf("EnrolView again: %v", err)
	}
	p, err := e.confirm(en, a.Create(en.data))
	accepted(t, "registration", u, p, err, "hwk", "user")
	f := e.factor(en.f.ID)
	rec := e.record(en.f.ID)
	if f.ConfirmedAt.IsZero() || !bytes.Equal(rec.ID, a.ID) || len(rec.PublicKey) == 0 || rec.SignCount != 7 ||
		rec.RPID != rightRPID || !slices.Equal(rec.Transports, []string{"usb", "nfc"}) || !bytes.Equal(rec.AAGUID, a.AAGUID) ||
		rec.CloneWarning || rec.Flags&0x04 == 0 {
		t.Fatalf("stored %+v, record %+v", f, rec)
	}

	e.advance(time.Minute)
	l := e.challenge(e.turn(u))
	o = softkey.ReadOptions(t, l.data)
	if o.RPID != rightRPID || len(o.Allow) != 1 || o.Allow[0].ID != b64.EncodeToString(a.ID) || o.UserVerification != "preferred" {
		t.Fatalf("request options %s", l.data)
	}
	p, err = e.verify(l, a.Get(l.data))
	accepted(t, "login", u, p, err, "hwk", "user")
	if got := e.record(en.f.ID); got.SignCount != 8 || len(got.LastChallenge) == 0 {
		t.Fatalf("after login: %+v", got)
	}
	if !e.factor(en.f.ID).LastUsedAt.Equal(*e.now) {
		t.Fatal("the use was not recorded")
	}
	// Without the UV flag: "hwk" alone.
	e.advance(time.Minute)
	a.UV = false
	l = e.challenge(e.turn(u))
	p, err = e.verify(l, a.Get(l.data))
	accepted(t, "login without UV", u, p, err, "hwk")

	// A second key: the first is excluded.
	en2 := e.beginEnrol(u, "")
	o = softkey.ReadOptions(t, en2.data)
	if en2.f.Label != "Security key" || len(o.Exclude) != 1 || o.Exclude[0].ID != b64.EncodeToString(a.ID) {
		t.Fatalf("second enrolment: label %q, options %s", en2.f.Label, en2.data)
	}
	// Registering the first key again is refused.
	_, err = e.confirm(en2, a.Create(en2.data))
	refused(t, "the same key again", u, err, webauthnmfa.ReasonDuplicate, webauthnmfa.ErrDuplicate)
}

// A key that keeps no counter (many passkeys) signs in again and again.
func TestZeroCounterKey(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	a := softkey.New(t, rightOrigin)
	a.Fixed = true
	e.register(u, a)
	for range 3 {
		e.advance(time.Minute)
		l := e.challenge(e.turn(u))
		p, err := e.verify(l, a.Get(l.data))
		accepted(t, "a login with counter 0", u, p, err, "hwk", "user")
	}
}

func TestChallengeSingleUse(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	a := softkey.New(t, rightOrigin)
	e.register(u, a)
	l := e.challenge(e.turn(u))
	cred := a.Get(l.data)
	spent := *l
	p, err := e.verify(&spent, cred)
	accepted(t, "the first use", u, p, err, "hwk", "user")
	// The same state and the same response again (a replayed POST).
	_, err = e.verify(l, cred)
	refused(t, "a replayed response", u, err, webauthnmfa.ReasonReplayed, nil)
	// The same state with a fresh signature over its challenge, later.
	e.advance(time.Second)
	l = &login{t: l.t, data: l.data}
	l.t.State = spent.t.State
	_, err = e.verify(l, a.Get(l.data))
	refused(t, "the same challenge signed anew", u, err, webauthnmfa.ReasonReplayed, nil)

	// A failed attempt spends the challenge too.
	e.advance(time.Minute)
	l = e.challenge(e.turn(u))
	wrong := *a
	wrong.Origin = "https://evil.example"
	_, err = e.verify(l, wrong.Get(l.data))
	refused(t, "a wrong origin", u, err, webauthnmfa.ReasonWrongOrigin, nil)
	_, err = e.verify(l, a.Get(l.data))
	refused(t, "the right key after a failed attempt", u, err, webauthnmfa.ReasonNoChallenge, webauthnmfa.ErrExpired)

	// A challenge dies after CeremonyTTL.
	l = e.challenge(e.turn(u))
	e.advance(webauthnmfa.CeremonyTTL)
	_, err = e.verify(l, a.Get(l.data))
	refused(t, "an expired challenge", u, err, webauthnmfa.ReasonExpired, webauthnmfa.ErrExpired)

	// No state, or another ceremony's.
	l = e.challenge(e.turn(u))
	en := e.beginEnrol(u, "")
	for name, st := range map[string][]byte{"none": nil, "garbage": []byte("garbage"), "spent": []byte(`{}`), "a registration's": en.t.State} {
		bad := *l
		bad.t.State = st
		_, err = e.verify(&bad, a.Get(l.data))
		refused(t, "state "+name, u, err, webauthnmfa.ReasonNoChallenge, nil)
	}
}

func TestEnrolmentSingleUse(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	a := softkey.New(t, rightOrigin)
	en := e.beginEnrol(u, "")
	cred := a.Create(en.data)
	first := *en
	if _, err := e.confirm(&first, cred); err != nil {
		t.Fatal(err)
	}
	en.f = e.factor(en.f.ID)
	_, err := e.confirm(en, cred)
	refused(t, "confirming twice", u, err, webauthnmfa.ReasonUsed, nil)

	// A failed attempt spends the ceremony; the next showing starts anew.
	en = e.beginEnrol(u, "")
	b := softkey.New(t, rightOrigin)
	b.Origin = "https://id.example.com:8443"
	_, err = e.confirm(en, b.Create(en.data))
	refused(t, "another port", u, err, webauthnmfa.ReasonWrongOrigin, nil)
	b.Origin = ""
	_, err = e.confirm(en, b.Create(en.data))
	refused(t, "the right response after a failed attempt", u, err, webauthnmfa.ReasonNoChallenge, nil)
	v, st, err := e.m.EnrolView(e.ctx, en.t, en.f)
	if err != nil || bytes.Equal(v.Data, en.data) {
		t.Fatalf("EnrolView after a spent ceremony: %v", err)
	}
	en.t.State, en.data = st, v.Data
	if _, err := e.confirm(en, b.Create(en.data)); err != nil {
		t.Fatalf("the new ceremony: %v", err)
	}

	// An expired enrolment.
	en = e.beginEnrol(u, "")
	e.advance(webauthnmfa.EnrolTTL)
	_, err = e.confirm(en, softkey.New(t, rightOrigin).Create(en.data))
	refused(t, "an expired enrolment", u, err, webauthnmfa.ReasonEnrolExpired, authflow.ErrEnrolExpired)
	if v, _, err := e.m.EnrolView(e.ctx, en.t, en.f); err != nil || v.Data != nil || !errors.Is(v.Notice, authflow.ErrEnrolExpired) {
		t.Fatalf("EnrolView of an expired enrolment: %+v, %v", v, err)
	}
}

func TestWrongOriginOrRPID(t *testing.T) {
	tests := []struct {
		name, origin, rpID, reason string
	}{
		{"another site", "https://evil.example", "", webauthnmfa.ReasonWrongOrigin},
		{"another port", "https://id.example.com:8443", "", webauthnmfa.ReasonWrongOrigin},
		{"plain http", "http://id.example.com", "", webauthnmfa.ReasonWrongOrigin},
		{"a subdomain", "https://a.ID.example.com", "", webauthnmfa.ReasonWrongOrigin},
		{"the parent domain's RP ID", "", "example.com", webauthnmfa.ReasonWrongRPID},
		{"another RP ID", "", "evil.example", webauthnmfa.ReasonWrongRPID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com")
			a := softkey.New(t, rightOrigin)
			a.Origin, a.RPID = tt.origin, tt.rpID
			en := e.beginEnrol(u, "")
			_, err := e.confirm(en, a.Create(en.data))
			refused(t, "registration", u, err, tt.reason, nil)
			if f := e.factor(en.f.ID); !f.ConfirmedAt.IsZero() || len(f.Data) != 0 {
				t.Fatalf("a refused registration was stored: %+v", f)
			}
			a.Origin, a.RPID = "", ""
			id := e.register(u, a)
			a.Origin, a.RPID = tt.origin, tt.rpID
			e.advance(time.Minute)
			l := e.challenge(e.turn(u))
			_, err = e.verify(l, a.Get(l.data))
			refused(t, "login", u, err, tt.reason, nil)
			if !e.factor(id).LastUsedAt.IsZero() || e.record(id).SignCount != 0 {
				t.Fatal("a refused login was recorded")
			}
		})
	}
}

func TestSignCountRegression(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	a := softkey.New(t, rightOrigin)
	a.Count = 10
	id := e.register(u, a)
	e.advance(time.Minute)
	l := e.challenge(e.turn(u))
	p, err := e.verify(l, a.Get(l.data)) // 11
	accepted(t, "counter 11", u, p, err, "hwk", "user")

	for _, count := range []uint32{11, 5} { // equal, then lower: both regressions
		e.advance(time.Minute)
		l = e.challenge(e.turn(u))
		_, err = e.verify(l, a.Assert(softkey.ReadOptions(t, l.data).Challenge, count))
		refused(t, "a counter that did not move forward", u, err, webauthnmfa.ReasonSignCount, nil)
		if rec := e.record(id); !rec.CloneWarning || rec.SignCount != 11 {
			t.Fatalf("after a regression to %d: %+v", count, rec)
		}
		if !e.factor(id).LastUsedAt.Equal(t0.Add(time.Minute)) {
			t.Fatal("a regression was recorded as a use")
		}
		// Unflag it to test the next count from the same start.
		rec := e.record(id)
		rec.CloneWarning = false
		data, _ := json.Marshal(rec)
		if err := e.st.SetFactorData(e.ctx, id, data, *e.now); err != nil {
			t.Fatal(err)
		}
	}
	// A third regression flags it for good: with no other key, the step
	// has nothing to ask for.
	e.advance(time.Minute)
	l = e.challenge(e.turn(u))
	_, err = e.verify(l, a.Assert(softkey.ReadOptions(t, l.data).Challenge, 3))
	refused(t, "the regression", u, err, webauthnmfa.ReasonSignCount, nil)
	e.advance(time.Minute)
	tn := e.turn(u)
	v, _, err := e.m.Challenge(e.ctx, tn)
	if err != nil || v.Data != nil || !errors.Is(v.Notice, webauthnmfa.ErrNoKey) {
		t.Fatalf("Challenge with only a flagged key: %+v, %v", v, err)
	}
	// Flagged, it proves nothing more, even with a counter ahead, in a
	// challenge begun for another key.
	b := softkey.New(t, rightOrigin)
	e.register(u, b)
	l = e.challenge(e.turn(u))
	_, err = e.verify(l, a.Assert(softkey.ReadOptions(t, l.data).Challenge, 100))
	refused(t, "a flagged key", u, err, webauthnmfa.ReasonFlagged, webauthnmfa.ErrFlagged)
}

func TestOtherKeysRefused(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	ak, bk := softkey.New(t, rightOrigin), softkey.New(t, rightOrigin)
	e.register(alice, ak)
	bobsID := e.register(bob, bk)
	// Bob's key answers alice's challenge.
	l := e.challenge(e.turn(alice))
	_, err := e.verify(l, bk.Get(l.data))
	refused(t, "bob's key for alice", alice, err, webauthnmfa.ReasonUnknownCredential, webauthnmfa.ErrUnknownKey)
	// Bob's row handed over as alice's factor (a caller's mix-up): not hers.
	tn := e.turn(alice)
	tn.Factors = append(tn.Factors, e.factor(bobsID))
	l = e.challenge(tn)
	if o := softkey.ReadOptions(t, l.data); len(o.Allow) != 1 || o.Allow[0].ID != b64.EncodeToString(ak.ID) {
		t.Fatalf("alice's challenge allows %+v; want her key alone", o.Allow)
	}
	_, err = e.verify(l, bk.Get(l.data))
	refused(t, "bob's row in alice's factors", alice, err, webauthnmfa.ReasonUnknownCredential, nil)
	// Alice's second key, which does not count now (the flow left it out).
	ak2 := softkey.New(t, rightOrigin)
	e.advance(time.Minute)
	e.register(alice, ak2)
	tn = e.turn(alice)
	tn.Factors = tn.Factors[:1]
	l = e.challenge(tn)
	_, err = e.verify(l, ak2.Get(l.data))
	refused(t, "a key not in Factors", alice, err, webauthnmfa.ReasonUnknownCredential, nil)
	// A pending key proves nothing.
	ak3 := softkey.New(t, rightOrigin)
	en := e.beginEnrol(alice, "")
	_ = ak3.Create(en.data)
	l = e.challenge(e.turn(alice))
	_, err = e.verify(l, ak3.Get(l.data))
	refused(t, "a pending key", alice, err, webauthnmfa.ReasonUnknownCredential, nil)
	// A key that signs with another private key under alice's id.
	forged := softkey.New(t, rightOrigin)
	forged.ID = ak.ID
	l = e.challenge(e.turn(alice))
	_, err = e.verify(l, forged.Get(l.data))
	refused(t, "a forged signature", alice, err, webauthnmfa.ReasonInvalid, nil)
	// Alice's own key still works.
	e.advance(time.Minute)
	l = e.challenge(e.turn(alice))
	p, err := e.verify(l, ak.Get(l.data))
	accepted(t, "alice's key", alice, p, err, "hwk", "user")
}

// malformed are submissions no browser sends, each with what must be
// refused; none may panic.
func malformed(valid string) map[string]string {
	var asMap map[string]any
	_ = json.Unmarshal([]byte(valid), &asMap)
	swap := func(k string, v any) string {
		c := map[string]any{}
		for kk, vv := range asMap {
			c[kk] = vv
		}
		c[k] = v
		b, _ := json.Marshal(c)
		return string(b)
	}
	resp := asMap["response"].(map[string]any)
	swapResp := func(k string, v any) string {
		r := map[string]any{}
		for kk, vv := range resp {
			r[kk] = vv
		}
		r[k] = v
		return swap("response", r)
	}
	return map[string]string{
		"empty":              "",
		"not JSON":           "not json",
		"an array":           "[1,2,3]",
		"an empty object":    "{}",
		"trailing data":      valid + "x",
		"two objects":        valid + valid,
		"truncated":          valid[:len(valid)/2],
		"wrong type":         swap("type", "password"),
		"id not base64":      swap("id", "***"),
		"id and rawId apart": swap("rawId", "AAAA"),
		"response a string":  swap("response", "x"),
		"clientData garbage": swapResp("clientDataJSON", b64.EncodeToString([]byte("{{{"))),
		"authData short":     swapResp("authenticatorData", "AAAA"),
		"attestation CBOR":   swapResp("attestationObject", b64.EncodeToString([]byte{0xff, 0x00, 0x13})),
		"invalid UTF-8":      "{\"id\":\"\xff\"}",
		"NUL bytes":          "{\"id\":\"\x00\"}",
		"oversized":          swap("padding", strings.Repeat("a", webauthnmfa.MaxInput)),
	}
}

func TestMalformedLogin(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	a := softkey.New(t, rightOrigin)
	e.register(u, a)
	valid := a.Get(e.challenge(e.turn(u)).data)
	for name, in := range malformed(valid) {
		e.advance(time.Second)
		l := e.challenge(e.turn(u))
		_, err := e.verify(l, in)
		var fail *authflow.Failure
		if !errors.As(err, &fail) || fail.User.ID != u.ID || fail.State == nil {
			t.Fatalf("%s: %v; want a Failure that spends the state", name, err)
		}
		switch fail.Reason {
		case webauthnmfa.ReasonMalformed:
			if !errors.Is(fail.Show, webauthnmfa.ErrRetry) {
				t.Fatalf("%s: shows %v", name, fail.Show)
			}
		case webauthnmfa.ReasonUnknownCredential, webauthnmfa.ReasonInvalid:
			// Well-formed enough to be parsed, then refused.
		default:
			t.Fatalf("%s: reason %q", name, fail.Reason)
		}
	}
	// A right answer padded past MaxInput is not read at all.
	e.advance(time.Minute)
	l := e.challenge(e.turn(u))
	var padded map[string]any
	if err := json.Unmarshal([]byte(a.Get(l.data)), &padded); err != nil {
		t.Fatal(err)
	}
	padded["padding"] = strings.Repeat("a", webauthnmfa.MaxInput)
	big, _ := json.Marshal(padded)
	_, err := e.verify(l, string(big))
	refused(t, "an oversized answer", u, err, webauthnmfa.ReasonMalformed, webauthnmfa.ErrRetry)

	e.advance(time.Minute)
	l = e.challenge(e.turn(u))
	p, err := e.verify(l, a.Get(l.data))
	accepted(t, "the key after all that", u, p, err, "hwk", "user")
}

func TestMalformedRegistration(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	a := softkey.New(t, rightOrigin)
	valid := a.Create(e.beginEnrol(u, "").data)
	for name, in := range malformed(valid) {
		en := e.beginEnrol(u, "")
		_, err := e.confirm(en, in)
		var fail *authflow.Failure
		if !errors.As(err, &fail) || fail.User.ID != u.ID || fail.State == nil {
			t.Fatalf("%s: %v; want a Failure that spends the state", name, err)
		}
		if fail.Reason != webauthnmfa.ReasonMalformed && fail.Reason != webauthnmfa.ReasonInvalid {
			t.Fatalf("%s: reason %q", name, fail.Reason)
		}
		if f := e.factor(en.f.ID); !f.ConfirmedAt.IsZero() {
			t.Fatalf("%s confirmed a key", name)
		}
	}
}

func TestLabel(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	long := strings.Repeat("é", webauthnmfa.MaxLabel)
	for typed, want := range map[string]string{"": "Security key", "  ": "Security key", " Work ": "Work", long: long} {
		en := e.beginEnrol(u, typed)
		if en.f.Label != want {
			t.Fatalf("label %q stored as %q; want %q", typed, en.f.Label, want)
		}
	}
	for _, bad := range []string{long + "x", "two\nlines", "tab\there", "nul\x00", "\xff"} {
		before, _ := e.st.ListFactors(e.ctx, u.ID, *e.now)
		_, _, err := e.m.BeginEnrol(e.ctx, e.turn(u), authflow.Input{webauthnmfa.FieldLabel: bad})
		refused(t, "label "+bad, u, err, webauthnmfa.ReasonBadLabel, webauthnmfa.ErrBadLabel)
		if after, _ := e.st.ListFactors(e.ctx, u.ID, *e.now); len(after) != len(before) {
			t.Fatalf("a refused label %q was stored", bad)
		}
	}
}

func TestTurnWithoutLoginIsAnError(t *testing.T) {
	e := newEnv(t)
	var fail *authflow.Failure
	if _, _, err := e.m.Challenge(e.ctx, authflow.Turn{}); err == nil || errors.As(err, &fail) {
		t.Fatalf("Challenge of an empty turn: %v", err)
	}
	if _, err := e.m.Verify(e.ctx, authflow.Turn{}, nil); err == nil || errors.As(err, &fail) {
		t.Fatalf("Verify of an empty turn: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	e := newEnv(f)
	u := e.user("alice@example.com")
	a := softkey.New(f, rightOrigin)
	e.register(u, a)
	// The seeds answer another challenge: none of them is right.
	for _, in := range malformed(a.Get(e.challenge(e.turn(u)).data)) {
		f.Add(in)
	}
	l := e.challenge(e.turn(u))
	f.Fuzz(func(t *testing.T, in string) {
		tn := l.t
		_, err := e.m.Verify(e.ctx, tn, authflow.Input{webauthnmfa.FieldCredential: in})
		var fail *authflow.Failure
		if !errors.As(err, &fail) {
			t.Fatalf("Verify(%q): %v; want a Failure", in, err)
		}
	})
}

// writeFails reads from a real store but cannot write a key's record.
type writeFails struct {
	webauthnmfa.Store
	err error
}

func (w writeFails) SetFactorData(context.Context, string, []byte, time.Time) error { return w.err }

func TestStorageErrorsAreOutages(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	a := softkey.New(t, rightOrigin)
	a.Count = 5
	id := e.register(u, a)
	outage := errors.New("database is down")
	m, err := webauthnmfa.New(webauthnmfa.Config{Issuer: "https://id.example.com", Key: testKey,
		Store: writeFails{e.st, outage}, Now: func() time.Time { return *e.now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.advance(time.Minute)
	l := e.challenge(e.turn(u))
	_, err = m.Verify(e.ctx, l.t, authflow.Input{webauthnmfa.FieldCredential: a.Get(l.data)})
	var fail *authflow.Failure
	if !errors.Is(err, outage) || errors.As(err, &fail) {
		t.Fatalf("err %v; want the outage, not a Failure", err)
	}
	// A regression is refused, as a Failure, even when its flag cannot be
	// written.
	l = e.challenge(e.turn(u))
	_, err = m.Verify(e.ctx, l.t, authflow.Input{webauthnmfa.FieldCredential: a.Assert(softkey.ReadOptions(t, l.data).Challenge, 1)})
	refused(t, "a regression whose flag fails", u, err, webauthnmfa.ReasonSignCount, nil)
	if e.record(id).SignCount != 5 {
		t.Fatal("the counter moved")
	}
	// Registration: the key is not confirmed without its record.
	en := e.beginEnrol(u, "")
	_, err = m.ConfirmEnrol(e.ctx, en.t, en.f, authflow.Input{webauthnmfa.FieldCredential: softkey.New(t, rightOrigin).Create(en.data)})
	if !errors.Is(err, outage) || errors.As(err, &fail) {
		t.Fatalf("ConfirmEnrol: %v; want the outage", err)
	}
	if !e.factor(en.f.ID).ConfirmedAt.IsZero() {
		t.Fatal("a key was confirmed without its record")
	}
}
