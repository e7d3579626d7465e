package keys

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/idp/storage/postgres"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

func TestConfig(t *testing.T) {
	st, mk := newStore(t), masterKey(t, 1)
	tests := []struct {
		name string
		m    *Manager
		ok   bool
	}{
		{"defaults", &Manager{Store: st, Sealer: mk}, true},
		{"explicit", &Manager{Store: st, Sealer: mk, PublishAhead: time.Minute, CacheTTL: 59 * time.Second}, true},
		{"cache as long as publish-ahead", &Manager{Store: st, Sealer: mk, PublishAhead: time.Minute, CacheTTL: time.Minute}, false},
		{"cache longer than publish-ahead", &Manager{Store: st, Sealer: mk, PublishAhead: time.Minute, CacheTTL: 2 * time.Minute}, false},
		{"default cache, short publish-ahead", &Manager{Store: st, Sealer: mk, PublishAhead: 10 * time.Second}, false},
		{"negative lifetime", &Manager{Store: st, Sealer: mk, TokenLifetime: -time.Hour}, false},
		{"no store", &Manager{Sealer: mk}, false},
		{"no sealer", &Manager{Store: st}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.m.PublicKeys(context.Background())
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrConfig)) {
				t.Fatalf("PublicKeys with %s: err = %v, want ok=%v (ErrConfig otherwise)", tt.name, err, tt.ok)
			}
			if err == nil {
				return
			}
			if _, err := tt.m.Signer(context.Background(), ES256); !errors.Is(err, ErrConfig) {
				t.Errorf("Signer: err = %v, want ErrConfig", err)
			}
			if err := tt.m.Ensure(context.Background()); !errors.Is(err, ErrConfig) {
				t.Errorf("Ensure: err = %v, want ErrConfig", err)
			}
		})
	}
	cfg, err := (&Manager{Store: st, Sealer: mk}).settings()
	mustOK(t, err, "settings")
	if cfg.publishAhead != DefaultPublishAhead || cfg.tokenLifetime != DefaultTokenLifetime || cfg.cacheTTL != DefaultCacheTTL {
		t.Errorf("defaults = %+v", cfg)
	}
}

func TestEnsure(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t), newClock()
	m := newManager(st, masterKey(t, 1), c)

	if _, err := m.Signer(ctx, RS256); !errors.Is(err, ErrNoSigningKey) {
		t.Fatalf("Signer before Ensure: err = %v, want ErrNoSigningKey", err)
	}
	mustOK(t, m.Ensure(ctx), "Ensure")
	first := rows(t, st)
	if len(first) != len(algorithms) {
		t.Fatalf("after Ensure: %d keys, want %d", len(first), len(algorithms))
	}
	for _, alg := range Algorithms() {
		t.Run(alg, func(t *testing.T) {
			rs := rowsOf(t, st, alg)
			if len(rs) != 1 {
				t.Fatalf("%d %s keys, want 1", len(rs), alg)
			}
			k := rs[0]
			if !k.CreatedAt.Equal(t0) || !k.NotBefore.Equal(t0) || !k.RetireAt.IsZero() || !k.ExpiresAt.IsZero() || k.Use != storage.KeyUseOIDC {
				t.Errorf("key %+v: want created and signing at %s, no end, use oidc", k, t0)
			}
			if got := signerID(t, m, alg); got != k.ID {
				t.Errorf("Signer(%s) = %s, want %s", alg, got, k.ID)
			}
			if strings.ContainsAny(k.ID, "+/=") || k.ID != strings.ToLower(k.ID) || len(k.ID) < 20 {
				t.Errorf("kid %q: want long, lower-case, URL-safe", k.ID)
			}
		})
	}

	// Idempotent, also later in time.
	c.Advance(48 * time.Hour)
	mustOK(t, m.Ensure(ctx), "Ensure again")
	again := rows(t, st)
	if len(again) != len(first) {
		t.Fatalf("Ensure again: %d keys, want %d", len(again), len(first))
	}
	for i := range again {
		if again[i].ID != first[i].ID || !again[i].RetireAt.IsZero() {
			t.Errorf("Ensure again changed key %d: %+v", i, again[i])
		}
	}
}

