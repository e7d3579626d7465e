// Package federation will own upstream identity providers: the connector
// contracts (redirect-style OIDC, POST-style SAML) that turn an upstream
// login into a plain Identity, home-realm discovery by email domain, and the
// rules for linking an upstream identity to a local account.
//
// Nothing is implemented yet (the federation issue builds it). It must not
// write users or sessions itself: it hands an Identity to idp/authflow.
package federation
