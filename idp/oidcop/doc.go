// Package oidcop is Gatehouse's OpenID Provider: the adapter between
// zitadel/oidc's op package and Gatehouse's own storage, login flow and
// keys. It is the only package that sees op or oidc types; nothing it
// returns leaks them inward.
//
// The split of work, and why:
//   - zitadel/oidc serves discovery and /authorize (request parsing and
//     redirect_uri checks); Gatehouse checks every /authorize parameter's
//     encoding and length before it (params.go), and issues the code in its
//     own callback once idp/authflow says the request is done.
//   - Gatehouse serves JWKS itself (jwks.go): the library's handler put the
//     storage error in the body, and Gatehouse keeps the last key set
//     loaded for an outage.
//   - Gatehouse serves the token, introspection, revocation, userinfo and
//     end-session endpoints itself. The library signs every token with one
//     key and leaves code replay, refresh rotation and reuse detection to
//     the storage; owning these endpoints lets the ID token use the client's
//     algorithm while JWT access tokens use ES256, revoke a grant when its
//     code is replayed, and keep the token endpoint to the few storage
//     round trips it needs.
//
// It is the OIDC front door of idp/authflow: it starts requests with
// Flow.Begin (typed storage.OIDCParams), describes clients to the flow
// (Party: name, RequireMFA; an unknown client is an error), tells the
// pages where a finished login continues (ContinueURL, the callback), and
// issues a code only after Flow.Complete. It owns its protocol's parsing,
// its RP-initiated logout (end_session) and its responses (redirect or
// form_post through ui's auto-post page).
//
// It must not render login pages or decide login policy, and it never
// writes an auth request's step: the flow does (internal/archtest).
package oidcop
