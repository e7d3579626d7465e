package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Signing algorithms (JOSE names).
const (
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, RSA-2048: the OIDC default for ID tokens
	ES256 = "ES256" // ECDSA P-256 with SHA-256: JWT access tokens (about 40x cheaper to sign)
	EdDSA = "EdDSA" // Ed25519
)

var algorithms = [...]string{RS256, ES256, EdDSA}

// Algorithms returns the algorithms Gatehouse keeps a key for, in the order
// keys are listed.
func Algorithms() []string { return slices.Clone(algorithms[:]) }

func algIndex(alg string) int {
	switch alg {
	case RS256:
		return 0
	case ES256:
		return 1
	case EdDSA:
		return 2
	}
	return -1
}

func knownAlg(alg string) bool { return algIndex(alg) >= 0 }

var (
	// ErrUnknownAlgorithm: not one of Algorithms().
	ErrUnknownAlgorithm = errors.New("keys: unknown algorithm")
	// ErrNoSigningKey: no key of the algorithm signs now. After Ensure
	// this does not happen.
	ErrNoSigningKey = errors.New("keys: no signing key")
	// ErrInvalidKey: a row's key material is not a consistent key of its
	// algorithm. Such rows are neither published nor used.
	ErrInvalidKey = errors.New("keys: invalid key material")
	// ErrBadSignature: PublicKey.Verify rejected a signature.
	ErrBadSignature = errors.New("keys: signature does not verify")
	// ErrConfig: the Manager's fields are inconsistent.
	ErrConfig = errors.New("keys: invalid configuration")
)

// Store is what the Manager needs of storage: the signing key rows.
type Store interface {
	storage.SigningKeys
}

// Defaults for the Manager's durations.
const (
	DefaultPublishAhead  = 10 * time.Minute
	DefaultTokenLifetime = 24 * time.Hour
	DefaultCacheTTL      = 30 * time.Second
)

// Manager generates, rotates and serves the OIDC signing keys (KeyUseOIDC
// rows). Set its fields before first use; it is safe for concurrent use
// afterwards, and must not be copied.
type Manager struct {
	Store  Store
	Sealer *masterkey.Key
	// Now is the clock (nil: time.Now). Keys are generated with
	// crypto/rand: since Go 1.26 key generation ignores any other reader.
	Now func() time.Time
	// Logger reports rows that cannot be used (nil: slog.Default()).
	Logger *slog.Logger

	// PublishAhead is how long a rotated key is published before it
	// signs, so that relying parties and every instance's cache see it
	// first. Must exceed CacheTTL. Zero: DefaultPublishAhead.
	PublishAhead time.Duration
	// TokenLifetime is the longest lifetime of anything a key signs. A
	// retired key stays published TokenLifetime + CacheTTL after RetireAt
	// (CacheTTL covers an instance whose cache still named it as the
	// signer). Zero: DefaultTokenLifetime.
	TokenLifetime time.Duration
	// CacheTTL is how long the rows and decrypted keys are served from
	// memory before Signer and PublicKeys read storage again, measured
	// with Now. Zero: DefaultCacheTTL.
	CacheTTL time.Duration

	once sync.Once
	cfg  settings
	err  error

	snap atomic.Pointer[snapshot]
	mu   sync.Mutex           // serialises loads; guards mats
	mats map[string]*material // by key id: decrypted keys, immutable
}

type settings struct {
	publishAhead, tokenLifetime, cacheTTL time.Duration
}

// grace is how long a key stays published after it retires.
func (s settings) grace() time.Duration { return s.tokenLifetime + s.cacheTTL }

