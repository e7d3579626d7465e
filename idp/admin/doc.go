// Package admin owns administrative actions on organizations and users:
// creating, listing and disabling them, and the first-start bootstrap. The
// CLI calls it in-process; the admin HTTP API will call the same methods, so
// a rule (email normalisation, password policy, session revocation on
// disable, the audit record) exists once.
//
// api.go exposes the same methods as JSON over HTTP for automation; the
// rest of the package must not know about HTTP, render HTML or parse flags.
// It returns *InputError for anything the operator typed wrong, and wrapped
// storage errors otherwise.
package admin
