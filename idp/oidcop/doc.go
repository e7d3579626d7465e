// Package oidcop is Gatehouse's OpenID Provider: the adapter between
// zitadel/oidc's op package and Gatehouse's own storage, login flow and
// keys. It is the only package that sees op or oidc types; nothing it
// returns leaks them inward.
//
// The split of work, and why:
//   - zitadel/oidc serves discovery, JWKS, /authorize (request parsing and
//     redirect_uri checks) and the authorize callback that issues the code
//     once idp/authflow says the request is done.
//   - Gatehouse serves the token, introspection, revocation, userinfo and
//     end-session endpoints itself. The library signs every token with one
//     key and leaves code replay, refresh rotation and reuse detection to
//     the storage; owning these endpoints lets the ID token use the client's
//     algorithm while JWT access tokens use ES256, revoke a grant when its
//     code is replayed, and keep the token endpoint to the few storage
//     round trips it needs.
//
// It must not render login pages or decide login policy: it sends the
// browser to the login URL and trusts only the stored AuthRequest step.
package oidcop
