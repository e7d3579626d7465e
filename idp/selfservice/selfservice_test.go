package selfservice_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// mailbox records what the service mailed; fail makes sends (and probes)
// fail as a mail server outage would.
type mailbox struct {
	mu     sync.Mutex
	sent   []sent
	probes int
	fail   atomic.Bool
}

type sent struct {
	template, to string
	d            selfservice.MailData
}

var errMailDown = errors.New("dial tcp 127.0.0.1:25: connection refused")

func (m *mailbox) Mail(_ context.Context, template, to string, d selfservice.MailData) error {
	if m.fail.Load() {
		return errMailDown
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, sent{template, to, d})
	return nil
}

func (m *mailbox) Probe(context.Context) error {
	m.mu.Lock()
	m.probes++
	m.mu.Unlock()
	if m.fail.Load() {
		return errMailDown
	}
	return nil
}

func (m *mailbox) all() []sent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sent(nil), m.sent...)
}

func (m *mailbox) last(t *testing.T) sent {
	t.Helper()
	all := m.all()
	if len(all) == 0 {
		t.Fatal("nothing was mailed")
	}
	return all[len(all)-1]
}

// token is the token of a mailed link.
func token(t *testing.T, s sent) string {
	t.Helper()
	u, err := url.Parse(s.d.Link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// rules refuses short passwords and, for self-service, a password changed
// within the last hour: enough to see the service apply what it is told.
type rules struct{ now func() time.Time }

func (r rules) Check(_ context.Context, u storage.User, pw string, selfService bool) error {
	if len([]rune(pw)) < 8 {
		return &password.PolicyError{Rule: "test", Message: "too short"}
	}
	if selfService && !u.PasswordChangedAt.IsZero() && r.now().Sub(u.PasswordChangedAt) < time.Hour {
		return &password.PolicyError{Rule: "test", Message: "changed too recently"}
	}
	return nil
}

type limiter struct {
	mu    sync.Mutex
	limit int
	n     map[string]int
}

func (l *limiter) Allow(_ context.Context, key string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = map[string]int{}
	}
	l.n[key]++
	return l.n[key] <= l.limit, nil
}

type env struct {
	t     *testing.T
	ctx   context.Context
	st    storage.Storage
	svc   *selfservice.Service
	mail  *mailbox
	now   time.Time
	org   storage.Organization
	alice storage.User // active, password "old-password-1"
	ivy   storage.User // invited
	guard *guard
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), st: testenv.SQLite(t), mail: &mailbox{},
		now: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), guard: &guard{}}
	clock := func() time.Time { return e.now }
	h := password.NewHasher(password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 4)
	rec := &audit.Recorder{Store: e.st, Now: clock}
	e.svc = &selfservice.Service{Store: e.st, Hasher: h, Rules: rules{now: clock}, Mail: e.mail, Audit: rec,
		Now: clock, Issuer: "https://id.example.com/base", Guard: e.guard}
	e.org = storage.Organization{ID: "org-1", Name: "acme", DisplayName: "Acme Corp", CreatedAt: e.now, UpdatedAt: e.now}
	must(t, e.st.CreateOrganization(e.ctx, e.org))
	hash, err := h.Hash(e.ctx, "old-password-1")
	must(t, err)
	e.alice = storage.User{ID: "u-alice", OrgID: e.org.ID, Email: "alice@acme.example", Name: "Alice", PasswordHash: hash,
		State: storage.UserActive, PasswordChangedAt: e.now.Add(-48 * time.Hour), CreatedAt: e.now, UpdatedAt: e.now}
	e.ivy = storage.User{ID: "u-ivy", OrgID: e.org.ID, Email: "ivy@acme.example", Name: "Ivy", State: storage.UserInvited, CreatedAt: e.now, UpdatedAt: e.now}
	for _, u := range []storage.User{e.alice, e.ivy} {
		must(t, e.st.CreateUser(e.ctx, u))
	}
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) user(id string) storage.User {
	e.t.Helper()
	u, err := e.st.GetUser(e.ctx, id)
	must(e.t, err)
	return u
}

func (e *env) session(hash, userID string) {
	e.t.Helper()
	must(e.t, e.st.CreateSession(e.ctx, storage.Session{Hash: hash, UserID: userID, AuthTime: e.now, CreatedAt: e.now,
		LastSeenAt: e.now, IdleExpiresAt: e.now.Add(time.Hour), ExpiresAt: e.now.Add(time.Hour)}))
}

