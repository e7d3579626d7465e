package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/idp/storage/sqlstore"
)

// A write lock held elsewhere (another process on the same file) makes a
// write wait up to the busy timeout (10 s); the query timeout must end the
// wait first, as ErrUnavailable, and the store must work once the lock is
// released.
func TestWriteLockHeldElsewhereIsUnavailable(t *testing.T) {
	const timeout = 300 * time.Millisecond
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := Open(t.Context(), path, sqlstore.QueryTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	lock, err := other.BeginTx(t.Context(), nil) // _txlock=immediate: takes the write lock
	if err != nil {
		t.Fatal(err)
	}

	errc := make(chan error, 1)
	go func() {
		_, err := s.UpdateUser(t.Context(), "user-1", func(u storage.User) (storage.User, error) { return u, nil })
		errc <- err
	}()
	select {
	case err = <-errc:
	case <-time.After(10 * timeout):
		lock.Rollback()
		t.Fatalf("UpdateUser still waits %v for the write lock, want it bounded by the query timeout (%v)", 10*timeout, timeout)
	}
	if !errors.Is(err, storage.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("UpdateUser while another connection holds the write lock: err = %v, want ErrUnavailable wrapping context.DeadlineExceeded", err)
	}

	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(t.Context(), "user-1", func(u storage.User) (storage.User, error) { return u, nil }); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("UpdateUser after the lock is released: err = %v, want ErrNotFound (the writer must recover)", err)
	}
}
