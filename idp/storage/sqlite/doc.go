// Package sqlite is Gatehouse's embedded default storage backend: one SQLite
// file, through the pure-Go modernc.org/sqlite driver (no cgo), so that
// `gatehouse serve --dev` runs on a bare machine.
//
// It owns the connection set-up (pragmas, file permissions, a single writer
// connection beside a read-only pool) and the mapping of SQLite errors onto
// the storage sentinels. Every query lives in sqlstore, shared with the
// PostgreSQL backend; this package must not grow its own.
//
// Open does not migrate: callers run Migrate (the CLI does at start and in
// `gatehouse migrate`).
package sqlite
