// Package masterkey owns the master key that seals secrets at rest (signing
// keys' private parts, TOTP secrets): loading it, creating it once in dev
// mode, and AES-256-GCM sealing with associated data.
//
// It must not decide what is sealed or store anything but the dev key file;
// callers choose the associated data that binds a ciphertext to its row, so
// a sealed value copied onto another row fails to open.
package masterkey
