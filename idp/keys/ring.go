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

// kind is what differs between the uses of keys (OIDC, SAML): the rows'
// Use, the algorithms that each keep a chain, and how a key is made and a
// row opened. Everything else, the timeline, the cache, the races between
// instances, is the ring's and the same for every use.
type kind struct {
	use    string
	prefix string   // names the use in messages: "" (OIDC) or "SAML "
	algs   []string // one chain each, in listing order
	// generate makes a key of alg, sealed, with its row's times set.
	generate func(alg string, created, notBefore time.Time) (storage.SigningKey, *material, error)
	// open decodes and checks a row's key material.
	open func(row storage.SigningKey) *material
}

func (k *kind) index(alg string) int { return slices.Index(k.algs, alg) }

// name is alg as messages show it.
func (k *kind) name(alg string) string { return k.prefix + alg }

// ring generates, rotates and serves the keys of one kind. Manager and
// SAMLManager each build one from their fields on first use.
type ring struct {
	kind
	store  Store
	cfg    settings
	now    func() time.Time
	logger func() *slog.Logger

	snap atomic.Pointer[snapshot]
	mu   sync.Mutex           // serialises loads; guards mats
	mats map[string]*material // by key id: decrypted keys, immutable
}

type settings struct {
	publishAhead, tokenLifetime, cacheTTL time.Duration
}

// grace is how long a key stays published after it retires.
func (s settings) grace() time.Duration { return s.tokenLifetime + s.cacheTTL }

// durations are the fields Manager and SAMLManager share, checked by
// newSettings.
type durations struct {
	store                                 Store
	sealer                                *masterkey.Key
	publishAhead, tokenLifetime, cacheTTL time.Duration
	defaultPublishAhead                   time.Duration
}

// newSettings applies the defaults and returns the problems it finds, for
// the caller to add its own to and wrap with ErrConfig (configError).
func newSettings(d durations) (settings, []error) {
	s := settings{publishAhead: d.publishAhead, tokenLifetime: d.tokenLifetime, cacheTTL: d.cacheTTL}
	if s.publishAhead == 0 {
		s.publishAhead = d.defaultPublishAhead
	}
	if s.tokenLifetime == 0 {
		s.tokenLifetime = DefaultTokenLifetime
	}
	if s.cacheTTL == 0 {
		s.cacheTTL = DefaultCacheTTL
	}
	var errs []error
	if d.store == nil {
		errs = append(errs, errors.New("Store is nil"))
	}
	if d.sealer == nil {
		errs = append(errs, errors.New("Sealer is nil"))
	}
	if s.publishAhead < 0 || s.tokenLifetime < 0 || s.cacheTTL < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	// The guarantee that no instance signs with a key another instance
	// has not published rests on this.
	if s.cacheTTL >= s.publishAhead {
		errs = append(errs, fmt.Errorf("CacheTTL (%s) must be shorter than PublishAhead (%s)", s.cacheTTL, s.publishAhead))
	}
	return s, errs
}

