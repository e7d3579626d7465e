package authflow_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/lockout"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// fakePasskeys is passkey sign-in without cryptography: an offer's state
// is its challenge ("c1", "c2", ...); a response is "FACTOR_ID:CHALLENGE"
// and proves the factor's user when the challenge is the login's live one
// and the factor is among those the flow hands Identify. "…:nouv" proves
// possession without user verification; a response ending ":bad" is a
// wrong signature.
type fakePasskeys struct {
	st        storage.Factors
	offers    int
	identifed int
}

const passkey = "passkey"
const keyKind = otp // the fake second factor's kind stands for webauthn

var _ authflow.Passkeys = (*fakePasskeys)(nil)

func (p *fakePasskeys) PasskeyName() string { return passkey }

func (p *fakePasskeys) Offer(_ context.Context, t authflow.Turn) (authflow.View, []byte, error) {
	p.offers++
	c := fmt.Sprintf("c%d", p.offers)
	return authflow.View{Data: []byte(`{"challenge":"` + c + `"}`)}, []byte(`"` + c + `"`), nil
}

func (p *fakePasskeys) Locate(ctx context.Context, t authflow.Turn, in authflow.Input) (storage.Factor, error) {
	id, challenge, _ := strings.Cut(in["credential"], ":")
	if string(t.State) != `"`+strings.TrimSuffix(strings.TrimSuffix(challenge, ":nouv"), ":bad")+`"` {
		return storage.Factor{}, &authflow.Failure{Reason: "no_challenge"}
	}
	f, err := p.st.GetFactor(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Factor{}, &authflow.Failure{Reason: "unknown_credential"}
	}
	return f, err
}

func (p *fakePasskeys) Identify(_ context.Context, t authflow.Turn, in authflow.Input) (authflow.Proof, error) {
	p.identifed++
	id, _, _ := strings.Cut(in["credential"], ":")
	if strings.HasSuffix(in["credential"], ":bad") || !slices.ContainsFunc(t.Factors, func(f storage.Factor) bool { return f.ID == id }) {
		return authflow.Proof{}, &authflow.Failure{User: t.User, Reason: "invalid_credential"}
	}
	amr := []string{"hwk", authflow.AMRUser}
	if strings.HasSuffix(in["credential"], ":nouv") {
		amr = amr[:1]
	}
	return authflow.Proof{UserID: t.User.ID, AMR: amr, Event: "login.passkey_ok"}, nil
}

func passkeyEnv(t *testing.T) (*env, *fakePasskeys) {
	e := newEnv(t)
	p := &fakePasskeys{st: e.st}
	e.flow.Passkeys = p
	return e, p
}

// offered is the login page's outcome for a new request, with its
// passkey offer's challenge.
func offered(t *testing.T, e *env, mod func(*storage.AuthRequest)) (storage.AuthRequest, string) {
	t.Helper()
	r := e.begin(mod)
	out, err := e.flow.Next(e.ctx, r.ID, e.browser())
	if err != nil || out.Action != authflow.Challenge || out.Passkey == nil {
		t.Fatalf("Next: %v passkey %v, %v; want the login form with a passkey offer", out.Action, out.Passkey, err)
	}
	var c string
	if _, err := fmt.Sscanf(string(out.Passkey.Data), `{"challenge":"%2s"}`, &c); err != nil {
		t.Fatalf("offer %s: %v", out.Passkey.Data, err)
	}
	return out.Request, c
}

func (e *env) submitPasskey(id, response string) (authflow.Outcome, error) {
	return e.flow.Submit(e.ctx, id, e.browser(), passkey, authflow.Input{"credential": response})
}

