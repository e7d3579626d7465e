package webauthnmfa_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/webauthnmfa"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/softkey"
)

// passkeyLogin is one offer of passkey sign-in: a login with no user yet.
type passkeyLogin struct {
	t    authflow.Turn
	data []byte
}

func (e *env) offer() *passkeyLogin {
	e.t.Helper()
	tn := authflow.Turn{Request: storage.AuthRequest{ID: storage.NewID()}}
	v, st, err := e.m.Offer(e.ctx, tn)
	if err != nil || len(v.Data) == 0 {
		e.t.Fatalf("Offer: %+v, %v", v, err)
	}
	tn.State = st
	return &passkeyLogin{t: tn, data: v.Data}
}

// identify is what the flow does with a response: locate the key, then
// check it against its user's keys (here: all of them).
func (e *env) identify(l *passkeyLogin, credential string) (storage.User, authflow.Proof, error) {
	e.t.Helper()
	in := authflow.Input{webauthnmfa.FieldCredential: credential}
	f, err := e.m.Locate(e.ctx, l.t, in)
	if err != nil {
		return storage.User{}, authflow.Proof{}, err
	}
	u, err := e.st.GetUser(e.ctx, f.UserID)
	if err != nil {
		e.t.Fatal(err)
	}
	tn := e.turn(u)
	tn.Request, tn.State = l.t.Request, l.t.State
	p, err := e.m.Identify(e.ctx, tn, in)
	var fail *authflow.Failure
	if errors.As(err, &fail) && fail.State != nil {
		l.t.State = fail.State
	}
	return u, p, err
}

func passkeyAccepted(t *testing.T, what string, want, got storage.User, p authflow.Proof, err error, amr ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got.ID != want.ID || p.UserID != want.ID || !slices.Equal(p.AMR, amr) || p.Event != audit.LoginPasskey {
		t.Fatalf("%s: user %s, proof %+v; want user %s, AMR %v, event %s", what, got.ID, p, want.ID, amr, audit.LoginPasskey)
	}
}

// TestPasskeyOptions: a passkey offer names no credential (the user is
// unknown) and requires user verification.
func TestPasskeyOptions(t *testing.T) {
	e := newEnv(t)
	e.register(e.user("alice@acme.example"), softkey.New(t, rightOrigin))
	o := softkey.ReadOptions(t, e.offer().data)
	if len(o.Allow) != 0 || o.UserVerification != "required" || o.RPID != "id.example.com" {
		t.Fatalf("passkey options %+v; want no allowCredentials, userVerification required, rpId id.example.com", o)
	}
	if _, _, err := e.m.Offer(e.ctx, authflow.Turn{}); err == nil {
		t.Fatal("Offer without a login succeeded")
	}
}

// TestPasskeySignIn: the key found by its credential id signs its user in,
// with hwk (or swk for a backup-eligible passkey) and user.
func TestPasskeySignIn(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.user("alice@acme.example"), e.user("bob@acme.example")
	ka, kb := softkey.New(t, rightOrigin), softkey.New(t, rightOrigin)
	kb.BE = true
	fa := e.register(alice, ka)
	e.register(bob, kb)
	if got := e.factor(fa).Lookup; got != webauthnmfa.LookupOf(ka.ID) {
		t.Fatalf("registered key's lookup %q; want its credential id %q", got, webauthnmfa.LookupOf(ka.ID))
	}
	l := e.offer()
	u, p, err := e.identify(l, ka.Get(l.data))
	passkeyAccepted(t, "alice's passkey", alice, u, p, err, webauthnmfa.AMRHardwareKey, webauthnmfa.AMRUser)
	e.advance(time.Second)
	l = e.offer()
	u, p, err = e.identify(l, kb.Get(l.data))
	passkeyAccepted(t, "bob's synced passkey", bob, u, p, err, webauthnmfa.AMRSoftwareKey, webauthnmfa.AMRUser)
	if e.factor(fa).LastUsedAt.IsZero() {
		t.Error("the passkey's use was not recorded")
	}
}