// TestEnsureConcurrentInstances starts many instances at once on an empty
// database, each with its own connections, as a rolling deploy of a fresh
// install does: one key set is created, and at once (without waiting for
// any cache) every instance signs with it and publishes the same keys.
func TestEnsureConcurrentInstances(t *testing.T) {
	const instances = 8
	backends := map[string]func(t *testing.T) func() Store{
		"SQLite": func(t *testing.T) func() Store {
			path := dbPath(t)
			return func() Store { return testenv.SQLiteAt(t, path) }
		},
		"Postgres": func(t *testing.T) func() Store {
			dsn := testenv.Postgres(t)
			first, err := postgres.Open(t.Context(), dsn)
			mustOK(t, err, "open postgres")
			t.Cleanup(func() { first.Close() })
			_, err = first.Migrate(t.Context())
			mustOK(t, err, "migrate")
			return func() Store {
				s, err := postgres.Open(t.Context(), dsn)
				mustOK(t, err, "open postgres")
				t.Cleanup(func() { s.Close() })
				return s
			}
		},
	}
	for _, name := range []string{"SQLite", "Postgres"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			open := backends[name](t)
			c, mk := newClock(), masterKey(t, 1)
			ms := make([]*Manager, instances)
			for i := range ms {
				ms[i] = newManager(open(), mk, c)
			}
			var wg sync.WaitGroup
			errs := make([]error, instances)
			start := make(chan struct{})
			for i, m := range ms {
				wg.Go(func() {
					<-start
					errs[i] = m.Ensure(ctx)
				})
			}
			close(start)
			wg.Wait()
			mustOK(t, errors.Join(errs...), "concurrent Ensure")
			checkOneSet(t, ms)
		})
	}
}

// checkOneSet: storage holds one key per algorithm, and every instance
// signs with it and publishes exactly that set, now.
func checkOneSet(t *testing.T, ms []*Manager) {
	t.Helper()
	if n := len(rows(t, ms[0].Store)); n != len(algorithms) {
		t.Errorf("%d keys in storage after concurrent starts, want one set of %d", n, len(algorithms))
	}
	want := publicIDs(t, ms[0])
	for i, m := range ms {
		if got := publicIDs(t, m); !slices.Equal(got, want) {
			t.Errorf("instance %d publishes %d keys %v, instance 0 %d %v", i, len(got), got, len(want), want)
			continue
		}
		for _, alg := range Algorithms() {
			if id := signerID(t, m, alg); !slices.Contains(want, id) {
				t.Errorf("instance %d signs %s with %s, which instance 0 does not publish", i, alg, id)
			}
		}
	}
}

// TestEnsureRaceReplayed replays the interleaving that made a first start
// create two keys per algorithm: instance B lists before A's keys exist.
// B must still find A's keys when it decides, and publish them at once.
func TestEnsureRaceReplayed(t *testing.T) {
	ctx := context.Background()
	path, c, mk := dbPath(t), newClock(), masterKey(t, 1)
	a := newManager(testenv.SQLiteAt(t, path), mk, c)
	bStore := &countingStore{Store: testenv.SQLiteAt(t, path)}
	b := newManager(bStore, mk, c)

	bStore.serveStale(nil) // B's first read: no keys yet
	mustOK(t, a.Ensure(ctx), "A Ensure")
	mustOK(t, b.Ensure(ctx), "B Ensure")
	checkOneSet(t, []*Manager{a, b})
	before := rows(t, bStore)
	mustOK(t, a.Ensure(ctx), "Ensure again")
	if after := rows(t, bStore); !slices.EqualFunc(before, after, func(x, y storage.SigningKey) bool {
		return x.ID == y.ID && x.RetireAt.Equal(y.RetireAt) && x.ExpiresAt.Equal(y.ExpiresAt)
	}) {
		t.Errorf("Ensure on a set of keys changed rows")
	}
}

// TestNoSignerIsNotCached: an instance that read storage while an
// algorithm had no key (keys left to lapse) must not keep serving that for
// CacheTTL: another instance's Ensure creates keys that sign at once.
func TestNoSignerIsNotCached(t *testing.T) {
	ctx := context.Background()
	path, c, mk := dbPath(t), newClock(), masterKey(t, 1)
	a := newManager(testenv.SQLiteAt(t, path), mk, c)
	b := newManager(testenv.SQLiteAt(t, path), mk, c)
	if _, err := b.PublicKeys(ctx); err != nil {
		t.Fatal(err)
	}
	mustOK(t, a.Ensure(ctx), "A Ensure")
	checkOneSet(t, []*Manager{a, b})
}

