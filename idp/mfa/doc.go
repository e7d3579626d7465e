// Package mfa owns what a second factor is, apart from any one method: the
// contract every method implements (Method: begin and confirm an
// enrolment, begin a challenge, verify, remove) and the organization
// policy's rules on factors (which methods are allowed, which factors and
// skips count in the policy's current generation). Its subpackages are the
// methods: totp and totplogin (authenticator apps), emailcode (codes sent
// by email), smscode (codes sent by text message), recovery (one-time
// recovery codes), with otpcode what the two sent-code methods share;
// WebAuthn follows on the same contract.
//
// The rules here are pure functions of stored state, used by idp/authflow
// (which decides the login's steps from them), idp/selfservice (what a
// user may add or remove at /me) and idp/admin (what a policy change
// does). This package must not decide a login step, send anything, or
// touch storage itself; methods must not decide whether a second factor
// is required or whether the login is done: idp/authflow does.
package mfa
