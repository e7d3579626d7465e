// Package federation owns upstream identity providers: the connector
// contract (connector.go) that turns an upstream login (OIDC's redirect and
// callback, SAML's redirect and POST) into one Identity, the settings each
// type of connector keeps (settings.go), home-realm discovery by email
// domain (discovery.go) and the rules for linking an upstream identity to a
// local account (linking.go). The protocols live in federation/oidc
// (zitadel/oidc's rp) and federation/saml (crewjam/saml's
// ServiceProvider); their types stay there.
//
// It must not write users, links or sessions, nor decide a login step: a
// connector proves an Identity, and idp/authflow decides what follows
// (linking, provisioning, MFA, completion) with the rules of linking.go.
package federation