func TestSealedAtRest(t *testing.T) {
	ctx := context.Background()
	s, c, mk := newStore(t), newClock(), masterKey(t, 1)
	m := newManager(s, mk, c)
	mustOK(t, m.Ensure(ctx), "Ensure")
	for _, k := range rows(t, s) {
		t.Run(k.Algorithm, func(t *testing.T) {
			der, err := mk.Open(k.PrivateKeySealed, sealAD(k.ID))
			mustOK(t, err, "open with the right key and id")
			priv, err := x509.ParsePKCS8PrivateKey(der)
			mustOK(t, err, "parse PKCS8")
			pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
			mustOK(t, err, "marshal PKCS8")
			if bytes.Contains(k.PrivateKeySealed, pkcs8) || bytes.Contains(k.PrivateKeySealed, pkcs8[len(pkcs8)-32:]) {
				t.Errorf("stored PrivateKeySealed contains the PKCS8 DER")
			}
			if _, err := masterKey(t, 2).Open(k.PrivateKeySealed, sealAD(k.ID)); !errors.Is(err, masterkey.ErrWrongKey) {
				t.Errorf("open with another master key: err = %v, want ErrWrongKey", err)
			}
			if _, err := mk.Open(k.PrivateKeySealed, sealAD(k.ID+"x")); !errors.Is(err, masterkey.ErrCorrupt) {
				t.Errorf("open for another id: err = %v, want ErrCorrupt", err)
			}
		})
	}

	// An instance configured with another master key refuses to start
	// rather than minting keys of its own, and serves nothing.
	other := newManager(s, masterKey(t, 2), c)
	if err := other.Ensure(ctx); !errors.Is(err, masterkey.ErrWrongKey) {
		t.Errorf("Ensure with another master key: err = %v, want ErrWrongKey", err)
	}
	if _, err := other.Signer(ctx, ES256); !errors.Is(err, ErrNoSigningKey) {
		t.Errorf("Signer with another master key: err = %v, want ErrNoSigningKey", err)
	}
	if ids := publicIDs(t, other); len(ids) != 0 {
		t.Errorf("PublicKeys with another master key = %v, want none", ids)
	}
	if n := len(rows(t, s)); n != len(algorithms) {
		t.Errorf("%d keys after the refused Ensure, want %d", n, len(algorithms))
	}
}

// TestForgedRows: someone who can write rows but lacks the master key
// cannot get a key published or used.
func TestForgedRows(t *testing.T) {
	ctx := context.Background()
	s, c, mk := newStore(t), newClock(), masterKey(t, 1)
	m := newManager(s, mk, c)
	mustOK(t, m.Ensure(ctx), "Ensure")
	later := t0.Add(time.Minute)
	gen := func(alg string, sealer *masterkey.Key) storage.SigningKey {
		t.Helper()
		row, _, err := generate(sealer, alg, later, later)
		mustOK(t, err, "generate")
		return row
	}
	tests := []struct {
		name    string
		alg     string
		forge   func() storage.SigningKey
		wantErr error
	}{
		{"row copied to another id", ES256, func() storage.SigningKey {
			r := gen(ES256, mk)
			r.ID = newKID()
			return r
		}, masterkey.ErrCorrupt},
		{"public key swapped", ES256, func() storage.SigningKey {
			r := gen(ES256, mk)
			r.PublicKey = gen(ES256, mk).PublicKey
			return r
		}, ErrInvalidKey},
		{"algorithm relabelled", ES256, func() storage.SigningKey {
			r := gen(EdDSA, mk)
			r.Algorithm = ES256
			return r
		}, ErrInvalidKey},
		{"sealed part altered", EdDSA, func() storage.SigningKey {
			r := gen(EdDSA, mk)
			r.PrivateKeySealed[len(r.PrivateKeySealed)-1] ^= 1
			return r
		}, masterkey.ErrCorrupt},
		{"sealed under another master key", EdDSA, func() storage.SigningKey {
			return gen(EdDSA, masterKey(t, 3))
		}, masterkey.ErrWrongKey},
		{"unknown algorithm", EdDSA, func() storage.SigningKey {
			r := gen(EdDSA, mk)
			r.Algorithm = "HS256"
			return r
		}, ErrUnknownAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := signerID(t, m, tt.alg)
			forged := tt.forge()
			mustOK(t, s.CreateSigningKey(ctx, forged), "CreateSigningKey")
			t.Cleanup(func() { s.DeleteSigningKey(ctx, forged.ID) })
			c.Set(later.Add(time.Second))
			t.Cleanup(func() { c.Set(t0) })

			st := statusByID(t, m)[forged.ID]
			if st.State != StateInvalid || !errors.Is(st.Err, tt.wantErr) {
				t.Errorf("Status: %s, %v; want invalid, %v", st.State, st.Err, tt.wantErr)
			}
			if ids := publicIDs(t, m); slices.Contains(ids, forged.ID) {
				t.Errorf("forged key %s is published", forged.ID)
			}
			if got := signerID(t, m, tt.alg); got != want {
				t.Errorf("Signer(%s) = %s, want %s (the forged key is newer but must be ignored)", tt.alg, got, want)
			}
		})
	}

	// A row altered in place after its key was cached is dropped too.
	ed, es := rowsOf(t, s, EdDSA)[0], rowsOf(t, s, ES256)[0]
	_, err := s.UpdateSigningKey(ctx, ed.ID, func(k storage.SigningKey) (storage.SigningKey, error) {
		k.PublicKey = es.PublicKey
		return k, nil
	})
	mustOK(t, err, "alter row")
	c.Advance(testCacheTTL)
	if _, err := m.Signer(ctx, EdDSA); !errors.Is(err, ErrNoSigningKey) {
		t.Errorf("Signer(EdDSA) after its public key was swapped: err = %v, want ErrNoSigningKey", err)
	}
}

