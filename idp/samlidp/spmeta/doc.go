// Package spmeta owns reading a SAML service provider's metadata before
// Gatehouse trusts it: fetching it from a metadata URL (https, bounded in
// size and time), refusing what a hostile document could use (a document
// type declaration, an oversized file, an expired validUntil, an ACS URL
// that is not https), checking its signature when it has one, and
// reducing it to the one SP EntityDescriptor that is stored.
//
// It knows nothing of storage, of administrators or of HTTP handlers: the
// admin service (idp/admin) calls it through an interface the instance
// wires, and the SAML door (idp/samlidp) reads only what it returned.
package spmeta
