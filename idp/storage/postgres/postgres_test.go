package postgres

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/idp/storage/storagetest"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
	"github.com/gatehouse-idp/gatehouse/migrations"
)

// open opens a store on dsn and closes it when the test ends.
func open(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// connect opens a plain connection for the test's own queries.
func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func allVersions(t *testing.T) []int {
	t.Helper()
	all, err := migrations.Load(migrations.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, m := range all {
		out = append(out, m.Version)
	}
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	reused.Lock()
	for _, dsn := range reused.dsns {
		testenv.DropDatabase(dsn)
	}
	reused.Unlock()
	testenv.DropTemplates()
	os.Exit(code)
}

// migratedCopy is a new database copied from one migrated once per run:
// the suite's hundreds of tests would otherwise each run every migration.
// It is not dropped when t ends (emptyDatabase reuses it; TestMain drops
// it).
func migratedCopy(t *testing.T) string {
	return testenv.PostgresFrom(t, "migrated", func(dsn string) error {
		s, err := Open(context.Background(), dsn)
		if err != nil {
			return err
		}
		defer s.Close()
		_, err = s.Migrate(context.Background())
		return err
	})
}

// reused holds databases a finished conformance test emptied, for the
// next: emptying one (a TRUNCATE of every table) costs a tenth of creating
// a database, and the suite has hundreds of tests.
var reused struct {
	sync.Mutex
	dsns []string
}

// emptyDatabase is a migrated database with no rows, reused when one is
// free; it is emptied and given back when the test ends.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	reused.Lock()
	var dsn string
	if n := len(reused.dsns); n > 0 {
		dsn, reused.dsns = reused.dsns[n-1], reused.dsns[:n-1]
	}
	reused.Unlock()
	if dsn == "" {
		// Created outside the test's own cleanup, so that it outlives
		// the test; testenv.DropTemplates does not know it, so it is
		// dropped with the others by name at the end (TestMain).
		dsn = migratedCopy(t)
	}
	t.Cleanup(func() {
		if err := truncateAll(dsn); err != nil {
			t.Logf("empty the database for reuse: %v", err)
			return
		}
		reused.Lock()
		reused.dsns = append(reused.dsns, dsn)
		reused.Unlock()
	})
	return dsn
}

// truncateAll empties every table but the migrations' record, and resets
// their sequences, so the database is as a fresh migrated one.
func truncateAll(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'`)
	if err != nil {
		return err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) == 0 {
		return err
	}
	_, err = c.Exec(ctx, "TRUNCATE "+strings.Join(tables, ", ")+" RESTART IDENTITY CASCADE")
	return err
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		s := open(t, emptyDatabase(t))
		// Nothing is pending: this checks the copy is at the latest
		// version, as a migrated database is.
		if applied, err := s.Migrate(t.Context()); err != nil || len(applied) != 0 {
			t.Fatalf("migrate a copy of the migrated template: %v %v", applied, err)
		}
		return s
	})
}

func TestMigrateFromZeroThenNothing(t *testing.T) {
	s := open(t, testenv.Postgres(t))
	applied, err := s.Migrate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := allVersions(t); !slices.Equal(applied, want) {
		t.Fatalf("first Migrate applied %v, want %v", applied, want)
	}
	again, err := s.Migrate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Fatalf("second Migrate applied %v, want nothing", again)
	}
}

