package oidcop

import (
	"fmt"
	"net/url"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Limits on parameter values at the OIDC edge (README.md lists them). Each
// is generous for real clients and small enough that a hostile request
// cannot make Gatehouse store or echo megabytes. Beyond a limit the request
// is refused with a 4xx, never truncated.
const (
	// maxParamValue bounds any single parameter value of /authorize and
	// end_session that has no limit of its own.
	maxParamValue = 8 << 10
	// maxLoginHint fits an email address (RFC 5321: 64 + 1 + 255).
	maxLoginHint = 320
	// maxScope bounds the whole scope parameter.
	maxScope = 2048
	// maxIDTokenHint fits an ID token with Gatehouse's claims, signed
	// with RSA 4096, many times over.
	maxIDTokenHint = 8 << 10
	// maxLogoutState bounds end_session's state, echoed to the client.
	maxLogoutState = 2048
)

// authorizeLimits are /authorize's own limits (state and nonce: server.go).
var authorizeLimits = map[string]int{"login_hint": maxLoginHint, "scope": maxScope, "id_token_hint": maxIDTokenHint}

// endSessionLimits are end_session's own limits.
var endSessionLimits = map[string]int{"state": maxLogoutState, "id_token_hint": maxIDTokenHint}

// checkParams checks every name and value of v: storable text
// (storage.Storable: PostgreSQL refuses NUL and invalid UTF-8), and no longer
// than limits[name] (or maxParamValue). It returns what is wrong, or "".
func checkParams(v url.Values, limits map[string]int) string {
	for name, vals := range v {
		if !storage.Storable(name) {
			return "a parameter name is not valid UTF-8 or holds NUL"
		}
		limit, ok := limits[name]
		if !ok {
			limit = maxParamValue
		}
		for _, val := range vals {
			if !storage.Storable(val) {
				return fmt.Sprintf("parameter %.64q is not valid UTF-8 or holds NUL", name)
			}
			if len(val) > limit {
				return fmt.Sprintf("parameter %.64q is longer than %d bytes", name, limit)
			}
		}
	}
	return ""
}
