package recovery_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/recovery"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/idp/storage/sqlite"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

var shown = regexp.MustCompile(`^[` + recovery.Alphabet + `]{4}-[` + recovery.Alphabet + `]{4}-[` + recovery.Alphabet + `]{4}$`)

type env struct {
	t      *testing.T
	ctx    context.Context
	st     *sqlite.Store
	dbPath string
	now    *time.Time
	m      *recovery.Method
	policy storage.MFAPolicy
}

func newEnv(t *testing.T) *env {
	t.Helper()
	now := t0
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	e := &env{t: t, ctx: context.Background(), st: testenv.SQLiteAt(t, path), dbPath: path, now: &now,
		policy: storage.MFAPolicy{Required: true}}
	e.m = &recovery.Method{Store: e.st, Now: func() time.Time { return *e.now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	org := storage.Organization{ID: "org-1", Name: "acme", DisplayName: "Acme Corp", CreatedAt: t0, UpdatedAt: t0}
	if err := e.st.CreateOrganization(e.ctx, org); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) user(email string) storage.User {
	e.t.Helper()
	u := storage.User{ID: storage.NewID(), OrgID: "org-1", Email: email, Name: email, State: storage.UserActive, CreatedAt: t0, UpdatedAt: t0}
	if err := e.st.CreateUser(e.ctx, u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) issue(u storage.User) []string {
	e.t.Helper()
	codes, err := e.m.Issue(e.ctx, u.ID)
	if err != nil {
		e.t.Fatalf("Issue: %v", err)
	}
	return codes
}

// turn is what the flow hands the method for u now: the user's recovery
// codes that count under the policy.
func (e *env) turn(u storage.User) authflow.Turn {
	e.t.Helper()
	fs, err := e.st.ListFactors(e.ctx, u.ID, *e.now)
	if err != nil {
		e.t.Fatal(err)
	}
	return authflow.Turn{Request: storage.AuthRequest{ID: storage.NewID(), UserID: u.ID}, User: u, Policy: e.policy,
		Factors: mfa.Counting(e.policy, u, fs)[mfa.Recovery]}
}

func (e *env) verify(t authflow.Turn, code string) (authflow.Proof, error) {
	return e.m.Verify(e.ctx, t, authflow.Input{recovery.FieldCode: code})
}

func refused(t *testing.T, what string, u storage.User, err error, reason string) {
	t.Helper()
	var fail *authflow.Failure
	if !errors.As(err, &fail) || fail.Reason != reason {
		t.Fatalf("%s: err %v; want a Failure %q", what, err, reason)
	}
	if fail.User.ID != u.ID || fail.Show == nil {
		t.Fatalf("%s: failure names %q, shows %v", what, fail.User.ID, fail.Show)
	}
}

func accepted(t *testing.T, what string, u storage.User, p authflow.Proof, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if p.UserID != u.ID || len(p.AMR) != 1 || p.AMR[0] != "otp" || p.Event != audit.LoginRecoveryCode {
		t.Fatalf("%s: proof %+v", what, p)
	}
}

func TestShape(t *testing.T) {
	m := &recovery.Method{}
	if m.Name() != "recovery" || !m.Fallback() || recovery.FieldCode != "code" {
		t.Fatalf("Name %q Fallback %v", m.Name(), m.Fallback())
	}
	v, st, err := m.Challenge(context.Background(), authflow.Turn{State: []byte(`{"x":1}`)})
	if err != nil || v.Sent || v.Address != "" || v.Notice != nil || string(st) != `{"x":1}` {
		t.Fatalf("Challenge = %+v, %q, %v", v, st, err)
	}
	if bits := 12 * math.Log2(float64(len(recovery.Alphabet))); bits < 50 {
		t.Fatalf("a code has %.1f bits", bits)
	}
	if strings.ContainsAny(recovery.Alphabet, "0o1liIOL") {
		t.Fatalf("the alphabet has look-alikes: %s", recovery.Alphabet)
	}
}

func TestIssue(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	codes := e.issue(u)
	if len(codes) != recovery.Count || recovery.Count != 10 {
		t.Fatalf("%d codes", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !shown.MatchString(c) || seen[c] {
			t.Fatalf("code %q: bad format or repeated in %v", c, codes)
		}
		seen[c] = true
	}
	fs, err := e.st.ListFactors(e.ctx, u.ID, *e.now)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != recovery.Count {
		t.Fatalf("%d factors stored", len(fs))
	}
	for _, f := range fs {
		if f.Kind != storage.FactorRecovery || f.UserID != u.ID || !f.ConfirmedAt.Equal(t0) || len(f.Secret) != 32 || !f.LastUsedAt.IsZero() {
			t.Fatalf("stored %+v", f)
		}
	}
}

// TestStoredHashed reads the database files themselves: no code is in
// them, grouped or not, in any case.
func TestStoredHashed(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	codes := e.issue(u)
	var raw []byte
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(e.dbPath + suffix)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		raw = append(raw, b...)
	}
	if !bytes.Contains(raw, []byte(u.ID)) {
		t.Fatal("the user is not in the files read: reading the wrong files")
	}
	for _, c := range codes {
		bare := strings.ReplaceAll(c, "-", "")
		for _, form := range []string{c, bare, strings.ToUpper(bare), c[:4] + c[5:9]} {
			if bytes.Contains(raw, []byte(form)) {
				t.Fatalf("%q is in the database", form)
			}
		}
	}
}

func TestSingleUse(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	codes := e.issue(u)
	before := e.turn(u) // listed before the use, as a concurrent login would have
	p, err := e.verify(e.turn(u), codes[0])
	accepted(t, "a code", u, p, err)
	// The next login: the spent code no longer counts, and is told apart
	// from a wrong one in the audit log.
	_, err = e.verify(e.turn(u), codes[0])
	refused(t, "a spent code", u, err, recovery.ReasonUsed)
	// A login that listed the codes before the use: storage refuses it.
	_, err = e.verify(before, codes[0])
	refused(t, "a spent code, listed before", u, err, recovery.ReasonUsed)
	// The others still work, each once.
	p, err = e.verify(e.turn(u), codes[1])
	accepted(t, "another code", u, p, err)
	if n := len(e.turn(u).Factors); n != recovery.Count-2 {
		t.Fatalf("%d codes left; want %d", n, recovery.Count-2)
	}
}

func TestConcurrentUseOneWinner(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	codes := e.issue(u)
	const n = 8
	turn := e.turn(u)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = e.verify(turn, codes[3])
		})
	}
	close(start)
	wg.Wait()
	ok, used := 0, 0
	for _, err := range errs {
		var fail *authflow.Failure
		switch {
		case err == nil:
			ok++
		case errors.As(err, &fail) && fail.Reason == recovery.ReasonUsed:
			used++
		default:
			t.Fatalf("Verify: %v", err)
		}
	}
	if ok != 1 || used != n-1 {
		t.Fatalf("%d proofs, %d refused as used; want 1 and %d", ok, used, n-1)
	}
}

