package authflow

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Passkeys is the first factor that needs nothing typed: a discoverable
// WebAuthn credential with user verification (idp/mfa/webauthnmfa). The
// login page offers it beside the password; its response names a key,
// whose factor names the user. It proves possession of the key and the
// user's verification by the authenticator (a PIN or a biometric), which
// is two factors: the flow accepts it as a complete multi-factor login.
//
// The method checks responses; the flow decides: whether the key's user
// may sign in, which of their keys count under their organization's
// policy (a passkey of a method the policy no longer allows proves
// nothing), the lockout, and where the login goes next (advance, as for
// every first factor).
type Passkeys interface {
	// PasskeyName is the method's name in forms and the audit log.
	PasskeyName() string
	// Offer starts a ceremony bound to t.Request, which names no user
	// yet: the View's Data is for the page's script, the state the flow
	// keeps with the request. Each offer voids the last one.
	Offer(ctx context.Context, t Turn) (View, []byte, error)
	// Locate returns the confirmed factor the response in in names,
	// without checking the response: a *Failure when it names none, or
	// t.State holds no live ceremony.
	Locate(ctx context.Context, t Turn, in Input) (storage.Factor, error)
	// Identify checks the response against t.State's ceremony and
	// t.Factors (t.User's keys that count). Its Proof must carry
	// AMRUser: user verification is required.
	Identify(ctx context.Context, t Turn, in Input) (Proof, error)
}

// AMRUser is RFC 8176's "user": the authenticator verified its user.
const AMRUser = "user"

// Reasons in the audit log of refused passkey sign-ins.
const (
	// ReasonKeyNotCounting: the key is the user's, but not one that
	// counts now (its method is not allowed by the organization's
	// policy, or it predates the policy's generation).
	ReasonKeyNotCounting = "passkey_not_counting"
	// ReasonNoUserVerification: the response proved possession only.
	ReasonNoUserVerification = "no_user_verification"
)

// offerPasskey adds a passkey offer to out, the login step's outcome,
// when passkeys are registered: the ceremony's state is stored with the
// request, replacing any earlier offer.
func (f *Flow) offerPasskey(ctx context.Context, out Outcome) (Outcome, error) {
	if f.Passkeys == nil || StepOf(out.Request) != StepLogin || Prompted(out.Request, "none") {
		return out, nil
	}
	v, state, err := f.Passkeys.Offer(ctx, Turn{Request: out.Request})
	if err != nil {
		return Outcome{}, fmt.Errorf("authflow: offer a passkey: %w", err)
	}
	next, err := f.update(ctx, out.Request.ID, StepLogin, func(r *storage.AuthRequest) error {
		return writeState(r, flowState{Method: f.Passkeys.PasskeyName(), State: state})
	})
	if err != nil {
		return Outcome{}, err
	}
	out.Request, out.Passkey = next, &v
	return out, nil
}

// submitPasskey is Submit for a passkey's response at the login step.
// The response is a guess at the located user's secrets, reserved with
// the lockout before it is checked, like a password.
func (f *Flow) submitPasskey(ctx context.Context, r storage.AuthRequest, b session.Browser, in Input) (Outcome, error) {
	if StepOf(r) != StepLogin {
		return Outcome{}, ErrOutOfTurn
	}
	p, err := f.party(ctx, r)
	if err != nil {
		return Outcome{}, err
	}
	name := f.Passkeys.PasskeyName()
	st, err := readState(r)
	if err != nil {
		return Outcome{}, err
	}
	t := Turn{Request: r}
	if st.Method == name {
		t.State = st.State
	}
	key, err := f.Passkeys.Locate(ctx, t, in)
	if err != nil {
		return f.refused(ctx, r, p, name, err)
	}
	att, err := f.reserve(ctx, key.UserID, b, nil)
	if err != nil {
		return f.refused(ctx, r, p, name, err)
	}
	u, err := f.proved(ctx, r, Proof{UserID: key.UserID})
	if err != nil {
		// Not yet checked: a refusal for the account's state is no guess.
		att.Released(context.WithoutCancel(ctx))
		return f.refused(ctx, r, p, name, err)
	}
	n, err := f.needsFor(ctx, r, p, u)
	if err != nil {
		att.Released(context.WithoutCancel(ctx))
		return Outcome{}, err
	}
	keys := n.counting[key.Kind]
	if !slices.ContainsFunc(keys, func(k storage.Factor) bool { return k.ID == key.ID }) {
		att.Released(context.WithoutCancel(ctx))
		return f.refused(ctx, r, p, name, &Failure{User: u, Reason: ReasonKeyNotCounting})
	}
	t.User, t.Policy, t.Factors = u, n.policy, keys
	proof, err := f.Passkeys.Identify(ctx, t, in)
	if err == nil && proof.UserID != u.ID {
		err = errors.New("authflow: a passkey proved another user than its key's")
	}
	if err == nil && !slices.Contains(proof.AMR, AMRUser) {
		err = &Failure{User: u, Reason: ReasonNoUserVerification}
	}
	if err != nil {
		settleVerify(ctx, att, err)
		return f.refused(ctx, r, p, name, err)
	}
	// Possession and verification: a multi-factor login, which advance
	// then takes to done without a second-factor step.
	proof.AMR = union(proof.AMR, []string{AMRMFA}, nil)
	var out Outcome
	err = storage.Atomically(ctx, f.Store, func(ctx context.Context) error {
		att.Succeeded(ctx)
		var err error
		out, _, err = f.accept(ctx, r, b, p, name, proof, u)
		return err
	})
	if err != nil {
		return Outcome{}, err
	}
	return out, nil
}
