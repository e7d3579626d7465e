// Package lockout counts failed guesses at every guessable secret (a
// password now; TOTP, SMS, email and recovery codes, the current password
// on /me next) and refuses further guesses: per account, a temporary lock
// after MaxFailures consecutive failures, which ends by itself after
// Duration; per client network, a sliding window (IPMaxFailures per
// IPWindow) that slows password spraying across many accounts without
// locking any of them.
//
// It owns the counting: the keys, the reservation protocol and the lock
// (User.LockedUntil mirrors it, so admin views and User.MaySignIn see
// it). Counters live in storage (storage.Attempts), so every instance on
// one database shares them, and each reservation is one atomic step: a
// guess is counted before the secret is evaluated, so N concurrent
// guesses against a limit of n evaluate at most n secrets.
//
// It must not decide a login: idp/authflow calls Reserve before a Method
// verifies and settles the Attempt with what the verification said. It
// checks no secret itself, renders nothing and never tells a caller more
// than ErrLocked, ErrThrottled or an outage; what the user sees is the
// flow's.
//
// Window is the sliding-window counter on its own, for other caps (email
// and SMS sends per address and per network).
package lockout
