package totp

import (
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

const (
	// Digits is the length of a code.
	Digits = 6
	// Period is the length of a time step.
	Period = 30 * time.Second
	// SecretBytes is the length of a new secret: 160 bits, the HMAC-SHA1
	// block size RFC 4226 recommends and our floor for MFA secrets.
	SecretBytes = 20
	// Skew is how many steps either side of now a code may come from: a
	// phone's clock a little off, or a code typed as it turned over.
	Skew = 1
)

// maxTyped bounds what ParseCode looks at: a code with a few spaces is
// short, and anything longer is not worth scanning.
const maxTyped = 32

var (
	// ErrMalformed: the input is not 6 ASCII digits (spaces aside). It
	// says nothing about the secret, so callers may tell the user to
	// retype without counting a guess.
	ErrMalformed = errors.New("totp: code is not 6 digits")
	// ErrWrongCode: a well-formed code that matches no step in the window.
	ErrWrongCode = errors.New("totp: wrong code")
	// ErrBadSecret: the secret is too short to be one of ours. A broken
	// row must never make every code, or a guessable one, match.
	ErrBadSecret = errors.New("totp: secret is too short")
	// ErrBadTime: the time is before the Unix epoch, where RFC 6238 has no
	// step.
	ErrBadTime = errors.New("totp: time before 1970")
)

// b32 is how a secret is written in URIs and for typing: RFC 4648 base32
// without padding, as Google's Key Uri Format asks.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// hotpOpts are the options our codes use. The Digits constant and
// otp.DigitsSix must agree; TestConstants pins that.
var hotpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// period is Period in seconds.
const period = int64(Period / time.Second)

// Step is the time step of t: floor(Unix seconds / 30). Before 1970 it is
// negative (floored, not truncated), and no code exists there.
func Step(t time.Time) int64 {
	s := t.Unix()
	q := s / period
	if s%period < 0 {
		q--
	}
	return q
}

// Code computes the code of secret at t. It is for tests and for the
// browser test that types a code; the server only ever calls Match.
func Code(secret []byte, t time.Time) (string, error) {
	if err := checkSecret(secret); err != nil {
		return "", err
	}
	s := Step(t)
	if s < 0 {
		return "", ErrBadTime
	}
	return codeAt(b32.EncodeToString(secret), s)
}

// Match checks code against secret at now, within ±Skew steps, and returns
// the step it matched. It does not decide replay: the caller stores the
// step and refuses any step <= the last used one (storage does that
// atomically).
//
// Every candidate step is computed and compared in constant time, and the
// loop does not stop at a match, so the time taken does not say which
// step matched. If a code happens to match two steps (a one-in-a-million
// collision), the later one is returned: it burns more of the window,
// which only ever refuses a reuse sooner.
//
// Malformed input (not 6 ASCII digits after spaces are removed) is
// ErrMalformed; a well-formed wrong code is ErrWrongCode.
func Match(secret []byte, code string, now time.Time) (step int64, err error) {
	typed, err := ParseCode(code)
	if err != nil {
		return 0, err
	}
	if err := checkSecret(secret); err != nil {
		return 0, err
	}
	enc := b32.EncodeToString(secret)
	cur := Step(now)
	found := 0
	for s := cur - Skew; s <= cur+Skew; s++ {
		if s < 0 {
			continue
		}
		want, err := codeAt(enc, s)
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(typed)) == 1 {
			step, found = s, 1
		}
	}
	if found == 0 {
		return 0, ErrWrongCode
	}
	return step, nil
}

// ParseCode turns a code as typed ("123 456", " 123456\n") into its 6
// digits. Spaces and tabs anywhere, and a trailing newline from a paste,
// are dropped; anything else that is not an ASCII digit, including
// full-width digits and NUL, makes it ErrMalformed. Digits are not
// normalised from other scripts on purpose: authenticator apps show ASCII.
func ParseCode(typed string) (string, error) {
	if len(typed) > maxTyped {
		return "", fmt.Errorf("%w: too long", ErrMalformed)
	}
	var out [Digits]byte
	n := 0
	for i := 0; i < len(typed); i++ {
		c := typed[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		case c < '0' || c > '9':
			return "", fmt.Errorf("%w: not a digit", ErrMalformed)
		case n == Digits:
			return "", fmt.Errorf("%w: too many digits", ErrMalformed)
		}
		out[n] = c
		n++
	}
	if n != Digits {
		return "", fmt.Errorf("%w: too few digits", ErrMalformed)
	}
	return string(out[:]), nil
}

func checkSecret(secret []byte) error {
	if len(secret) < SecretBytes {
		return fmt.Errorf("%w: %d bytes, need %d", ErrBadSecret, len(secret), SecretBytes)
	}
	return nil
}

// codeAt is HOTP (RFC 4226) at counter step, through pquerna/otp, which
// takes the secret in base32.
func codeAt(b32secret string, step int64) (string, error) {
	c, err := hotp.GenerateCodeCustom(b32secret, uint64(step), hotpOpts)
	if err != nil {
		return "", fmt.Errorf("totp: %w", err)
	}
	return c, nil
}
