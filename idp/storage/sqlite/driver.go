package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/storage/sqlstore"
	"github.com/gatehouse-idp/gatehouse/migrations"
)

// db adapts two *sql.DB to sqlstore.Driver: w, a single connection, takes
// every write and transaction; r, a read-only pool, serves plain reads,
// which WAL lets run beside the writer. Each has its statement cache.
type db struct {
	w, r   *sql.DB
	ws, rs *stmtCache
}

var _ sqlstore.Driver = (*db)(nil)

func newDB(w, r *sql.DB) *db {
	return &db{w: w, r: r, ws: newStmtCache(w), rs: newStmtCache(r)}
}

func (d *db) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	st, err := d.ws.get(ctx, q)
	switch {
	case err != nil:
		return 0, err
	case st == nil:
		return execOn(ctx, d.w, q, args...)
	}
	return execResult(st.ExecContext(ctx, args...))
}

func (d *db) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	st, err := d.rs.get(ctx, q)
	switch {
	case err != nil:
		return errRow{err}
	case st == nil:
		return d.r.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (d *db) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	st, err := d.rs.get(ctx, q)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return queryOn(ctx, d.r, q, args...)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (d *db) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	err := inTx(ctx, d.w, func(tx *sql.Tx) error { return fn(txQuerier{tx: tx, c: d.ws}) })
	// The writer is free again: prepare what the transaction ran unprepared.
	d.ws.prepareNoted(ctx)
	return err
}

func (d *db) ForUpdate() string { return "" }

// Lock is a no-op: the single writer connection already runs one write
// transaction at a time.
func (d *db) Lock(context.Context, sqlstore.Querier, ...string) error { return nil }

func (d *db) MapError(err error) error { return mapError(err) }

func (d *db) Ping(ctx context.Context) error {
	if err := d.w.PingContext(ctx); err != nil {
		return err
	}
	return d.r.PingContext(ctx)
}

func (d *db) Close() error {
	return errors.Join(d.rs.close(), d.ws.close(), d.r.Close(), d.w.Close())
}

// execer is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func execOn(ctx context.Context, e execer, q string, args ...any) (int64, error) {
	return execResult(e.ExecContext(ctx, q, args...))
}

func execResult(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func queryOn(ctx context.Context, e execer, q string, args ...any) (sqlstore.Rows, error) {
	rows, err := e.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

type beginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

func inTx(ctx context.Context, b beginner, fn func(*sql.Tx) error) error {
	tx, err := b.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return fmt.Errorf("%w (rollback: %v)", err, rbErr)
		}
		return err
	}
	return tx.Commit()
}

// txQuerier runs everything, reads included, inside the write transaction,
// through the writer's cached statements where they exist (see stmtCache).
type txQuerier struct {
	tx *sql.Tx
	c  *stmtCache
}

// stmt returns q's cached statement bound to the transaction, or nil after
// noting q for preparation once the transaction ends.
func (t txQuerier) stmt(ctx context.Context, q string) *sql.Stmt {
	if st, ok := t.c.lookup(q); ok {
		// Closed by the transaction when it ends.
		return t.tx.StmtContext(ctx, st)
	}
	t.c.note(q)
	return nil
}

func (t txQuerier) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	if st := t.stmt(ctx, q); st != nil {
		return execResult(st.ExecContext(ctx, args...))
	}
	return execOn(ctx, t.tx, q, args...)
}

func (t txQuerier) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

// Query stays unprepared: a transaction may hold two result sets of one
// text at once, and SQLite cannot step one compiled statement for both.
func (t txQuerier) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return queryOn(ctx, t.tx, q, args...)
}

// sqlRows drops Close's error: database/sql reports it through Err too.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// migrator adapts the writer connection to migrations.Conn.
type migrator struct{ e execer }

func (m migrator) Exec(ctx context.Context, q string, args ...any) error {
	_, err := m.e.ExecContext(ctx, q, args...)
	return err
}

func (m migrator) QueryInts(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := m.e.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (m migrator) InTx(ctx context.Context, fn func(migrations.Conn) error) error {
	b, ok := m.e.(beginner)
	if !ok {
		return errors.New("sqlite: nested migration transaction")
	}
	return inTx(ctx, b, func(tx *sql.Tx) error { return fn(migrator{tx}) })
}
