// Package selfservice owns what a user does about their own password and
// second factors without an administrator: the set-password links (forgot
// password, welcome invites, administrator-sent resets), setting a
// password from such a link, changing it with the current one, and, at
// /me, adding, resetting and removing second factors and making new
// recovery codes.
//
// Rules it enforces:
//   - a link carries 256 random bits, is stored hashed (storage.HashSecret),
//     is bounded in time (ResetTTL, InviteTTL), is voided by a newer link
//     of its kind, and is consumed only by the POST that sets a valid
//     password: opening it (mail scanners do) consumes nothing;
//   - links are built from the configured issuer, never from a request;
//   - a request for a link answers the same for every address, existing
//     or not, active or not, in the same time (AnswerFloor) and, when the
//     mail server is down, with the same failure (the unknown address
//     probes the mail server the known one would have used);
//   - sends are rate-limited per address and per client IP;
//   - setting a password from a link verifies the email, activates an
//     invited account, ends every session and revokes every token, and
//     sends a notice; it is never a login: the next login asks for the
//     password and every factor the policy asks;
//   - changing a password needs the current one, whose failures count
//     toward the account's lockout like any other secret;
//   - a second factor added at /me is usable only once its first code is
//     confirmed, and a wrong code counts toward the lockout; a reset
//     replaces an authenticator app only once the new one is confirmed,
//     so an abandoned reset leaves the old one working; an email code is
//     bound to its enrolment (its state lives in the pending factor);
//   - what the organization's policy allows is idp/mfa's rules: a method
//     it does not allow is not offered, and the last factor that counts
//     cannot be removed while it requires MFA; removing the last factor
//     removes the recovery codes, and a first factor comes with a set;
//   - every change to the second factors, at /me or at a login
//     (FactorAdded, authflow.Notices), is audited and mailed to the
//     account's address after it committed; a mail failure is logged and
//     never fails the change.
//
// It must not render pages or read requests (ui does), decide a login
// step (idp/authflow does), or start sessions. It must not make, seal,
// send or check second-factor secrets itself: the methods (idp/mfa/...)
// do, for /me as for the login. The recent sign-in a change needs is the
// pages' to ask for (ui).
package selfservice