// TestRotationTimeline walks one rotation of every algorithm with a fake
// clock, and signs and verifies at every step.
func TestRotationTimeline(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t), newClock()
	m := newManager(s, masterKey(t, 1), c)
	mustOK(t, m.Ensure(ctx), "Ensure")
	old := map[string]string{}
	for _, alg := range Algorithms() {
		old[alg] = signerID(t, m, alg)
	}

	c.Advance(time.Hour)
	rotatedAt := c.Now()
	next := map[string]string{}
	for _, alg := range Algorithms() {
		k, err := m.Rotate(ctx, alg)
		mustOK(t, err, "Rotate "+alg)
		if !k.NotBefore.Equal(rotatedAt.Add(testPublishAhead)) || !k.CreatedAt.Equal(rotatedAt) || k.Algorithm != alg {
			t.Errorf("Rotate(%s) = created %s, signs from %s; want %s, %s", alg, k.CreatedAt, k.NotBefore, rotatedAt, rotatedAt.Add(testPublishAhead))
		}
		next[alg] = k.ID
		var prev storage.SigningKey
		for _, r := range rowsOf(t, s, alg) {
			if r.ID == old[alg] {
				prev = r
			}
		}
		if !prev.RetireAt.Equal(k.NotBefore) || !prev.ExpiresAt.Equal(k.NotBefore.Add(testGrace)) {
			t.Errorf("%s: old key retires %s, unpublished %s; want %s, %s", alg, prev.RetireAt, prev.ExpiresAt, k.NotBefore, k.NotBefore.Add(testGrace))
		}
	}

	unpublish := rotatedAt.Add(testPublishAhead + testGrace)
	steps := []struct {
		name                string
		at                  time.Time
		signer              string // "old" or "next"
		oldState, nextState KeyState
		oldPublished        bool
		prune               int
	}{
		{"just rotated", rotatedAt, "old", StateActive, StateNext, true, 0},
		{"a second before the switch", rotatedAt.Add(testPublishAhead - time.Second), "old", StateActive, StateNext, true, 0},
		{"the switch", rotatedAt.Add(testPublishAhead), "next", StateRetired, StateActive, true, 0},
		{"a second before unpublishing", unpublish.Add(-time.Second), "next", StateRetired, StateActive, true, 0},
		{"unpublished", unpublish, "next", StateExpired, StateActive, false, len(algorithms)},
		{"after pruning", unpublish.Add(time.Minute), "next", "", StateActive, false, 0},
	}
	payload := bytes.Repeat([]byte("x"), 300)
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			c.Set(step.at)
			status := statusByID(t, m)
			for _, alg := range Algorithms() {
				want := map[string]string{"old": old[alg], "next": next[alg]}[step.signer]
				sg, err := m.Signer(ctx, alg)
				mustOK(t, err, "Signer")
				if sg.ID != want || sg.Algorithm != alg {
					t.Errorf("%s: Signer = %s %s, want %s (%s key)", alg, sg.Algorithm, sg.ID, want, step.signer)
				}
				ids := publicIDs(t, m)
				if !slices.Contains(ids, next[alg]) || slices.Contains(ids, old[alg]) != step.oldPublished {
					t.Errorf("%s: published %v; want the next key, and the old one: %v", alg, ids, step.oldPublished)
				}
				if got := status[old[alg]].State; got != step.oldState {
					t.Errorf("%s: old key state %q, want %q", alg, got, step.oldState)
				}
				if got := status[next[alg]].State; got != step.nextState {
					t.Errorf("%s: next key state %q, want %q", alg, got, step.nextState)
				}

				sig, err := sg.Sign(payload)
				mustOK(t, err, "Sign")
				pub, ok := publicKey(t, m, sg.ID)
				if !ok {
					t.Fatalf("%s: signer %s is not published", alg, sg.ID)
				}
				if err := pub.Verify(payload, sig); err != nil {
					t.Errorf("%s: Verify: %v", alg, err)
				}
				if err := pub.Verify(append([]byte("y"), payload[1:]...), sig); !errors.Is(err, ErrBadSignature) {
					t.Errorf("%s: Verify of another payload: err = %v, want ErrBadSignature", alg, err)
				}
				if other, ok := publicKey(t, m, map[string]string{"old": next[alg], "next": old[alg]}[step.signer]); ok {
					if err := other.Verify(payload, sig); !errors.Is(err, ErrBadSignature) {
						t.Errorf("%s: Verify with the other key: err = %v, want ErrBadSignature", alg, err)
					}
				}
			}
			n, err := m.Prune(ctx)
			mustOK(t, err, "Prune")
			if n != step.prune {
				t.Errorf("Prune = %d, want %d", n, step.prune)
			}
		})
	}
	if n := len(rows(t, s)); n != len(algorithms) {
		t.Errorf("%d keys left, want %d", n, len(algorithms))
	}
}

