package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Store implements storage.Storage over a Driver.
type Store struct {
	d Driver
}

var _ storage.Storage = (*Store)(nil)

// New returns a Store over d. The schema must already be migrated. Every
// statement goes through guard (guard.go: text no backend can store never
// reaches the driver), and every call into d is bounded by the query
// timeout (see QueryTimeout).
func New(d Driver, opts ...Option) *Store {
	s := &Store{}
	s.d = unitAware{Driver: guard{deadlineDriver{d: d, timeout: QueryTimeoutOf(opts...)}}, s: s}
	return s
}

// Ping reports whether the database answers. Any failure wraps
// ErrUnavailable: not answering is exactly what Ping reports.
func (s *Store) Ping(ctx context.Context) error {
	err := s.d.Ping(ctx)
	if err == nil {
		return nil
	}
	if err = s.d.MapError(err); !errors.Is(err, storage.ErrUnavailable) {
		err = fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return fmt.Errorf("storage: ping: %w", err)
}

// Close releases the driver's connections.
func (s *Store) Close() error { return s.d.Close() }

// callerError marks an error returned by an update function, so that it is
// passed back as is and never mistaken for a driver error.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }
func (e callerError) Unwrap() error { return e.err }

// fail prefixes err with the operation and wraps the storage sentinel the
// driver maps it to; nil stays nil.
func (s *Store) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	var ce callerError
	if errors.As(err, &ce) {
		return fmt.Errorf("storage: %s: %w", op, ce.err)
	}
	return fmt.Errorf("storage: %s: %w", op, s.d.MapError(err))
}

// noRows reports whether err means that a query returned no row.
func (s *Store) noRows(err error) bool {
	return errors.Is(s.d.MapError(err), storage.ErrNotFound)
}

// errZeroNow guards the methods that record now: a zero now would store 0,
// which reads back as "never consumed" or "never revoked".
var errZeroNow = errors.New("storage: now is the zero time")

// get reads the row keyed key.
func get[T any](ctx context.Context, s *Store, t *table[T], op, key string) (T, error) {
	v, err := t.one(ctx, s.d, t.byKey(""), key)
	if err != nil {
		var zero T
		return zero, s.fail(op, err)
	}
	return v, s.fail(op, t.loadChildren(ctx, s.d, &v))
}

// getWhere reads the one row query selects, with its children.
func getWhere[T any](ctx context.Context, s *Store, t *table[T], op, query string, args ...any) (T, error) {
	v, err := t.one(ctx, s.d, query, args...)
	if err == nil {
		err = t.loadChildren(ctx, s.d, &v)
	}
	if err != nil {
		var zero T
		return zero, s.fail(op, err)
	}
	return v, nil
}

// create inserts v and its child rows in one transaction.
func create[T any](ctx context.Context, s *Store, t *table[T], op string, v T) error {
	return s.fail(op, s.d.InTx(ctx, func(q Querier) error {
		if err := t.put(ctx, q, &v); err != nil {
			return err
		}
		return t.storeChildren(ctx, q, &v)
	}))
}

// update is the update-by-function of every entity: read and lock the row,
// let fn compute the new one, write it back, all in one transaction.
func update[T any](ctx context.Context, s *Store, t *table[T], op, key string, fn func(T) (T, error)) (T, error) {
	var out T
	err := s.d.InTx(ctx, func(q Querier) error {
		cur, err := t.one(ctx, q, t.byKey(s.d.ForUpdate()), key)
		if err != nil {
			return err
		}
		if err := t.loadChildren(ctx, q, &cur); err != nil {
			return err
		}
		was := t.encoded(&cur)
		next, err := fn(cur)
		if err != nil {
			return callerError{err}
		}
		if err := t.rewrite(ctx, q, was, &next, key); err != nil {
			return err
		}
		out = next
		return t.replaceChildren(ctx, q, &next)
	})
	if err != nil {
		var zero T
		return zero, s.fail(op, err)
	}
	return out, nil
}

func remove[T any](ctx context.Context, s *Store, t *table[T], op, key string) error {
	return s.fail(op, t.deleteKey(ctx, s.d, key))
}

// exec runs one statement outside a transaction and returns its row count.
func (s *Store) exec(ctx context.Context, op, query string, args ...any) (int, error) {
	n, err := s.d.Exec(ctx, query, args...)
	return int(n), s.fail(op, err)
}

// limit applies the default (100) and maximum (1000) page sizes.
func limit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}

// DeleteExpired deletes, table by table, the rows whose lifetime ended
// before now. Each DELETE commits on its own so that a large clean-up never
// holds SQLite's single write lock for long.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	stmts := []string{
		`DELETE FROM auth_requests WHERE expires_at < $1`,
		`DELETE FROM auth_codes WHERE expires_at < $1`,
		`DELETE FROM refresh_tokens WHERE expires_at < $1`,
		`DELETE FROM access_tokens WHERE expires_at < $1`,
		// An unset idle expiry (0) means no idle timeout, not "expired".
		`DELETE FROM sessions WHERE expires_at < $1 OR (idle_expires_at <> 0 AND idle_expires_at < $1)`,
		`DELETE FROM one_time_tokens WHERE expires_at < $1`,
		`DELETE FROM attempt_counters WHERE expires_at < $1`,
		// Only abandoned enrolments expire; a confirmed factor has no end.
		`DELETE FROM factors WHERE confirmed_at = 0 AND expires_at <> 0 AND expires_at < $1`,
		`DELETE FROM assertion_ids WHERE expires_at < $1`,
		`DELETE FROM saml_request_ids WHERE expires_at < $1`,
		`DELETE FROM saml_participants WHERE expires_at < $1`,
		`DELETE FROM saml_logouts WHERE expires_at < $1`,
	}
	total := 0
	for _, q := range stmts {
		n, err := s.exec(ctx, "delete expired", q, micros(now))
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
