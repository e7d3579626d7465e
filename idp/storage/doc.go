// Package storage is the storage contract of Gatehouse: the entity types,
// the Storage interface and its sentinel errors.
//
// Storage is composed of roles (roles.go), one per kind of row, in the
// groups the conformance suite tests: Organizations, Users, Clients,
// AuthRequests, Grants (authorization codes, refresh and access tokens,
// and their revocation by grant or by user), Sessions, OneTimeTokens,
// SigningKeys, Audit, and Maintenance (Ping, Close, DeleteExpired). A
// backend implements Storage, hence every role; a consumer declares the
// roles it uses in an interface of its own (session.Store, keys.Store,
// admin.Store, ...), so that its dependencies show in its signature and a
// test can hand it a fake of just those methods.
//
// It owns the shape of persisted data and the atomicity promises every
// backend must keep (consume-once, rotate-or-revoke, update-by-function).
// Those promises live here, not in callers, because Gatehouse runs as many
// stateless instances on one database: an in-process check-then-act would
// race across instances.
//
// It must not import protocol libraries (zitadel/oidc, crewjam/saml), HTTP,
// or any backend. Backends live in sub-packages and must pass the
// conformance suite in storagetest.
package storage
