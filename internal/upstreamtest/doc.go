// Package upstreamtest runs real upstream identity providers written by
// others, in-process on loopback, for federation tests: zitadel/oidc's
// OpenID Provider (its example server and storage, with test people of our
// choosing) and, in saml.go, crewjam/saml's IdentityProvider. It adds only
// what the tests must control (the people, their groups, whether the
// upstream reports a second factor) around the libraries' own code; the
// protocol is theirs, never a fake.
//
// It is for tests only and must not be imported by production code.
package upstreamtest
