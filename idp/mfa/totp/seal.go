package totp

import (
	"errors"
	"fmt"
	"strconv"
)

// Sealer encrypts with associated data; *masterkey.Key is one.
type Sealer interface {
	Seal(plaintext, ad []byte) ([]byte, error)
	Open(sealed, ad []byte) ([]byte, error)
}

// ErrBinding: a factor id or user id is empty, so a sealed secret would
// be bound to nothing in particular.
var ErrBinding = errors.New("totp: seal needs a factor id and a user id")

// Seal wraps secret for storage with the master key, bound (associated
// data) to the factor id and user id, so a sealed secret copied to another
// row or another user does not open.
func Seal(k Sealer, secret []byte, factorID, userID string) ([]byte, error) {
	if k == nil {
		return nil, errors.New("totp: no sealer")
	}
	if err := checkSecret(secret); err != nil {
		return nil, err
	}
	ad, err := sealAD(factorID, userID)
	if err != nil {
		return nil, err
	}
	sealed, err := k.Seal(secret, ad)
	if err != nil {
		return nil, fmt.Errorf("totp: seal: %w", err)
	}
	return sealed, nil
}

// Open unwraps a secret made by Seal for the same factor and user. The
// sealer's error is wrapped, so errors.Is finds masterkey.ErrCorrupt (wrong
// row, tampered) or masterkey.ErrWrongKey.
func Open(k Sealer, sealed []byte, factorID, userID string) ([]byte, error) {
	if k == nil {
		return nil, errors.New("totp: no sealer")
	}
	ad, err := sealAD(factorID, userID)
	if err != nil {
		return nil, err
	}
	secret, err := k.Open(sealed, ad)
	if err != nil {
		return nil, fmt.Errorf("totp: open: %w", err)
	}
	// A sealer that opened something too short would make a weak factor.
	if err := checkSecret(secret); err != nil {
		return nil, err
	}
	return secret, nil
}

// sealAD is "totp_secret:" then each id with its length before it, so no
// two (factor, user) pairs share a string: "a:b"+"c" and "a"+"b:c" differ.
func sealAD(factorID, userID string) ([]byte, error) {
	if factorID == "" || userID == "" {
		return nil, ErrBinding
	}
	ad := []byte("totp_secret:")
	ad = strconv.AppendInt(ad, int64(len(factorID)), 10)
	ad = append(ad, ':')
	ad = append(ad, factorID...)
	ad = strconv.AppendInt(ad, int64(len(userID)), 10)
	ad = append(ad, ':')
	ad = append(ad, userID...)
	return ad, nil
}
