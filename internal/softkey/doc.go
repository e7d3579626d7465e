// Package softkey is a software WebAuthn authenticator for tests: it
// answers creation and request options with the JSON a page script posts
// (attestation "none", ECDSA P-256 assertions), and exposes the knobs the
// security tests turn (origin, RP ID, counter, UV and BE flags, user
// handle). It owns no production code path and must not be imported by
// one.
package softkey
