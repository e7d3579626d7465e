package oidcop

import (
	"net/http"
)

// authorizeEndpoint wraps the library's /authorize handler (already
// wrapped by htmlErrors) with what Gatehouse adds in front of it: repeated
// parameters are refused before the library reads any (this file), and the
// error redirects it answers with name the issuer and honour form_post
// (authorize_iss.go). The order matters: the second relies on the first
// for a single redirect_uri, state and response_mode.
func (p *Provider) authorizeEndpoint(next http.Handler) http.Handler {
	return p.singleParams(p.authorizeErrorsIss(next))
}

// singleValuedParams are the /authorize parameters a request may carry at
// most once (RFC 6749 §3.1: "Request and response parameters MUST NOT be
// included more than once"): every one the library decodes into
// oidc.AuthRequest (a test keeps the list complete), and the OIDC ones it
// ignores. resource (RFC 8707) is left out, as it may repeat; so are
// parameters nobody reads.
var singleValuedParams = []string{
	"client_id", "redirect_uri", "response_type", "response_mode", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "prompt", "max_age", "login_hint", "id_token_hint",
	"acr_values", "ui_locales", "display", "request",
	"request_uri", "claims", "claims_locales", "registration",
}

// singleParams refuses an /authorize request that repeats a single-valued
// parameter, in the query, in the body, or across the two. The library
// would keep one copy (the last); a proxy or firewall in front of
// Gatehouse may keep another, and would then have checked a different
// request from the one served. The refusal is the 400 error page, never a
// redirect: when client_id or redirect_uri repeats there is no redirect
// URI to trust, and for the others there is no single state to echo, so
// one rule for all keeps it simple. A well-behaved client never repeats a
// parameter, so no real client loses a machine-readable error.
func (p *Provider) singleParams(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ParseForm reads the query and, for POST, a form body. Its error
		// must be answered here: a second ParseForm (the library's) would
		// find r.Form set and report nothing.
		if err := r.ParseForm(); err != nil {
			p.refuseAuthorize(w, r, "authorize request does not parse", "err", err)
			return
		}
		query := r.URL.Query()
		for _, name := range singleValuedParams {
			if n := len(query[name]) + len(r.PostForm[name]); n > 1 {
				p.refuseAuthorize(w, r, "authorize request repeats a parameter", "param", name, "copies", n)
				return
			}
		}
		// Every value must be storable text within its limit (params.go):
		// PostgreSQL refuses NUL and invalid UTF-8, which would otherwise
		// surface as a server error from the client lookup or from storing
		// the request. The answer is the same 400 page, for the same
		// reason: a bad client_id or redirect_uri leaves nothing to trust.
		if why := checkParams(r.Form, authorizeLimits); why != "" {
			p.refuseAuthorize(w, r, "authorize request has a bad parameter", "reason", why)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuseAuthorize answers an /authorize request that must not reach the
// library, as htmlErrors answers the ones the library refuses.
func (p *Provider) refuseAuthorize(w http.ResponseWriter, r *http.Request, what string, args ...any) {
	p.opts.Logger.InfoContext(r.Context(), what, args...)
	const msg = "This sign-in link is not valid. Please go back to the application and try again."
	p.opts.Pages.Error(w, r, http.StatusBadRequest, msg)
}
