package totp

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
)

var _ Sealer = (*masterkey.Key)(nil)

func newKey(t *testing.T) *masterkey.Key {
	t.Helper()
	raw := make([]byte, masterkey.Size)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	k, err := masterkey.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k, other := newKey(t), newKey(t)
	secret := bytes.Clone(rfcSecret)
	sealed, err := Seal(k, secret, "f1", "u1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the secret")
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	// Ids that would collide if the associated data were plain
	// concatenation or joined with ":".
	colon, err := Seal(k, secret, "a:b", "c")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name         string
		key          *masterkey.Key
		sealed       []byte
		factor, user string
		want         error
	}{
		{"round trip", k, sealed, "f1", "u1", nil},
		{"other factor", k, sealed, "f2", "u1", masterkey.ErrCorrupt},
		{"other user", k, sealed, "f1", "u2", masterkey.ErrCorrupt},
		{"ids swapped", k, sealed, "u1", "f1", masterkey.ErrCorrupt},
		{"ids shifted", k, sealed, "f", "1u1", masterkey.ErrCorrupt},
		{"colon shifted", k, colon, "a", "b:c", masterkey.ErrCorrupt},
		{"colon round trip", k, colon, "a:b", "c", nil},
		{"tampered", k, flipped, "f1", "u1", masterkey.ErrCorrupt},
		{"truncated", k, sealed[:len(sealed)-1], "f1", "u1", masterkey.ErrCorrupt},
		{"empty", k, nil, "f1", "u1", masterkey.ErrCorrupt},
		{"other master key", other, sealed, "f1", "u1", masterkey.ErrWrongKey},
		{"no factor id", k, sealed, "", "u1", ErrBinding},
		{"no user id", k, sealed, "f1", "", ErrBinding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Open(tt.key, tt.sealed, tt.factor, tt.user)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open err = %v; want %v", err, tt.want)
			}
			if tt.want == nil && !bytes.Equal(got, secret) {
				t.Fatalf("Open = %x; want %x", got, secret)
			}
			if tt.want != nil && got != nil {
				t.Fatal("Open returned bytes with its error")
			}
		})
	}
}

func TestSealRefuses(t *testing.T) {
	k := newKey(t)
	tests := []struct {
		name         string
		k            Sealer
		secret       []byte
		factor, user string
		want         error
	}{
		{"short secret", k, rfcSecret[:10], "f1", "u1", ErrBadSecret},
		{"no secret", k, nil, "f1", "u1", ErrBadSecret},
		{"no factor id", k, rfcSecret, "", "u1", ErrBinding},
		{"no user id", k, rfcSecret, "f1", "", ErrBinding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Seal(tt.k, tt.secret, tt.factor, tt.user); !errors.Is(err, tt.want) {
				t.Fatalf("Seal err = %v; want %v", err, tt.want)
			}
		})
	}
	// A nil sealer is an error, not a panic.
	if _, err := Seal(nil, rfcSecret, "f1", "u1"); err == nil {
		t.Error("Seal with no sealer succeeded")
	}
	if _, err := Open(nil, []byte("x"), "f1", "u1"); err == nil {
		t.Error("Open with no sealer succeeded")
	}
}

// shortSealer opens anything to a short plaintext: a broken row or sealer
// must not yield a weak secret.
type shortSealer struct{}

func (shortSealer) Seal(p, _ []byte) ([]byte, error) { return p, nil }
func (shortSealer) Open(_, _ []byte) ([]byte, error) { return []byte("short"), nil }

func TestOpenShortSecret(t *testing.T) {
	if _, err := Open(shortSealer{}, []byte("x"), "f1", "u1"); !errors.Is(err, ErrBadSecret) {
		t.Fatalf("Open err = %v; want ErrBadSecret", err)
	}
}
