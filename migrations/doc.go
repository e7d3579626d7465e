// Package migrations owns Gatehouse's database schema: the SQL files per
// dialect (sqlite/NNNN_name.sql and postgres/NNNN_name.sql, with the same
// numbers and names in both) embedded into the binary, and the runner that
// applies the pending ones and records them in schema_migrations.
//
// The runner knows nothing about drivers: a backend hands it a Conn, one
// database session, and takes whatever lock keeps two instances from
// migrating at once (PostgreSQL: an advisory lock held on that session).
//
// It must not import the storage backends, and a migration that has shipped
// must never be edited: add a new file instead.
package migrations