// TestRotateTwiceChains: a second rotation before the first took effect
// extends the chain; no key is left without an end.
func TestRotateTwiceChains(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t), newClock()
	m := newManager(s, masterKey(t, 1), c)
	mustOK(t, m.Ensure(ctx), "Ensure")
	k0 := signerID(t, m, ES256)
	k1, err := m.Rotate(ctx, ES256)
	mustOK(t, err, "Rotate 1")
	c.Advance(time.Minute)
	k2, err := m.Rotate(ctx, ES256)
	mustOK(t, err, "Rotate 2")

	byID := map[string]storage.SigningKey{}
	for _, r := range rowsOf(t, s, ES256) {
		byID[r.ID] = r
	}
	if len(byID) != 3 {
		t.Fatalf("%d ES256 keys, want 3", len(byID))
	}
	if r := byID[k0]; !r.RetireAt.Equal(k1.NotBefore) {
		t.Errorf("first key retires %s, want %s", r.RetireAt, k1.NotBefore)
	}
	if r := byID[k1.ID]; !r.RetireAt.Equal(k2.NotBefore) || !r.ExpiresAt.Equal(k2.NotBefore.Add(testGrace)) {
		t.Errorf("second key retires %s, unpublished %s; want %s, %s", r.RetireAt, r.ExpiresAt, k2.NotBefore, k2.NotBefore.Add(testGrace))
	}
	if r := byID[k2.ID]; !r.RetireAt.IsZero() {
		t.Errorf("newest key retires %s, want never", r.RetireAt)
	}
	for _, step := range []struct {
		at   time.Time
		want string
	}{
		{k1.NotBefore.Add(-time.Second), k0},
		{k1.NotBefore, k1.ID},
		{k2.NotBefore.Add(-time.Second), k1.ID},
		{k2.NotBefore, k2.ID},
	} {
		c.Set(step.at)
		if got := signerID(t, m, ES256); got != step.want {
			t.Errorf("at %s: signer %s, want %s", step.at, got, step.want)
		}
	}
}

// TestInstancesAgree walks two instances through a rotation one of them
// makes, in steps that do not divide CacheTTL: at every step they sign with
// the same key, and each signs only with keys the other publishes.
func TestInstancesAgree(t *testing.T) {
	if testCacheTTL >= testPublishAhead {
		t.Fatal("the guarantee under test needs CacheTTL < PublishAhead")
	}
	ctx := context.Background()
	path, mk := dbPath(t), masterKey(t, 1)
	c := newClock()
	storeA, storeB := testenv.SQLiteAt(t, path), testenv.SQLiteAt(t, path)
	a := newManager(storeA, mk, c)
	b := newManager(storeB, mk, c)
	mustOK(t, a.Ensure(ctx), "Ensure")

	if err := walk(t, c, a, b); err != nil {
		t.Error(err)
	}
	c.Advance(testGrace)
	_, err := a.Prune(ctx)
	mustOK(t, err, "Prune")

	// The check has teeth: when B publishes for less than A's CacheTTL,
	// they disagree.
	a2 := newManager(storeA, mk, c)
	hasty := newManager(storeB, mk, c)
	hasty.PublishAhead, hasty.CacheTTL = 10*time.Second, 5*time.Second
	if err := walk(t, c, a2, hasty); err == nil {
		t.Error("with PublishAhead < A's CacheTTL the instances never disagreed; the walk cannot detect a stale cache")
	}
}

