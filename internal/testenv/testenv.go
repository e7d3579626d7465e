package testenv

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvPostgres names a PostgreSQL server DSN with rights to create databases.
const EnvPostgres = "GATEHOUSE_TEST_POSTGRES"

// EnvRequire is a comma-separated list of components that must be present.
const EnvRequire = "GATEHOUSE_TEST_REQUIRE"

// Required reports whether component is listed in GATEHOUSE_TEST_REQUIRE.
func Required(component string) bool {
	for _, c := range strings.Split(os.Getenv(EnvRequire), ",") {
		if strings.TrimSpace(c) == component {
			return true
		}
	}
	return false
}

// Missing skips the test, or fails it when the component is required.
func Missing(t testing.TB, component, reason string) {
	t.Helper()
	if Required(component) {
		t.Fatalf("%s is required (%s) but unavailable: %s", component, EnvRequire, reason)
	}
	t.Skipf("skipping %s suite: %s", component, reason)
}

// PostgresDSN returns the server DSN from the environment, skipping or
// failing the test when there is none.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvPostgres)
	if dsn == "" {
		Missing(t, "postgres", EnvPostgres+" is not set")
	}
	return dsn
}

// Postgres creates a fresh, empty database on the server named by
// GATEHOUSE_TEST_POSTGRES, drops it when the test ends, and returns a DSN
// for it. Each call gets its own database, so tests can run in parallel
// and never see each other's rows.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		if Required("postgres") {
			t.Fatalf("connect to %s: %v", EnvPostgres, err)
		}
		t.Skipf("skipping postgres suite: cannot connect: %v", err)
	}
	defer conn.Close(ctx)
	name := "gh_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	dsn, err := WithDatabase(admin, name)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// WithDatabase returns dsn pointed at database name. It accepts both URL
// and key=value DSNs.
func WithDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse %s: %w", EnvPostgres, err)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	return dsn + " dbname=" + name, nil
}

// Templates are databases prepared once per test process (migrated
// schemas), which PostgresFrom copies: CREATE DATABASE … TEMPLATE copies
// files, where migrating every test's database again costs a DDL round
// trip per statement. Their package's TestMain calls DropTemplates.
var templates struct {
	sync.Mutex
	byName map[string]*template
}

type template struct {
	once sync.Once
	db   string
	err  error
}

// PostgresFrom is a new database that starts as the template key names,
// which prepare makes (on a DSN of its own database) the first time a test
// of the process asks for it. Unlike Postgres, the database outlives the
// test (a caller reuses it): DropDatabase drops it.
func PostgresFrom(t testing.TB, key string, prepare func(dsn string) error) string {
	t.Helper()
	admin := PostgresDSN(t)
	templates.Lock()
	if templates.byName == nil {
		templates.byName = map[string]*template{}
	}
	tp := templates.byName[key]
	if tp == nil {
		tp = &template{}
		templates.byName[key] = tp
	}
	templates.Unlock()
	tp.once.Do(func() {
		name := "gh_tmpl_" + strings.ToLower(rand.Text()[:12])
		if tp.err = exec(admin, "CREATE DATABASE "+name); tp.err != nil {
			return
		}
		tp.db = name
		dsn, err := WithDatabase(admin, name)
		if err != nil {
			tp.err = err
			return
		}
		tp.err = prepare(dsn)
	})
	if tp.err != nil {
		t.Fatalf("prepare template %s: %v", key, tp.err)
	}
	name := "gh_test_" + strings.ToLower(rand.Text()[:12])
	if err := exec(admin, "CREATE DATABASE "+name+" TEMPLATE "+tp.db); err != nil {
		t.Fatalf("create database from template: %v", err)
	}
	dsn, err := WithDatabase(admin, name)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// DropTemplates drops the templates PostgresFrom made (TestMain, after
// the tests).
func DropTemplates() {
	admin := os.Getenv(EnvPostgres)
	templates.Lock()
	defer templates.Unlock()
	for _, tp := range templates.byName {
		if tp.db != "" && admin != "" {
			_ = exec(admin, "DROP DATABASE IF EXISTS "+tp.db+" WITH (FORCE)")
		}
	}
}

// DropDatabase drops the database dsn names (best effort: the end of a
// test run).
func DropDatabase(dsn string) {
	admin := os.Getenv(EnvPostgres)
	u, err := url.Parse(dsn)
	if admin == "" || err != nil {
		return
	}
	_ = exec(admin, "DROP DATABASE IF EXISTS "+strings.TrimPrefix(u.Path, "/")+" WITH (FORCE)")
}

func exec(dsn, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql)
	return err
}
