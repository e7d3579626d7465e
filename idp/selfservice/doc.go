// Package selfservice owns what a user does about their own password
// without an administrator: the set-password links (forgot password,
// welcome invites, administrator-sent resets), setting a password from
// such a link, and changing it with the current one.
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
//     toward the account's lockout like any other secret.
//
// It must not render pages or read requests (ui does), decide a login
// step (idp/authflow does), or start sessions.
package selfservice
