package sqlite

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/idp/storage/sqlstore"
)

func TestStmtCache(t *testing.T) {
	const q = `UPDATE clients SET name = name WHERE id = $1`
	tests := []struct {
		name string
		run  func(t *testing.T, d *db)
	}{
		{"a text first run in a transaction is prepared after it", func(t *testing.T, d *db) {
			err := d.InTx(t.Context(), func(tq sqlstore.Querier) error {
				if _, ok := d.ws.lookup(q); ok {
					t.Error("prepared inside the transaction, on the connection the transaction holds")
				}
				_, err := tq.Exec(t.Context(), q, "nobody")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := d.ws.lookup(q); !ok {
				t.Fatal("not prepared once the transaction ended")
			}
			// The next transaction runs the cached statement.
			err = d.InTx(t.Context(), func(tq sqlstore.Querier) error {
				_, err := tq.Exec(t.Context(), q, "nobody")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"reads and plain writes are cached on their own pool", func(t *testing.T, d *db) {
			var one int
			if err := d.QueryRow(t.Context(), `SELECT 1`).Scan(&one); err != nil || one != 1 {
				t.Fatalf("QueryRow = %d, %v", one, err)
			}
			if _, err := d.Exec(t.Context(), q, "nobody"); err != nil {
				t.Fatal(err)
			}
			if _, ok := d.rs.lookup(`SELECT 1`); !ok {
				t.Error("read not cached on the read pool")
			}
			if _, ok := d.ws.lookup(q); !ok {
				t.Error("write not cached on the writer")
			}
			if _, ok := d.ws.lookup(`SELECT 1`); ok {
				t.Error("read cached on the writer")
			}
		}},
		{"a full cache runs further texts unprepared", func(t *testing.T, d *db) {
			for i := range maxCachedStmts + 10 {
				var n int
				if err := d.QueryRow(t.Context(), fmt.Sprintf(`SELECT %d`, i)).Scan(&n); err != nil || n != i {
					t.Fatalf("SELECT %d = %d, %v", i, n, err)
				}
			}
			d.rs.mu.RLock()
			size := len(d.rs.m)
			d.rs.mu.RUnlock()
			if size != maxCachedStmts {
				t.Fatalf("cache holds %d statements, want the bound %d", size, maxCachedStmts)
			}
		}},
		{"a bad text fails the same way prepared or not", func(t *testing.T, d *db) {
			if err := d.QueryRow(t.Context(), `SELECT FROM nowhere`).Scan(new(int)); err == nil {
				t.Error("QueryRow of a bad text succeeded")
			}
			if _, err := d.Exec(t.Context(), `UPDATE nowhere SET x = 1`); err == nil {
				t.Error("Exec of a bad text succeeded")
			}
			err := d.InTx(t.Context(), func(tq sqlstore.Querier) error {
				_, err := tq.Exec(t.Context(), `UPDATE nowhere SET x = 1`)
				return err
			})
			if err == nil {
				t.Error("Exec of a bad text in a transaction succeeded")
			}
			// The failed text left the writer usable.
			if _, err := d.Exec(t.Context(), q, "nobody"); err != nil {
				t.Fatal(err)
			}
		}},
		{"two result sets of one text in one transaction", func(t *testing.T, d *db) {
			const sel = `SELECT value FROM (SELECT 1 AS value UNION ALL SELECT 2)`
			// Run once so that the writer would hold it prepared.
			err := d.InTx(t.Context(), func(tq sqlstore.Querier) error {
				rows, err := tq.Query(t.Context(), sel)
				if err == nil {
					rows.Close()
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			err = d.InTx(t.Context(), func(tq sqlstore.Querier) error {
				a, err := tq.Query(t.Context(), sel)
				if err != nil {
					return err
				}
				defer a.Close()
				if !a.Next() {
					return errors.New("first result set empty")
				}
				b, err := tq.Query(t.Context(), sel)
				if err != nil {
					return err
				}
				defer b.Close()
				sum := 0
				for b.Next() {
					var v int
					if err := b.Scan(&v); err != nil {
						return err
					}
					sum += v
				}
				if sum != 3 {
					return fmt.Errorf("second result set summed %d, want 3", sum)
				}
				return b.Err()
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"concurrent transactions and reads do not deadlock", func(t *testing.T, d *db) {
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for i := range 32 {
				wg.Go(func() {
					q := fmt.Sprintf(`UPDATE clients SET name = name WHERE id = 'c%d'`, i%4)
					errs <- d.InTx(t.Context(), func(tq sqlstore.Querier) error {
						_, err := tq.Exec(t.Context(), q)
						return err
					})
					var n int
					errs <- d.QueryRow(t.Context(), `SELECT count(*) FROM clients`).Scan(&n)
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"an off cache prepares nothing", func(t *testing.T, d *db) {
			// BenchmarkCachedRead's uncached case relies on this.
			d.rs.off, d.ws.off = true, true
			if err := d.QueryRow(t.Context(), `SELECT 1`).Scan(new(int)); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Exec(t.Context(), q, "nobody"); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				err := d.InTx(t.Context(), func(tq sqlstore.Querier) error {
					_, err := tq.Exec(t.Context(), q, "nobody")
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if len(d.rs.m) != 0 || len(d.ws.m) != 0 {
				t.Errorf("cached %d texts on the read pool and %d on the writer, want none", len(d.rs.m), len(d.ws.m))
			}
		}},
		{"after Close every call reports unavailable", func(t *testing.T, d *db) {
			if _, err := d.Exec(t.Context(), q, "nobody"); err != nil {
				t.Fatal(err)
			}
			if err := d.QueryRow(t.Context(), `SELECT 1`).Scan(new(int)); err != nil {
				t.Fatal(err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			_, err := d.Exec(t.Context(), q, "nobody")
			if !errors.Is(mapError(err), storage.ErrUnavailable) {
				t.Errorf("Exec after Close: %v, want unavailable", err)
			}
			err = d.QueryRow(t.Context(), `SELECT 1`).Scan(new(int))
			if !errors.Is(mapError(err), storage.ErrUnavailable) {
				t.Errorf("QueryRow after Close: %v, want unavailable", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t).db)
		})
	}
}

// BenchmarkCachedRead is BenchmarkReads' read (GetClient of a stored
// client) on one goroutine, through the store, with the statement cache on
// and off, so that the difference is the cost of compiling the text.
func BenchmarkCachedRead(b *testing.B) {
	for _, bc := range []struct {
		name string
		off  bool
	}{
		{"cached", false},
		{"uncached", true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := benchStore(b)
			s.db.rs.off, s.db.ws.off = bc.off, bc.off
			createBenchClient(b, s)
			for b.Loop() {
				if _, err := s.GetClient(b.Context(), "c"); err != nil {
					b.Fatal(err)
				}
			}
			// The case measured what it is named for: GetClient's read
			// was prepared on the read pool, or nothing was.
			s.db.rs.mu.RLock()
			cached := len(s.db.rs.m)
			s.db.rs.mu.RUnlock()
			if (cached == 0) != bc.off {
				b.Fatalf("%d texts cached on the read pool with the cache off = %v", cached, bc.off)
			}
		})
	}
}
