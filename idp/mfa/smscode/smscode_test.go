package smscode_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/smscode"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/idp/storage/sqlite"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// text is one message the phone got.
type text struct{ to, body string }

// phone is a Sender that keeps what it was asked to send, or fails.
type phone struct {
	mu   sync.Mutex
	got  []text
	fail error
}

func (p *phone) SendSMS(_ context.Context, to, body string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	p.got = append(p.got, text{to, body})
	return nil
}

func (p *phone) count() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.got) }

func (p *phone) last(t *testing.T) text {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.got) == 0 {
		t.Fatal("no text sent")
	}
	return p.got[len(p.got)-1]
}

// webOTP is the message's last line, whose code the tests read.
var webOTP = regexp.MustCompile(`\n@[^ ]+ #(\d{6})$`)

type env struct {
	t     *testing.T
	ctx   context.Context
	st    *sqlite.Store
	now   *time.Time
	phone *phone
	logs  *bytes.Buffer
	m     *smscode.Method
	org   storage.Organization
}

func newEnv(t *testing.T) *env {
	t.Helper()
	now := t0
	e := &env{t: t, ctx: context.Background(), st: testenv.SQLite(t), now: &now, phone: &phone{}, logs: &bytes.Buffer{},
		org: storage.Organization{ID: "org-1", Name: "acme", DisplayName: "Acme Corp", CreatedAt: t0, UpdatedAt: t0}}
	clock := func() time.Time { return *e.now }
	e.m = &smscode.Method{Store: e.st, Sender: e.phone, Sends: smscode.SendLimits{}.Windows(e.st, clock),
		Key: []byte("test key"), Now: clock, Issuer: "https://id.acme.example",
		OrgName: func(context.Context, storage.User) string { return "Acme Corp" },
		Logger:  slog.New(slog.NewTextHandler(e.logs, nil))}
	if err := e.st.CreateOrganization(e.ctx, e.org); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) advance(d time.Duration) { *e.now = e.now.Add(d) }

