package emailcode_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/emailcode"
	"github.com/gatehouse-idp/gatehouse/idp/notify"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/idp/storage/sqlite"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// sent is one mail the recorder got.
type sent struct {
	template, to string
	d            notify.Data
}

// recorder is a Mailer that keeps what it was asked to send, or fails.
type recorder struct {
	mu   sync.Mutex
	got  []sent
	fail error
}

func (r *recorder) Mail(_ context.Context, template, to string, d notify.Data) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.got = append(r.got, sent{template, to, d})
	return nil
}

func (r *recorder) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.got) }

func (r *recorder) last(t *testing.T) sent {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		t.Fatal("no mail sent")
	}
	return r.got[len(r.got)-1]
}

type env struct {
	t    *testing.T
	ctx  context.Context
	st   *sqlite.Store
	now  *time.Time
	mail *recorder
	logs *bytes.Buffer
	m    *emailcode.Method
	org  storage.Organization
}

func newEnv(t *testing.T) *env {
	t.Helper()
	now := t0
	e := &env{t: t, ctx: context.Background(), st: testenv.SQLite(t), now: &now, mail: &recorder{}, logs: &bytes.Buffer{},
		org: storage.Organization{ID: "org-1", Name: "acme", DisplayName: "Acme Corp", CreatedAt: t0, UpdatedAt: t0}}
	clock := func() time.Time { return *e.now }
	e.m = &emailcode.Method{Store: e.st, Mailer: e.mail, Sends: emailcode.SendLimits{}.Windows(e.st, clock),
		Key: []byte("test key"), Now: clock, Issuer: "https://id.acme.example",
		OrgName: func(context.Context, storage.User) string { return "Acme Corp" },
		Logger:  slog.New(slog.NewTextHandler(e.logs, nil))}
	if err := e.st.CreateOrganization(e.ctx, e.org); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) advance(d time.Duration) { *e.now = e.now.Add(d) }