func (m *Manager) settings() (settings, error) {
	m.once.Do(func() {
		s := settings{publishAhead: m.PublishAhead, tokenLifetime: m.TokenLifetime, cacheTTL: m.CacheTTL}
		if s.publishAhead == 0 {
			s.publishAhead = DefaultPublishAhead
		}
		if s.tokenLifetime == 0 {
			s.tokenLifetime = DefaultTokenLifetime
		}
		if s.cacheTTL == 0 {
			s.cacheTTL = DefaultCacheTTL
		}
		var errs []error
		if m.Store == nil {
			errs = append(errs, errors.New("Store is nil"))
		}
		if m.Sealer == nil {
			errs = append(errs, errors.New("Sealer is nil"))
		}
		if s.publishAhead < 0 || s.tokenLifetime < 0 || s.cacheTTL < 0 {
			errs = append(errs, errors.New("durations must not be negative"))
		}
		// The guarantee that no instance signs with a key another
		// instance has not published rests on this.
		if s.cacheTTL >= s.publishAhead {
			errs = append(errs, fmt.Errorf("CacheTTL (%s) must be shorter than PublishAhead (%s)", s.cacheTTL, s.publishAhead))
		}
		if err := errors.Join(errs...); err != nil {
			m.err = fmt.Errorf("%w: %w", ErrConfig, err)
		}
		m.cfg = s
	})
	return m.cfg, m.err
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// writeNow is the time stamped on rows: storage keeps microseconds.
func (m *Manager) writeNow() time.Time { return m.now().UTC().Truncate(time.Microsecond) }

func (m *Manager) logger() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	return slog.Default()
}

// entry is one row and, unless the row has expired, its key material.
type entry struct {
	row storage.SigningKey
	mat *material
}

func (e *entry) usable() bool { return e.mat != nil && e.mat.err == nil }

// snapshot is what one read of storage says, with decrypted keys.
type snapshot struct {
	fetched time.Time
	rows    []*entry                  // every row, storage order
	byAlg   [len(algorithms)][]*entry // usable rows per algorithm, signing order
}

// complete reports whether every algorithm has a key that signs at now.
func (s *snapshot) complete(now time.Time) bool {
	for _, list := range s.byAlg {
		if signerIndex(list, now) < 0 {
			return false
		}
	}
	return true
}

