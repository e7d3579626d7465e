// Package storagetest is the conformance suite of the storage contract: the
// behaviour every storage.Storage backend must show, whatever database is
// under it. Run(t, newStore) runs it as named subtests; every backend's own
// test file calls Run, SQLite always and PostgreSQL when a server is named.
//
// It owns the behavioural contract written in the comments of package
// storage: round-trip fidelity of every field, the sentinel errors
// (ErrNotFound, ErrConflict, ErrExpired, ErrAlreadyUsed, ErrRevoked),
// update-by-function without lost updates, consume-once and
// rotate-or-revoke under concurrency, token revocation and DeleteExpired.
//
// It must not import any backend (sqlite, postgres, sqlstore) nor know how
// a backend stores rows: it speaks only through the storage.Storage
// interface. It must not sleep or read the clock: every time is passed
// explicitly, derived from one fixed base time truncated to microseconds,
// because backends store Unix microseconds and never read the clock
// themselves. Each leaf subtest gets its own store from newStore, so
// subtests never depend on each other's rows.
package storagetest