func (e *env) user(email string) storage.User {
	e.t.Helper()
	u := storage.User{ID: storage.NewID(), OrgID: e.org.ID, Email: email, Name: "Alice", State: storage.UserActive,
		CreatedAt: t0, UpdatedAt: t0}
	if err := e.st.CreateUser(e.ctx, u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// factor stores a confirmed email factor of u for addr.
func (e *env) factor(u storage.User, addr string) storage.Factor {
	e.t.Helper()
	f := storage.Factor{ID: storage.NewID(), UserID: u.ID, Kind: storage.FactorEmail, Label: addr, Address: addr,
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
		User: u, Policy: storage.MFAPolicy{Required: true, AllowedMethods: []string{"email"}}, Factors: factors}}
}

// sentCode is alice, her one address, and a login that was sent a code.
func sentCode(t *testing.T) (*env, storage.User, storage.Factor, *login) {
	t.Helper()
	e := newEnv(t)
	u := e.user("alice@example.com")
	f := e.factor(u, "alice@example.com")
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
	p, err := l.e.m.Verify(l.e.ctx, l.t, authflow.Input{emailcode.FieldCode: code})
	var fail *authflow.Failure
	switch {
	case err == nil:
		l.t.State = nil
	case errors.As(err, &fail) && fail.State != nil:
		l.t.State = fail.State
	}
	return p, err
}

// code is the code in the last mail.
func (e *env) code() string {
	e.t.Helper()
	return e.mail.last(e.t).d.Code
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
	if p.UserID != u.ID || len(p.AMR) != 1 || p.AMR[0] != "otp" || p.Event != audit.LoginEmailCode {
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
	m := &emailcode.Method{}
	if m.Name() != "email" || emailcode.FieldCode != "code" || emailcode.Digits < 6 || emailcode.MaxTTL > 10*time.Minute {
		t.Fatalf("Name %q FieldCode %q Digits %d MaxTTL %v", m.Name(), emailcode.FieldCode, emailcode.Digits, emailcode.MaxTTL)
	}
}

func TestFirstShowingSendsOnce(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	f := e.factor(u, "alice@example.com")
	l := e.login(u, f)
	v := l.show(false)
	if !v.Sent || v.Address != "a•••e@example.com" || v.Notice != nil {
		t.Fatalf("first showing: %+v", v)
	}
	m := e.mail.last(t)
	if m.template != notify.TemplateMFACode || m.to != "alice@example.com" || m.d.Org != "Acme Corp" || m.d.User != "Alice" ||
		m.d.Expires != 10*time.Minute || m.d.Issuer != "https://id.acme.example" || len(m.d.Code) != emailcode.Digits {
		t.Fatalf("mail %+v", m)
	}
	if bytes.Contains(l.t.State, []byte(m.d.Code)) {
		t.Fatalf("the state holds the code in clear: %s", l.t.State)
	}
	first := l.t.State
	// A reload, or the page shown again after a wrong code: no new mail,
	// the same code.
	e.advance(time.Minute)
	if v := l.show(false); v.Sent || v.Address != "a•••e@example.com" || v.Notice != nil {
		t.Fatalf("second showing: %+v", v)
	}
	if e.mail.count() != 1 || !bytes.Equal(l.t.State, first) {
		t.Fatalf("second showing sent %d mails, state changed: %v", e.mail.count(), !bytes.Equal(l.t.State, first))
	}
	// As typed: spaces, a newline from a paste.
	c := m.d.Code
	p, err := l.submit(" " + c[:3] + " " + c[3:] + "\n")
	accepted(t, "the right code", u, p, err)
	got, err := e.st.GetFactor(e.ctx, f.ID)
	if err != nil || !got.LastUsedAt.Equal(*e.now) {
		t.Fatalf("factor's last use %v (%v); want %v", got.LastUsedAt, err, *e.now)
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
	refused(t, "the code a resend replaced", u, err, emailcode.ReasonWrong, emailcode.ErrWrongCode)
	p, err := l.submit(e.code())
	accepted(t, "the new code", u, p, err)
}

func TestMissesBurnTheCode(t *testing.T) {
	e, u, _, l := sentCode(t)
	c := e.code()
	for i := 1; i < emailcode.MaxMisses; i++ {
		_, err := l.submit(otherCode(c))
		fail := refused(t, "a wrong code", u, err, emailcode.ReasonWrong, emailcode.ErrWrongCode)
		if fail.State == nil {
			t.Fatalf("miss %d: no new state; the miss was not counted", i)
		}
	}
	_, err := l.submit(otherCode(c))
	refused(t, "the last wrong code", u, err, emailcode.ReasonWrong, emailcode.ErrBurnt)
	_, err = l.submit(c)
	refused(t, "the right code once burnt", u, err, emailcode.ReasonExpired, emailcode.ErrBurnt)
	// Showing the page again sends nothing: that would undo the burn.
	if v := l.show(false); v.Sent || !errors.Is(v.Notice, emailcode.ErrBurnt) || e.mail.count() != 1 {
		t.Fatalf("showing a burnt code: %+v, %d mails", v, e.mail.count())
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
			u := e.user("alice@example.com")
			f := e.factor(u, "alice@example.com")

			in := e.login(u, f)
			in.show(false)
			if got := e.mail.last(t).d.Expires; got != tt.want {
				t.Fatalf("the mail says %v; want %v", got, tt.want)
			}
			e.advance(tt.want - time.Second)
			p, err := in.submit(e.code())
			accepted(t, "a second before the end", u, p, err)

			late := e.login(u, f)
			late.show(false)
			e.advance(tt.want)
			_, err = late.submit(e.code())
			refused(t, "at the end", u, err, emailcode.ReasonExpired, emailcode.ErrExpired)
			if v := late.show(false); v.Sent || !errors.Is(v.Notice, emailcode.ErrExpired) {
				t.Fatalf("showing an expired code: %+v", v)
			}
		})
	}
}

func TestCodeBoundToItsLogin(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	fa := e.factor(alice, "alice@example.com")
	a := e.login(alice, fa)
	a.show(false)
	c := e.code()

	// The same user's other login, with this login's state copied in.
	other := e.login(alice, fa)
	other.t.State = a.t.State
	_, err := other.submit(c)
	refused(t, "a code from another login", alice, err, emailcode.ReasonWrong, nil)

	// Another user's login with alice's state: her factor is not his.
	b := e.login(bob, e.factor(bob, "bob@example.com"))
	b.t.State = a.t.State
	_, err = b.submit(c)
	refused(t, "alice's code in bob's login", bob, err, emailcode.ReasonUnknownFactor, emailcode.ErrExpired)

	// A login without a code sent.
	_, err = e.login(alice, fa).submit(c)
	refused(t, "no code sent", alice, err, emailcode.ReasonExpired, emailcode.ErrExpired)

	// The code still works where it was sent.
	p, err := a.submit(c)
	accepted(t, "in its own login", alice, p, err)
}

func TestSingleUse(t *testing.T) {
	e, u, f, l := sentCode(t)
	c, st := e.code(), l.t.State
	p, err := l.submit(c)
	accepted(t, "the code", u, p, err)
	// Were the state replayed after the success (the flow clears it), the
	// factor's use since the sending refuses it. The flow reloads the
	// factors for every turn.
	e.advance(time.Second)
	used, err := e.st.GetFactor(e.ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	l.t.State, l.t.Factors = st, []storage.Factor{used}
	_, err = l.submit(c)
	refused(t, "a replayed state", u, err, emailcode.ReasonUsed, emailcode.ErrExpired)
}

func TestRemovedFactor(t *testing.T) {
	e, u, f, l := sentCode(t)
	c := e.code()
	// Removed meanwhile (or no longer counting): the flow hands it no
	// more.
	l.t.Factors = nil
	_, err := l.submit(c)
	refused(t, "a code for a factor that no longer counts", u, err, emailcode.ReasonUnknownFactor, emailcode.ErrExpired)
	// Removed between the flow's listing and the check.
	l.t.Factors = []storage.Factor{f}
	if err := e.st.DeleteFactor(e.ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	_, err = l.submit(c)
	refused(t, "a code for a factor deleted meanwhile", u, err, emailcode.ReasonUnknownFactor, emailcode.ErrExpired)
	// With no factor at all there is nothing to send to.
	l.t.State = nil
	if _, _, err := e.m.Challenge(e.ctx, authflow.Turn{Request: l.t.Request, User: u}); !errors.Is(err, emailcode.ErrNoFactor) {
		t.Fatalf("Challenge without factors: %v", err)
	}
}

func TestPicksMostRecentlyUsed(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	work := e.factor(u, "alice@work.example")
	home := e.factor(u, "alice@home.example")
	e.login(u, work, home).show(false)
	if got := e.mail.last(t).to; got != work.Address {
		t.Fatalf("none used yet: sent to %s; want the first, %s", got, work.Address)
	}
	home.LastUsedAt = t0
	e.login(u, work, home).show(false)
	if got := e.mail.last(t).to; got != home.Address {
		t.Fatalf("sent to %s; want the most recently used, %s", got, home.Address)
	}
}

func TestMalformedCode(t *testing.T) {
	e, u, _, l := sentCode(t)
	st := l.t.State
	for _, c := range []string{"", "12345", "1234567", "12a456", "１２３４５６", "123456\x00", "12-34-56", "\xff23456",
		strings.Repeat("1", 100), strings.Repeat(" ", 100) + "123456"} {
		_, err := l.submit(c)
		fail := refused(t, "malformed "+c, u, err, emailcode.ReasonMalformed, emailcode.ErrRetype)
		if fail.State != nil {
			t.Fatalf("malformed %q counted a miss", c)
		}
	}
	if !bytes.Equal(l.t.State, st) {
		t.Fatal("malformed input changed the state")
	}
	p, err := l.submit(e.code())
	accepted(t, "the right code after malformed ones", u, p, err)
}

func TestSendCaps(t *testing.T) {
	e, u, f, l := sentCode(t)
	for range emailcode.DefaultAddressSends - 1 {
		if v := l.show(true); !v.Sent {
			t.Fatalf("resend within the cap: %+v", v)
		}
	}
	before, c := l.t.State, e.code()
	v := l.show(true)
	if v.Sent || !errors.Is(v.Notice, emailcode.ErrTooManySends) || v.Address == "" {
		t.Fatalf("resend over the cap: %+v", v)
	}
	if e.mail.count() != emailcode.DefaultAddressSends || !bytes.Equal(l.t.State, before) {
		t.Fatalf("%d mails; state kept %v", e.mail.count(), bytes.Equal(l.t.State, before))
	}
	if !strings.Contains(e.logs.String(), "send cap reached") || !strings.Contains(e.logs.String(), "cap=address") {
		t.Fatalf("no log line for the refused send:\n%s", e.logs)
	}
	// A new login is no way around it.
	if v := e.login(u, f).show(false); v.Sent {
		t.Fatalf("a new login over the cap sent a code: %+v", v)
	}
	// The last code sent still works.
	p, err := l.submit(c)
	accepted(t, "the last code sent", u, p, err)
	// The window slides: two hours later it is clear.
	e.advance(2 * time.Hour)
	if v := e.login(u, f).show(false); !v.Sent {
		t.Fatalf("after the window: %+v", v)
	}
}

// TestAccountCap: an account's sends are capped across its addresses.
func TestAccountCap(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	var fs []storage.Factor
	for _, a := range []string{"a1@example.com", "a2@example.com", "a3@example.com"} {
		fs = append(fs, e.factor(u, a))
	}
	sends := 0
	for _, f := range fs[:2] {
		for range emailcode.DefaultAddressSends {
			if v := e.login(u, f).show(false); v.Sent {
				sends++
			}
		}
	}
	if sends != emailcode.DefaultAccountSends {
		t.Fatalf("%d sends to two addresses; want %d", sends, emailcode.DefaultAccountSends)
	}
	if v := e.login(u, fs[2]).show(false); v.Sent || !errors.Is(v.Notice, emailcode.ErrTooManySends) {
		t.Fatalf("a third address over the account's cap: %+v", v)
	}
	if !strings.Contains(e.logs.String(), "cap=account") {
		t.Fatalf("no log line names the account cap:\n%s", e.logs)
	}
	// Another account at the same time is not affected.
	bob := e.user("bob@example.com")
	if v := e.login(bob, e.factor(bob, "bob@example.com")).show(false); !v.Sent {
		t.Fatalf("another account: %+v", v)
	}
}

func TestConfiguredCaps(t *testing.T) {
	e := newEnv(t)
	clock := func() time.Time { return *e.now }
	e.m.Sends = emailcode.SendLimits{PerAddress: 100, PerAccount: 100, PerNetwork: 3, Window: time.Minute}.Windows(e.st, clock)
	ip := "192.0.2.7"
	e.m.ClientIP = func(context.Context) string { return ip }
	sent := 0
	for i := range 4 {
		u := e.user(string(rune('a'+i)) + "@example.com")
		if v := e.login(u, e.factor(u, u.Email)).show(false); v.Sent {
			sent++
		}
	}
	if sent != 3 || !strings.Contains(e.logs.String(), "cap=network") {
		t.Fatalf("%d sends from one network; want 3, refused by the network cap:\n%s", sent, e.logs)
	}
	ip = "198.51.100.9"
	u := e.user("z@example.com")
	if v := e.login(u, e.factor(u, u.Email)).show(false); !v.Sent {
		t.Fatalf("another network: %+v", v)
	}
	// Without caps nothing is sent: fail closed.
	e.m.Sends = emailcode.Sends{}
	if _, _, err := e.m.Challenge(e.ctx, e.login(u, e.factor(u, u.Email)).t); err == nil {
		t.Fatal("Challenge without send caps succeeded")
	}
}

func TestMailOutage(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	l := e.login(u, e.factor(u, "alice@example.com"))
	down := errors.New("connection refused")
	e.mail.fail = down
	v, st, err := e.m.Challenge(e.ctx, l.t)
	if !errors.Is(err, emailcode.ErrSendFailed) || !errors.Is(err, down) || st != nil || v.Sent {
		t.Fatalf("Challenge with mail down: %+v, %q, %v", v, st, err)
	}
	var fail *authflow.Failure
	if errors.As(err, &fail) {
		t.Fatal("an outage is a Failure: it would count against the user")
	}
	if !strings.Contains(e.logs.String(), "sending a code failed") || !strings.Contains(e.logs.String(), "connection refused") {
		t.Fatalf("the outage is not logged:\n%s", e.logs)
	}
}

// touchFails records no use: an outage at the last step.
type touchFails struct {
	emailcode.Store
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

func TestLogsNoCode(t *testing.T) {
	e, u, _, l := sentCode(t)
	c := e.code()
	for range emailcode.DefaultAddressSends {
		l.show(true)
	}
	_, _ = l.submit(otherCode(c))
	e.mail.fail = errors.New("down")
	e.advance(2 * time.Hour)
	_, _, _ = e.m.Challenge(e.ctx, e.login(u, l.t.Factors...).t)
	for _, m := range e.mail.got {
		if strings.Contains(e.logs.String(), m.d.Code) {
			t.Fatalf("a code is in the log:\n%s", e.logs)
		}
	}
}
