// Package oidc is the upstream OpenID Connect connector: a company's IdP
// (Entra ID, Okta, Google Workspace, another Gatehouse) that proves who a
// person is with the authorization code flow. Open builds one
// federation.Connector from its stored row (federation.Opener); Begin makes
// the authorization URL, Finish turns the callback into a
// federation.Identity, Check tells an administrator what is wrong with the
// upstream.
//
// It owns:
//   - discovery, done by Open and again by every Check, with the issuer
//     compared exactly (the mix-up defence) and every endpoint held to
//     https (http only on loopback in dev mode);
//   - the login's State (state.go): a fresh PKCE S256 verifier and nonce
//     per login, the relay and when the login began, as JSON that only
//     this package reads;
//   - the callback's checks (finish.go: an upstream error, the relay, the
//     login's age, RFC 9207 iss, the code exchange with the verifier) and
//     the ID token's verification (verify.go: issuer, audience and azp,
//     signature with the upstream's JWKS and an algorithm from a fixed
//     asymmetric set, never none nor HMAC, exp, iat and nbf on env.Now,
//     nonce); each failure is a *federation.Refusal with a short Reason,
//     each outage a plain wrapped error;
//   - Check (check.go): discovery, keys and their certificates, and a
//     probe of the authorization endpoint with our redirect URI;
//   - the mapping of claims to an Identity (claims.go), with the
//     configured claim names and the userinfo endpoint as a fallback for
//     email, name and groups only.
//
// zitadel/oidc's rp does the protocol: AuthURL, CodeExchange, VerifyTokens,
// the remote key set and Userinfo. Its relying party is built OAuth-only,
// from our own discovery: rp's OIDC relying party verifies the ID token
// inside CodeExchange with one verifier made at start-up, which reads
// time.Now and cannot know a login's nonce; here every Finish makes its own
// verifier (verify.go says how the clock is put into it).
//
// It must not touch users, links, sessions or auth requests, nor decide
// what follows a login (idp/authflow does, with federation's rules); it
// never applies GroupsPrefix or MFAValues (the flow does), never logs a
// code, token, verifier, nonce or the client secret, and no zitadel/oidc
// type leaves it.
package oidc
