package postgres

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/idp/storage/sqlstore"
	"github.com/gatehouse-idp/gatehouse/idp/storage/storagetest"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// stallTimeout is the query timeout of the stall tests: short, so that
// they are quick, yet far above a round trip to a local server.
const stallTimeout = 500 * time.Millisecond

// openThroughProxy migrates a fresh database directly, then opens a store
// on it through a freezable proxy with the stall timeout.
func openThroughProxy(t *testing.T) (*Store, *storagetest.Proxy) {
	t.Helper()
	dsn := testenv.Postgres(t)
	direct := open(t, dsn)
	if _, err := direct.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	cfg := direct.pool.Config().ConnConfig
	p := storagetest.NewProxy(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	pdsn, err := storagetest.ProxyDSN(dsn, p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), pdsn, sqlstore.QueryTimeout(stallTimeout))
	if err != nil {
		t.Fatal(err)
	}
	// Closed before the proxy (cleanups run last first).
	t.Cleanup(func() { s.Close() })
	return s, p
}

// A database that stops answering, without refusing, must not hang a
// call: it fails with ErrUnavailable (a deadline that ran out) once the
// query timeout is over, the pool recovers when the database answers
// again, and nothing is left running.
func TestStalledDatabaseIsUnavailable(t *testing.T) {
	s, p := openThroughProxy(t)
	ctx := t.Context()
	// A pooled connection and the goroutines of a store at rest.
	if _, err := s.CountUsers(ctx); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()

	p.Freeze()
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"GetUser on the pooled connection", func() error { _, err := s.GetUser(ctx, "user-1"); return err }},
		// The pooled connection was closed by the first timeout: this one
		// waits for a new connection, which the frozen server never
		// completes.
		{"GetClient on a new connection", func() error { _, err := s.GetClient(ctx, "client-1"); return err }},
		{"UpdateUser in a transaction", func() error {
			_, err := s.UpdateUser(ctx, "user-1", func(u storage.User) (storage.User, error) { return u, nil })
			return err
		}},
	} {
		// Not a timing assertion: only proof that the call is bounded.
		// Run aside so that an unbounded call fails the test instead of
		// hanging it.
		errc := make(chan error, 1)
		go func() { errc <- c.call() }()
		var err error
		select {
		case err = <-errc:
		case <-time.After(10 * stallTimeout):
			p.Thaw()
			t.Fatalf("%s still waits %v after the database froze, want it bounded by the query timeout (%v)", c.name, 10*stallTimeout, stallTimeout)
		}
		if !errors.Is(err, storage.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while the database is frozen: err = %v, want ErrUnavailable wrapping context.DeadlineExceeded", c.name, err)
		}
		if errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s while the database is frozen: err = %v is ErrNotFound", c.name, err)
		}
	}

	p.Thaw()
	if _, err := s.GetUser(ctx, "user-1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetUser after the database answers again: err = %v, want ErrNotFound (the pool must recover)", err)
	}
	if _, err := s.CountUsers(ctx); err != nil {
		t.Fatalf("CountUsers after the database answers again: %v", err)
	}
	waitGoroutines(t, before)
}

// A caller's own cancellation is not an outage: it stays context.Canceled.
func TestStalledCallCanceledByCaller(t *testing.T) {
	s, p := openThroughProxy(t)
	if _, err := s.CountUsers(t.Context()); err != nil {
		t.Fatal(err)
	}
	p.Freeze()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { _, err := s.GetUser(ctx, "user-1"); errc <- err }()
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) || errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("GetUser canceled by its caller: err = %v, want context.Canceled and not ErrUnavailable", err)
	}
	p.Thaw()
}

// waitGoroutines polls until no more goroutines run than before, failing
// after a generous bound: the connection a timeout closed sends its cancel
// request and terminate message once the server answers again.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines still run, %d before the stall:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		<-tick.C
	}
}