func TestRegenerateVoidsOldSet(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	old := e.issue(u)
	stale := e.turn(u)
	fresh := e.issue(u)
	for _, c := range old {
		for _, f := range fresh {
			if c == f {
				t.Fatalf("%s is in both sets", c)
			}
		}
	}
	_, err := e.verify(e.turn(u), old[0])
	refused(t, "a code of the old set", u, err, recovery.ReasonWrong)
	// Even with the old set still in hand (listed before the new one).
	_, err = e.verify(stale, old[1])
	refused(t, "a code of the old set, listed before", u, err, recovery.ReasonWrong)
	p, err := e.verify(e.turn(u), fresh[0])
	accepted(t, "a code of the new set", u, p, err)
	if n := len(e.turn(u).Factors); n != recovery.Count-1 {
		t.Fatalf("%d codes count; want %d", n, recovery.Count-1)
	}
}

func TestCodeOutsideTurnRefused(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	codes := e.issue(alice)
	bobs := e.issue(bob)
	_, err := e.verify(e.turn(alice), bobs[0])
	refused(t, "bob's code for alice", alice, err, recovery.ReasonWrong)
	// Alice's own code when the flow hands none over (the policy's new
	// generation does not count them): refused, and not spent.
	none := e.turn(alice)
	none.Factors = nil
	_, err = e.verify(none, codes[0])
	refused(t, "a code that does not count", alice, err, recovery.ReasonWrong)
	// Bob's rows handed over in alice's turn match nothing either.
	mixed := e.turn(alice)
	mixed.Factors = e.turn(bob).Factors
	_, err = e.verify(mixed, bobs[1])
	refused(t, "bob's rows in alice's turn", alice, err, recovery.ReasonWrong)
	if n := len(e.turn(alice).Factors); n != recovery.Count {
		t.Fatalf("a refused code was spent: %d left", n)
	}
	if n := len(e.turn(bob).Factors); n != recovery.Count {
		t.Fatalf("bob's code was spent in alice's login: %d left", n)
	}
	p, err := e.verify(e.turn(alice), codes[0])
	accepted(t, "alice's code, counted", alice, p, err)
}

