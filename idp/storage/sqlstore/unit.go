package sqlstore

import (
	"context"
	"errors"
	"sync"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// A unit of work (Store.Atomically) is one write transaction that every
// call made with the unit's context joins: the statements of creates,
// updates, deletes and reads alike go to the unit's transaction, and a
// nested InTx runs its function there without a commit of its own. So a
// caller can make several storage calls one transaction (a login's
// session, request, counters and audit event) without a storage method
// for each combination.

// unitKey finds a store's unit in a context; keyed by store, so a unit of
// one store never captures the calls of another.
type unitKey struct{ s *Store }

// unit is one unit of work: its transaction and the first statement that
// failed in it.
type unit struct {
	q   Querier
	mu  sync.Mutex
	err error
}

func (s *Store) unitOf(ctx context.Context) *unit {
	u, _ := ctx.Value(unitKey{s}).(*unit)
	return u
}

// Atomically runs fn in one transaction: see storage.Units. The error fn
// returns is returned as it is.
func (s *Store) Atomically(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.unitOf(ctx) != nil {
		return fn(ctx) // nested: part of the outer unit
	}
	err := s.d.InTx(ctx, func(q Querier) error {
		u := &unit{}
		u.q = unitQuerier{q: q, u: u, s: s}
		if err := fn(context.WithValue(ctx, unitKey{s}, u)); err != nil {
			return callerError{err}
		}
		// A statement failed and fn went on (it ignored a best-effort
		// write): on PostgreSQL the transaction is aborted anyway, and on
		// either backend keeping the rest would keep half of the unit.
		u.mu.Lock()
		defer u.mu.Unlock()
		return u.err
	})
	var ce callerError
	if errors.As(err, &ce) {
		return ce.err
	}
	return s.fail("unit of work", err)
}

// unitQuerier is the unit's transaction, noting the first statement that
// failed for a reason other than finding no row.
type unitQuerier struct {
	q Querier
	u *unit
	s *Store
}

func (uq unitQuerier) note(err error) error {
	if err != nil && !uq.s.noRows(err) {
		uq.u.mu.Lock()
		if uq.u.err == nil {
			uq.u.err = err
		}
		uq.u.mu.Unlock()
	}
	return err
}

func (uq unitQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	n, err := uq.q.Exec(ctx, query, args...)
	return n, uq.note(err)
}

func (uq unitQuerier) QueryRow(ctx context.Context, query string, args ...any) Row {
	return unitRow{r: uq.q.QueryRow(ctx, query, args...), uq: uq}
}

func (uq unitQuerier) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := uq.q.Query(ctx, query, args...)
	return rows, uq.note(err)
}

type unitRow struct {
	r  Row
	uq unitQuerier
}

func (r unitRow) Scan(dest ...any) error { return r.uq.note(r.r.Scan(dest...)) }

// unitAware routes the calls made with a unit's context to the unit.
type unitAware struct {
	Driver
	s *Store
}

func (a unitAware) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if u := a.s.unitOf(ctx); u != nil {
		return u.q.Exec(ctx, query, args...)
	}
	return a.Driver.Exec(ctx, query, args...)
}

func (a unitAware) QueryRow(ctx context.Context, query string, args ...any) Row {
	if u := a.s.unitOf(ctx); u != nil {
		return u.q.QueryRow(ctx, query, args...)
	}
	return a.Driver.QueryRow(ctx, query, args...)
}

func (a unitAware) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	if u := a.s.unitOf(ctx); u != nil {
		return u.q.Query(ctx, query, args...)
	}
	return a.Driver.Query(ctx, query, args...)
}

func (a unitAware) InTx(ctx context.Context, fn func(Querier) error) error {
	if u := a.s.unitOf(ctx); u != nil {
		return fn(u.q)
	}
	return a.Driver.InTx(ctx, fn)
}

var _ storage.Units = (*Store)(nil)