// TestPasskeySignIn: a verified passkey is a whole multi-factor login,
// even for a user whose organization requires a second factor and who
// has never typed a password.
func TestPasskeySignIn(t *testing.T) {
	e, _ := passkeyEnv(t)
	u := e.user("alice@acme.example", "", func(u *storage.User) { u.OrgID = e.mfaOrg.ID })
	key := e.factor(u, keyKind)
	r, c := offered(t, e, nil)
	out, err := e.submitPasskey(r.ID, key.ID+":"+c)
	if err != nil || out.Action != authflow.Continue || out.Session == nil {
		t.Fatalf("passkey: %v %v, %v; want Continue with a session", out.Action, out.Failure, err)
	}
	got := e.stored(r.ID)
	if got.UserID != u.ID || !slices.Equal(got.AMR, []string{"hwk", "user", "mfa"}) || authflow.ACR(got.AMR) != authflow.ACRMFA {
		t.Fatalf("request: user %s amr %v; want %s, [hwk user mfa], acr mfa", got.UserID, got.AMR, u.ID)
	}
	if n := len(e.events("login.passkey_ok")); n != 1 {
		t.Errorf("%d passkey audit events; want 1", n)
	}
	if e.storedUser(u.ID).LastLoginAt.IsZero() {
		t.Error("last login not recorded")
	}
}

// TestPasskeyOffer: the offer is bound to its request and renewed on
// every page, so an older offer's response fails; a passive request gets
// none; a password failure's form offers a new one.
func TestPasskeyOffer(t *testing.T) {
	e, _ := passkeyEnv(t)
	u := e.user("alice@acme.example", goodPW, nil)
	key := e.factor(u, keyKind)
	r, old := offered(t, e, nil)
	out, err := e.flow.Next(e.ctx, r.ID, e.browser())
	if err != nil || out.Passkey == nil {
		t.Fatalf("second Next: %v", err)
	}
	before := e.stored(r.ID)
	out, err = e.submitPasskey(r.ID, key.ID+":"+old)
	if err != nil || out.Action != authflow.Challenge || !errors.Is(out.Failure, authflow.ErrInvalidCredentials) || out.Passkey == nil {
		t.Fatalf("older offer: %v %v passkey %v, %v; want the login form, the generic failure and a new offer", out.Action, out.Failure, out.Passkey, err)
	}
	if after := e.stored(r.ID); after.UserID != "" || after.Step != before.Step {
		t.Fatalf("after a refused passkey the request is %+v", after)
	}
	// Another request's live offer does not serve this one.
	r2, c2 := offered(t, e, nil)
	if out, err := e.submitPasskey(r.ID, key.ID+":"+c2); err != nil || out.Action != authflow.Challenge || out.Failure == nil {
		t.Fatalf("another request's challenge: %v %v, %v", out.Action, out.Failure, err)
	}
	_ = r2
	out, err = e.submitPW(r.ID, u.Email, "wrong")
	if err != nil || out.Passkey == nil || out.Failure == nil {
		t.Fatalf("wrong password: passkey %v failure %v, %v; want a new offer beside the failure", out.Passkey, out.Failure, err)
	}
	passive := e.begin(func(r *storage.AuthRequest) { r.Prompt = []string{"none"} })
	out, err = e.flow.Next(e.ctx, passive.ID, e.browser())
	if err != nil || out.Action != authflow.LoginRequired || out.Passkey != nil {
		t.Fatalf("prompt=none: %v passkey %v, %v", out.Action, out.Passkey, err)
	}
}

// TestPasskeyRefusals: what the flow decides about the key's user.
func TestPasskeyRefusals(t *testing.T) {
	tests := []struct {
		name   string
		user   func(*storage.User)
		policy *storage.MFAPolicy
		resp   func(key storage.Factor, c string) string
		reason string
		// identified: the method was asked to check the response.
		identified bool
	}{
		{name: "disabled user", user: func(u *storage.User) { u.State = storage.UserDisabled }, reason: "state_disabled"},
		{name: "locked user", user: func(u *storage.User) { u.LockedUntil = t0.Add(time.Hour) }, reason: "locked"},
		{name: "key of a method the policy does not allow", policy: &storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp"}},
			reason: authflow.ReasonKeyNotCounting},
		{name: "key older than the policy's generation", policy: &storage.MFAPolicy{Required: true, Since: t0.Add(time.Minute)},
			reason: authflow.ReasonKeyNotCounting},
		{name: "wrong signature", resp: func(k storage.Factor, c string) string { return k.ID + ":" + c + ":bad" },
			reason: "invalid_credential", identified: true},
		{name: "no user verification", resp: func(k storage.Factor, c string) string { return k.ID + ":" + c + ":nouv" },
			reason: authflow.ReasonNoUserVerification, identified: true},
		{name: "unknown key", resp: func(_ storage.Factor, c string) string { return "f-none:" + c }, reason: "unknown_credential"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, p := passkeyEnv(t)
			if tc.policy != nil {
				e.setPolicy(*tc.policy)
			}
			u := e.user("alice@acme.example", goodPW, tc.user)
			key := e.factor(u, keyKind)
			r, c := offered(t, e, nil)
			resp := key.ID + ":" + c
			if tc.resp != nil {
				resp = tc.resp(key, c)
			}
			out, err := e.submitPasskey(r.ID, resp)
			if err != nil || out.Action != authflow.Challenge || !errors.Is(out.Failure, authflow.ErrInvalidCredentials) || out.Session != nil {
				t.Fatalf("outcome %v failure %v session %v, err %v; want the login form with the generic failure", out.Action, out.Failure, out.Session, err)
			}
			if got := e.stored(r.ID); got.UserID != "" || got.Step != "login" {
				t.Fatalf("request moved: %+v", got)
			}
			if (p.identifed > 0) != tc.identified {
				t.Errorf("Identify called %d times; want called: %v", p.identifed, tc.identified)
			}
			evs := e.events("login.failed")
			if len(evs) != 1 || evs[0].Details["reason"] != tc.reason || evs[0].Details["method"] != passkey {
				t.Fatalf("failure events %+v; want one, reason %q, method passkey", evs, tc.reason)
			}
		})
	}
}

