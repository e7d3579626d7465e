// Package passwordlogin is the local password back door: an
// authflow.Method that identifies a user by email and proves them by
// password. It owns the order of that check (look up, verify or pay for a
// dummy verification, re-hash after an accepted login), so that neither
// the answer nor its timing tells whether an account exists.
//
// It must not decide anything after the check: whether the user may sign
// in (disabled, locked), whether a second factor follows and when the
// login is done are idp/authflow's. Hashing itself is idp/password's.
package passwordlogin
