// Package otpcode is what the methods that send a one-time code (email,
// SMS) share: drawing a code, hashing it bound to a login and a factor,
// reading it back as typed, the per-login state that holds its hash, and
// the check of a typed code against that state.
//
// It owns no wording and no sending: a method maps Check's Verdict to its
// own failure reasons and messages, sends through its own channel and
// counts its own caps (through a Limiter). It must not touch storage,
// decide a login step, count wrong codes toward the account lockout, or
// log a code.
package otpcode
