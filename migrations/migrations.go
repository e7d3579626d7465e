package migrations

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Dialects, which are also the directories of the embedded files.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// Migration is one embedded SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

var fileName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// Load returns the migrations of dialect in version order. A file whose name
// is not NNNN_name.sql is an error rather than silently skipped, so a typo
// cannot leave a migration unapplied.
func Load(dialect string) ([]Migration, error) {
	entries, err := fs.ReadDir(files, dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations: unknown dialect %q: %w", dialect, err)
	}
	var out []Migration
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migrations: %s/%s: name is not NNNN_name.sql", dialect, e.Name())
		}
		version, _ := strconv.Atoi(m[1]) // the pattern allows digits only
		body, err := fs.ReadFile(files, path.Join(dialect, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		out = append(out, Migration{Version: version, Name: m[2], SQL: string(body)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations: %s: version %04d appears twice", dialect, out[i].Version)
		}
	}
	return out, nil
}

// Conn is one database session. The runner does all its work on it, so that
// a session-level lock the caller took before Apply covers the whole run.
type Conn interface {
	// Exec runs sql. Without args, sql may hold several statements.
	Exec(ctx context.Context, sql string, args ...any) error
	// QueryInts returns the first column of the rows of sql.
	QueryInts(ctx context.Context, sql string, args ...any) ([]int64, error)
	// InTx runs fn inside one transaction on this session; an error from fn
	// rolls it back.
	InTx(ctx context.Context, fn func(Conn) error) error
}

// The same text works in both dialects: BIGINT has integer affinity in SQLite.
const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    applied_at BIGINT NOT NULL
)`

// Apply applies, in order and each in its own transaction, the migrations of
// dialect that schema_migrations does not list yet, and returns their
// versions (empty when the schema was up to date).
//
// Each transaction checks again that its version is still missing, so that
// where no lock serializes runners (SQLite files shared by processes) a
// second runner skips what the first applied instead of failing on it.
func Apply(ctx context.Context, c Conn, dialect string) ([]int, error) {
	return ApplyUpTo(ctx, c, dialect, math.MaxInt)
}

// ApplyUpTo is Apply stopped after version last. Upgrade tests use it to
// build a database as an older Gatehouse left it.
func ApplyUpTo(ctx context.Context, c Conn, dialect string, last int) ([]int, error) {
	all, err := Load(dialect)
	if err != nil {
		return nil, err
	}
	all = slices.DeleteFunc(all, func(m Migration) bool { return m.Version > last })
	if err := c.Exec(ctx, createTable); err != nil {
		return nil, fmt.Errorf("migrations: create schema_migrations: %w", err)
	}
	done, err := c.QueryInts(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("migrations: read applied versions: %w", err)
	}
	if err := checkKnown(done, all); err != nil {
		return nil, err
	}
	applied := []int{}
	for _, m := range all {
		if slices.Contains(done, int64(m.Version)) {
			continue
		}
		ran, err := applyOne(ctx, c, m)
		if err != nil {
			return applied, err
		}
		if ran {
			applied = append(applied, m.Version)
		}
	}
	return applied, nil
}

// checkKnown refuses a database migrated by a newer Gatehouse: running old
// code on a newer schema can corrupt data in ways no error would show.
func checkKnown(done []int64, all []Migration) error {
	for _, v := range done {
		if !slices.ContainsFunc(all, func(m Migration) bool { return int64(m.Version) == v }) {
			return fmt.Errorf("migrations: database has version %04d, unknown to this build; upgrade Gatehouse", v)
		}
	}
	return nil
}

func applyOne(ctx context.Context, c Conn, m Migration) (ran bool, err error) {
	err = c.InTx(ctx, func(tx Conn) error {
		have, err := tx.QueryInts(ctx, `SELECT version FROM schema_migrations WHERE version = $1`, m.Version)
		if err != nil || len(have) > 0 {
			return err
		}
		if err := tx.Exec(ctx, m.SQL); err != nil {
			return err
		}
		ran = true
		return tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.Version, m.Name, time.Now().UnixMicro())
	})
	if err != nil {
		return false, fmt.Errorf("migrations: apply %04d_%s: %w", m.Version, m.Name, err)
	}
	return ran, nil
}
