package webauthnmfa

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Passkey sign-in: the same keys, as a first factor. The login page asks
// the browser for any credential of this relying party (no
// allowCredentials: the user is not known yet), with user verification
// required; the response names its credential, whose factor names the
// user. The flow (authflow.Passkeys) then decides whether that user may
// sign in and which of their keys count, and this method checks the
// response against those, exactly as at the mfa step.

// ceremonyPasskey is a discoverable login ceremony's state kind.
const ceremonyPasskey = "passkey"

// PasskeyName is the first-factor method's name in forms and the audit log.
const PasskeyName = "passkey"

var _ authflow.Passkeys = (*Method)(nil)

// PasskeyName is "passkey" (authflow.Passkeys).
func (m *Method) PasskeyName() string { return PasskeyName }

// LookupOf is a credential id as a factor's Lookup: base64url, unpadded,
// as the browser's rawId encodes it.
func LookupOf(credentialID []byte) string {
	return base64.RawURLEncoding.EncodeToString(credentialID)
}

// Offer starts a passkey ceremony bound to t.Request (no user yet):
// View.Data is the PublicKeyCredentialRequestOptions JSON, with an empty
// allowCredentials and userVerification "required", for
// navigator.credentials.get, modal or conditional. Each offer replaces
// the login's last one.
func (m *Method) Offer(ctx context.Context, t authflow.Turn) (authflow.View, []byte, error) {
	if t.Request.ID == "" {
		return authflow.View{}, nil, errors.New("webauthnmfa: the turn names no login")
	}
	assertion, session, err := m.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return authflow.View{}, nil, fmt.Errorf("webauthnmfa: begin passkey login: %w", err)
	}
	return m.requestView(ceremonyPasskey, assertion, session)
}

// Locate reads the response in in[FieldCredential] and returns the
// confirmed key it names, of whichever user, without checking it: the
// flow needs the user before it can say which keys count. No live passkey
// ceremony in this login, a response that does not read, or a credential
// no confirmed key has, is a *Failure naming no user.
func (m *Method) Locate(ctx context.Context, t authflow.Turn, in authflow.Input) (storage.Factor, error) {
	if t.Request.ID == "" {
		return storage.Factor{}, errors.New("webauthnmfa: the turn names no login")
	}
	anon := authflow.Turn{Request: t.Request, State: t.State}
	if _, err := m.ceremony(anon, ceremonyPasskey, ""); err != nil {
		return storage.Factor{}, err
	}
	parsed, err := m.parseAssertion(ctx, anon, in)
	if err != nil {
		return storage.Factor{}, err
	}
	f, err := m.store.FindFactor(ctx, Name, LookupOf(parsed.RawID))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return storage.Factor{}, failure(anon, ReasonUnknownCredential, ErrUnknownKey)
	case err != nil:
		return storage.Factor{}, fmt.Errorf("webauthnmfa: find the passkey: %w", err)
	case f.Kind != Name || f.ConfirmedAt.IsZero():
		return storage.Factor{}, failure(anon, ReasonUnknownCredential, ErrUnknownKey)
	}
	return f, nil
}

// Identify checks the response in in[FieldCredential] against this
// login's passkey challenge, the issuer's origin and RP ID, user
// verification, and the key among t.Factors (t.User's keys that count)
// it names; the user handle it carries must be t.User's. Then it records
// the key's counter and use, as Verify does. A counter that went
// backwards flags the key and fails with ReasonSignCount.
func (m *Method) Identify(ctx context.Context, t authflow.Turn, in authflow.Input) (authflow.Proof, error) {
	if err := checkTurn(t); err != nil {
		return authflow.Proof{}, err
	}
	s, k, parsed, err := m.readAssertion(ctx, t, ceremonyPasskey, in)
	if err != nil {
		return authflow.Proof{}, err
	}
	if !hmac.Equal(parsed.Response.UserHandle, m.UserHandle(t.User.ID)) {
		// The library would refuse it too; this names why.
		m.refusal(ctx, t, ReasonNoUser, errors.New("the response's user handle is not the key's user's"))
		return authflow.Proof{}, failure(t, ReasonNoUser, nil)
	}
	return m.check(ctx, t, s, k, parsed, func(u *user) (*webauthn.Credential, error) {
		_, c, err := m.wa.ValidatePasskeyLogin(func(_, handle []byte) (webauthn.User, error) {
			if !hmac.Equal(handle, u.handle) {
				return nil, errors.New("user handle mismatch")
			}
			return u, nil
		}, s.Session, parsed)
		return c, err
	}, audit.LoginPasskey)
}

// parseAssertion reads in[FieldCredential] as an assertion response.
func (m *Method) parseAssertion(ctx context.Context, t authflow.Turn, in authflow.Input) (*protocol.ParsedCredentialAssertionData, error) {
	raw, err := input(t, in)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(raw)
	if err != nil {
		m.refusal(ctx, t, ReasonMalformed, err)
		return nil, failure(t, ReasonMalformed, ErrRetry)
	}
	return parsed, nil
}