// walk has b rotate ES256 just after a filled its cache, then steps the
// clock past the switch (in steps that do not divide CacheTTL), asking both
// instances at every step. It returns the first disagreement.
func walk(t *testing.T, c *clock, a, b *Manager) error {
	t.Helper()
	ctx := context.Background()
	const step = 7 * time.Second
	check := func() error {
		sa, err := a.Signer(ctx, ES256)
		mustOK(t, err, "A Signer")
		sb, err := b.Signer(ctx, ES256)
		mustOK(t, err, "B Signer")
		if sa.ID != sb.ID {
			return fmt.Errorf("at %s: A signs with %s, B with %s", c.Now(), sa.ID, sb.ID)
		}
		if !slices.Contains(publicIDs(t, b), sa.ID) || !slices.Contains(publicIDs(t, a), sb.ID) {
			return fmt.Errorf("at %s: a signer is not published by the other instance", c.Now())
		}
		return nil
	}
	c.Advance(testCacheTTL) // a refills its cache in check
	mustOK(t, check(), "before the rotation")
	c.Advance(time.Second)
	k, err := b.Rotate(ctx, ES256)
	mustOK(t, err, "Rotate")
	for c.Now().Before(k.NotBefore.Add(2 * testCacheTTL)) {
		if err := check(); err != nil {
			return err
		}
		c.Advance(step)
	}
	if got := signerID(t, a, ES256); got != k.ID {
		return fmt.Errorf("after the walk A signs with %s, want the rotated key %s", got, k.ID)
	}
	return nil
}

func TestRotateDue(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t), newClock()
	m := newManager(s, masterKey(t, 1), c)
	mustOK(t, m.Ensure(ctx), "Ensure")

	const maxAge = 2 * time.Hour
	steps := []struct {
		name   string
		at     time.Duration // after t0
		before func()
		want   []string // algorithms rotated
	}{
		{"nothing is old yet", time.Hour, nil, nil},
		{"one algorithm rotated by hand", time.Hour, func() {
			_, err := m.Rotate(ctx, ES256)
			mustOK(t, err, "Rotate ES256")
		}, nil},
		{"just due: the others", maxAge, nil, []string{RS256, EdDSA}},
		{"due but successors pending", maxAge + time.Minute, nil, nil},
		{"successors signing, not old", maxAge + testPublishAhead, nil, nil},
		{"ES256 successor old", time.Hour + testPublishAhead + maxAge, nil, []string{ES256}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			c.Set(t0.Add(step.at))
			if step.before != nil {
				step.before()
			}
			got, err := m.RotateDue(ctx, maxAge)
			mustOK(t, err, "RotateDue")
			var algs []string
			for _, k := range got {
				algs = append(algs, k.Algorithm)
				if !k.NotBefore.Equal(c.Now().Add(testPublishAhead)) {
					t.Errorf("rotated %s signs from %s, want %s", k.Algorithm, k.NotBefore, c.Now().Add(testPublishAhead))
				}
			}
			if !slices.Equal(algs, step.want) {
				t.Errorf("RotateDue rotated %v, want %v", algs, step.want)
			}
		})
	}
	if _, err := m.RotateDue(ctx, 0); !errors.Is(err, ErrConfig) {
		t.Errorf("RotateDue(0): err = %v, want ErrConfig", err)
	}
}

// TestRotateDueConcurrentInstances: scheduled rotation runs on every
// instance; one rotation per algorithm results.
func TestRotateDueConcurrentInstances(t *testing.T) {
	ctx := context.Background()
	path, c, mk := dbPath(t), newClock(), masterKey(t, 1)
	a := newManager(testenv.SQLiteAt(t, path), mk, c)
	b := newManager(testenv.SQLiteAt(t, path), mk, c)
	mustOK(t, a.Ensure(ctx), "Ensure")
	c.Advance(24 * time.Hour)

	var wg sync.WaitGroup
	got := make([][]storage.SigningKey, 2)
	errs := make([]error, 2)
	start := make(chan struct{})
	for i, m := range []*Manager{a, b} {
		wg.Go(func() {
			<-start
			got[i], errs[i] = m.RotateDue(ctx, time.Hour)
		})
	}
	close(start)
	wg.Wait()
	mustOK(t, errors.Join(errs...), "concurrent RotateDue")
	checkOneRotation(t, a, b, append(got[0], got[1]...))
}

