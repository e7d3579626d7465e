package sqlite

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// BenchmarkWrites measures small write transactions from many goroutines,
// which all queue on the single writer connection: each stores one
// authorization code of one client.
func BenchmarkWrites(b *testing.B) {
	s := benchStore(b)
	// Codes reference their client (migration 0002); without it every
	// write fails its foreign key.
	createBenchClient(b, s)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var n atomic.Int64
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			err := s.CreateAuthCode(b.Context(), storage.AuthCode{
				Hash: fmt.Sprint(i), ClientID: "c", GrantID: "g", CreatedAt: now, ExpiresAt: now.Add(time.Minute),
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkReads measures primary-key reads, served by the read pool.
func BenchmarkReads(b *testing.B) {
	s := benchStore(b)
	createBenchClient(b, s)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.GetClient(b.Context(), "c"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchStore opens a fresh, migrated database for one benchmark.
func benchStore(b *testing.B) *Store {
	b.Helper()
	s, err := Open(b.Context(), b.TempDir()+"/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	return s
}

// createBenchClient stores client "c", which the benchmarks read or
// reference.
func createBenchClient(b *testing.B, s *Store) {
	b.Helper()
	c := storage.Client{ID: "c", Name: "bench", RedirectURIs: []string{"https://rp.example/cb"}}
	if err := s.CreateClient(b.Context(), c); err != nil {
		b.Fatal(err)
	}
}
