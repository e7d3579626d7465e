// Package otpcode is what the methods that send a one-time code
// (idp/mfa/emailcode, idp/mfa/smscode) share: drawing a code, hashing it
// bound to a login and a factor, reading it back as typed, the per-login
// state that holds its hash, the check of a typed code against that state
// (Code.Verify, a *authflow.Failure in the method's Words), whether a
// showing sends (Shown), recording a factor's use or confirmation, and
// counting a send under a list of caps.
//
// It owns no wording and no sending: a method brings its Words, sends
// through its own channel and chooses its own caps and their keys. It must not touch storage,
// decide a login step, count wrong codes toward the account lockout, or
// log a code.
package otpcode
