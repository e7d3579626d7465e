// Package session owns browser SSO sessions: the session cookie and the
// server-side session rows behind it.
//
// The cookie holds only a random session id (130 bits, storage.NewID),
// authenticated and encrypted with gorilla/securecookie under keys derived
// (HKDF-SHA256) from the secret the caller passes in. The row lives in
// storage, keyed by storage.HashSecret(id), so a database leak yields no
// usable cookie and logout, user disable and expiry are real: when the row
// is gone the cookie is worthless.
//
// Rules it enforces:
//   - every login (Create, which idp/authflow calls when a login is done;
//     the page then sets the cookie with SetCookie) issues a new id and
//     deletes the row of whatever id the browser presented before
//     (session fixation defence; a step-up creates one again for the
//     same reason);
//   - an idle expiry that moves with activity (Touch, written at most once
//     a minute) and an absolute expiry that never moves; a session past
//     either is deleted on sight;
//   - storage failures are returned as errors, never turned into "no
//     session", so callers can answer 503 instead of a login page;
//   - the raw id never reaches a log (secretID redacts itself).
//
// It must not render pages, decide what a login requires (idp/authflow
// does), read users or organizations, or log cookies, ids or hashes.
package session
