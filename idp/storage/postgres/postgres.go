package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/idp/storage/sqlstore"
	"github.com/gatehouse-idp/gatehouse/migrations"
)

// Store is the PostgreSQL backend.
type Store struct {
	*sqlstore.Store
	pool *pgxpool.Pool
}

var _ storage.Storage = (*Store)(nil)

// Open creates a connection pool for dsn (URL or key=value form, with
// pgxpool's pool_* settings). Connections are made lazily, so Open succeeds
// while the server is down and Ping reports it. Every storage call is
// bounded by the query timeout in opts (sqlstore.QueryTimeout), and so is
// making a connection unless the DSN sets connect_timeout.
func Open(ctx context.Context, dsn string, opts ...sqlstore.Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DSN: %w", err)
	}
	if cfg.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeSimpleProtocol {
		return nil, errors.New("postgres: default_query_exec_mode=simple_protocol is not allowed: it interpolates arguments on the client")
	}
	// A server that accepts the TCP connection and then stops answering
	// would otherwise hold a dial (the pool's background ones too) for as
	// long as the kernel keeps the socket.
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = sqlstore.QueryTimeoutOf(opts...)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: create pool: %w", err)
	}
	return &Store{Store: sqlstore.New(&db{pool: pool, querier: querier{pool}}, opts...), pool: pool}, nil
}

// migrationLock is the advisory lock key held while migrating ("gatehous"
// in ASCII). Advisory locks are per database, so only Gatehouse instances
// sharing a database contend for it.
const migrationLock int64 = 0x6761746568_6f7573

// Migrate applies the pending migrations and returns their versions. The
// whole run holds a session-level advisory lock on its own connection, so a
// second instance migrating at the same time waits, then finds everything
// applied. The connection is closed at the end, which releases the lock
// even if the unlock could not be sent.
func (s *Store) Migrate(ctx context.Context) ([]int, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", mapError(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return nil, fmt.Errorf("postgres: migrate: take lock: %w", mapError(err))
	}
	applied, err := migrations.Apply(ctx, migrator{conn}, migrations.Postgres)
	if err != nil {
		return applied, fmt.Errorf("postgres: %w", mapError(err))
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, migrationLock); err != nil {
		return applied, fmt.Errorf("postgres: migrate: release lock: %w", mapError(err))
	}
	return applied, nil
}

// SQLSTATE codes; see https://www.postgresql.org/docs/current/errcodes-appendix.html.
const (
	uniqueViolation      = "23505"
	foreignKeyViolation  = "23503"
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

// mapError wraps the storage sentinel that err stands for, if any.
func mapError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	case unavailable(err):
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == uniqueViolation || pe.Code == foreignKeyViolation) {
		return fmt.Errorf("%w: %w", storage.ErrConflict, err)
	}
	return err
}

// unavailable reports whether err means the database cannot be reached:
// no connection could be made, the pool or connection is closed, the socket
// failed, or the server is shutting down, refusing connections or lost the
// database.
func unavailable(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, puddle.ErrClosedPool) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch {
	case strings.HasPrefix(pe.Code, "08"), // connection exception
		strings.HasPrefix(pe.Code, "57P"), // admin shutdown, crash shutdown, cannot connect now
		pe.Code == "53300",                // too many connections
		pe.Code == "3D000":                // the database does not exist (any more)
		return true
	}
	return false
}

// retryable reports whether a transaction failed only because it collided
// with another one and may succeed if run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == serializationFailure || pe.Code == deadlockDetected)
}
