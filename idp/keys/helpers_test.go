package keys

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/internal/testenv"

	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/idp/storage/sqlite"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Durations the tests use: PublishAhead > CacheTTL, and a TokenLifetime
// short enough to walk through.
const (
	testPublishAhead  = 10 * time.Minute
	testTokenLifetime = time.Hour
	testCacheTTL      = 30 * time.Second
	testGrace         = testTokenLifetime + testCacheTTL
)

// clock is a fake clock shared by the "instances" of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// dbPath returns a migrated SQLite file; each openStore on it is one
// "instance" with its own connections.
func dbPath(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "k.db")
	testenv.SQLiteAt(t, p)
	return p
}

func newStore(t testing.TB) *sqlite.Store {
	t.Helper()
	return testenv.SQLiteAt(t, filepath.Join(t.TempDir(), "k.db"))
}

func masterKey(t testing.TB, fill byte) *masterkey.Key {
	t.Helper()
	raw := make([]byte, masterkey.Size)
	for i := range raw {
		raw[i] = fill + byte(i)
	}
	k, err := masterkey.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newManager(st Store, mk *masterkey.Key, c *clock) *Manager {
	return &Manager{
		Store: st, Sealer: mk, Now: c.Now,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		PublishAhead: testPublishAhead, TokenLifetime: testTokenLifetime, CacheTTL: testCacheTTL,
	}
}

// countingStore counts reads and can serve one stale list, to replay the
// interleavings of two instances deterministically.
type countingStore struct {
	Store
	lists atomic.Int64

	mu    sync.Mutex
	stale [][]storage.SigningKey // served (in order) instead of reading
	fail  error                  // returned by ListSigningKeys when set
}

func (s *countingStore) ListSigningKeys(ctx context.Context, use string) ([]storage.SigningKey, error) {
	s.lists.Add(1)
	s.mu.Lock()
	if s.fail != nil {
		err := s.fail
		s.mu.Unlock()
		return nil, err
	}
	if len(s.stale) > 0 {
		rows := s.stale[0]
		s.stale = s.stale[1:]
		s.mu.Unlock()
		return slices.Clone(rows), nil
	}
	s.mu.Unlock()
	return s.Store.ListSigningKeys(ctx, use)
}

func (s *countingStore) serveStale(rows ...[]storage.SigningKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stale = append(s.stale, rows...)
}

func mustOK(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func rows(t testing.TB, st Store) []storage.SigningKey {
	t.Helper()
	rs, err := st.ListSigningKeys(context.Background(), storage.KeyUseOIDC)
	mustOK(t, err, "ListSigningKeys")
	return rs
}

func rowsOf(t testing.TB, st Store, alg string) []storage.SigningKey {
	t.Helper()
	var out []storage.SigningKey
	for _, r := range rows(t, st) {
		if r.Algorithm == alg {
			out = append(out, r)
		}
	}
	return out
}

func statusByID(t testing.TB, m *Manager) map[string]KeyStatus {
	t.Helper()
	sts, err := m.Status(context.Background())
	mustOK(t, err, "Status")
	out := map[string]KeyStatus{}
	for _, s := range sts {
		out[s.Key.ID] = s
	}
	return out
}

func publicIDs(t testing.TB, m *Manager) []string {
	t.Helper()
	pubs, err := m.PublicKeys(context.Background())
	mustOK(t, err, "PublicKeys")
	var ids []string
	for _, p := range pubs {
		ids = append(ids, p.ID)
	}
	return ids
}

func publicKey(t testing.TB, m *Manager, kid string) (PublicKey, bool) {
	t.Helper()
	pubs, err := m.PublicKeys(context.Background())
	mustOK(t, err, "PublicKeys")
	for _, p := range pubs {
		if p.ID == kid {
			return p, true
		}
	}
	return PublicKey{}, false
}

func signerID(t testing.TB, m *Manager, alg string) string {
	t.Helper()
	s, err := m.Signer(context.Background(), alg)
	mustOK(t, err, "Signer "+alg)
	return s.ID
}
