package recovery

import (
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
)

// Alphabet is what codes are made of: lower-case letters and digits
// without the look-alikes 0/o, 1/l/i, so that a code copied by hand from
// paper is typed back right. 31 symbols.
const Alphabet = "23456789abcdefghjkmnpqrstuvwxyz"

const (
	// groups of groupLen symbols make a code: "k7mq-2xhd-9fta", 12
	// symbols of log2(31) bits, about 59 bits. Far beyond guessing within
	// the lockout, and enough that an unsalted SHA-256 of one is no
	// shortcut for whoever reads the database.
	groups   = 3
	groupLen = 4
	codeLen  = groups * groupLen
	// maxTyped bounds what parse reads.
	maxTyped = 64
)

// byteLimit is the largest multiple of len(Alphabet) in a byte: bytes at or
// above it are dropped, so every symbol is equally likely.
const byteLimit = 256 - 256%len(Alphabet)

// newCode draws codeLen symbols uniformly from Alphabet, ungrouped.
func newCode(r io.Reader) (string, error) {
	out := make([]byte, 0, codeLen)
	var buf [2 * codeLen]byte
	for len(out) < codeLen {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("recovery: draw a code: %w", err)
		}
		for _, b := range buf {
			if int(b) < byteLimit && len(out) < codeLen {
				out = append(out, Alphabet[int(b)%len(Alphabet)])
			}
		}
	}
	return string(out), nil
}

// group is c as shown: groups joined by dashes.
func group(c string) string {
	parts := make([]string, 0, groups)
	for i := 0; i < len(c); i += groupLen {
		parts = append(parts, c[i:i+groupLen])
	}
	return strings.Join(parts, "-")
}

// parse turns a code as typed into its symbols: case is ignored, and
// spaces and dashes anywhere (or none) are dropped, so "K7MQ 2XHD 9FTA",
// "k7mq2xhd9fta" and a dash a word processor turned into "–" all read the
// same. Any other character, or another length, is malformed.
func parse(typed string) (string, bool) {
	if len(typed) > maxTyped {
		return "", false
	}
	var b strings.Builder
	for _, r := range typed {
		if unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) {
			continue
		}
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		if r > unicode.MaxASCII || !strings.ContainsRune(Alphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != codeLen {
		return "", false
	}
	return b.String(), true
}

// hash is how a code is stored and looked up: SHA-256, bound to its user
// so that one user's stored hash is no code of another's. Unsalted is
// right for a 59-bit random secret: there is nothing to precompute.
func hash(userID, code string) []byte {
	sum := sha256.Sum256([]byte("gatehouse recovery code v1\x00" + userID + "\x00" + code))
	return sum[:]
}

// Text is the content of the file a user downloads with their codes: what
// they are, whose, when made, and how to keep them. issuer names the
// organization ("" is Gatehouse), account the user's sign-in name.
func Text(codes []string, issuer, account string, at time.Time) string {
	if issuer == "" {
		issuer = "Gatehouse"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Recovery codes for %s at %s\n", account, issuer)
	fmt.Fprintf(&b, "Made on %s.\n\n", at.UTC().Format("2 January 2006 at 15:04 MST"))
	b.WriteString("Each code signs you in once, in place of your usual second factor,\n" +
		"when you cannot use it (a lost phone, a mailbox you cannot reach).\n" +
		"Cross a code off when you have used it. Making new codes voids all of these.\n\n" +
		"Keep them somewhere safe and apart from your password, such as a password\n" +
		"manager or a printout at home: whoever has a code and your password can\n" +
		"sign in as you.\n\n")
	for i, c := range codes {
		fmt.Fprintf(&b, "%2d. %s\n", i+1, c)
	}
	return b.String()
}
