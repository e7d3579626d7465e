package clients

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

const (
	// SecretBytes is the entropy of a generated secret: 256 bits, so an
	// unsalted SHA-256 at rest (storage.HashSecret) is as strong as the
	// secret itself.
	SecretBytes = 32
	// MinSecretLen is the floor for a secret an operator supplies. 32
	// characters of anything printable is not 256 bits, but it rules out
	// passwords-as-secrets, which a fast hash would not protect.
	MinSecretLen = 32
	// maxSecretLen bounds what we hash per request.
	maxSecretLen = 1024
)

// The secret rules that depend on the client's kind. errSecretRequired
// names the config file's keys: only a declared client can lack a secret
// it needs.
var (
	errPublicSecret   = errors.New("a public client has no secret: remove it, or set public: false")
	errSecretRequired = errors.New("required for a confidential client: set secret or secret_file " +
		"(e.g. openssl rand -base64 32), or set public: true")
)

// NewSecret returns SecretBytes from crypto/rand, base64url without
// padding (43 characters).
func NewSecret() string {
	b := make([]byte, SecretBytes)
	// crypto/rand.Read never fails (it crashes the program instead).
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CheckSecret checks a secret an operator supplies, for a new client or a
// rotation: MinSecretLen to 1024 characters, none of them a control
// character. The error is a *FieldError on "secret" and never quotes the
// secret.
func CheckSecret(secret string) error {
	if len(secret) < MinSecretLen {
		return fieldErr("secret", "must be at least %d characters, got %d", MinSecretLen, len(secret))
	}
	if len(secret) > maxSecretLen {
		return fieldErr("secret", "must be at most %d characters", maxSecretLen)
	}
	for _, r := range secret {
		if r < ' ' || r == 0x7f {
			return fieldErr("secret", "must not contain control characters")
		}
	}
	return nil
}

// CheckDeclaredSecret is the secret rule for a client declared ahead of
// time (the config file), as DeclaredClient applies it: a public client
// has none, a confidential one supplies one, and a supplied one passes
// CheckSecret. inFile says the secret is named by a file not read yet, so
// only its presence can be checked.
func CheckDeclaredSecret(public bool, secret string, inFile bool) error {
	return secretProblem(public, secret != "" || inFile, true, secret)
}

// secretProblem ties a client's secret to its kind. present says a secret
// is supplied, secret is its value when known; required says a
// confidential client must supply one rather than have one generated.
// A public client's secret is one problem, not two: its length does not
// matter when it must go.
func secretProblem(public, present, required bool, secret string) error {
	switch {
	case public && present:
		return &FieldError{Field: "secret", Err: errPublicSecret}
	case !public && !present && required:
		return &FieldError{Field: "secret", Err: errSecretRequired}
	case secret != "":
		return CheckSecret(secret)
	}
	return nil
}

// dummySecretHash stands in for the hash of a client that has none (public
// or unknown), so VerifySecret does the same work either way.
var dummySecretHash = storage.HashSecret("gatehouse: no client secret; this value is never accepted")

// VerifySecret reports whether secret is c's client secret. It costs one
// SHA-256 and one constant-time compare whatever c is: a confidential
// client, a public client, or the zero Client the token endpoint passes for
// an unknown client id. That way the response time does not tell an
// attacker whether a client id exists, and the endpoint never pays for a
// password hash (client secrets are 256-bit random, so a fast hash is
// right). Public clients and empty secrets never verify.
func VerifySecret(c storage.Client, secret string) bool {
	stored, usable := c.SecretHash, !c.Public && c.SecretHash != "" && secret != ""
	if stored == "" {
		stored = dummySecretHash
	}
	got := storage.HashSecret(secret)
	match := subtle.ConstantTimeCompare([]byte(got), []byte(stored)) == 1
	return match && usable
}