func (e *env) hasSession(hash string) bool {
	_, err := e.st.GetSession(e.ctx, hash)
	return err == nil
}

func (e *env) events(typ string) []storage.AuditEvent {
	e.t.Helper()
	all, err := e.st.ListAuditEvents(e.ctx, storage.AuditQuery{Limit: 100})
	must(e.t, err)
	var out []storage.AuditEvent
	for _, ev := range all {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// refreshToken stores a live refresh token of u for a client.
func (e *env) refreshToken(hash, userID string) {
	e.t.Helper()
	_, err := e.st.GetClient(e.ctx, "rp")
	if errors.Is(err, storage.ErrNotFound) {
		must(e.t, e.st.CreateClient(e.ctx, storage.Client{ID: "rp", OrgID: e.org.ID, Name: "RP", RedirectURIs: []string{"https://rp.example/cb"},
			GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "offline_access"},
			AccessTokenTTL: time.Hour, IDTokenTTL: time.Hour, RefreshTokenTTL: time.Hour, CreatedAt: e.now, UpdatedAt: e.now}))
	}
	must(e.t, e.st.CreateRefreshToken(e.ctx, storage.RefreshToken{Hash: hash, FamilyID: "fam-" + hash, ClientID: "rp", UserID: userID,
		Scopes: []string{"openid"}, AuthTime: e.now, CreatedAt: e.now, ExpiresAt: e.now.Add(time.Hour)}))
}

func (e *env) tokenRevoked(hash string) bool {
	e.t.Helper()
	rt, err := e.st.GetRefreshToken(e.ctx, hash)
	must(e.t, err)
	return !rt.RevokedAt.IsZero()
}

func TestResetLinkLifecycle(t *testing.T) {
	e := newEnv(t)
	e.session("sess-1", e.alice.ID)
	e.refreshToken("rt-1", e.alice.ID)
	must(t, e.svc.RequestReset(e.ctx, " Alice@ACME.example ", "192.0.2.1", "ar-1"))
	m := e.mail.last(t)
	if m.template != selfservice.TemplateReset || m.to != e.alice.Email || m.d.Org != "Acme Corp" || m.d.Expires != time.Hour {
		t.Fatalf("mailed %+v", m)
	}
	if !strings.HasPrefix(m.d.Link, "https://id.example.com/base/password/reset?token=") {
		t.Fatalf("link %q is not built from the issuer", m.d.Link)
	}
	raw := token(t, m)
	if len(raw) < 43 {
		t.Fatalf("token %q has fewer than 256 bits", raw)
	}
	// Stored hashed: the raw token is not a key.
	if _, err := e.st.GetOneTimeToken(e.ctx, storage.PurposePasswordReset, raw); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the raw token is stored: %v", err)
	}
	// Opening it twice consumes nothing.
	for range 2 {
		if _, err := e.svc.Open(e.ctx, selfservice.KindReset, raw); err != nil {
			t.Fatalf("Open: %v", err)
		}
	}
	// The wrong kind of page does not take it.
	if _, err := e.svc.Open(e.ctx, selfservice.KindInvite, raw); !errors.Is(err, selfservice.ErrLinkInvalid) {
		t.Fatalf("invite page opened a reset link: %v", err)
	}
	// A refused password leaves the link usable.
	if _, err := e.svc.SetPassword(e.ctx, selfservice.KindReset, raw, "short", "short"); err == nil {
		t.Fatal("a short password was accepted")
	} else if msg, ok := selfservice.UserMessage(err); !ok || msg != "too short" {
		t.Fatalf("refusal %v gives message %q, %v", err, msg, ok)
	}
	if _, err := e.svc.SetPassword(e.ctx, selfservice.KindReset, raw, "new-password-1", "new-password-2"); !errors.Is(err, selfservice.ErrMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
	e.now = e.now.Add(time.Minute)
	e.guard.failures = 3 // locked by someone guessing
	set, err := e.svc.SetPassword(e.ctx, selfservice.KindReset, raw, "new-password-1", "new-password-1")
	if err != nil {
		t.Fatal(err)
	}
	if set.AuthRequestID != "ar-1" {
		t.Errorf("AuthRequestID = %q, want the login the user came from", set.AuthRequestID)
	}
	u := e.user(e.alice.ID)
	if ok, _, _ := e.svc.Hasher.Verify(e.ctx, u.PasswordHash, "new-password-1"); !ok || !u.PasswordChangedAt.Equal(e.now) || !u.EmailVerified {
		t.Fatalf("after reset: %+v", u)
	}
	if e.hasSession("sess-1") {
		t.Error("the reset left a session alive")
	}
	if !e.tokenRevoked("rt-1") {
		t.Error("the reset left a refresh token alive")
	}
	if e.guard.failures != 0 {
		t.Error("the reset left the account locked")
	}
	if m := e.mail.last(t); m.template != selfservice.TemplatePasswordChanged {
		t.Errorf("last mail %q, want the password-changed notice", m.template)
	}
	// Single use.
	if _, err := e.svc.SetPassword(e.ctx, selfservice.KindReset, raw, "new-password-3", "new-password-3"); !errors.Is(err, selfservice.ErrLinkInvalid) {
		t.Fatalf("second use: %v", err)
	}
	if len(e.events(audit.PasswordReset)) != 1 {
		t.Error("no password.reset event")
	}
}

func TestResetLinkExpiresAndIsVoidedByANewerOne(t *testing.T) {
	e := newEnv(t)
	must(t, e.svc.RequestReset(e.ctx, e.alice.Email, "", ""))
	first := token(t, e.mail.last(t))
	must(t, e.svc.RequestReset(e.ctx, e.alice.Email, "", ""))
	second := token(t, e.mail.last(t))
	if _, err := e.svc.Open(e.ctx, selfservice.KindReset, first); !errors.Is(err, selfservice.ErrLinkInvalid) {
		t.Fatalf("older link still opens: %v", err)
	}
	e.now = e.now.Add(time.Hour)
	if _, err := e.svc.Open(e.ctx, selfservice.KindReset, second); !errors.Is(err, selfservice.ErrLinkInvalid) {
		t.Fatalf("link opens after its hour: %v", err)
	}
	if _, err := e.svc.SetPassword(e.ctx, selfservice.KindReset, second, "new-password-1", "new-password-1"); !errors.Is(err, selfservice.ErrLinkInvalid) {
		t.Fatalf("expired link set a password: %v", err)
	}
}

func TestRequestResetSameAnswerForEveryAddress(t *testing.T) {
	e := newEnv(t)
	disabled := storage.User{ID: "u-dis", OrgID: e.org.ID, Email: "dis@acme.example", State: storage.UserDisabled, PasswordHash: e.alice.PasswordHash, CreatedAt: e.now, UpdatedAt: e.now}
	sso := storage.User{ID: "u-sso", OrgID: e.org.ID, Email: "sso@acme.example", State: storage.UserActive, CreatedAt: e.now, UpdatedAt: e.now}
	must(t, e.st.CreateUser(e.ctx, disabled))
	must(t, e.st.CreateUser(e.ctx, sso))
	for _, addr := range []string{"nobody@acme.example", disabled.Email, sso.Email} {
		if err := e.svc.RequestReset(e.ctx, addr, "", ""); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
	if n := len(e.mail.all()); n != 0 {
		t.Fatalf("%d mails sent to addresses that cannot use a link", n)
	}
	if e.mail.probes != 3 {
		t.Errorf("probes = %d, want one per address that sends nothing", e.mail.probes)
	}
	// With the mail server down, every address gets the same failure.
	e.mail.fail.Store(true)
	for _, addr := range []string{"nobody@acme.example", e.alice.Email, disabled.Email} {
		if err := e.svc.RequestReset(e.ctx, addr, "", ""); !errors.Is(err, selfservice.ErrSendFailed) {
			t.Errorf("%s with the mail server down: %v, want ErrSendFailed", addr, err)
		}
	}
	if len(e.events(audit.MailFailed)) != 1 {
		t.Error("the failed send to a real account is not audited")
	}
}

func TestSendFailureKeepsNothingLost(t *testing.T) {
	e := newEnv(t)
	e.mail.fail.Store(true)
	if err := e.svc.RequestReset(e.ctx, e.alice.Email, "", ""); !errors.Is(err, selfservice.ErrSendFailed) || !errors.Is(err, errMailDown) {
		t.Fatalf("err = %v, want ErrSendFailed with the detail", err)
	}
	// The server is back: asking again works, and the link sets the
	// password.
	e.mail.fail.Store(false)
	must(t, e.svc.RequestReset(e.ctx, e.alice.Email, "", ""))
	if _, err := e.svc.SetPassword(e.ctx, selfservice.KindReset, token(t, e.mail.last(t)), "new-password-1", "new-password-1"); err != nil {
		t.Fatal(err)
	}
	// A notice that fails does not undo the change.
	e.now = e.now.Add(2 * time.Hour)
	must(t, e.svc.RequestReset(e.ctx, e.alice.Email, "", ""))
	raw := token(t, e.mail.last(t))
	e.mail.fail.Store(true)
	if _, err := e.svc.SetPassword(e.ctx, selfservice.KindReset, raw, "new-password-2", "new-password-2"); err != nil {
		t.Fatalf("a failed notice failed the reset: %v", err)
	}
}

func TestInvite(t *testing.T) {
	e := newEnv(t)
	if err := e.svc.Invite(e.ctx, "admin-1", e.alice); !errors.Is(err, selfservice.ErrNotInvited) {
		t.Fatalf("invite of an active user: %v", err)
	}
	must(t, e.svc.Invite(e.ctx, "admin-1", e.ivy))
	m := e.mail.last(t)
	if m.template != selfservice.TemplateInvite || m.d.Expires != selfservice.DefaultInviteTTL || !strings.Contains(m.d.Link, "/invite?token=") {
		t.Fatalf("invite mail %+v", m)
	}
	raw := token(t, m)
	if _, err := e.svc.Open(e.ctx, selfservice.KindReset, raw); !errors.Is(err, selfservice.ErrLinkInvalid) {
		t.Fatalf("reset page opened an invite link: %v", err)
	}
	e.now = e.now.Add(71 * time.Hour)
	if _, err := e.svc.SetPassword(e.ctx, selfservice.KindInvite, raw, "ivy-password-1", "ivy-password-1"); err != nil {
		t.Fatal(err)
	}
	u := e.user(e.ivy.ID)
	if u.State != storage.UserActive || !u.EmailVerified || u.PasswordHash == "" {
		t.Fatalf("after accepting: %+v", u)
	}
	if len(e.events(audit.InviteAccepted)) != 1 || len(e.events(audit.InviteSent)) != 1 {
		t.Error("invite events missing")
	}
	// Used: the link is dead, and a resend is refused (the user is active).
	if _, err := e.svc.Open(e.ctx, selfservice.KindInvite, raw); !errors.Is(err, selfservice.ErrLinkInvalid) {
		t.Fatalf("used invite opens: %v", err)
	}
}

func TestInviteExpiredIsNoDeadEnd(t *testing.T) {
	e := newEnv(t)
	must(t, e.svc.Invite(e.ctx, "admin-1", e.ivy))
	old := token(t, e.mail.last(t))
	e.now = e.now.Add(73 * time.Hour)
	if _, err := e.svc.Open(e.ctx, selfservice.KindInvite, old); !errors.Is(err, selfservice.ErrLinkInvalid) {
		t.Fatalf("expired invite opens: %v", err)
	}
	// One click on the expired page sends a new link.
	must(t, e.svc.Renew(e.ctx, selfservice.KindInvite, old, "192.0.2.1"))
	m := e.mail.last(t)
	if m.template != selfservice.TemplateInvite || m.to != e.ivy.Email || m.d.Expires != time.Hour {
		t.Fatalf("renewed mail %+v", m)
	}
	if _, err := e.svc.SetPassword(e.ctx, selfservice.KindInvite, token(t, m), "ivy-password-1", "ivy-password-1"); err != nil {
		t.Fatal(err)
	}
	// The forgot-password form also serves an invited user.
	must(t, e.st.CreateUser(e.ctx, storage.User{ID: "u-jo", OrgID: e.org.ID, Email: "jo@acme.example", State: storage.UserInvited, CreatedAt: e.now, UpdatedAt: e.now}))
	must(t, e.svc.RequestReset(e.ctx, "jo@acme.example", "", ""))
	if m := e.mail.last(t); m.template != selfservice.TemplateInvite || !strings.Contains(m.d.Link, "/invite?") {
		t.Fatalf("forgot-password for an invited user mailed %+v", m)
	}
	// An unknown token sends nothing, and answers the same.
	before := len(e.mail.all())
	if err := e.svc.Renew(e.ctx, selfservice.KindInvite, "not-a-token", ""); err != nil {
		t.Fatal(err)
	}
	if len(e.mail.all()) != before {
		t.Error("an unknown token sent mail")
	}
}

func TestMinimumAgeAppliesToOwnResetOnly(t *testing.T) {
	e := newEnv(t)
	_, err := e.st.UpdateUser(e.ctx, e.alice.ID, func(u storage.User) (storage.User, error) {
		u.PasswordChangedAt = e.now.Add(-10 * time.Minute)
		return u, nil
	})
	must(t, err)
	must(t, e.svc.RequestReset(e.ctx, e.alice.Email, "", ""))
	own := token(t, e.mail.last(t))
	if _, err := e.svc.SetPassword(e.ctx, selfservice.KindReset, own, "new-password-1", "new-password-1"); err == nil {
		t.Fatal("own reset inside the minimum age was accepted")
	} else if msg, _ := selfservice.UserMessage(err); msg != "changed too recently" {
		t.Fatalf("refusal: %v", err)
	}
	must(t, e.svc.SendReset(e.ctx, "admin-1", e.user(e.alice.ID)))
	admin := token(t, e.mail.last(t))
	if _, err := e.svc.SetPassword(e.ctx, selfservice.KindReset, admin, "new-password-1", "new-password-1"); err != nil {
		t.Fatalf("an administrator's link is held back by the minimum age: %v", err)
	}
}

func TestConcurrentSetPasswordOneWins(t *testing.T) {
	e := newEnv(t)
	must(t, e.svc.RequestReset(e.ctx, e.alice.Email, "", ""))
	raw := token(t, e.mail.last(t))
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := "parallel-password-" + string(rune('a'+i))
			if _, err := e.svc.SetPassword(e.ctx, selfservice.KindReset, raw, pw, pw); err == nil {
				wins.Add(1)
			} else if _, policy := selfservice.UserMessage(err); !errors.Is(err, selfservice.ErrLinkInvalid) && !policy {
				// A loser that read the account after the winner changed
				// it meets the minimum age instead: also a refusal.
				t.Errorf("loser: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent uses of one link succeeded, want 1", wins.Load())
	}
}

func TestRateLimits(t *testing.T) {
	e := newEnv(t)
	e.svc.AddressLimit = &limiter{limit: 2}
	e.svc.IPLimit = &limiter{limit: 3}
	for i := range 2 {
		if err := e.svc.RequestReset(e.ctx, e.alice.Email, "198.51.100.1", ""); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if err := e.svc.RequestReset(e.ctx, e.alice.Email, "198.51.100.2", ""); !errors.Is(err, selfservice.ErrRateLimited) {
		t.Fatalf("third request for one address: %v", err)
	}
	// Unknown addresses are capped the same way.
	must(t, e.svc.RequestReset(e.ctx, "x@acme.example", "198.51.100.1", ""))
	if err := e.svc.RequestReset(e.ctx, "y@acme.example", "198.51.100.1", ""); !errors.Is(err, selfservice.ErrRateLimited) {
		t.Fatalf("fourth request from one IP: %v", err)
	}
	if n := len(e.mail.all()); n != 2 {
		t.Errorf("%d mails, want 2", n)
	}
}

func TestAnswerFloor(t *testing.T) {
	e := newEnv(t)
	var waited []time.Duration
	e.svc.AnswerFloor = 500 * time.Millisecond
	e.svc.Sleep = func(_ context.Context, d time.Duration) { waited = append(waited, d) }
	must(t, e.svc.RequestReset(e.ctx, "nobody@acme.example", "", ""))
	must(t, e.svc.RequestReset(e.ctx, e.alice.Email, "", ""))
	// The clock stands still here, so each answer waits the whole floor.
	if len(waited) != 2 || waited[0] != 500*time.Millisecond || waited[1] != 500*time.Millisecond {
		t.Fatalf("waited %v", waited)
	}
}

// guard is a lockout with a limit of 3 failures.
type guard struct {
	mu       sync.Mutex
	failures int
	limit    int // failures that lock; 0 is 3
}

type attempt struct{ g *guard }

func (g *guard) Reserve(context.Context, string, string) (selfservice.Attempt, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	limit := g.limit
	if limit == 0 {
		limit = 3
	}
	if g.failures >= limit {
		return nil, selfservice.ErrAttemptRefused
	}
	return attempt{g}, nil
}
func (a attempt) Failed(context.Context) { a.g.mu.Lock(); a.g.failures++; a.g.mu.Unlock() }
func (a attempt) Succeeded(context.Context) {
	a.g.mu.Lock()
	a.g.failures = 0
	a.g.mu.Unlock()
}
func (a attempt) Released(context.Context) {}

func (g *guard) Unlock(context.Context, string) error {
	g.mu.Lock()
	g.failures = 0
	g.mu.Unlock()
	return nil
}

func TestChangePassword(t *testing.T) {
	e := newEnv(t)
	e.session("here", e.alice.ID)
	e.session("elsewhere", e.alice.ID)
	e.refreshToken("rt-1", e.alice.ID)
	change := selfservice.Change{UserID: e.alice.ID, SessionHash: "here", IP: "192.0.2.1",
		Current: "old-password-1", New: "new-password-1", Confirm: "new-password-1"}

	wrong := change
	wrong.Current = "guess"
	for range 3 {
		if _, err := e.svc.ChangePassword(e.ctx, wrong); !errors.Is(err, selfservice.ErrWrongPassword) {
			t.Fatalf("wrong current password: %v", err)
		}
	}
	// Locked: even the right current password gets the same answer.
	if _, err := e.svc.ChangePassword(e.ctx, change); !errors.Is(err, selfservice.ErrWrongPassword) {
		t.Fatalf("locked: %v", err)
	}
	e.guard.failures = 0

	short := change
	short.New, short.Confirm = "short", "short"
	if _, err := e.svc.ChangePassword(e.ctx, short); err == nil {
		t.Fatal("short new password accepted")
	}
	if _, err := e.svc.ChangePassword(e.ctx, change); err != nil {
		t.Fatal(err)
	}
	if !e.hasSession("here") || e.hasSession("elsewhere") {
		t.Errorf("sessions after a change: here=%v elsewhere=%v, want only here", e.hasSession("here"), e.hasSession("elsewhere"))
	}
	if !e.tokenRevoked("rt-1") {
		t.Error("the change left a refresh token alive")
	}
	if m := e.mail.last(t); m.template != selfservice.TemplatePasswordChanged {
		t.Errorf("no notice: %+v", m)
	}
	// The minimum age holds back a second change right after.
	again := change
	again.Current, again.New, again.Confirm = "new-password-1", "newer-password-1", "newer-password-1"
	if _, err := e.svc.ChangePassword(e.ctx, again); err == nil {
		t.Fatal("a second change inside the minimum age was accepted")
	}
	if len(e.events(audit.PasswordChanged)) != 1 || len(e.events(audit.PasswordChangeFailed)) != 4 {
		t.Errorf("events: %d changed, %d failed", len(e.events(audit.PasswordChanged)), len(e.events(audit.PasswordChangeFailed)))
	}
}

func TestBadTokens(t *testing.T) {
	e := newEnv(t)
	for _, raw := range []string{"", "x", strings.Repeat("a", 10000), "a\x00b", "\xff\xfe"} {
		if _, err := e.svc.Open(e.ctx, selfservice.KindReset, raw); !errors.Is(err, selfservice.ErrLinkInvalid) {
			t.Errorf("Open(%q): %v", raw, err)
		}
		if _, err := e.svc.SetPassword(e.ctx, selfservice.KindInvite, raw, "new-password-1", "new-password-1"); !errors.Is(err, selfservice.ErrLinkInvalid) {
			t.Errorf("SetPassword(%q): %v", raw, err)
		}
	}
}

// failingUsers fails UpdateUser as an outage would.
type failingUsers struct{ storage.Storage }

func (failingUsers) UpdateUser(context.Context, string, func(storage.User) (storage.User, error)) (storage.User, error) {
	return storage.User{}, fmt.Errorf("update user: %w", storage.ErrUnavailable)
}

// An outage while the password is stored leaves the link usable: the
// consumption is rolled back with it.
func TestOutageKeepsTheLink(t *testing.T) {
	e := newEnv(t)
	must(t, e.svc.RequestReset(e.ctx, e.alice.Email, "", ""))
	raw := token(t, e.mail.last(t))
	e.svc.Store = failingUsers{e.st}
	if _, err := e.svc.SetPassword(e.ctx, selfservice.KindReset, raw, "new-password-1", "new-password-1"); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("SetPassword during an outage: %v", err)
	}
	e.svc.Store = e.st
	if _, err := e.svc.SetPassword(e.ctx, selfservice.KindReset, raw, "new-password-1", "new-password-1"); err != nil {
		t.Fatalf("the link after the outage: %v", err)
	}
}