// Instances started together all migrate at once; the advisory lock must
// make exactly one of them apply each version and the others succeed.
func TestConcurrentMigrate(t *testing.T) {
	dsn := testenv.Postgres(t)
	const n = 8
	stores := make([]*Store, n)
	for i := range stores {
		stores[i] = open(t, dsn)
	}
	results := make([][]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { results[i], errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	var applied []int
	for i := range n {
		if errs[i] != nil {
			t.Errorf("instance %d: Migrate: %v", i, errs[i])
		}
		applied = append(applied, results[i]...)
	}
	slices.Sort(applied)
	if want := allVersions(t); !slices.Equal(applied, want) {
		t.Errorf("versions applied across instances = %v, want each of %v once", applied, want)
	}
	var rows int
	if err := connect(t, dsn).QueryRow(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(allVersions(t)) {
		t.Errorf("schema_migrations has %d rows, want %d", rows, len(allVersions(t)))
	}
}

// While another session holds the migration lock, Migrate must wait without
// touching the schema, and go on once the lock is released.
func TestMigrateWaitsForAdvisoryLock(t *testing.T) {
	dsn := testenv.Postgres(t)
	holder := connect(t, dsn)
	if _, err := holder.Exec(t.Context(), `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		t.Fatal(err)
	}
	s := open(t, dsn)
	type result struct {
		applied []int
		err     error
	}
	done := make(chan result, 1)
	go func() {
		applied, err := s.Migrate(t.Context())
		done <- result{applied, err}
	}()

	waitForLockWaiter(t, holder)
	var table *string
	if err := holder.QueryRow(t.Context(), `SELECT to_regclass('schema_migrations')::text`).Scan(&table); err != nil {
		t.Fatal(err)
	}
	if table != nil {
		t.Fatal("schema_migrations exists while the lock is held elsewhere: Migrate did not wait")
	}

	if _, err := holder.Exec(t.Context(), `SELECT pg_advisory_unlock($1)`, migrationLock); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("Migrate after the lock was released: %v", r.err)
	}
	if want := allVersions(t); !slices.Equal(r.applied, want) {
		t.Fatalf("Migrate applied %v, want %v", r.applied, want)
	}
}

// waitForLockWaiter polls pg_locks until a session of this database waits
// for the migration lock. It is bounded by a deadline, not by sleeping: each
// poll is a round trip to the server.
func waitForLockWaiter(t *testing.T, c *pgx.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// A bigint advisory key shows as classid (high half), objid (low half),
	// objsubid 1.
	const q = `SELECT COUNT(*) FROM pg_locks
		WHERE locktype = 'advisory' AND NOT granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid::bigint = ($1::bigint >> 32) AND objid::bigint = ($1::bigint & x'ffffffff'::bigint)
		AND objsubid = 1`
	for {
		var waiting int
		if err := c.QueryRow(ctx, q, migrationLock).Scan(&waiting); err != nil {
			t.Fatalf("no Migrate waited for the advisory lock: %v", err)
		}
		if waiting > 0 {
			return
		}
	}
}

func TestPingUnavailableAfterDatabaseIsDropped(t *testing.T) {
	dsn := testenv.Postgres(t)
	s := open(t, dsn)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping on a live database: %v", err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	admin := connect(t, testenv.PostgresDSN(t))
	if _, err := admin.Exec(t.Context(), `DROP DATABASE `+pgx.Identifier{cfg.Database}.Sanitize()+` WITH (FORCE)`); err != nil {
		t.Fatal(err)
	}
	// The first Ping may still find the pooled connection the server just
	// terminated; either way the database is gone.
	for i := range 2 {
		if err := s.Ping(t.Context()); !errors.Is(err, storage.ErrUnavailable) {
			t.Fatalf("Ping %d after DROP DATABASE = %v, want ErrUnavailable", i+1, err)
		}
	}
}

func TestPingUnavailableAfterClose(t *testing.T) {
	s, err := Open(t.Context(), testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Ping(t.Context()); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Ping after Close = %v, want ErrUnavailable", err)
	}
}

func TestOpenRefusesSimpleProtocol(t *testing.T) {
	tests := []struct {
		name string
		dsn  string
		ok   bool
	}{
		{"url simple protocol", "postgres://u@127.0.0.1:1/db?default_query_exec_mode=simple_protocol", false},
		{"keyword simple protocol", "host=127.0.0.1 port=1 dbname=db default_query_exec_mode=simple_protocol", false},
		{"default mode", "postgres://u@127.0.0.1:1/db", true},
		{"exec mode", "postgres://u@127.0.0.1:1/db?default_query_exec_mode=exec", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.Context(), tt.dsn)
			if err == nil {
				s.Close()
			}
			if (err == nil) != tt.ok {
				t.Fatalf("Open(%q) error = %v, want success %v", tt.dsn, err, tt.ok)
			}
		})
	}
}

func TestUpgrades(t *testing.T) {
	storagetest.Upgrades(t, func(t *testing.T) (storage.Storage, func(int) error, storagetest.Exec) {
		dsn := testenv.Postgres(t)
		s := open(t, dsn)
		conn := connect(t, dsn)
		return s, func(version int) error {
			_, err := migrations.ApplyUpTo(t.Context(), migrator{conn}, migrations.Postgres, version)
			return err
		}, migrator{conn}.Exec
	})
}
