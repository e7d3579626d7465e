package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	// ErrConfig: a manager's fields are inconsistent.
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

	lazy lazyRing
}

// ring checks the fields and builds the machinery, once.
func (m *Manager) ring() (*ring, error) {
	return m.lazy.get(func() (*ring, error) {
		cfg, errs := newSettings(durations{store: m.Store, sealer: m.Sealer, publishAhead: m.PublishAhead,
			tokenLifetime: m.TokenLifetime, cacheTTL: m.CacheTTL, defaultPublishAhead: DefaultPublishAhead})
		if err := configError(errs); err != nil {
			return nil, err
		}
		k := kind{
			use:  storage.KeyUseOIDC,
			algs: algorithms[:],
			generate: func(alg string, created, notBefore time.Time) (storage.SigningKey, *material, error) {
				return generate(m.Sealer, alg, created, notBefore)
			},
			open: func(row storage.SigningKey) *material { return open(m.Sealer, row) },
		}
		return &ring{kind: k, store: m.Store, cfg: cfg, now: m.now, logger: m.logger}, nil
	})
}

func (m *Manager) settings() (settings, error) {
	r, err := m.ring()
	if err != nil {
		return settings{}, err
	}
	return r.cfg, nil
}

func (m *Manager) now() time.Time { return nowOr(m.Now) }

func (m *Manager) logger() *slog.Logger { return loggerOr(m.Logger) }

// Signer returns the key that signs alg now. It reads storage at most once
// per CacheTTL and decrypts each key once per process.
func (m *Manager) Signer(ctx context.Context, alg string) (Signer, error) {
	ai := algIndex(alg)
	if ai < 0 {
		return Signer{}, fmt.Errorf("%w: %q", ErrUnknownAlgorithm, alg)
	}
	r, err := m.ring()
	if err != nil {
		return Signer{}, err
	}
	e, err := r.signer(ctx, ai)
	if err != nil {
		return Signer{}, err
	}
	return Signer{ID: e.row.ID, Algorithm: e.row.Algorithm, Key: e.mat.signer}, nil
}

// PublicKeys returns every key published now: for each algorithm in
// Algorithms() order, the key that signs now first, then the others newest
// first. Rows whose key material does not open are left out.
func (m *Manager) PublicKeys(ctx context.Context) ([]PublicKey, error) {
	r, err := m.ring()
	if err != nil {
		return nil, err
	}
	return publishedAs(ctx, r, func(e *entry) PublicKey {
		return PublicKey{ID: e.row.ID, Algorithm: e.row.Algorithm, Key: e.mat.public}
	})
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
	r, err := m.ring()
	if err != nil {
		return err
	}
	return r.ensure(ctx)
}

// Rotate publishes a new key of alg. It signs from now + PublishAhead (or
// at once when no key of alg signs now); the key it succeeds stops signing
// then and stays published for TokenLifetime + CacheTTL more. It returns the
// new key. When another instance rotates alg at the same moment, one
// rotation happens and both callers get its key.
func (m *Manager) Rotate(ctx context.Context, alg string) (storage.SigningKey, error) {
	ai := algIndex(alg)
	if ai < 0 {
		return storage.SigningKey{}, fmt.Errorf("%w: %q", ErrUnknownAlgorithm, alg)
	}
	r, err := m.ring()
	if err != nil {
		return storage.SigningKey{}, err
	}
	return r.rotateNow(ctx, ai)
}

// RotateDue rotates every algorithm whose signing key has signed for maxAge
// or longer (since its NotBefore) and has no successor yet; scheduled
// rotation calls it on every instance. It returns the keys it created.
func (m *Manager) RotateDue(ctx context.Context, maxAge time.Duration) ([]storage.SigningKey, error) {
	if maxAge <= 0 {
		return nil, fmt.Errorf("%w: maxAge must be positive, got %s", ErrConfig, maxAge)
	}
	r, err := m.ring()
	if err != nil {
		return nil, err
	}
	return r.rotateDue(ctx, maxAge)
}

// Prune deletes keys whose ExpiresAt has passed: nothing they signed is
// still valid. It returns how many it deleted.
func (m *Manager) Prune(ctx context.Context) (int, error) {
	r, err := m.ring()
	if err != nil {
		return 0, err
	}
	return r.prune(ctx)
}

// Maintain is one round of scheduled upkeep, safe to run on every instance:
// Ensure, RotateDue(maxAge) when maxAge > 0, then Prune.
func (m *Manager) Maintain(ctx context.Context, maxAge time.Duration) error {
	r, err := m.ring()
	if err != nil {
		return err
	}
	return r.maintain(ctx, maxAge)
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
	r, err := m.ring()
	if err != nil {
		return nil, err
	}
	return r.status(ctx)
}
