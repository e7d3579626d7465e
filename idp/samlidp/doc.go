// Package samlidp is the SAML 2.0 front door: Gatehouse as the identity
// provider of SAML service providers. It owns the SAML endpoints
// (/saml/metadata, /saml/sso, /saml/continue, /saml/init, /saml/slo), turns
// an AuthnRequest (or an IdP-initiated sign-on) into one auth request of the
// login flow, and answers the service provider with a signed Response once
// the flow is done; it runs single logout across the session's service
// providers.
//
// It is a door, like idp/oidcop: it parses and verifies its protocol with
// github.com/crewjam/saml's IdentityProvider and decides no login step.
// Whether a password, a second factor or a fresh login is needed is
// idp/authflow's; the pages are ui's; the service providers' rows are
// storage's, their management idp/admin's; keys are idp/keys'. It must not
// read or write the flow's FlowData, and writes no auth request except by
// authflow.Flow.Begin and Complete.
package samlidp
