// Package storage is the storage contract of Gatehouse: the entity types,
// the Storage interface and its sentinel errors.
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
