// Package totplogin is the authenticator-app back door at the mfa step: an
// authflow.Method ("totp") that checks a TOTP code against the confirmed
// TOTP factors of the user the request already names, and records the
// matched time step so that a code is accepted once (storage refuses a
// step at or below the last used one, atomically, so of two concurrent
// submissions of one code exactly one wins). As an authflow.Guarded method
// it names that user, so the flow counts wrong codes toward the account's
// lockout; as an authflow.Usable one it tells the flow whether the user
// has an app to ask for.
//
// It owns checking a code at the mfa step and nothing else: it must not
// enrol or confirm factors (idp/mfa/totp makes enrolments; self-service
// confirms them), render pages, or decide steps: whether a second factor
// is required, which one is offered and when the login is done are
// idp/authflow's. Code arithmetic and sealing are idp/mfa/totp's.
package totplogin