// TestPasskeyRefusals: every one-time and binding rule of the ceremony.
func TestPasskeyRefusals(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.user("alice@acme.example"), e.user("bob@acme.example")
	ka := softkey.New(t, rightOrigin)
	e.register(alice, ka)
	kb := softkey.New(t, rightOrigin)
	e.register(bob, kb)

	t.Run("replayed response", func(t *testing.T) {
		e.advance(time.Second)
		l := e.offer()
		resp := ka.Get(l.data)
		saved := l.t.State
		_, p, err := e.identify(l, resp)
		passkeyAccepted(t, "first use", alice, alice, p, err, webauthnmfa.AMRHardwareKey, webauthnmfa.AMRUser)
		l.t.State = saved // the same state again: a replay at storage level
		_, _, err = e.identify(l, resp)
		refused(t, "replayed response", alice, err, webauthnmfa.ReasonReplayed, nil)
	})
	t.Run("spent challenge", func(t *testing.T) {
		e.advance(time.Second)
		l := e.offer()
		bad := softkey.New(t, rightOrigin) // no key: refused, challenge spent
		bad.Handle = e.m.UserHandle(alice.ID)
		bad.ID = ka.ID
		_, _, err := e.identify(l, bad.Get(l.data))
		refused(t, "forged signature", alice, err, webauthnmfa.ReasonInvalid, nil)
		_, _, err = e.identify(l, ka.Get(l.data))
		refused(t, "after a spent challenge", storage.User{}, err, webauthnmfa.ReasonNoChallenge, webauthnmfa.ErrExpired)
	})
	t.Run("expired challenge", func(t *testing.T) {
		l := e.offer()
		e.advance(webauthnmfa.CeremonyTTL)
		_, _, err := e.identify(l, ka.Get(l.data))
		refused(t, "expired", storage.User{}, err, webauthnmfa.ReasonExpired, webauthnmfa.ErrExpired)
	})
	t.Run("another login's challenge", func(t *testing.T) {
		e.advance(time.Second)
		mine, other := e.offer(), e.offer()
		_, _, err := e.identify(mine, ka.Get(other.data))
		refused(t, "foreign challenge", alice, err, webauthnmfa.ReasonInvalid, nil)
	})
	t.Run("an mfa ceremony's state", func(t *testing.T) {
		e.advance(time.Second)
		c := e.challenge(e.turn(alice))
		l := &passkeyLogin{t: authflow.Turn{Request: c.t.Request, State: c.t.State}, data: c.data}
		_, _, err := e.identify(l, ka.Get(c.data))
		refused(t, "second-factor state", storage.User{}, err, webauthnmfa.ReasonNoChallenge, nil)
	})
	t.Run("no user verification", func(t *testing.T) {
		e.advance(time.Second)
		ka.UV = false
		defer func() { ka.UV = true }()
		l := e.offer()
		_, _, err := e.identify(l, ka.Get(l.data))
		refused(t, "without UV", alice, err, webauthnmfa.ReasonInvalid, nil)
	})
	t.Run("unknown credential", func(t *testing.T) {
		l := e.offer()
		stranger := softkey.New(t, rightOrigin)
		stranger.Handle = e.m.UserHandle(alice.ID)
		_, _, err := e.identify(l, stranger.Get(l.data))
		refused(t, "unregistered key", storage.User{}, err, webauthnmfa.ReasonUnknownCredential, webauthnmfa.ErrUnknownKey)
	})
	t.Run("another user's handle", func(t *testing.T) {
		e.advance(time.Second)
		ka.Handle = e.m.UserHandle(bob.ID)
		defer func() { ka.Handle = e.m.UserHandle(alice.ID) }()
		l := e.offer()
		_, _, err := e.identify(l, ka.Get(l.data))
		refused(t, "handle of bob on alice's key", alice, err, webauthnmfa.ReasonNoUser, nil)
	})
	t.Run("wrong origin and rp id", func(t *testing.T) {
		for _, c := range []struct{ origin, rpID, reason string }{
			{"https://evil.example", "", webauthnmfa.ReasonWrongOrigin},
			{"", "evil.example", webauthnmfa.ReasonWrongRPID},
		} {
			e.advance(time.Second)
			ka.Origin, ka.RPID = c.origin, c.rpID
			l := e.offer()
			_, _, err := e.identify(l, ka.Get(l.data))
			refused(t, c.reason, alice, err, c.reason, nil)
		}
		ka.Origin, ka.RPID = "", ""
	})
	t.Run("malformed", func(t *testing.T) {
		l := e.offer()
		for _, bad := range []string{"", "{", `{"id":"x"}`, string([]byte{0xff})} {
			_, _, err := e.identify(l, bad)
			refused(t, "malformed "+bad, storage.User{}, err, webauthnmfa.ReasonMalformed, webauthnmfa.ErrRetry)
		}
	})
}

