package phone

import (
	"errors"
	"strings"
)

// Lengths of an E.164 number in digits, the country code included. Eight
// is the shortest full number in use (some small countries' codes plus
// their short local numbers); fifteen is E.164's limit.
const (
	MinDigits = 8
	MaxDigits = 15
)

// maxInput bounds what Parse reads: separators included, a number a
// person types is well under this.
const maxInput = 64

// Errors of Parse. Their messages are written for the person who typed
// the number and never quote it (it may be anything, of any length).
var (
	ErrNoCountryCode = errors.New("include the country code, like +41 79 123 45 67")
	ErrCharacters    = errors.New("a phone number may hold only digits, spaces, dashes, dots, parentheses and a leading +")
	ErrLength        = errors.New("a phone number has 8 to 15 digits, the country code included")
	ErrCountryCode   = errors.New("a country code does not start with 0")
)

// Parse returns s in E.164 form ("+41791234567"). It accepts what people
// write: spaces, dashes, dots and parentheses between the digits, and
// "00" in place of the leading "+" (the international prefix of most
// countries). A "(0)" is the trunk prefix some write after the country
// code ("+44 (0)20 7946 0958", "+41 (0)79 …"); it is dialled only within
// the country, so it is dropped. A number with neither "+" nor "00" is
// refused with ErrNoCountryCode rather than guessed: "079 123 45 67" is
// Swiss to one person and something else to the next.
func Parse(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxInput {
		return "", ErrLength
	}
	switch {
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	case strings.HasPrefix(s, "00"):
		s = s[2:]
	case s == "":
		return "", ErrLength
	default:
		if strings.Trim(s, "0123456789 -.()") != "" {
			return "", ErrCharacters
		}
		return "", ErrNoCountryCode
	}
	s = strings.ReplaceAll(s, "(0)", "")
	digits := make([]byte, 0, MaxDigits)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			// A second "+" lands here too.
			return "", ErrCharacters
		}
	}
	if len(digits) < MinDigits || len(digits) > MaxDigits {
		return "", ErrLength
	}
	if digits[0] == '0' {
		return "", ErrCountryCode
	}
	return "+" + string(digits), nil
}

// Valid reports whether s is already in the form Parse returns, for
// values read back from storage or a config file.
func Valid(s string) bool {
	e, err := Parse(s)
	return err == nil && e == s
}

// Mask shows only the last two digits of an E.164 number
// ("+41791234567" is "+*********67"), for audit records and logs, which
// must say that a number changed without holding the number. "" stays "".
func Mask(e164 string) string {
	if len(e164) <= 3 {
		return strings.Repeat("*", len(e164))
	}
	return "+" + strings.Repeat("*", len(e164)-3) + e164[len(e164)-2:]
}