func TestNormalization(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	codes := e.issue(u)
	bare := func(c string) string { return strings.ReplaceAll(c, "-", "") }
	typed := []struct {
		name string
		form func(string) string
	}{
		{"as shown", func(c string) string { return c }},
		{"upper case", strings.ToUpper},
		{"no dashes", bare},
		{"spaces", func(c string) string { return strings.ReplaceAll(c, "-", " ") }},
		{"padded, with a newline", func(c string) string { return "  " + c + "\n" }},
		{"en dashes", func(c string) string { return strings.ReplaceAll(c, "-", "–") }},
		{"odd grouping", func(c string) string { b := bare(c); return b[:3] + "-" + b[3:7] + " " + b[7:] }},
	}
	for i, tt := range typed {
		p, err := e.verify(e.turn(u), tt.form(codes[i]))
		accepted(t, tt.name, u, p, err)
	}
	c := bare(codes[len(typed)])
	for _, bad := range []string{"", c[:11], c + "2", c[:11] + "0", c[:11] + "o", c[:11] + "l", c[:11] + "\x00",
		c[:11] + "é", "\xff" + c[1:], c[:6] + "_" + c[6:], strings.Repeat(" ", 70) + c} {
		_, err := e.verify(e.turn(u), bad)
		refused(t, "malformed "+bad, u, err, recovery.ReasonMalformed)
	}
}

// consumeFails cannot spend a code: an outage.
type consumeFails struct {
	recovery.Store
	err error
}

func (s consumeFails) ConsumeRecoveryCode(context.Context, string, []byte, time.Time) (storage.Factor, error) {
	return storage.Factor{}, s.err
}

func (s consumeFails) ListFactors(context.Context, string, time.Time) ([]storage.Factor, error) {
	return nil, s.err
}

func TestOutageIsNoFailure(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	codes := e.issue(u)
	turn := e.turn(u)
	down := errors.New("database is down")
	e.m.Store = consumeFails{e.st, down}
	_, err := e.verify(turn, codes[0])
	var fail *authflow.Failure
	if !errors.Is(err, down) || errors.As(err, &fail) {
		t.Fatalf("err %v; want the outage, not a Failure", err)
	}
	// A wrong code stays a wrong code while the database is down: the
	// lookup of a spent one only adds a detail.
	_, err = e.verify(turn, "2222-2222-2222")
	refused(t, "a wrong code during an outage", u, err, recovery.ReasonWrong)
}

func TestText(t *testing.T) {
	codes := []string{"k7mq-2xhd-9fta", "abcd-efgh-jkmn"}
	got := recovery.Text(codes, "Acme Corp", "alice@example.com", time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600)))
	for _, want := range []string{"Recovery codes for alice@example.com at Acme Corp", "2 January 2030 at 02:04 UTC",
		"once", "Making new codes voids all of these", "Keep them somewhere safe", " 1. k7mq-2xhd-9fta\n", " 2. abcd-efgh-jkmn\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q missing from:\n%s", want, got)
		}
	}
	if !strings.Contains(recovery.Text(codes, "", "a", t0), "at Gatehouse") {
		t.Error("no issuer is not Gatehouse")
	}
}