// checkOneRotation: per algorithm two keys exist, the old signer and one
// pending successor that every report names.
func checkOneRotation(t *testing.T, a, b *Manager, reported []storage.SigningKey) {
	t.Helper()
	status := statusByID(t, a)
	for _, alg := range Algorithms() {
		rs := rowsOf(t, a.Store, alg)
		if len(rs) != 2 {
			t.Errorf("%s: %d keys, want 2 (one rotation)", alg, len(rs))
			continue
		}
		oldK, newK := rs[0], rs[1]
		if status[oldK.ID].State != StateActive || status[newK.ID].State != StateNext || !oldK.RetireAt.Equal(newK.NotBefore) {
			t.Errorf("%s: states %s, %s; old retires %s, new signs from %s", alg, status[oldK.ID].State, status[newK.ID].State, oldK.RetireAt, newK.NotBefore)
		}
		for _, k := range reported {
			if k.Algorithm == alg && k.ID != newK.ID {
				t.Errorf("%s: a rotation reported key %s, which does not exist", alg, k.ID)
			}
		}
		if sa, sb := signerID(t, a, alg), signerID(t, b, alg); sa != sb || sa != oldK.ID {
			t.Errorf("%s: signers %s, %s; want %s", alg, sa, sb, oldK.ID)
		}
	}
}

// TestRotateRaceReplayed replays two rotations that both listed the keys
// before either wrote: the second backs off and reports the first's key.
func TestRotateRaceReplayed(t *testing.T) {
	ctx := context.Background()
	path, c, mk := dbPath(t), newClock(), masterKey(t, 1)
	a := newManager(testenv.SQLiteAt(t, path), mk, c)
	bStore := &countingStore{Store: testenv.SQLiteAt(t, path)}
	b := newManager(bStore, mk, c)
	mustOK(t, a.Ensure(ctx), "Ensure")
	c.Advance(24 * time.Hour)
	before := rows(t, bStore)

	var reported []storage.SigningKey
	for _, alg := range Algorithms() {
		ka, err := a.Rotate(ctx, alg)
		mustOK(t, err, "A Rotate")
		bStore.serveStale(before) // B read the keys before A wrote
		kb, err := b.Rotate(ctx, alg)
		mustOK(t, err, "B Rotate")
		if kb.ID != ka.ID {
			t.Errorf("%s: B's rotation reported %s, want A's key %s", alg, kb.ID, ka.ID)
		}
		reported = append(reported, ka, kb)
	}
	checkOneRotation(t, a, b, reported)

	// The same through RotateDue: B finds nothing of its own to report.
	c.Advance(24 * time.Hour)
	before = rows(t, bStore)
	ra, err := a.RotateDue(ctx, time.Hour)
	mustOK(t, err, "A RotateDue")
	bStore.serveStale(before)
	rb, err := b.RotateDue(ctx, time.Hour)
	mustOK(t, err, "B RotateDue")
	if len(ra) != len(algorithms) || len(rb) != 0 {
		t.Errorf("RotateDue: A rotated %d, B %d; want %d and 0", len(ra), len(rb), len(algorithms))
	}
	if n := len(rows(t, bStore)); n != 3*len(algorithms) {
		t.Errorf("%d keys, want %d", n, 3*len(algorithms))
	}
}

