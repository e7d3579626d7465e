package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// DefaultQueryTimeout bounds every storage call when no QueryTimeout is
// given (config storage.query_timeout).
const DefaultQueryTimeout = 5 * time.Second

// Option configures a Store.
type Option func(*options)

type options struct {
	queryTimeout time.Duration
}

// QueryTimeout bounds every call into the database: a statement, a whole
// transaction with its retries, a ping. A call that runs out of it fails
// with storage.ErrUnavailable wrapping context.DeadlineExceeded, so that a
// database that stops answering (rather than refusing) turns into a 503
// instead of a request that hangs. d <= 0 keeps the default.
func QueryTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.queryTimeout = d
		}
	}
}

// QueryTimeoutOf returns the query timeout opts select, for backends that
// also bound their connection set-up with it.
func QueryTimeoutOf(opts ...Option) time.Duration {
	o := options{queryTimeout: DefaultQueryTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	return o.queryTimeout
}

// deadlineDriver gives every call into the Driver a context bounded by
// timeout, derived from the caller's, so that every Store method is bounded
// without each of them having to remember it. A caller's earlier deadline
// or its cancellation still applies.
type deadlineDriver struct {
	d       Driver
	timeout time.Duration
}

var _ Driver = deadlineDriver{}

func (dd deadlineDriver) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	c, cancel := context.WithTimeout(ctx, dd.timeout)
	defer cancel()
	n, err := dd.d.Exec(c, query, args...)
	return n, timedOut(c, err)
}

// QueryRow's context lives until Scan, which is when the driver reads the
// row; it is released then (or by its timer if Scan is never called).
func (dd deadlineDriver) QueryRow(ctx context.Context, query string, args ...any) Row {
	c, cancel := context.WithTimeout(ctx, dd.timeout)
	return deadlineRow{r: dd.d.QueryRow(c, query, args...), ctx: c, cancel: cancel}
}

// Query's context lives until the rows are closed.
func (dd deadlineDriver) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	c, cancel := context.WithTimeout(ctx, dd.timeout)
	rows, err := dd.d.Query(c, query, args...)
	if err != nil {
		err = timedOut(c, err)
		cancel()
		return nil, err
	}
	return &deadlineRows{r: rows, ctx: c, cancel: cancel}, nil
}

// InTx bounds the whole transaction, retries included: the statements fn
// runs get the transaction's deadline whatever context they are given.
func (dd deadlineDriver) InTx(ctx context.Context, fn func(Querier) error) error {
	c, cancel := context.WithTimeout(ctx, dd.timeout)
	defer cancel()
	deadline, _ := c.Deadline()
	err := dd.d.InTx(c, func(q Querier) error { return fn(txDeadline{q: q, deadline: deadline}) })
	var ce callerError
	if errors.As(err, &ce) {
		return err
	}
	return timedOut(c, err)
}

func (dd deadlineDriver) ForUpdate() string { return dd.d.ForUpdate() }

func (dd deadlineDriver) Lock(ctx context.Context, q Querier, keys ...string) error {
	return dd.d.Lock(ctx, q, keys...)
}

// MapError maps a deadline that ran out to storage.ErrUnavailable before the
// backend's own mapping, and leaves a caller's cancellation as it is: the
// caller went away, the database did not fail.
func (dd deadlineDriver) MapError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		if errors.Is(err, storage.ErrUnavailable) {
			return err
		}
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	case errors.Is(err, context.Canceled):
		return err
	}
	return dd.d.MapError(err)
}

func (dd deadlineDriver) Ping(ctx context.Context) error {
	c, cancel := context.WithTimeout(ctx, dd.timeout)
	defer cancel()
	return timedOut(c, dd.d.Ping(c))
}

func (dd deadlineDriver) Close() error { return dd.d.Close() }

// timedOut makes err say context.DeadlineExceeded when c's deadline ran out
// during the call: drivers report it their own way (pgx as a timeout,
// SQLite as an interrupted statement).
func timedOut(c context.Context, err error) error {
	if err == nil || c.Err() == nil || errors.Is(err, c.Err()) {
		return err
	}
	return ctxError{err: err, ctx: c.Err()}
}

// ctxError is a driver error that happened because its context ended.
type ctxError struct{ err, ctx error }

func (e ctxError) Error() string   { return e.err.Error() + " (" + e.ctx.Error() + ")" }
func (e ctxError) Unwrap() []error { return []error{e.err, e.ctx} }

type deadlineRow struct {
	r      Row
	ctx    context.Context
	cancel context.CancelFunc
}

func (r deadlineRow) Scan(dest ...any) error {
	defer r.cancel()
	return timedOut(r.ctx, r.r.Scan(dest...))
}

type deadlineRows struct {
	r      Rows
	ctx    context.Context
	cancel context.CancelFunc
}

func (r *deadlineRows) Next() bool             { return r.r.Next() }
func (r *deadlineRows) Scan(dest ...any) error { return timedOut(r.ctx, r.r.Scan(dest...)) }
func (r *deadlineRows) Err() error             { return timedOut(r.ctx, r.r.Err()) }

func (r *deadlineRows) Close() {
	r.r.Close()
	r.cancel()
}

// txDeadline runs a transaction's statements under the transaction's
// deadline.
type txDeadline struct {
	q        Querier
	deadline time.Time
}

func (t txDeadline) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	c, cancel := context.WithDeadline(ctx, t.deadline)
	defer cancel()
	n, err := t.q.Exec(c, query, args...)
	return n, timedOut(c, err)
}

func (t txDeadline) QueryRow(ctx context.Context, query string, args ...any) Row {
	c, cancel := context.WithDeadline(ctx, t.deadline)
	return deadlineRow{r: t.q.QueryRow(c, query, args...), ctx: c, cancel: cancel}
}

func (t txDeadline) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	c, cancel := context.WithDeadline(ctx, t.deadline)
	rows, err := t.q.Query(c, query, args...)
	if err != nil {
		err = timedOut(c, err)
		cancel()
		return nil, err
	}
	return &deadlineRows{r: rows, ctx: c, cancel: cancel}, nil
}
