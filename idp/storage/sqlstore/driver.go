package sqlstore

import "context"

// Row is one result row, as returned by QueryRow.
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result set; Close may be called more than once.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Querier runs statements, either on the database or inside a transaction.
type Querier interface {
	// Exec runs a statement and returns the number of rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Driver is what a backend adapts its database handle to.
//
// Its own Querier methods may serve reads from a separate read-only pool (as
// SQLite does), so sqlstore sends every write either through Exec or through
// InTx, never through QueryRow or Query outside a transaction.
type Driver interface {
	Querier
	// InTx runs fn in a write transaction and commits when fn returns nil.
	// It may run fn again after a transient conflict (deadlock,
	// serialization failure).
	InTx(ctx context.Context, fn func(Querier) error) error
	// ForUpdate is appended to a SELECT inside InTx to lock the rows it
	// reads: " FOR UPDATE" on PostgreSQL, "" where write transactions are
	// serialized anyway (SQLite).
	ForUpdate() string
	// Lock, called inside InTx, makes the transaction wait for any other
	// transaction that locked one of keys, and holds them until it ends.
	// Row locks cannot do this job where a transaction must see rows that
	// another one inserts (a rotation's new token, a newer one-time
	// token): at READ COMMITTED a statement's snapshot starts when the
	// statement does, so the lock is taken in a statement of its own,
	// before the statements that must see the rows. Callers pass keys in
	// a fixed order to avoid deadlocks. A no-op where write transactions
	// are serialized anyway (SQLite).
	Lock(ctx context.Context, q Querier, keys ...string) error
	// MapError returns err wrapped with storage.ErrConflict (unique or
	// foreign key violation), storage.ErrNotFound (no rows) or
	// storage.ErrUnavailable (the database cannot be reached), or err
	// itself when none applies.
	MapError(err error) error
	Ping(ctx context.Context) error
	Close() error
}
