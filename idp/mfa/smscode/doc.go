// Package smscode is the SMS second factor ("sms"): an authflow.Enroller
// that texts a 6-digit code to one of the user's phone numbers and checks
// the code typed back, at the mfa step of a login and when a user adds a
// number.
//
// A code lives only in the method's per-login state (an otpcode.State in
// authflow.Turn.State), as a keyed hash bound to the request id and the
// factor id: it is worth nothing to another login, and a new code replaces
// the old one (a resend voids it). It dies after TTL (at most 10 minutes)
// and after MaxMisses wrong tries, and a page shown again never sends a
// new one by itself. Sends are capped per number, per account, per client
// network and per organization, and go only to the countries the operator
// allows: text messages cost money, and a sign-in page that texts any
// number on demand is what SMS pumping fraud looks for.
//
// The message names the organization and the purpose, and ends with the
// origin-bound line ("@id.example.com #123456") that lets a phone offer
// the code to the sign-in page, and to no other site.
//
// It owns making, sending and checking codes and which numbers a user may
// add. It must not decide whether a second factor is required, which
// factors count (the flow hands it those, Turn.Factors), or when the login
// is done; it must not count wrong codes toward the account lockout (the
// flow counts every *authflow.Failure), render pages, or log a code.
package smscode
