package smscode

import (
	"slices"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/phone"
)

// maxTypedNumber bounds what parseNumber reads: a number with its
// spacing, not a paste of a page.
const maxTypedNumber = 64

// parseNumber turns a number as typed into E.164 ("+447700900123") with
// idp/phone's rules (separators and a trunk "(0)" dropped, 8 to 15
// digits). Unlike a profile's number, a number typed at enrolment must
// start with its "+": show is ErrNoCountryCode for one without (a
// national "07700 900123", or "0044…"), ErrBadNumber for anything else
// that is not a number.
func parseNumber(typed string) (e164 string, show error) {
	if len(typed) > maxTypedNumber {
		return "", ErrBadNumber
	}
	n := strings.TrimLeft(typed, " \t")
	if !strings.HasPrefix(n, "+") {
		if n != "" && strings.Trim(n, "0123456789 \t-.()") == "" {
			return "", ErrNoCountryCode
		}
		return "", ErrBadNumber
	}
	e164, err := phone.Parse(n)
	if err != nil {
		return "", ErrBadNumber
	}
	return e164, nil
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
