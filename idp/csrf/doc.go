// Package csrf owns cross-site request forgery protection for the
// server-rendered forms.
//
// It is a signed double-submit: each browser gets a random value in an
// HttpOnly cookie, and each form carries
// base64url(HMAC-SHA256(key, cookie || "|" || binding)) in its csrf_token
// field, where binding ties a token to one form instance (e.g. the auth
// request id; "" when unbound). Another site can make the browser send the
// cookie but can neither read it nor compute the token. Before the token,
// a request must pass the origin checks: an Origin header, when present,
// must be one of the configured origins (the issuer's), and a
// Sec-Fetch-Site of "cross-site" (or "same-site" without a trusted Origin)
// is refused.
//
// Only unsafe methods are checked; GET, HEAD and OPTIONS must never change
// state, which is the handlers' side of the contract.
//
// It must not render product pages (a rejection goes to Options.Reject, or
// a plain generic 403), know about sessions or storage, or log tokens and
// cookie values: the log gets the reason only.
package csrf
