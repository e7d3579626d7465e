// Package totplogin is the authenticator-app method of the second-factor
// steps ("totp"), an authflow.Enroller. At mfa it checks a TOTP code
// against the factors the flow says count and records the matched time
// step, so that a code is accepted once (storage refuses a step at or
// below the last used one, atomically, so of two concurrent submissions of
// one code exactly one wins, in the same login or another). At enrol it
// makes a new secret (idp/mfa/totp: ≥ 160 bits, sealed with the master
// key) in a pending factor, shows it as a QR code and grouped text, and
// confirms it with its first code, spending that code's step.
//
// It must not render pages, count guesses or decide steps: whether a
// second factor is required, which factors count, which method is offered
// and when the login is done are idp/authflow's, which also counts every
// wrong code toward the account's lockout. Code arithmetic, QR codes and
// sealing are idp/mfa/totp's.
package totplogin
