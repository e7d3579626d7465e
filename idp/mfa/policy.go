package mfa

import (
	"slices"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Method names, which are also the Kind of the factors they prove.
const (
	TOTP     = storage.FactorTOTP
	Email    = storage.FactorEmail
	Recovery = storage.FactorRecovery
	SMS      = "sms"
	WebAuthn = "webauthn"
)

// Known are the method names an organization's policy may allow, in the
// order a login offers them when a user has several: the strongest first.
var Known = []string{WebAuthn, TOTP, SMS, Email}

// IsKnown reports whether name is a method a policy may name.
func IsKnown(name string) bool { return slices.Contains(Known, name) }

// Allowed reports whether p lets a user enrol or use method. With MFA off
// every method is allowed (users may protect themselves); with MFA on the
// policy's list decides, and an empty list allows every method but email,
// which an organization must choose by name. Recovery codes are allowed
// whenever another method is: they are its fallback, never a policy
// choice. Email codes also depend on the address (EmailAddressAllowed).
func Allowed(p storage.MFAPolicy, method string) bool {
	switch {
	case method == Recovery, !p.Required:
		return true
	case method == Email:
		return slices.Contains(p.AllowedMethods, Email)
	case len(p.AllowedMethods) == 0:
		return true
	}
	return slices.Contains(p.AllowedMethods, method)
}

// EmailAddressAllowed reports whether email codes for u may go to addr
// under p. The account's own mailbox already resets its password, so a
// code sent there is the first factor's recovery path too: one channel
// would satisfy both factors unless the organization chose email codes by
// name (SECURITY-TESTS.md, "Channels"). Another address is a separate
// channel: a user may add one for themselves while MFA is off, and while
// it is on only if the policy allows other addresses.
func EmailAddressAllowed(p storage.MFAPolicy, u storage.User, addr string) bool {
	if storage.NormalizeEmail(addr) == u.Email {
		return slices.Contains(p.AllowedMethods, Email)
	}
	return OtherEmailAllowed(p)
}

// OtherEmailAllowed reports whether p lets email codes go to an address
// other than the account's (see EmailAddressAllowed).
func OtherEmailAllowed(p storage.MFAPolicy) bool {
	return !p.Required || (Allowed(p, Email) && p.OtherEmail)
}

// Counts reports whether factor f of user u satisfies the second-factor
// step under p: confirmed, of an allowed method (and address), not a
// consumed recovery code, and confirmed in the policy's current
// generation (turning MFA off and on again starts a new one, and factors
// from before it no longer count).
func Counts(p storage.MFAPolicy, u storage.User, f storage.Factor) bool {
	switch {
	case f.ConfirmedAt.IsZero(), f.UserID != u.ID, !Allowed(p, f.Kind):
		return false
	case f.Kind == Email && !EmailAddressAllowed(p, u, f.Address):
		return false
	case f.Kind == Recovery && !f.LastUsedAt.IsZero():
		return false
	}
	return !p.Required || !f.ConfirmedAt.Before(p.Since)
}

// Skipped reports whether u's "Skip for now" stands under p: made while
// the policy offers it, in its current generation, and not cleared by an
// administrator's reset.
func Skipped(p storage.MFAPolicy, u storage.User) bool {
	return p.Required && p.AllowSkip && u.MFASkipped && !u.MFAEnrollRequired &&
		!u.MFASkippedAt.IsZero() && !u.MFASkippedAt.Before(p.Since)
}

// Counting are the factors of fs that count for u under p, by kind.
func Counting(p storage.MFAPolicy, u storage.User, fs []storage.Factor) map[string][]storage.Factor {
	out := map[string][]storage.Factor{}
	for _, f := range fs {
		if Counts(p, u, f) {
			out[f.Kind] = append(out[f.Kind], f)
		}
	}
	return out
}

// MaskAddress shows enough of an email address for its owner to recognise
// it, and little for anyone looking over a shoulder: "a•••e@example.com".
func MaskAddress(addr string) string {
	at := -1
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == '@' {
			at = i
			break
		}
	}
	if at <= 0 {
		return "•••"
	}
	local, domain := []rune(addr[:at]), addr[at:]
	if len(local) <= 2 {
		return string(local[:1]) + "•••" + domain
	}
	return string(local[:1]) + "•••" + string(local[len(local)-1:]) + domain
}

// SMSNumber is where text-message codes for u may go under p: the
// profile's number when it has one; else, with ask, a number the user
// enters, when the organization allows that (SMSSelfEnrol) or does not
// require a second factor (then any number the user proves is theirs
// is as good as none); else nowhere ("", false): the account has no
// number and only an administrator can give it one.
func SMSNumber(p storage.MFAPolicy, u storage.User) (number string, ask bool) {
	switch {
	case u.Phone != "":
		return u.Phone, false
	case p.SMSSelfEnrol || !p.Required:
		return "", true
	}
	return "", false
}
