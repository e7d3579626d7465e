// Package keys owns Gatehouse's signing keys: generating them, sealing the
// private part with the master key before it reaches storage, rotating
// them, and serving the key that signs now and the keys published now.
// Manager has the OIDC keys (KeyUseOIDC rows: RSA-2048 for RS256, P-256
// for ES256, Ed25519 for EdDSA; Signer, PublicKeys). SAMLManager has the
// SAML keys (KeyUseSAML rows: RSA-2048 or 3072, each with a self-signed
// X.509 certificate for the IdP metadata; Signer, Certificates). Both run
// the same machinery (ring.go) over their own rows, so everything below
// holds for each, per use.
//
// # The timeline of a key
//
// Every decision is derived from the rows and the clock, so any number of
// instances sharing one database agree without talking to each other:
//
//   - A key is published from CreatedAt until ExpiresAt (zero: no end).
//   - It may sign from NotBefore until RetireAt (zero: no end).
//   - For each algorithm, the key that signs at time t is the last one, in
//     the order (NotBefore, CreatedAt, ID), that may sign at t and is
//     published at t.
//
// Rotate publishes a new key PublishAhead before it signs and sets the
// previous key's RetireAt to the new key's NotBefore; the previous key stays
// published for TokenLifetime (plus CacheTTL) after that, until every token
// it signed has expired. Because every instance caches the rows for at most
// CacheTTL < PublishAhead, every instance has seen the new key before any
// instance signs with it, and they switch at the same instant.
//
// # Races between instances
//
// Rotations extend a chain: the newest key whose RetireAt is unset is its
// tail. Rotate creates its key, then claims the tail by setting its RetireAt
// in UpdateSigningKey (a row-locked compare-and-set). Of two instances
// rotating at once, one claims; the other deletes its own key, which nobody
// can have signed with yet, and reports the winner's. Ensure, which makes
// keys that sign immediately on a first start, cannot settle a race that
// way: nobody may sign with a key that the others do not publish yet. It
// decides in storage instead (CreateSigningKeysIf, one caller at a time
// per use), so of instances starting together one creates the keys and the
// others find them, and every instance publishes them as soon as its Ensure
// returns. An instance whose cached rows leave an algorithm without a
// signer reads storage again on every use, so that keys another instance's
// Ensure just made (after keys lapsed) are published at once. Duplicates
// left by older versions are retired in favour of the newest by the settle
// step that Ensure and Rotate run after writing.
//
// # Trust in the rows
//
// A row is used (published or signing) only if its sealed private part
// opens under the master key with the associated data "signing_key:"+ID and
// matches its PublicKey and Algorithm; a SAML row's certificate must also
// carry that public key and be signed by that private key. Someone who can
// write to the database but lacks the master key therefore cannot add a key
// to the published set, move a sealed key to another id, or swap a public
// key or certificate.
//
// It must not import protocol libraries (zitadel/oidc, go-jose): idp/oidcop
// adapts Signer and PublicKey, whose fields match its own types so that a
// conversion suffices; the SAML front door consumes SAMLKey and
// SAMLCertificate. It must not touch any other table, and it never logs
// key material.
package keys
