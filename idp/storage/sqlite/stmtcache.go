package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxCachedStmts bounds a cache. sqlstore's query texts are constants and a
// few combinations of filters, far fewer than this; the bound only keeps a
// future query built from input from growing the cache without end.
const maxCachedStmts = 256

// stmtCache keeps one *sql.Stmt per query text on one *sql.DB. SQLite
// compiles every statement it is handed; on the token endpoint that
// compilation was about a sixth of a code exchange, so each text is
// compiled once per connection and reused (database/sql prepares a
// cached Stmt again, by itself, on a connection that has not seen it).
//
// On the writer, which is one connection, a statement can only be
// prepared when no transaction holds that connection: preparing inside a
// transaction would wait for the connection the transaction itself holds.
// So a text first seen inside a transaction runs unprepared there and is
// noted; InTx prepares the noted texts after the transaction ends, and the
// next transaction reuses them through Tx.StmtContext.
type stmtCache struct {
	db *sql.DB

	// off makes every text run unprepared, as a full cache does. Only
	// BenchmarkCachedRead sets it, before first use, to measure the
	// cache against its absence on the same code path.
	off bool

	mu      sync.RWMutex
	m       map[string]*sql.Stmt
	pending map[string]struct{}
	closed  bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, pending: map[string]struct{}{}}
}

// lookup returns the cached statement for q, if any. It never prepares.
func (c *stmtCache) lookup(q string) (*sql.Stmt, bool) {
	c.mu.RLock()
	st, ok := c.m[q]
	c.mu.RUnlock()
	return st, ok
}

// get returns the cached statement for q, preparing it if needed. It takes
// a connection to prepare, so it must not run while the caller's own
// transaction holds the writer. nil, nil means "run q unprepared": the
// cache is off, full or closed.
func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := c.lookup(q); ok {
		return st, nil
	}
	c.mu.RLock()
	full := c.off || c.closed || len(c.m) >= maxCachedStmts
	c.mu.RUnlock()
	if full {
		return nil, nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[q]; ok || c.closed || len(c.m) >= maxCachedStmts {
		// Another goroutine prepared it first, or the cache filled or
		// closed meanwhile: use what is there, or nothing.
		_ = st.Close()
		return prev, nil
	}
	c.m[q] = st
	return st, nil
}

// note records q, seen inside a transaction, for prepareNoted.
func (c *stmtCache) note(q string) {
	c.mu.Lock()
	if len(c.pending) < maxCachedStmts {
		c.pending[q] = struct{}{}
	}
	c.mu.Unlock()
}

// prepareNoted prepares the texts noted inside transactions. A failure is
// dropped: the text keeps running unprepared, and the statement itself
// reports whatever is wrong with it.
func (c *stmtCache) prepareNoted(ctx context.Context) {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return
	}
	qs := make([]string, 0, len(c.pending))
	for q := range c.pending {
		qs = append(qs, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range qs {
		_, _ = c.get(ctx, q)
	}
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}

// errRow is a Row whose query failed before it ran.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
