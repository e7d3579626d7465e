// Package saml is the upstream SAML connector: Gatehouse is the service
// provider (SP) and a corporate identity provider (IdP) is upstream. It
// turns the IdP's metadata and the connector's settings
// (federation.SAMLSettings) into a crewjam/saml ServiceProvider, starts a
// login with an AuthnRequest (Begin), checks the Response posted to the ACS
// (Finish) and proves a federation.Identity from its one assertion. It also
// publishes the SP's own metadata (Metadata) for the IdP's administrators,
// reports what is wrong with the IdP's metadata and certificates (Check),
// and makes the SP key pair an administrator stores with a new connector
// (NewSPKey).
//
// What it trusts: only the pinned certificate (settings.Certificate) when
// one is set, otherwise the signing certificates of the IdP's metadata
// (inline, or fetched over https and fetched again when it expires). A
// Response is accepted only when it, or its one assertion, is signed with
// such a certificate (SHA-1 signatures are refused), answers the
// AuthnRequest of this login (no IdP-initiated logins), is addressed to
// this SP (Destination, Recipient, Audience), is current at env.Now,
// carries no DTD and exactly one assertion, and its assertion was not used
// before (env.Assertions, the shared replay cache). A transient NameID is
// refused: it is no stable subject for a link.
//
// It must not decide what a login leads to (linking, provisioning, MFA:
// that is idp/authflow), write users, links or sessions, nor serve HTTP: the
// server mounts the ACS and metadata URLs and calls Finish and Metadata.
// crewjam/saml's types stay inside this package.
package saml
