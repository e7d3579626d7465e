// Package webauthnmfa is the security-key second factor ("webauthn"): an
// authflow.Enroller built on github.com/go-webauthn/webauthn. At the mfa
// step it asks the browser for an assertion by one of the keys the flow
// says count (allowCredentials) and checks it; at enrolment it asks the
// browser to create a credential and stores it in a pending factor, which
// it confirms once the attestation checks out.
//
// The relying party is the issuer itself: the RP ID is the issuer's host
// (no port) and the only origin accepted is the issuer's origin, exactly;
// an issuer on an IP address is refused at construction, since WebAuthn
// has no RP ID for one. A ceremony's challenge lives only in the method's
// per-login state (authflow.Turn.State, kept by the flow inside the auth
// request): it is bound to that login, lives CeremonyTTL and is spent by
// the first finish attempt, right or wrong. A signature counter that goes
// backwards (go-webauthn's CloneWarning, which it only flags) fails the
// login with ReasonSignCount and flags the factor, which then proves
// nothing more; the flow audits the failure.
//
// It owns the ceremonies, the credential record in Factor.Data and the
// user handle. It must not decide whether a second factor is required,
// which factors count (Turn.Factors) or when the login is done; it must
// not count failures toward the lockout (the flow counts every
// *authflow.Failure), render pages or carry the page script: the page
// passes View.Data to navigator.credentials and posts the result as
// FieldCredential.
//
// The same keys sign users in without a password (passkey.go,
// authflow.Passkeys): Offer asks for any credential of this relying party
// with user verification required, Locate finds the key by its credential
// id (the factor's Lookup, unique per kind, so an id belongs to one
// account) and Identify checks the response against the keys the flow
// says count for that key's user, with the user handle bound to them.
// Whether that user may sign in, and where the login goes, is the flow's.
package webauthnmfa