// TestPasskeySignCountRegression: a cloned passkey (its counter behind
// the stored one) fails and flags the key, which then signs no one in.
func TestPasskeySignCountRegression(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice@acme.example")
	a := softkey.New(t, rightOrigin)
	id := e.register(alice, a)
	l := e.offer()
	_, p, err := e.identify(l, a.Get(l.data))
	passkeyAccepted(t, "first", alice, alice, p, err, webauthnmfa.AMRHardwareKey, webauthnmfa.AMRUser)
	e.advance(time.Second)
	l = e.offer()
	o := softkey.ReadOptions(t, l.data)
	_, _, err = e.identify(l, a.Assert(o.Challenge, a.Count-1+0)) // the same counter again: not ahead
	refused(t, "counter not ahead", alice, err, webauthnmfa.ReasonSignCount, nil)
	if !e.record(id).CloneWarning {
		t.Fatal("the key is not flagged")
	}
	e.advance(time.Second)
	l = e.offer()
	_, _, err = e.identify(l, a.Get(l.data))
	refused(t, "flagged key", alice, err, webauthnmfa.ReasonFlagged, webauthnmfa.ErrFlagged)
}

// TestCredentialIDTaken: a credential id belongs to one account: another
// user registering the same id (an authenticator chooses it, so a
// malicious one can copy a victim's) is refused.
func TestCredentialIDTaken(t *testing.T) {
	e := newEnv(t)
	alice, mallory := e.user("alice@acme.example"), e.user("mallory@acme.example")
	a := softkey.New(t, rightOrigin)
	e.register(alice, a)
	copycat := softkey.New(t, rightOrigin)
	copycat.ID = a.ID
	en := e.beginEnrol(mallory, "")
	_, err := e.confirm(en, copycat.Create(en.data))
	refused(t, "a taken credential id", mallory, err, webauthnmfa.ReasonTaken, webauthnmfa.ErrTaken)
	f, err := e.st.FindFactor(e.ctx, webauthnmfa.Name, webauthnmfa.LookupOf(a.ID))
	if err != nil || f.UserID != alice.ID {
		t.Fatalf("the id's factor: %+v, %v; want alice's", f, err)
	}
}

// BenchmarkPasskeySignIn is the method's part of a passkey sign-in on
// SQLite: the offer (a new challenge) and, after the authenticator
// answered outside the timing, locating the key by its credential id and
// checking the signature, the counter and the replay rule, with the write
// of the key's record. Tables: one organization, 100 users with a key
// each.
func BenchmarkPasskeySignIn(b *testing.B) {
	e := newEnv(b)
	var keys []*softkey.Key
	var users []storage.User
	for i := range 100 {
		u := e.user(fmt.Sprintf("user%d@acme.example", i))
		a := softkey.New(b, rightOrigin)
		e.register(u, a)
		keys, users = append(keys, a), append(users, u)
	}
	i := 0
	for b.Loop() {
		e.advance(time.Second)
		k, u := keys[i%len(keys)], users[i%len(users)]
		i++
		l := e.offer()
		b.StopTimer()
		resp := k.Get(l.data)
		b.StartTimer()
		got, p, err := e.identify(l, resp)
		if err != nil || got.ID != u.ID || p.UserID != u.ID {
			b.Fatalf("identify: %v", err)
		}
	}
}