func (e *env) user(name string) storage.User {
	e.t.Helper()
	u := storage.User{ID: storage.NewID(), OrgID: e.org.ID, Email: name + "@example.com", Name: name, State: storage.UserActive,
		CreatedAt: t0, UpdatedAt: t0}
	if err := e.st.CreateUser(e.ctx, u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// factor stores a confirmed phone factor of u for number.
func (e *env) factor(u storage.User, number string) storage.Factor {
	e.t.Helper()
	f := storage.Factor{ID: storage.NewID(), UserID: u.ID, Kind: smscode.Name, Label: number, Address: number,
		CreatedAt: *e.now, ConfirmedAt: *e.now}
	if err := e.st.CreateFactor(e.ctx, f); err != nil {
		e.t.Fatal(err)
	}
	return f
}

// login plays the flow's part for one login: it keeps the method's state
// as the flow would, in the request.
type login struct {
	e *env
	t authflow.Turn
}

func (e *env) login(u storage.User, factors ...storage.Factor) *login {
	return &login{e: e, t: authflow.Turn{Request: storage.AuthRequest{ID: storage.NewID(), UserID: u.ID, OrgID: u.OrgID},
		User: u, Policy: storage.MFAPolicy{Required: true, AllowedMethods: []string{"sms"}}, Factors: factors}}
}

const aliceNumber = "+447700900123"

// sentCode is alice, her one number, and a login that was sent a code.
func sentCode(t *testing.T) (*env, storage.User, storage.Factor, *login) {
	t.Helper()
	e := newEnv(t)
	u := e.user("alice")
	f := e.factor(u, aliceNumber)
	l := e.login(u, f)
	if v := l.show(false); !v.Sent {
		t.Fatalf("first showing: %+v", v)
	}
	return e, u, f, l
}

// show is a showing of the step (resend: the user asked for a new code).
func (l *login) show(resend bool) authflow.View {
	l.e.t.Helper()
	l.t.Resend = resend
	v, st, err := l.e.m.Challenge(l.e.ctx, l.t)
	l.t.Resend = false
	if err != nil {
		l.e.t.Fatalf("Challenge: %v", err)
	}
	l.t.State = st
	return v
}

// submit posts code; a failure's state is kept, a success clears it.
func (l *login) submit(code string) (authflow.Proof, error) {
	p, err := l.e.m.Verify(l.e.ctx, l.t, authflow.Input{smscode.FieldCode: code})
	var fail *authflow.Failure
	switch {
	case err == nil:
		l.t.State = nil
	case errors.As(err, &fail) && fail.State != nil:
		l.t.State = fail.State
	}
	return p, err
}

// code is the code in the last text, read from its WebOTP line.
func (e *env) code() string {
	e.t.Helper()
	m := webOTP.FindStringSubmatch(e.phone.last(e.t).body)
	if m == nil {
		e.t.Fatalf("no code line in %q", e.phone.last(e.t).body)
	}
	return m[1]
}

// refused fails unless err is a *Failure with reason that shows show (nil:
// any) and names u.
func refused(t *testing.T, what string, u storage.User, err error, reason string, show error) *authflow.Failure {
	t.Helper()
	var fail *authflow.Failure
	if !errors.As(err, &fail) || fail.Reason != reason {
		t.Fatalf("%s: err %v; want a Failure %q", what, err, reason)
	}
	if show != nil && !errors.Is(fail.Show, show) {
		t.Fatalf("%s: shows %v; want %v", what, fail.Show, show)
	}
	if fail.User.ID != u.ID {
		t.Fatalf("%s: failure names user %q; want %q", what, fail.User.ID, u.ID)
	}
	return fail
}

func accepted(t *testing.T, what string, u storage.User, p authflow.Proof, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if p.UserID != u.ID || len(p.AMR) != 1 || p.AMR[0] != "otp" || p.Event != audit.LoginSMSCode {
		t.Fatalf("%s: proof %+v", what, p)
	}
}

// otherCode is a well-formed code other than c.
func otherCode(c string) string {
	if c == "000000" {
		return "000001"
	}
	return "000000"
}

func TestShape(t *testing.T) {
	m := &smscode.Method{}
	if m.Name() != "sms" || smscode.FieldCode != "code" || smscode.FieldPhone != "phone" || smscode.Digits < 6 ||
		smscode.MaxTTL > 10*time.Minute || smscode.MaxMisses != 5 {
		t.Fatalf("Name %q Digits %d MaxTTL %v", m.Name(), smscode.Digits, smscode.MaxTTL)
	}
}

// TestFirstShowingSendsOnce: the first showing texts the number exactly
// this message; a reload texts nothing.
func TestFirstShowingSendsOnce(t *testing.T) {
	e := newEnv(t)
	e.m.Rand = bytes.NewReader([]byte{0x01, 0xe2, 0x40}) // code 123456
	u := e.user("alice")
	f := e.factor(u, aliceNumber)
	l := e.login(u, f)
	v := l.show(false)
	if !v.Sent || v.Address != "+•••23" || v.Notice != nil {
		t.Fatalf("first showing: %+v", v)
	}
	want := text{to: aliceNumber,
		body: "Your Acme Corp sign-in code is 123456. It expires in 10 minutes. Do not share it.\n\n@id.acme.example #123456"}
	if got := e.phone.last(t); got != want || e.phone.count() != 1 {
		t.Fatalf("sent %+v (%d texts)\nwant %+v", got, e.phone.count(), want)
	}
	if bytes.Contains(l.t.State, []byte("123456")) {
		t.Fatalf("the state holds the code in clear: %s", l.t.State)
	}
	first := l.t.State
	e.advance(time.Minute)
	if v := l.show(false); v.Sent || v.Address != "+•••23" || v.Notice != nil {
		t.Fatalf("second showing: %+v", v)
	}
	if e.phone.count() != 1 || !bytes.Equal(l.t.State, first) {
		t.Fatalf("second showing sent %d texts, state changed: %v", e.phone.count(), !bytes.Equal(l.t.State, first))
	}
	p, err := l.submit("123 456\n")
	accepted(t, "the right code", u, p, err)
	got, err := e.st.GetFactor(e.ctx, f.ID)
	if err != nil || !got.LastUsedAt.Equal(*e.now) {
		t.Fatalf("factor's last use %v (%v); want %v", got.LastUsedAt, err, *e.now)
	}
}

// TestText: the message's wording and its origin-bound last line, for
// each shape of issuer.
func TestText(t *testing.T) {
	tests := []struct {
		name, issuer, org string
		ttl               time.Duration
		want              string
	}{
		{"default port", "https://id.example.com", "Acme", 0,
			"Your Acme sign-in code is 123456. It expires in 10 minutes. Do not share it.\n\n@id.example.com #123456"},
		{"explicit default port, a path, upper case", "https://ID.Example.com:443/gatehouse/", "Acme", 5 * time.Minute,
			"Your Acme sign-in code is 123456. It expires in 5 minutes. Do not share it.\n\n@id.example.com #123456"},
		{"another port", "https://id.example.com:8443", "Acme", time.Minute,
			"Your Acme sign-in code is 123456. It expires in 1 minute. Do not share it.\n\n@id.example.com:8443 #123456"},
		{"http on 80", "http://localhost:80", "Acme", 90 * time.Second,
			"Your Acme sign-in code is 123456. It expires in 90 seconds. Do not share it.\n\n@localhost #123456"},
		{"no organization name", "http://localhost:5556", "", 0,
			"Your Gatehouse sign-in code is 123456. It expires in 10 minutes. Do not share it.\n\n@localhost:5556 #123456"},
		{"a name cannot add a line", "https://id.example.com", "Evil\n@evil.example #000000\n", 0,
			"Your Evil @evil.example #000000 sign-in code is 123456. It expires in 10 minutes. Do not share it.\n\n@id.example.com #123456"},
		{"a long name is cut", "https://id.example.com", strings.Repeat("A", 60), 0,
			"Your " + strings.Repeat("A", 40) + " sign-in code is 123456. It expires in 10 minutes. Do not share it.\n\n@id.example.com #123456"},
		{"no issuer: no line", "", "Acme", 0,
			"Your Acme sign-in code is 123456. It expires in 10 minutes. Do not share it."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.m.Issuer, e.m.TTL, e.m.Rand = tt.issuer, tt.ttl, bytes.NewReader([]byte{0x01, 0xe2, 0x40})
			e.m.OrgName = func(context.Context, storage.User) string { return tt.org }
			u := e.user("alice")
			e.login(u, e.factor(u, aliceNumber)).show(false)
			if got := e.phone.last(t).body; got != tt.want {
				t.Fatalf("text %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestResendVoidsOldCode(t *testing.T) {
	e, u, _, l := sentCode(t)
	old := e.code()
	for e.code() == old { // one chance in 10^6 that a new code is the old one
		if v := l.show(true); !v.Sent {
			t.Fatalf("resend: %+v", v)
		}
	}
	_, err := l.submit(old)
	refused(t, "the code a resend replaced", u, err, smscode.ReasonWrong, smscode.ErrWrongCode)
	p, err := l.submit(e.code())
	accepted(t, "the new code", u, p, err)
}

func TestMissesBurnTheCode(t *testing.T) {
	e, u, _, l := sentCode(t)
	c := e.code()
	for i := 1; i < smscode.MaxMisses; i++ {
		_, err := l.submit(otherCode(c))
		if fail := refused(t, "a wrong code", u, err, smscode.ReasonWrong, smscode.ErrWrongCode); fail.State == nil {
			t.Fatalf("miss %d: no new state; the miss was not counted", i)
		}
	}
	_, err := l.submit(otherCode(c))
	refused(t, "the last wrong code", u, err, smscode.ReasonWrong, smscode.ErrBurnt)
	_, err = l.submit(c)
	refused(t, "the right code once burnt", u, err, smscode.ReasonExpired, smscode.ErrBurnt)
	// Showing the page again sends nothing: that would undo the burn.
	if v := l.show(false); v.Sent || !errors.Is(v.Notice, smscode.ErrBurnt) || e.phone.count() != 1 {
		t.Fatalf("showing a burnt code: %+v, %d texts", v, e.phone.count())
	}
	if v := l.show(true); !v.Sent {
		t.Fatalf("resend after a burn: %+v", v)
	}
	p, err := l.submit(e.code())
	accepted(t, "a new code after a burn", u, p, err)
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		name string
		ttl  time.Duration
		want time.Duration
	}{
		{"default", 0, 10 * time.Minute},
		{"shorter", 3 * time.Minute, 3 * time.Minute},
		{"longer is capped", time.Hour, 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.m.TTL = tt.ttl
			u := e.user("alice")
			f := e.factor(u, aliceNumber)

			in := e.login(u, f)
			in.show(false)
			e.advance(tt.want - time.Second)
			p, err := in.submit(e.code())
			accepted(t, "a second before the end", u, p, err)

			late := e.login(u, f)
			late.show(false)
			e.advance(tt.want)
			_, err = late.submit(e.code())
			refused(t, "at the end", u, err, smscode.ReasonExpired, smscode.ErrExpired)
			// No new text by itself: the page says so, and offers one.
			if v := late.show(false); v.Sent || !errors.Is(v.Notice, smscode.ErrExpired) || e.phone.count() != 2 {
				t.Fatalf("showing an expired code: %+v, %d texts", v, e.phone.count())
			}
		})
	}
}

func TestCodeBoundToItsLogin(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.user("alice"), e.user("bob")
	fa := e.factor(alice, aliceNumber)
	a := e.login(alice, fa)
	a.show(false)
	c := e.code()

	// The same user's other login, with this login's state copied in.
	other := e.login(alice, fa)
	other.t.State = a.t.State
	_, err := other.submit(c)
	refused(t, "a code from another login", alice, err, smscode.ReasonWrong, nil)

	// Another user's login with alice's state: her factor is not his.
	b := e.login(bob, e.factor(bob, "+14155550123"))
	b.t.State = a.t.State
	_, err = b.submit(c)
	refused(t, "alice's code in bob's login", bob, err, smscode.ReasonUnknownFactor, smscode.ErrExpired)

	// A login without a code sent.
	_, err = e.login(alice, fa).submit(c)
	refused(t, "no code sent", alice, err, smscode.ReasonExpired, smscode.ErrExpired)

	// The code still works where it was sent.
	p, err := a.submit(c)
	accepted(t, "in its own login", alice, p, err)
}

func TestSingleUse(t *testing.T) {
	e, u, f, l := sentCode(t)
	c, st := e.code(), l.t.State
	p, err := l.submit(c)
	accepted(t, "the code", u, p, err)
	// A replay of the state after the success (the flow clears it): the
	// factor's use since the sending refuses it.
	e.advance(time.Second)
	used, err := e.st.GetFactor(e.ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	l.t.State, l.t.Factors = st, []storage.Factor{used}
	_, err = l.submit(c)
	refused(t, "a replayed state", u, err, smscode.ReasonUsed, smscode.ErrExpired)
}

func TestMalformedCode(t *testing.T) {
	e, u, _, l := sentCode(t)
	st := l.t.State
	for _, c := range []string{"", "12345", "1234567", "12a456", "１２３４５６", "123456\x00", "\xff23456", strings.Repeat("1", 100)} {
		_, err := l.submit(c)
		if fail := refused(t, "malformed "+c, u, err, smscode.ReasonMalformed, smscode.ErrRetype); fail.State != nil {
			t.Fatalf("malformed %q counted a miss", c)
		}
	}
	if !bytes.Equal(l.t.State, st) {
		t.Fatal("malformed input changed the state")
	}
	p, err := l.submit(e.code())
	accepted(t, "the right code after malformed ones", u, p, err)
}

func TestRemovedFactor(t *testing.T) {
	e, u, f, l := sentCode(t)
	c := e.code()
	l.t.Factors = nil
	_, err := l.submit(c)
	refused(t, "a code for a factor that no longer counts", u, err, smscode.ReasonUnknownFactor, smscode.ErrExpired)
	l.t.Factors = []storage.Factor{f}
	if err := e.st.DeleteFactor(e.ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	_, err = l.submit(c)
	refused(t, "a code for a factor deleted meanwhile", u, err, smscode.ReasonUnknownFactor, smscode.ErrExpired)
	// An email factor is no phone: nothing to send to.
	mail := storage.Factor{ID: "f-mail", UserID: u.ID, Kind: storage.FactorEmail, Address: "alice@example.com", ConfirmedAt: t0}
	if _, _, err := e.m.Challenge(e.ctx, e.login(u, mail).t); !errors.Is(err, smscode.ErrNoFactor) {
		t.Fatalf("Challenge without phone factors: %v", err)
	}
}

// touchFails records no use: an outage at the last step.
type touchFails struct {
	smscode.Store
	err error
}

func (s touchFails) TouchFactor(context.Context, string, time.Time) error { return s.err }

func TestStorageOutageIsNoFailure(t *testing.T) {
	e, _, _, l := sentCode(t)
	down := errors.New("database is down")
	e.m.Store = touchFails{e.st, down}
	_, err := l.submit(e.code())
	var fail *authflow.Failure
	if !errors.Is(err, down) || errors.As(err, &fail) {
		t.Fatalf("err %v; want the outage, not a Failure", err)
	}
}

// TestSendFailure: the gateway is down. Challenge wraps ErrNotSent (the
// flow shows its notice and the other methods), changes no state (a code
// sent before still works), is no Failure, and is logged.
func TestSendFailure(t *testing.T) {
	e, u, _, l := sentCode(t)
	c, before := e.code(), l.t.State
	down := errors.New("gateway: 503")
	e.phone.fail = down
	l.t.Resend = true
	v, st, err := e.m.Challenge(e.ctx, l.t)
	l.t.Resend = false
	if !errors.Is(err, authflow.ErrNotSent) || !errors.Is(err, smscode.ErrSendFailed) || !errors.Is(err, down) || st != nil || v.Sent {
		t.Fatalf("Challenge with the gateway down: %+v, %q, %v", v, st, err)
	}
	if smscode.ErrSendFailed.Error() != "we could not send the text message; try again or use another method" {
		t.Fatalf("ErrSendFailed's text: %q", smscode.ErrSendFailed)
	}
	var fail *authflow.Failure
	if errors.As(err, &fail) {
		t.Fatal("an outage is a Failure: it would count against the user")
	}
	if !strings.Contains(e.logs.String(), "sending a code failed") || !strings.Contains(e.logs.String(), "gateway: 503") {
		t.Fatalf("the outage is not logged:\n%s", e.logs)
	}
	// The flow keeps the old state (authflow's notSent): its code works.
	if !bytes.Equal(l.t.State, before) {
		t.Fatal("the login's state changed")
	}
	p, err := l.submit(c)
	accepted(t, "the code sent before the outage", u, p, err)
}

func TestLogsNoCode(t *testing.T) {
	e, u, _, l := sentCode(t)
	for range smscode.DefaultNumberSends {
		l.show(true)
	}
	_, _ = l.submit(otherCode(e.code()))
	e.phone.fail = errors.New("down")
	e.advance(2 * time.Hour)
	_, _, _ = e.m.Challenge(e.ctx, e.login(u, l.t.Factors...).t)
	for _, m := range e.phone.got {
		if c := webOTP.FindStringSubmatch(m.body); c == nil || strings.Contains(e.logs.String(), c[1]) {
			t.Fatalf("a code is in the log, or a text has none:\n%s", e.logs)
		}
	}
}
