// Package password owns how passwords are hashed, verified and judged:
// argon2id in PHC string form, NFKC normalisation, the dummy verification
// that makes an unknown account cost as much as a known one, and the
// password policy: minimum length, the embedded common-password list, the
// optional breached-password check (through a Breacher; package pwned
// speaks to Have I Been Pwned), maximum and minimum age, and how an
// organization's stored overrides combine with the server defaults
// (Policy.WithOrg, Policies).
//
// It must not know about users, sessions or HTTP, and reads storage only
// for an organization's policy. Callers decide what a failed verification
// means (lockout, audit); this package only answers "does it match",
// "should it be re-hashed" and "may this be the new password".
package password
