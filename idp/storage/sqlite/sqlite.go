package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/idp/storage/sqlstore"
	"github.com/gatehouse-idp/gatehouse/migrations"
)

// Store is the SQLite backend.
type Store struct {
	*sqlstore.Store
	db *db
}

var _ storage.Storage = (*Store)(nil)

// Open opens (creating if needed) the database file at path. The directory
// is created 0700 and the file 0600: it holds password hashes and sealed
// keys. Open does not migrate. Every storage call is bounded by the query
// timeout in opts (sqlstore.QueryTimeout), beside the busy timeout that
// bounds waiting for the write lock.
func Open(ctx context.Context, path string, opts ...sqlstore.Option) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || strings.HasPrefix(path, ":memory:") {
		return nil, fmt.Errorf("sqlite: path %q must be a plain file path", path)
	}
	if err := createFile(path); err != nil {
		return nil, err
	}
	d, err := openDB(ctx, path)
	if err != nil {
		return nil, err
	}
	return &Store{Store: sqlstore.New(d, opts...), db: d}, nil
}

func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("sqlite: create directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: create database file: %w", err)
	}
	return f.Close()
}

// dsn builds the modernc DSN for path. Writers take the write lock at BEGIN
// (_txlock=immediate): a deferred transaction that reads and then writes can
// fail with SQLITE_BUSY when another writer got there first, and retrying
// does not help. Readers are query_only so that a write sent to the read
// pool by mistake fails loudly.
func dsn(path string, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return path + "?" + q.Encode()
}

// openDB opens the writer first, so that the file is in WAL mode before any
// reader opens it.
func openDB(ctx context.Context, path string) (*db, error) {
	w, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	// SQLite has one writer at a time; one connection queues writers in Go
	// instead of letting them spin on SQLITE_BUSY.
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, mapError(err))
	}
	r, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	r.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	return newDB(w, r), nil
}

// Migrate applies the pending migrations and returns their versions.
func (s *Store) Migrate(ctx context.Context) ([]int, error) {
	conn, err := s.db.w.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrate: %w", mapError(err))
	}
	defer conn.Close()
	applied, err := migrations.Apply(ctx, migrator{conn}, migrations.SQLite)
	if err != nil {
		return applied, fmt.Errorf("sqlite: %w", mapError(err))
	}
	return applied, nil
}

// mapError wraps the storage sentinel that err stands for, if any.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	}
	// A statement cached before Close and run after it fails as closed.
	if msg := err.Error(); errors.Is(err, sql.ErrConnDone) || strings.Contains(msg, "sql: database is closed") ||
		strings.Contains(msg, "sql: statement is closed") {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CONSTRAINT:
		return fmt.Errorf("%w: %w", storage.ErrConflict, err)
	// BUSY after the busy timeout, a missing or unreadable file, a full or
	// failing disk: the database cannot serve, which callers report as 503.
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}
