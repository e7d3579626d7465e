// Package authflow owns the login state machine: every login, whatever
// front door started it (OIDC, SAML, the console), is one storage.AuthRequest
// that moves identify+password → mfa → done. The server decides the next
// step from the stored row; each operation checks that its step is the
// current one and refuses to run out of turn. This is the one place where
// the second factor is enforced, so no URL parameter, Back button, front
// door or federation path can skip it.
//
// It must not render pages, set cookies or speak a protocol: ui handles the
// browser, idp/session the cookie, idp/oidcop and idp/samlidp the protocols.
// Errors that reach a user are the generic sentinels below; the detail goes
// to the audit log.
package authflow
