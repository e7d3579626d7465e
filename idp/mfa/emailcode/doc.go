// Package emailcode is the email second factor ("email"): an
// authflow.Enroller that sends a 6-digit code to one of the user's email
// factors and checks the code typed back, at the mfa step of a login and
// when a user adds an address.
//
// A code lives only in the method's per-login state (authflow.Turn.State,
// which the flow keeps inside the auth request), as a keyed SHA-256 bound
// to the request id and the factor id: it is worth nothing to another
// login, and a new code replaces the old one (a resend voids it). It dies
// after TTL (at most 10 minutes) and after MaxMisses wrong tries. Sends
// are capped per address and per account (and per client network when the
// client's address is known), which stops a page from being used to mail
// someone a flood of codes.
//
// It owns making, sending and checking codes, and the rules on which
// address a user may add (through mfa.EmailAddressAllowed). It must not
// decide whether a second factor is required, which factors count (the
// flow hands it those, Turn.Factors), or when the login is done; it must
// not count wrong codes toward the account lockout (the flow counts every
// *authflow.Failure), render pages, or log a code.
package emailcode
