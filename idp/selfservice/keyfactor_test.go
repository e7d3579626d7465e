package selfservice_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/mfa/webauthnmfa"
	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/softkey"
)

// withKeys gives e's service the security-key method of e's issuer.
func withKeys(t *testing.T, e *env) {
	t.Helper()
	m, err := webauthnmfa.New(webauthnmfa.Config{Issuer: "https://id.example.com", Key: make([]byte, webauthnmfa.MinKey),
		Store: e.st, Now: func() time.Time { return e.now }})
	must(t, err)
	e.svc.Keys = m
}

// TestKeyFactor: registering a security key at /me. The ceremony's
// challenge belongs to its one pending key: a second answer to it, an
// answer to another key's challenge, or one after a refused answer are
// all refused, and each refusal counts toward the lockout.
func TestKeyFactor(t *testing.T) {
	e := newEnv(t)
	withKeys(t, e)
	e.guard.limit = 100
	const origin = "https://id.example.com"

	e.setPolicy(storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp"}})
	if _, err := e.svc.BeginKey(e.ctx, e.alice.ID, ""); !errors.Is(err, selfservice.ErrNotAllowed) {
		t.Fatalf("keys not allowed: %v", err)
	}
	e.setPolicy(storage.MFAPolicy{Required: true, AllowedMethods: []string{"webauthn", "totp"}})
	if _, err := e.svc.BeginKey(e.ctx, e.alice.ID, "a\nb"); !errors.Is(err, selfservice.ErrLabelRefused) {
		t.Fatalf("a label with a line break: %v", err)
	}

	a, err := e.svc.BeginKey(e.ctx, e.alice.ID, "Desk key")
	must(t, err)
	b, err := e.svc.BeginKey(e.ctx, e.alice.ID, "")
	must(t, err)
	if len(a.Options) == 0 || a.Factor.Label != "Desk key" || b.Factor.Label != webauthnmfa.DefaultLabel {
		t.Fatalf("pending keys %+v %+v", a.Factor, b.Factor)
	}
	// A reload shows the same ceremony.
	again, err := e.svc.KeyEnrolment(e.ctx, e.alice.ID, a.Factor.ID)
	must(t, err)
	if string(again.Options) != string(a.Options) {
		t.Fatal("a reload made a new ceremony for a live one")
	}

	key := softkey.New(t, origin)
	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, selfservice.ErrWrongCode) {
			t.Fatalf("%s: %v; want a refusal", what, err)
		}
	}
	// Key b's challenge, answered to a.
	refused("another key's challenge", func() error {
		_, err := e.svc.ConfirmKey(e.ctx, e.alice.ID, a.Factor.ID, key.Create(b.Options), "")
		return err
	}())
	// a's challenge is spent by that refusal: its own answer now fails too.
	answer := key.Create(a.Options)
	refused("after a refusal", func() error {
		_, err := e.svc.ConfirmKey(e.ctx, e.alice.ID, a.Factor.ID, answer, "")
		return err
	}())
	// Someone else's session cannot confirm alice's key.
	if _, err := e.svc.ConfirmKey(e.ctx, e.ivy.ID, a.Factor.ID, answer, ""); !errors.Is(err, selfservice.ErrNoFactor) {
		t.Fatalf("another user's pending key: %v", err)
	}
	// A new showing, a new challenge; its answer registers the key.
	fresh, err := e.svc.KeyEnrolment(e.ctx, e.alice.ID, a.Factor.ID)
	must(t, err)
	if string(fresh.Options) == string(a.Options) {
		t.Fatal("a spent ceremony was shown again")
	}
	e.guard.mu.Lock()
	failures := e.guard.failures
	e.guard.mu.Unlock()
	if failures != 2 {
		t.Errorf("%d failures counted toward the lockout; want 2", failures)
	}
	answer = key.Create(fresh.Options)
	c, err := e.svc.ConfirmKey(e.ctx, e.alice.ID, a.Factor.ID, answer, "")
	must(t, err)
	if c.Factor.ConfirmedAt.IsZero() {
		t.Fatalf("confirmed %+v", c)
	}
	f, err := e.st.GetFactor(e.ctx, a.Factor.ID)
	must(t, err)
	if rec, err := webauthnmfa.ReadRecord(f.Data); err != nil || string(rec.ID) != string(key.ID) || f.Lookup == "" {
		t.Fatalf("the key's record %+v (%v), lookup %q", rec, err, f.Lookup)
	}
	// The same answer again: the enrolment is done.
	if _, err := e.svc.ConfirmKey(e.ctx, e.alice.ID, a.Factor.ID, answer, ""); !errors.Is(err, selfservice.ErrNoFactor) {
		t.Fatalf("a replayed answer: %v", err)
	}
	// The same key for b: refused, it is registered.
	fb, err := e.svc.KeyEnrolment(e.ctx, e.alice.ID, b.Factor.ID)
	must(t, err)
	refused("the same key twice", func() error {
		_, err := e.svc.ConfirmKey(e.ctx, e.alice.ID, b.Factor.ID, key.Create(fb.Options), "")
		return err
	}())
	if n := len(e.events("mfa.factor_add_failed")); n != 3 {
		t.Errorf("%d refusals audited; want 3", n)
	}
	e.guard.mu.Lock()
	failures = e.guard.failures
	e.guard.mu.Unlock()
	if failures != 1 {
		// The registration in between cleared the two before it.
		t.Errorf("%d failures counted toward the lockout; want 1", failures)
	}
	// An enrolment left too long expires.
	e.now = e.now.Add(webauthnmfa.EnrolTTL + time.Second)
	if _, err := e.svc.KeyEnrolment(e.ctx, e.alice.ID, b.Factor.ID); !errors.Is(err, selfservice.ErrNoFactor) {
		t.Fatalf("an expired enrolment: %v", err)
	}
}
