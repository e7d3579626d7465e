package smscode

import (
	"slices"
	"strings"
)

// maxTypedNumber bounds what parseNumber reads: a number with its
// spacing, not a paste of a page.
const maxTypedNumber = 64

// E.164's bounds on a number's digits, country code included.
const (
	minDigits = 8
	maxDigits = 15
)

// parseNumber turns a number as typed into E.164 ("+447700900123"):
// spaces, dashes, dots and brackets are dropped; what is left must be +
// and 8 to 15 ASCII digits, the first not 0 (no country code begins with
// 0). show says what is wrong, for the user: ErrNoCountryCode for a number
// without its leading + (a national "07700 900123", or "0044…").
func parseNumber(typed string) (e164 string, show error) {
	if len(typed) > maxTypedNumber {
		return "", ErrBadNumber
	}
	n := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '-', '.', '(', ')':
			return -1
		}
		return r
	}, typed)
	if n == "" {
		return "", ErrBadNumber
	}
	if n[0] != '+' {
		if allDigits(n) {
			return "", ErrNoCountryCode
		}
		return "", ErrBadNumber
	}
	digits := n[1:]
	if len(digits) < minDigits || len(digits) > maxDigits || !allDigits(digits) || digits[0] == '0' {
		return "", ErrBadNumber
	}
	return n, nil
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// countryAllowed reports whether codes may be texted to e164: any number
// when no country is listed; else one whose country m.Country names and
// the list holds. Without Country a listed allowlist refuses all: a
// misconfiguration must not open every country.
func (m *Method) countryAllowed(e164 string) bool {
	if len(m.AllowedCountries) == 0 {
		return true
	}
	if m.Country == nil {
		return false
	}
	c, ok := m.Country(e164)
	return ok && slices.ContainsFunc(m.AllowedCountries, func(a string) bool { return strings.EqualFold(a, c) })
}

// maskNumber is e164 for a page: its last two digits only ("+•••23").
func maskNumber(e164 string) string {
	if len(e164) < 4 {
		return "•••"
	}
	return "+•••" + e164[len(e164)-2:]
}