// TestPasskeyLockout: a refused passkey is a guess at its user's secrets
// like a wrong password; once locked, not even the right passkey gets in.
func TestPasskeyLockout(t *testing.T) {
	e, p := passkeyEnv(t)
	withLockout(e, 2, 100)
	u := e.user("alice@acme.example", goodPW, nil)
	key := e.factor(u, keyKind)
	for i := range 2 {
		r, c := offered(t, e, nil)
		if out, err := e.submitPasskey(r.ID, key.ID+":"+c+":bad"); err != nil || out.Failure == nil {
			t.Fatalf("bad passkey %d: %v, %v", i, out.Failure, err)
		}
	}
	if lu := e.storedUser(u.ID).LockedUntil; !lu.After(*e.now) {
		t.Fatalf("after two refused passkeys the account is not locked (until %s)", lu)
	}
	p.identifed = 0
	r, c := offered(t, e, nil)
	out, err := e.submitPasskey(r.ID, key.ID+":"+c)
	if err != nil || out.Action != authflow.Challenge || out.Failure == nil || p.identifed != 0 {
		t.Fatalf("right passkey while locked: %v %v, %v, identified %d; want refused unchecked", out.Action, out.Failure, err, p.identifed)
	}
	_ = lockout.ErrLocked
}

// TestPasskeyOutOfTurn: a passkey answers the login step only.
func TestPasskeyOutOfTurn(t *testing.T) {
	e, _ := passkeyEnv(t)
	u := e.user("alice@acme.example", goodPW, func(u *storage.User) { u.OrgID = e.mfaOrg.ID })
	key := e.factor(u, keyKind)
	r, c := offered(t, e, nil)
	if out, err := e.submitPW(r.ID, u.Email, goodPW); err != nil || out.Action != authflow.Challenge || out.Method != otp {
		t.Fatalf("password: %v %q, %v; want the mfa step", out.Action, out.Method, err)
	}
	if _, err := e.submitPasskey(r.ID, key.ID+":"+c); !errors.Is(err, authflow.ErrOutOfTurn) {
		t.Fatalf("passkey at the mfa step: %v; want ErrOutOfTurn", err)
	}
}

// TestPasskeyOfferVoidAfterLogin: once a password proved the user, the
// login step's offer is gone from the request.
func TestPasskeyOfferVoidAfterLogin(t *testing.T) {
	e, _ := passkeyEnv(t)
	u := e.user("alice@acme.example", goodPW, nil)
	r, _ := offered(t, e, nil)
	if len(e.stored(r.ID).FlowData) == 0 {
		t.Fatal("the offer is not stored with the request")
	}
	if out, err := e.submitPW(r.ID, u.Email, goodPW); err != nil || out.Action != authflow.Continue {
		t.Fatalf("password: %v, %v", out.Action, err)
	}
	if d := e.stored(r.ID).FlowData; len(d) != 0 {
		t.Fatalf("after the password the request still holds %s", d)
	}
}
