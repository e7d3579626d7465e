// Package password owns how passwords are hashed, verified and judged:
// argon2id in PHC string form, NFKC normalisation, the length policy, and
// the dummy verification that makes an unknown account cost as much as a
// known one.
//
// It must not know about users, storage or HTTP. Callers decide what a
// failed verification means (lockout, audit); this package only answers
// "does it match" and "should it be re-hashed".
package password