func configError(errs []error) error {
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// lazyRing builds a ring once, from fields set before first use.
type lazyRing struct {
	once sync.Once
	r    *ring
	err  error
}

func (l *lazyRing) get(build func() (*ring, error)) (*ring, error) {
	l.once.Do(func() { l.r, l.err = build() })
	return l.r, l.err
}

// nowOr and loggerOr read a clock or logger field at each use, so that a
// ring built from a struct sees what the field holds when it asks.
func nowOr(f func() time.Time) time.Time {
	if f != nil {
		return f()
	}
	return time.Now()
}

func loggerOr(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.Default()
}

// writeNow is the time stamped on rows: storage keeps microseconds.
func (r *ring) writeNow() time.Time { return r.now().UTC().Truncate(time.Microsecond) }

// entry is one row and, unless the row has expired, its key material.
type entry struct {
	row storage.SigningKey
	mat *material
}

func (e *entry) usable() bool { return e.mat != nil && e.mat.err == nil }

// snapshot is what one read of storage says, with decrypted keys.
type snapshot struct {
	fetched time.Time
	rows    []*entry   // every row, storage order
	byAlg   [][]*entry // usable rows per algorithm (kind.algs), signing order
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
func (r *ring) current(ctx context.Context, now time.Time) (*snapshot, error) {
	// A snapshot in which an algorithm has no signer is not served from
	// memory: Ensure on another instance may just have created a key
	// that signs at once, and this instance must publish it before
	// relying parties meet it.
	fresh := func(s *snapshot) bool {
		return s != nil && !now.Before(s.fetched) && now.Sub(s.fetched) < r.cfg.cacheTTL && s.complete(now)
	}
	if s := r.snap.Load(); fresh(s) {
		return s, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.snap.Load(); fresh(s) {
		return s, nil
	}
	return r.loadLocked(ctx, now)
}

// reload reads storage now, bypassing the cache; writers use it.
func (r *ring) reload(ctx context.Context) (*snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loadLocked(ctx, r.now())
}

func (r *ring) loadLocked(ctx context.Context, now time.Time) (*snapshot, error) {
	// fetched is taken before the read, so the cache's age is never
	// understated.
	rows, err := r.store.ListSigningKeys(ctx, r.use)
	if err != nil {
		return nil, fmt.Errorf("keys: list signing keys: %w", err)
	}
	if r.mats == nil {
		r.mats = make(map[string]*material)
	}
	s := &snapshot{fetched: now, rows: make([]*entry, 0, len(rows)), byAlg: make([][]*entry, len(r.algs))}
	live := make(map[string]bool, len(rows))
	for _, row := range rows {
		e := &entry{row: row}
		s.rows = append(s.rows, e)
		if expired(row, now) {
			continue
		}
		mt := r.mats[row.ID]
		if mt == nil || !mt.matches(row) {
			mt = r.open(row)
			r.mats[row.ID] = mt
			if mt.err != nil {
				r.logger().ErrorContext(ctx, "signing key cannot be used; it is neither published nor used to sign",
					"kid", row.ID, "use", row.Use, "alg", row.Algorithm, "err", mt.err)
			}
		}
		e.mat = mt
		live[row.ID] = true
		if e.usable() {
			ai := r.index(row.Algorithm)
			s.byAlg[ai] = append(s.byAlg[ai], e)
		}
	}
	for id := range r.mats {
		if !live[id] {
			delete(r.mats, id)
		}
	}
	for ai := range s.byAlg {
		slices.SortFunc(s.byAlg[ai], func(a, b *entry) int { return compareSigning(a.row, b.row) })
	}
	r.snap.Store(s)
	return s, nil
}

// remember caches the material of a key this process just generated, so
// that it is not decrypted again.
func (r *ring) remember(row storage.SigningKey, mt *material) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mats == nil {
		r.mats = make(map[string]*material)
	}
	r.mats[row.ID] = mt
}

// signer returns the entry that signs algorithm ai now. It reads storage at
// most once per CacheTTL and decrypts each key once per process.
func (r *ring) signer(ctx context.Context, ai int) (*entry, error) {
	now := r.now()
	s, err := r.current(ctx, now)
	if err != nil {
		return nil, err
	}
	list := s.byAlg[ai]
	if i := signerIndex(list, now); i >= 0 {
		return list[i], nil
	}
	return nil, fmt.Errorf("%w for %s", ErrNoSigningKey, r.name(r.algs[ai]))
}

// publishedAs returns every usable key of r published now, converted with
// conv: for each algorithm in kind.algs order, the key that signs now
// first, then the others newest first. (Generic so that the caller's slice
// is the only allocation.)
func publishedAs[T any](ctx context.Context, r *ring, conv func(*entry) T) ([]T, error) {
	now := r.now()
	s, err := r.current(ctx, now)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(s.rows))
	for _, list := range s.byAlg {
		si := signerIndex(list, now)
		if si >= 0 {
			out = append(out, conv(list[si]))
		}
		for i := len(list) - 1; i >= 0; i-- {
			if i != si && published(list[i].row, now) {
				out = append(out, conv(list[i]))
			}
		}
	}
	return out, nil
}

// ensure makes every algorithm signable now; see Manager.Ensure.
func (r *ring) ensure(ctx context.Context) error {
	now := r.writeNow()
	s, err := r.reload(ctx)
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
	for ai, alg := range r.algs {
		if signerIndex(s.byAlg[ai], now) >= 0 {
			continue
		}
		row, mt, err := r.generate(alg, now, now)
		if err != nil {
			return err
		}
		missing = append(missing, candidate{row, mt})
	}
	if len(missing) == 0 {
		return r.settle(ctx, s, now)
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
		for _, k := range existing {
			if k.Algorithm != alg || expired(k, t) || !willSign(k) {
				continue
			}
			if !maySign(k, t) && !(k.RetireAt.IsZero() && k.NotBefore.After(t) && k.NotBefore.Sub(t) <= r.cfg.cacheTTL) {
				continue
			}
			if e := known[k.ID]; e != nil && e.mat != nil && e.mat.matches(k) {
				if e.usable() {
					return true
				}
				continue
			}
			if r.open(k).err == nil {
				return true
			}
		}
		return false
	}
	stored, err := r.store.CreateSigningKeysIf(ctx, r.use, func(existing []storage.SigningKey) ([]storage.SigningKey, error) {
		// The decision's own time: later than any NotBefore that the
		// instance that held the lock before us wrote.
		t := r.writeNow()
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
				r.remember(row, c.mt)
			}
		}
	}
	// Read again: the keys now signing may be another instance's.
	if s, err = r.reload(ctx); err != nil {
		return err
	}
	return r.settle(ctx, s, now)
}