// current returns a snapshot at most CacheTTL old at now.
func (m *Manager) current(ctx context.Context, now time.Time) (*snapshot, error) {
	cfg, err := m.settings()
	if err != nil {
		return nil, err
	}
	// A snapshot in which an algorithm has no signer is not served from
	// memory: Ensure on another instance may just have created a key
	// that signs at once, and this instance must publish it before
	// relying parties meet it.
	fresh := func(s *snapshot) bool {
		return s != nil && !now.Before(s.fetched) && now.Sub(s.fetched) < cfg.cacheTTL && s.complete(now)
	}
	if s := m.snap.Load(); fresh(s) {
		return s, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.snap.Load(); fresh(s) {
		return s, nil
	}
	return m.loadLocked(ctx, now)
}

// reload reads storage now, bypassing the cache; writers use it.
func (m *Manager) reload(ctx context.Context) (*snapshot, error) {
	if _, err := m.settings(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.loadLocked(ctx, m.now())
}

func (m *Manager) loadLocked(ctx context.Context, now time.Time) (*snapshot, error) {
	// fetched is taken before the read, so the cache's age is never
	// understated.
	rows, err := m.Store.ListSigningKeys(ctx, storage.KeyUseOIDC)
	if err != nil {
		return nil, fmt.Errorf("keys: list signing keys: %w", err)
	}
	if m.mats == nil {
		m.mats = make(map[string]*material)
	}
	s := &snapshot{fetched: now, rows: make([]*entry, 0, len(rows))}
	live := make(map[string]bool, len(rows))
	for _, row := range rows {
		e := &entry{row: row}
		s.rows = append(s.rows, e)
		if expired(row, now) {
			continue
		}
		mt := m.mats[row.ID]
		if mt == nil || !mt.matches(row) {
			mt = open(m.Sealer, row)
			m.mats[row.ID] = mt
			if mt.err != nil {
				m.logger().ErrorContext(ctx, "signing key cannot be used; it is neither published nor used to sign",
					"kid", row.ID, "alg", row.Algorithm, "err", mt.err)
			}
		}
		e.mat = mt
		live[row.ID] = true
		if e.usable() {
			ai := algIndex(row.Algorithm)
			s.byAlg[ai] = append(s.byAlg[ai], e)
		}
	}
	for id := range m.mats {
		if !live[id] {
			delete(m.mats, id)
		}
	}
	for ai := range s.byAlg {
		slices.SortFunc(s.byAlg[ai], func(a, b *entry) int { return compareSigning(a.row, b.row) })
	}
	m.snap.Store(s)
	return s, nil
}

// remember caches the material of a key this process just generated, so
// that it is not decrypted again.
func (m *Manager) remember(row storage.SigningKey, mt *material) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mats == nil {
		m.mats = make(map[string]*material)
	}
	m.mats[row.ID] = mt
}

// Signer returns the key that signs alg now. It reads storage at most once
// per CacheTTL and decrypts each key once per process.
func (m *Manager) Signer(ctx context.Context, alg string) (Signer, error) {
	ai := algIndex(alg)
	if ai < 0 {
		return Signer{}, fmt.Errorf("%w: %q", ErrUnknownAlgorithm, alg)
	}
	now := m.now()
	s, err := m.current(ctx, now)
	if err != nil {
		return Signer{}, err
	}
	list := s.byAlg[ai]
	if i := signerIndex(list, now); i >= 0 {
		e := list[i]
		return Signer{ID: e.row.ID, Algorithm: e.row.Algorithm, Key: e.mat.signer}, nil
	}
	return Signer{}, fmt.Errorf("%w for %s", ErrNoSigningKey, alg)
}

// PublicKeys returns every key published now: for each algorithm in
// Algorithms() order, the key that signs now first, then the others newest
// first. Rows whose key material does not open are left out.
func (m *Manager) PublicKeys(ctx context.Context) ([]PublicKey, error) {
	now := m.now()
	s, err := m.current(ctx, now)
	if err != nil {
		return nil, err
	}
	out := make([]PublicKey, 0, len(s.rows))
	add := func(e *entry) {
		out = append(out, PublicKey{ID: e.row.ID, Algorithm: e.row.Algorithm, Key: e.mat.public})
	}
	for _, list := range s.byAlg {
		si := signerIndex(list, now)
		if si >= 0 {
			add(list[si])
		}
		for i := len(list) - 1; i >= 0; i-- {
			if i != si && published(list[i].row, now) {
				add(list[i])
			}
		}
	}
	return out, nil
}

// Ensure makes every algorithm signable now: for each one with no key that
// signs, it creates a key that signs immediately (a first start, or keys
// left to lapse). It fails when keys that may still sign were sealed under
// another master key: creating fresh keys would hide a misconfiguration.
// Serve calls it at start; it is idempotent.
//
// Instances starting together must not each create a set: one would sign
// with a key the others do not publish yet. So the keys are generated
// first (RSA takes a while) and the decision which of them to store is
// taken in storage's CreateSigningKeysIf, which runs one caller at a time
// and shows each the rows the previous one stored: of N instances, the
// first stores a set and the others find it and store nothing.
func (m *Manager) Ensure(ctx context.Context) error {
	cfg, err := m.settings()
	if err != nil {
		return err
	}
	now := m.writeNow()
	s, err := m.reload(ctx)
	if err != nil {
		return err
	}
	for _, e := range s.rows {
		if e.mat != nil && wrongMasterKey(e.mat.err) && (e.row.RetireAt.IsZero() || e.row.RetireAt.After(now)) {
			return fmt.Errorf("keys: is this the master key the signing keys were made with? %w", e.mat.err)
		}
	}
	type candidate struct {
		row storage.SigningKey
		mt  *material
	}
	var missing []candidate
	for ai, alg := range algorithms {
		if signerIndex(s.byAlg[ai], now) >= 0 {
			continue
		}
		row, mt, err := generate(m.Sealer, alg, now, now)
		if err != nil {
			return err
		}
		missing = append(missing, candidate{row, mt})
	}
	if len(missing) == 0 {
		return m.settle(ctx, s, now)
	}
	known := make(map[string]*entry, len(s.rows))
	for _, e := range s.rows {
		known[e.row.ID] = e
	}
	// covered: a usable key of alg signs at t, or is about to (another
	// instance's clock may run a little behind ours: it wrote its
	// NotBefore from its own). Rows this instance has not read yet are
	// opened to check them, as a load would.
	covered := func(existing []storage.SigningKey, alg string, t time.Time) bool {
		for _, r := range existing {
			if r.Algorithm != alg || expired(r, t) || !willSign(r) {
				continue
			}
			if !maySign(r, t) && !(r.RetireAt.IsZero() && r.NotBefore.After(t) && r.NotBefore.Sub(t) <= cfg.cacheTTL) {
				continue
			}
			if e := known[r.ID]; e != nil && e.mat != nil && e.mat.matches(r) {
				if e.usable() {
					return true
				}
				continue
			}
			if open(m.Sealer, r).err == nil {
				return true
			}
		}
		return false
	}
	stored, err := m.Store.CreateSigningKeysIf(ctx, storage.KeyUseOIDC, func(existing []storage.SigningKey) ([]storage.SigningKey, error) {
		// The decision's own time: later than any NotBefore that the
		// instance that held the lock before us wrote.
		t := m.writeNow()
		var add []storage.SigningKey
		for _, c := range missing {
			if covered(existing, c.row.Algorithm, t) {
				continue
			}
			row := c.row
			row.CreatedAt, row.NotBefore = t, t
			add = append(add, row)
		}
		return add, nil
	})
	if err != nil {
		return fmt.Errorf("keys: store new keys: %w", err)
	}
	for _, row := range stored {
		for _, c := range missing {
			if c.row.ID == row.ID {
				m.remember(row, c.mt)
			}
		}
	}
	// Read again: the keys now signing may be another instance's.
	if s, err = m.reload(ctx); err != nil {
		return err
	}
	return m.settle(ctx, s, now)
}

// settle repairs chains that races left: a key whose RetireAt is unset but
// that has a successor which already signs gets RetireAt = the successor's
// NotBefore and is unpublished after the grace period. The successor signs
// from then anyway (the newest signs), so this changes when a key is
// unpublished, never which key signs.
func (m *Manager) settle(ctx context.Context, s *snapshot, now time.Time) error {
	cfg, _ := m.settings()
	changed := false
	for _, list := range s.byAlg {
		for i, e := range list {
			if !e.row.RetireAt.IsZero() {
				continue
			}
			var next *entry
			for _, n := range list[i+1:] {
				if willSign(n.row) {
					next = n
					break
				}
			}
			if next == nil || next.row.NotBefore.After(now) {
				continue
			}
			retire := next.row.NotBefore
			_, err := m.Store.UpdateSigningKey(ctx, e.row.ID, func(cur storage.SigningKey) (storage.SigningKey, error) {
				if !cur.RetireAt.IsZero() {
					return cur, errUnchanged
				}
				cur.RetireAt = retire
				cur.ExpiresAt = later(cur.ExpiresAt, retire.Add(cfg.grace()))
				return cur, nil
			})
			switch {
			case errors.Is(err, errUnchanged), errors.Is(err, storage.ErrNotFound):
			case err != nil:
				return fmt.Errorf("keys: retire superseded key %s: %w", e.row.ID, err)
			default:
				changed = true
			}
		}
	}
	if changed {
		_, err := m.reload(ctx)
		return err
	}
	return nil
}

var (
	errUnchanged = errors.New("keys: unchanged")
	errRaced     = errors.New("keys: another rotation retired the key first")
)

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Rotate publishes a new key of alg. It signs from now + PublishAhead (or
// at once when no key of alg signs now); the key it succeeds stops signing
// then and stays published for TokenLifetime + CacheTTL more. It returns the
// new key. When another instance rotates alg at the same moment, one
// rotation happens and both callers get its key.
func (m *Manager) Rotate(ctx context.Context, alg string) (storage.SigningKey, error) {
	if !knownAlg(alg) {
		return storage.SigningKey{}, fmt.Errorf("%w: %q", ErrUnknownAlgorithm, alg)
	}
	s, err := m.reload(ctx)
	if err != nil {
		return storage.SigningKey{}, err
	}
	k, _, err := m.rotate(ctx, alg, s, m.writeNow())
	return k, err
}

// RotateDue rotates every algorithm whose signing key has signed for maxAge
// or longer (since its NotBefore) and has no successor yet; scheduled
// rotation calls it on every instance. It returns the keys it created.
func (m *Manager) RotateDue(ctx context.Context, maxAge time.Duration) ([]storage.SigningKey, error) {
	if maxAge <= 0 {
		return nil, fmt.Errorf("%w: maxAge must be positive, got %s", ErrConfig, maxAge)
	}
	now := m.writeNow()
	s, err := m.reload(ctx)
	if err != nil {
		return nil, err
	}
	var out []storage.SigningKey
	for ai, alg := range algorithms {
		list := s.byAlg[ai]
		i := signerIndex(list, now)
		if i < 0 || hasSuccessor(list, i) || now.Sub(list[i].row.NotBefore) < maxAge {
			continue
		}
		// Rotate against the snapshot that found it due: if another
		// instance rotates meanwhile, claiming the tail fails and this
		// one backs off instead of rotating twice.
		k, won, err := m.rotate(ctx, alg, s, now)
		if err != nil {
			return out, err
		}
		if won {
			out = append(out, k)
		}
	}
	return out, nil
}

// rotate creates the next key of alg after the chain tail seen in s and
// claims the tail. won is false when another rotation claimed it first; k
// is then the newest key of alg.
func (m *Manager) rotate(ctx context.Context, alg string, s *snapshot, now time.Time) (k storage.SigningKey, won bool, err error) {
	cfg, err := m.settings()
	if err != nil {
		return storage.SigningKey{}, false, err
	}
	list := s.byAlg[algIndex(alg)]
	// With no key signing now there is nothing to hand over from and no
	// token waits for this key: it signs at once, as in Ensure.
	signing := signerIndex(list, now) >= 0
	notBefore := now
	if signing {
		notBefore = now.Add(cfg.publishAhead)
	}
	ti := tailIndex(list)
	if ti >= 0 && signing {
		// Keep the chain ordered even if the tail was published with a
		// longer PublishAhead or by a clock ahead of ours.
		notBefore = later(notBefore, list[ti].row.NotBefore)
	}
	row, mt, err := generate(m.Sealer, alg, now, notBefore)
	if err != nil {
		return storage.SigningKey{}, false, err
	}
	if err := m.Store.CreateSigningKey(ctx, row); err != nil {
		return storage.SigningKey{}, false, fmt.Errorf("keys: store new %s key: %w", alg, err)
	}
	m.remember(row, mt)
	won = true
	if ti >= 0 {
		tail := list[ti].row.ID
		_, err := m.Store.UpdateSigningKey(ctx, tail, func(cur storage.SigningKey) (storage.SigningKey, error) {
			if !cur.RetireAt.IsZero() {
				return cur, errRaced
			}
			cur.RetireAt = row.NotBefore
			cur.ExpiresAt = later(cur.ExpiresAt, row.NotBefore.Add(cfg.grace()))
			return cur, nil
		})
		switch {
		case errors.Is(err, errRaced), errors.Is(err, storage.ErrNotFound):
			won = false
			// Nobody signs with our key before its NotBefore, and every
			// cache forgets it before then: deleting it is safe. A key
			// that signs at once may be in use already; settle retires
			// it instead.
			if row.NotBefore.Sub(m.now()) > cfg.cacheTTL {
				if err := m.Store.DeleteSigningKey(ctx, row.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
					return storage.SigningKey{}, false, fmt.Errorf("keys: delete surplus %s key %s: %w", alg, row.ID, err)
				}
			}
		case err != nil:
			// The new key still takes over at its NotBefore (the newest
			// signs); settle sets the tail's RetireAt later.
			return row, true, fmt.Errorf("keys: retire %s key %s: %w", alg, tail, err)
		}
	}
	fresh, err := m.reload(ctx)
	if err != nil {
		return row, won, err
	}
	if err := m.settle(ctx, fresh, now); err != nil {
		return row, won, err
	}
	if !won {
		newest := fresh.byAlg[algIndex(alg)]
		for i := len(newest) - 1; i >= 0; i-- {
			if willSign(newest[i].row) {
				return newest[i].row, false, nil
			}
		}
	}
	return row, won, nil
}

// Prune deletes keys whose ExpiresAt has passed: nothing they signed is
// still valid. It returns how many it deleted.
func (m *Manager) Prune(ctx context.Context) (int, error) {
	if _, err := m.settings(); err != nil {
		return 0, err
	}
	now := m.writeNow()
	rows, err := m.Store.ListSigningKeys(ctx, storage.KeyUseOIDC)
	if err != nil {
		return 0, fmt.Errorf("keys: list signing keys: %w", err)
	}
	n := 0
	for _, r := range rows {
		if !expired(r, now) {
			continue
		}
		switch err := m.Store.DeleteSigningKey(ctx, r.ID); {
		case errors.Is(err, storage.ErrNotFound): // another instance pruned it
		case err != nil:
			return n, fmt.Errorf("keys: delete expired key %s: %w", r.ID, err)
		default:
			n++
		}
	}
	if n > 0 {
		if _, err := m.reload(ctx); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Maintain is one round of scheduled upkeep, safe to run on every instance:
// Ensure, RotateDue(maxAge) when maxAge > 0, then Prune.
func (m *Manager) Maintain(ctx context.Context, maxAge time.Duration) error {
	if err := m.Ensure(ctx); err != nil {
		return err
	}
	if maxAge > 0 {
		if _, err := m.RotateDue(ctx, maxAge); err != nil {
			return err
		}
	}
	_, err := m.Prune(ctx)
	return err
}

// KeyState is where a key stands at one moment.
type KeyState string

const (
	StateNext    KeyState = "next"    // published, signs later
	StateActive  KeyState = "active"  // signs now
	StateRetired KeyState = "retired" // published, signs no more (or never will)
	StateExpired KeyState = "expired" // unpublished; Prune deletes it
	StateInvalid KeyState = "invalid" // its material does not open or match: ignored
)

// KeyStatus is one row with its state now.
type KeyStatus struct {
	Key   storage.SigningKey
	State KeyState
	Err   error // why, for StateInvalid
}

// Status reads storage (not the cache) and returns every OIDC key with its
// state now, by algorithm and then signing order (oldest first).
func (m *Manager) Status(ctx context.Context) ([]KeyStatus, error) {
	now := m.now()
	s, err := m.reload(ctx)
	if err != nil {
		return nil, err
	}
	active := map[string]bool{}
	for _, list := range s.byAlg {
		if i := signerIndex(list, now); i >= 0 {
			active[list[i].row.ID] = true
		}
	}
	out := make([]KeyStatus, 0, len(s.rows))
	for _, e := range s.rows {
		st := KeyStatus{Key: e.row}
		switch {
		case expired(e.row, now):
			st.State = StateExpired
		case !e.usable():
			st.State, st.Err = StateInvalid, e.mat.err
		case active[e.row.ID]:
			st.State = StateActive
		case e.row.NotBefore.After(now) && willSign(e.row):
			st.State = StateNext
		default:
			st.State = StateRetired
		}
		out = append(out, st)
	}
	slices.SortStableFunc(out, func(a, b KeyStatus) int {
		ai, bi := algIndex(a.Key.Algorithm), algIndex(b.Key.Algorithm)
		if ai < 0 {
			ai = len(algorithms)
		}
		if bi < 0 {
			bi = len(algorithms)
		}
		if ai != bi {
			return ai - bi
		}
		return compareSigning(a.Key, b.Key)
	})
	return out, nil
}