func TestSignerCache(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	cs := &countingStore{Store: newStore(t)}
	m := newManager(cs, masterKey(t, 1), c)
	mustOK(t, m.Ensure(ctx), "Ensure")

	first, err := m.Signer(ctx, ES256)
	mustOK(t, err, "Signer")
	reads := cs.lists.Load()
	for range 100 {
		for _, alg := range Algorithms() {
			if _, err := m.Signer(ctx, alg); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := m.PublicKeys(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(testCacheTTL - time.Microsecond)
	_, err = m.Signer(ctx, ES256)
	mustOK(t, err, "Signer")
	if n := cs.lists.Load() - reads; n != 0 {
		t.Errorf("storage read %d times within CacheTTL, want 0", n)
	}
	c.Advance(time.Microsecond)
	again, err := m.Signer(ctx, ES256)
	mustOK(t, err, "Signer")
	if n := cs.lists.Load() - reads; n != 1 {
		t.Errorf("storage read %d times at CacheTTL, want 1", n)
	}
	if again.Key != first.Key {
		t.Errorf("the key was decrypted again after the list was refreshed")
	}
	// A clock that steps back does not keep a snapshot from the future.
	c.Advance(-time.Second)
	_, err = m.Signer(ctx, ES256)
	mustOK(t, err, "Signer")
	if n := cs.lists.Load() - reads; n != 2 {
		t.Errorf("storage read %d times after the clock stepped back, want 2", n)
	}

	// Storage failures surface, wrapped.
	cs.mu.Lock()
	cs.fail = fmt.Errorf("sqlite: %w", storage.ErrUnavailable)
	cs.mu.Unlock()
	c.Advance(testCacheTTL)
	if _, err := m.Signer(ctx, ES256); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Signer with storage down: err = %v, want ErrUnavailable", err)
	}
	if err := m.Ensure(ctx); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Ensure with storage down: err = %v, want ErrUnavailable", err)
	}
}

func TestSignerConcurrent(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	m := newManager(newStore(t), masterKey(t, 1), c)
	mustOK(t, m.Ensure(ctx), "Ensure")
	want := signerID(t, m, EdDSA)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if g == 0 && i%20 == 0 {
					c.Advance(testCacheTTL) // force refreshes under load
				}
				s, err := m.Signer(ctx, EdDSA)
				if err != nil || s.ID != want {
					t.Errorf("Signer = %v, %v; want %s", s, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestUnknownAlgorithm(t *testing.T) {
	ctx := context.Background()
	m := newManager(newStore(t), masterKey(t, 1), newClock())
	for _, alg := range []string{"", "none", "HS256", "rs256", "PS256"} {
		if _, err := m.Signer(ctx, alg); !errors.Is(err, ErrUnknownAlgorithm) {
			t.Errorf("Signer(%q): err = %v, want ErrUnknownAlgorithm", alg, err)
		}
		if _, err := m.Rotate(ctx, alg); !errors.Is(err, ErrUnknownAlgorithm) {
			t.Errorf("Rotate(%q): err = %v, want ErrUnknownAlgorithm", alg, err)
		}
	}
}

func TestSignerRedacted(t *testing.T) {
	ctx := context.Background()
	m := newManager(newStore(t), masterKey(t, 1), newClock())
	mustOK(t, m.Ensure(ctx), "Ensure")
	for _, alg := range Algorithms() {
		s, err := m.Signer(ctx, alg)
		mustOK(t, err, "Signer")
		var logs bytes.Buffer
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("signing", "key", s)
		for _, out := range []string{fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), logs.String()} {
			if !strings.Contains(out, s.ID) || strings.Contains(out, "PrivateKey") || strings.Contains(out, "D:") || len(out) > 200 {
				t.Errorf("%s: %q: want the kid and no key material", alg, out)
			}
		}
	}
}

func TestMaintain(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t), newClock()
	m := newManager(s, masterKey(t, 1), c)
	mustOK(t, m.Maintain(ctx, 24*time.Hour), "Maintain on an empty store")
	if n := len(rows(t, s)); n != len(algorithms) {
		t.Fatalf("%d keys, want %d", n, len(algorithms))
	}
	c.Advance(24 * time.Hour)
	mustOK(t, m.Maintain(ctx, 24*time.Hour), "Maintain when due")
	c.Advance(testPublishAhead + testGrace)
	mustOK(t, m.Maintain(ctx, 24*time.Hour), "Maintain after the old keys expired")
	rs := rows(t, s)
	if len(rs) != len(algorithms) {
		t.Fatalf("%d keys, want %d (old ones pruned)", len(rs), len(algorithms))
	}
	for _, r := range rs {
		if !r.NotBefore.Equal(t0.Add(24*time.Hour + testPublishAhead)) {
			t.Errorf("remaining key %s signs from %s, want the rotated one", r.ID, r.NotBefore)
		}
	}
}

// TestRotateWithoutSigner: when nothing signs now, Rotate makes a key that
// signs at once and supersedes a key that was waiting to sign.
func TestRotateWithoutSigner(t *testing.T) {
	ctx := context.Background()
	s, c, mk := newStore(t), newClock(), masterKey(t, 1)
	m := newManager(s, mk, c)
	pending, _, err := generate(mk, ES256, t0, t0.Add(testPublishAhead))
	mustOK(t, err, "generate")
	mustOK(t, s.CreateSigningKey(ctx, pending), "CreateSigningKey")
	if _, err := m.Signer(ctx, ES256); !errors.Is(err, ErrNoSigningKey) {
		t.Fatalf("Signer with only a pending key: err = %v, want ErrNoSigningKey", err)
	}
	k, err := m.Rotate(ctx, ES256)
	mustOK(t, err, "Rotate")
	if !k.NotBefore.Equal(t0) {
		t.Errorf("Rotate with no signer: new key signs from %s, want now (%s)", k.NotBefore, t0)
	}
	for _, at := range []time.Duration{0, testPublishAhead, 2 * testPublishAhead} {
		c.Set(t0.Add(at))
		if got := signerID(t, m, ES256); got != k.ID {
			t.Errorf("at +%s: signer %s, want %s (the superseded pending key must never sign)", at, got, k.ID)
		}
		if st := statusByID(t, m)[pending.ID]; st.State != StateRetired || !st.Key.RetireAt.Equal(t0) || !st.Key.ExpiresAt.Equal(t0.Add(testGrace)) {
			t.Errorf("at +%s: superseded key %s, retires %s, unpublished %s", at, st.State, st.Key.RetireAt, st.Key.ExpiresAt)
		}
	}
}