// settle repairs chains that races left: a key whose RetireAt is unset but
// that has a successor which already signs gets RetireAt = the successor's
// NotBefore and is unpublished after the grace period. The successor signs
// from then anyway (the newest signs), so this changes when a key is
// unpublished, never which key signs.
func (r *ring) settle(ctx context.Context, s *snapshot, now time.Time) error {
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
			_, err := r.store.UpdateSigningKey(ctx, e.row.ID, func(cur storage.SigningKey) (storage.SigningKey, error) {
				if !cur.RetireAt.IsZero() {
					return cur, errUnchanged
				}
				cur.RetireAt = retire
				cur.ExpiresAt = later(cur.ExpiresAt, retire.Add(r.cfg.grace()))
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
		_, err := r.reload(ctx)
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

// rotateNow rotates algorithm ai against a fresh read; see Manager.Rotate.
func (r *ring) rotateNow(ctx context.Context, ai int) (storage.SigningKey, error) {
	s, err := r.reload(ctx)
	if err != nil {
		return storage.SigningKey{}, err
	}
	k, _, err := r.rotate(ctx, ai, s, r.writeNow())
	return k, err
}

// rotateDue rotates every algorithm whose signer is maxAge old; see
// Manager.RotateDue. maxAge > 0.
func (r *ring) rotateDue(ctx context.Context, maxAge time.Duration) ([]storage.SigningKey, error) {
	now := r.writeNow()
	s, err := r.reload(ctx)
	if err != nil {
		return nil, err
	}
	var out []storage.SigningKey
	for ai := range r.algs {
		list := s.byAlg[ai]
		i := signerIndex(list, now)
		if i < 0 || hasSuccessor(list, i) || now.Sub(list[i].row.NotBefore) < maxAge {
			continue
		}
		// Rotate against the snapshot that found it due: if another
		// instance rotates meanwhile, claiming the tail fails and this
		// one backs off instead of rotating twice.
		k, won, err := r.rotate(ctx, ai, s, now)
		if err != nil {
			return out, err
		}
		if won {
			out = append(out, k)
		}
	}
	return out, nil
}

// rotate creates the next key of algorithm ai after the chain tail seen in
// s and claims the tail. won is false when another rotation claimed it
// first; k is then the newest key of the algorithm.
func (r *ring) rotate(ctx context.Context, ai int, s *snapshot, now time.Time) (k storage.SigningKey, won bool, err error) {
	alg := r.algs[ai]
	list := s.byAlg[ai]
	// With no key signing now there is nothing to hand over from and no
	// token waits for this key: it signs at once, as in Ensure.
	signing := signerIndex(list, now) >= 0
	notBefore := now
	if signing {
		notBefore = now.Add(r.cfg.publishAhead)
	}
	ti := tailIndex(list)
	if ti >= 0 && signing {
		// Keep the chain ordered even if the tail was published with a
		// longer PublishAhead or by a clock ahead of ours.
		notBefore = later(notBefore, list[ti].row.NotBefore)
	}
	row, mt, err := r.generate(alg, now, notBefore)
	if err != nil {
		return storage.SigningKey{}, false, err
	}
	if err := r.store.CreateSigningKey(ctx, row); err != nil {
		return storage.SigningKey{}, false, fmt.Errorf("keys: store new %s key: %w", r.name(alg), err)
	}
	r.remember(row, mt)
	won = true
	if ti >= 0 {
		tail := list[ti].row.ID
		_, err := r.store.UpdateSigningKey(ctx, tail, func(cur storage.SigningKey) (storage.SigningKey, error) {
			if !cur.RetireAt.IsZero() {
				return cur, errRaced
			}
			cur.RetireAt = row.NotBefore
			cur.ExpiresAt = later(cur.ExpiresAt, row.NotBefore.Add(r.cfg.grace()))
			return cur, nil
		})
		switch {
		case errors.Is(err, errRaced), errors.Is(err, storage.ErrNotFound):
			won = false
			// Nobody signs with our key before its NotBefore, and every
			// cache forgets it before then: deleting it is safe. A key
			// that signs at once may be in use already; settle retires
			// it instead.
			if row.NotBefore.Sub(r.now()) > r.cfg.cacheTTL {
				if err := r.store.DeleteSigningKey(ctx, row.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
					return storage.SigningKey{}, false, fmt.Errorf("keys: delete surplus %s key %s: %w", r.name(alg), row.ID, err)
				}
			}
		case err != nil:
			// The new key still takes over at its NotBefore (the newest
			// signs); settle sets the tail's RetireAt later.
			return row, true, fmt.Errorf("keys: retire %s key %s: %w", r.name(alg), tail, err)
		}
	}
	fresh, err := r.reload(ctx)
	if err != nil {
		return row, won, err
	}
	if err := r.settle(ctx, fresh, now); err != nil {
		return row, won, err
	}
	if !won {
		newest := fresh.byAlg[ai]
		for i := len(newest) - 1; i >= 0; i-- {
			if willSign(newest[i].row) {
				return newest[i].row, false, nil
			}
		}
	}
	return row, won, nil
}

// prune deletes the kind's keys whose ExpiresAt has passed; see
// Manager.Prune.
func (r *ring) prune(ctx context.Context) (int, error) {
	now := r.writeNow()
	rows, err := r.store.ListSigningKeys(ctx, r.use)
	if err != nil {
		return 0, fmt.Errorf("keys: list signing keys: %w", err)
	}
	n := 0
	for _, k := range rows {
		if !expired(k, now) {
			continue
		}
		switch err := r.store.DeleteSigningKey(ctx, k.ID); {
		case errors.Is(err, storage.ErrNotFound): // another instance pruned it
		case err != nil:
			return n, fmt.Errorf("keys: delete expired key %s: %w", k.ID, err)
		default:
			n++
		}
	}
	if n > 0 {
		if _, err := r.reload(ctx); err != nil {
			return n, err
		}
	}
	return n, nil
}

// maintain is ensure, rotateDue(maxAge) when maxAge > 0, then prune.
func (r *ring) maintain(ctx context.Context, maxAge time.Duration) error {
	if err := r.ensure(ctx); err != nil {
		return err
	}
	if maxAge > 0 {
		if _, err := r.rotateDue(ctx, maxAge); err != nil {
			return err
		}
	}
	_, err := r.prune(ctx)
	return err
}

// status reads storage and returns every row of the kind with its state
// now; see Manager.Status.
func (r *ring) status(ctx context.Context) ([]KeyStatus, error) {
	now := r.now()
	s, err := r.reload(ctx)
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
	order := func(alg string) int {
		if i := r.index(alg); i >= 0 {
			return i
		}
		return len(r.algs)
	}
	slices.SortStableFunc(out, func(a, b KeyStatus) int {
		if ai, bi := order(a.Key.Algorithm), order(b.Key.Algorithm); ai != bi {
			return ai - bi
		}
		return compareSigning(a.Key, b.Key)
	})
	return out, nil
}
