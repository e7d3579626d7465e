// Package passwordlogin is the local password back door: an
// authflow.Method that identifies a user by email and proves them by
// password. It owns the order of that check (look up, verify or pay for a
// dummy verification, re-hash after an accepted login), so that neither
// the answer nor its timing tells whether an account exists. As an
// authflow.Guarded method it also names the account a submission is
// against and pays for a decoy check, so the flow can count a guess
// before it is checked and refuse it unchecked, at the same cost.
//
// It must not decide anything after the check: whether the user may sign
// in (disabled, locked), whether a second factor follows and when the
// login is done are idp/authflow's. Hashing itself is idp/password's.
package passwordlogin
