package webauthnmfa_test

import (
	"errors"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/webauthnmfa"
	"github.com/gatehouse-idp/gatehouse/internal/softkey"
)

// FuzzCredential: whatever a page posts as the credential, every step that
// reads one (registration, the second factor, passkey sign-in) answers a
// *Failure, the user's error, never another error (the flow's outage, a
// 5xx) and never a panic; a passkey answer never locates another user's
// key. The seeds are real answers, so that mutations reach deep into the
// parsers.
func FuzzCredential(f *testing.F) {
	e := newEnv(f)
	u := e.user("alice@example.com")
	key := softkey.New(f, rightOrigin)
	e.register(u, key)
	en := e.beginEnrol(u, "fuzz")
	l := e.challenge(e.turn(u))
	p := e.offer()
	other := softkey.New(f, rightOrigin)
	id := e.turn(u) // the flow's turn after Locate
	id.Request, id.State = p.t.Request, p.t.State
	for _, seed := range []string{
		other.Create(en.data), key.Get(l.data), key.Get(p.data), "", "{}", "null", "[]", `"x"`,
		`{"id":"AA","rawId":"AA","type":"public-key","response":{}}`,
		`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		in := authflow.Input{webauthnmfa.FieldCredential: v}
		check := func(step string, err error) {
			t.Helper()
			var fail *authflow.Failure
			if err != nil && !errors.As(err, &fail) {
				t.Fatalf("%s: %q: not a Failure: %v", step, v, err)
			}
		}
		// The states are the originals every time: each input answers
		// a live ceremony.
		_, err := e.m.ConfirmEnrol(e.ctx, en.t, en.f, in)
		check("registration", err)
		_, err = e.m.Verify(e.ctx, l.t, in)
		check("second factor", err)
		k, err := e.m.Locate(e.ctx, p.t, in)
		check("passkey: locate", err)
		if err == nil {
			if k.UserID != u.ID {
				t.Fatalf("%q located another user's key", v)
			}
			_, err = e.m.Identify(e.ctx, id, in)
			check("passkey: identify", err)
		}
	})
}
