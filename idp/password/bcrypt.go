package password

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Imported bcrypt hashes ($2a$, $2b$, $2y$: what other IdPs and most web
// frameworks store) verify, so a team can move to Gatehouse without a
// password reset for everyone; a match always asks for a re-hash, so each
// account moves to argon2id at its next successful login.

// maxBcryptCost bounds a stored cost: each step doubles the work, and a
// tampered row must not make one verification take minutes. Real
// deployments use 10 to 12.
const maxBcryptCost = 14

// bcryptMaxInput is what bcrypt reads of a password; the implementations
// that made imported hashes (OpenBSD, PHP, Spring) ignore the rest.
const bcryptMaxInput = 72

func isBcrypt(encoded string) bool {
	return strings.HasPrefix(encoded, "$2a$") || strings.HasPrefix(encoded, "$2b$") || strings.HasPrefix(encoded, "$2y$")
}

// CheckImported reports whether encoded is a hash Gatehouse can verify:
// an argon2id PHC string or a bcrypt hash within the cost bound.
func CheckImported(encoded string) error {
	if isBcrypt(encoded) {
		_, err := bcryptCost(encoded)
		return err
	}
	_, _, _, err := decode(encoded)
	return err
}

func bcryptCost(encoded string) (int, error) {
	cost, err := bcrypt.Cost([]byte(encoded))
	if err != nil {
		return 0, fmt.Errorf("%w: bcrypt: %v", ErrMalformedHash, err)
	}
	if cost > maxBcryptCost {
		return 0, fmt.Errorf("%w: bcrypt cost %d is above %d", ErrMalformedHash, cost, maxBcryptCost)
	}
	return cost, nil
}

// verifyBcrypt checks pw as it was typed (the other system hashed it that
// way) and, when NFKC changes it, in Gatehouse's normal form as well. It
// takes a hashing slot like argon2id does.
func (h *Hasher) verifyBcrypt(ctx context.Context, encoded, pw string) (ok, rehash bool, err error) {
	if _, err := bcryptCost(encoded); err != nil {
		return false, false, err
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return false, false, fmt.Errorf("password: waiting to hash: %w", ctx.Err())
	}
	defer func() { <-h.sem }()
	candidates := []string{pw}
	if n := Normalize(pw); n != pw {
		candidates = append(candidates, n)
	}
	for _, c := range candidates {
		if len(c) > bcryptMaxInput {
			c = c[:bcryptMaxInput]
		}
		switch err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(c)); {
		case err == nil:
			return true, true, nil
		case !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, false, fmt.Errorf("%w: bcrypt: %v", ErrMalformedHash, err)
		}
	}
	return false, false, nil
}
