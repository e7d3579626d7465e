// Package phone owns the form Gatehouse keeps a user's phone number in:
// E.164, a "+" and 8 to 15 digits of which the first ones are the country
// calling code. Parse turns what an administrator or a user typed into
// that form, and Country and InRegions tell which region a stored number
// belongs to, for an SMS country allowlist (sms.allowed_countries), whose
// entries KnownRegion checks.
//
// It checks the shape of a number and knows the calling codes; it does
// not know each country's number plans (lengths, mobile prefixes), so a
// number that Parse accepts may still reach no phone. It must not send
// anything, store anything or know about users: it is pure functions on
// strings.
package phone
