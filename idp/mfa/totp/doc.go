// Package totp owns the time-based one-time password of RFC 6238 as
// Gatehouse uses it: SHA-1, 6 digits, 30-second steps, ±1 step of skew,
// 160-bit secrets. It makes an enrolment (the secret, the otpauth:// URI,
// the secret grouped for typing and the QR code as a PNG), computes and
// matches codes against an injected time, parses a code as a person types
// it, and seals a secret with the master key bound to its factor and user.
//
// It is a pure library: it must not store anything, speak HTTP, log, or
// decide a login. In particular it does not decide replay: Match returns
// the step a code matched, and the caller (storage, atomically) refuses
// any step at or below the credential's last used one. pquerna/otp's own
// Validate accepts ±1 step and remembers nothing, so it is not used;
// neither is its Generate, whose URI leaves "&", "+" and ":" in the issuer
// and account unescaped.
package totp
