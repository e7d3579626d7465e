package oidcop

import "net/http"

// CORS. Single-page applications call the token, revocation and userinfo
// endpoints and read discovery and the JWKS with fetch, from their own
// origin. Those endpoints take their credentials from the request itself
// (a client_id, a secret, a bearer token), never from a cookie, so any
// origin may call them: "*" lets the browser hand a page the response, and
// "*" cannot be combined with credentials, so no cookie ever rides along.
//
// Everything that does use the session cookie (/authorize, the callback,
// the login pages, end_session) sends no CORS headers at all: those are
// page navigations, and a cross-origin fetch of them must stay unreadable.
// The OP library's own CORS, which echoes any origin *with* credentials,
// is switched off for that reason (see New).

const corsMaxAge = "600" // seconds a browser may cache a preflight

// publicCORS answers with "Access-Control-Allow-Origin: *" when the
// request comes from a page of another origin.
func publicCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			w.Header().Set("Access-Control-Allow-Origin", "*")
		}
		next.ServeHTTP(w, r)
	})
}

// preflight answers a CORS preflight for an endpoint that accepts methods.
// Authorization is the one non-simple header the endpoints read (a bearer
// token at userinfo, Basic client authentication at the token endpoint).
func preflight(methods string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if r.Header.Get("Origin") != "" {
			h.Set("Access-Control-Allow-Origin", "*")
			h.Set("Access-Control-Allow-Methods", methods)
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", corsMaxAge)
		}
		h.Set("Allow", "OPTIONS, "+methods)
		w.WriteHeader(http.StatusNoContent)
	})
}
