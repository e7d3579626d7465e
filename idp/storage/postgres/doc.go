// Package postgres is Gatehouse's PostgreSQL storage backend, for running
// many stateless instances on one database. It uses pgx/v5 natively
// (pgxpool), never database/sql, and never the simple protocol: Open refuses
// a DSN that asks for it, because client-side interpolation is a needless
// injection surface.
//
// It owns the pool, the transaction retry on deadlock or serialization
// failure, the mapping of PostgreSQL errors onto the storage sentinels, and
// the advisory lock that makes concurrent Migrate calls from several
// instances safe. Every query lives in sqlstore, shared with the SQLite
// backend; this package must not grow its own.
//
// Open does not migrate: callers run Migrate.
package postgres
