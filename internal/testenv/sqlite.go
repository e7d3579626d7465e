package testenv

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/storage/sqlite"
)

// SQLite returns a fresh, migrated SQLite store in the test's temporary
// directory, closed when the test ends.
func SQLite(tb testing.TB) *sqlite.Store {
	tb.Helper()
	return SQLiteAt(tb, filepath.Join(tb.TempDir(), "gatehouse.db"))
}

// SQLiteAt opens (and migrates) the store at path; two calls with one path
// give two handles on one database, as two instances would have.
func SQLiteAt(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return st
}
