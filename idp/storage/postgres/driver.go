package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-idp/gatehouse/idp/storage/sqlstore"
	"github.com/gatehouse-idp/gatehouse/migrations"
)

// db adapts a pgxpool.Pool to sqlstore.Driver.
type db struct {
	pool *pgxpool.Pool
	querier
}

var _ sqlstore.Driver = (*db)(nil)

// txAttempts bounds how often InTx runs a transaction that lost a deadlock
// or serialization race.
const txAttempts = 3

func (d *db) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error { return fn(querier{tx}) })
		if err == nil || attempt == txAttempts || !retryable(err) {
			return err
		}
	}
}

// ForUpdate locks the rows read inside InTx: READ COMMITTED alone would let
// two read-modify-write transactions both read the old row.
func (d *db) ForUpdate() string { return " FOR UPDATE" }

// lockSpace is the first half of the two-int advisory lock keys taken by
// Lock. The two-int form never collides with the bigint form (the migration
// lock); a hashtext collision between keys only makes one transaction wait
// for an unrelated one.
const lockSpace int32 = 0x67687478 // "ghtx"

// Lock takes transaction-level advisory locks, released at commit or
// rollback.
func (d *db) Lock(ctx context.Context, q sqlstore.Querier, keys ...string) error {
	for _, k := range keys {
		if _, err := q.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockSpace, k); err != nil {
			return err
		}
	}
	return nil
}

func (d *db) MapError(err error) error { return mapError(err) }

func (d *db) Ping(ctx context.Context) error { return d.pool.Ping(ctx) }

func (d *db) Close() error {
	d.pool.Close()
	return nil
}

// pgxQuerier is what *pgxpool.Pool, *pgx.Conn and pgx.Tx have in common.
type pgxQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// querier adapts a pgxQuerier to sqlstore.Querier; pgx.Rows already has the
// shape of sqlstore.Rows.
type querier struct{ q pgxQuerier }

func (q querier) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.q.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (q querier) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return q.q.QueryRow(ctx, sql, args...)
}

func (q querier) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	return q.q.Query(ctx, sql, args...)
}

// migrator adapts the migration connection to migrations.Conn. Exec without
// arguments goes through pgx's simple protocol, which is what lets one call
// run a whole migration file; nothing is interpolated there.
type migrator struct{ q pgxQuerier }

func (m migrator) Exec(ctx context.Context, sql string, args ...any) error {
	_, err := m.q.Exec(ctx, sql, args...)
	return err
}

func (m migrator) QueryInts(ctx context.Context, sql string, args ...any) ([]int64, error) {
	rows, err := m.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

func (m migrator) InTx(ctx context.Context, fn func(migrations.Conn) error) error {
	return pgx.BeginFunc(ctx, m.q, func(tx pgx.Tx) error { return fn(migrator{tx}) })
}
