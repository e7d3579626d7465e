package masterkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Size is the master key length: 32 bytes for AES-256.
const Size = 32

// version 1 layout: 0x01 | key id (4) | nonce (12) | ciphertext+tag.
const (
	version1 = 1
	idLen    = 4
)

var (
	// ErrWrongKey: the value was sealed under another master key.
	ErrWrongKey = errors.New("masterkey: sealed with a different master key")
	// ErrCorrupt: the value is not a sealed value or was altered.
	ErrCorrupt = errors.New("masterkey: sealed value is corrupt or was tampered with")
)

// Key seals and opens values. It is safe for concurrent use.
type Key struct {
	aead cipher.AEAD
	id   [idLen]byte
}

// New builds a Key from 32 raw bytes.
func New(raw []byte) (*Key, error) {
	if len(raw) != Size {
		return nil, fmt.Errorf("masterkey: need %d bytes, got %d", Size, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("masterkey: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("masterkey: %w", err)
	}
	k := &Key{aead: aead}
	// The id tells "wrong key" apart from "tampered" without revealing
	// the key: it is a hash of a domain-separated derivation.
	sum := sha256.Sum256(append([]byte("gatehouse master key id\x00"), raw...))
	copy(k.id[:], sum[:idLen])
	return k, nil
}

// Seal encrypts plaintext, binding it to ad (e.g. "signing_key:<kid>").
func (k *Key) Seal(plaintext, ad []byte) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, fmt.Errorf("masterkey: nonce: %w", err)
	}
	out := make([]byte, 0, 1+idLen+len(nonce)+len(plaintext)+k.aead.Overhead())
	out = append(out, version1)
	out = append(out, k.id[:]...)
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, plaintext, ad), nil
}

// Open decrypts a value made by Seal with the same ad.
func (k *Key) Open(sealed, ad []byte) ([]byte, error) {
	ns := k.aead.NonceSize()
	if len(sealed) < 1+idLen+ns+k.aead.Overhead() || sealed[0] != version1 {
		return nil, ErrCorrupt
	}
	if string(sealed[1:1+idLen]) != string(k.id[:]) {
		return nil, ErrWrongKey
	}
	nonce := sealed[1+idLen : 1+idLen+ns]
	pt, err := k.aead.Open(nil, nonce, sealed[1+idLen+ns:], ad)
	if err != nil {
		return nil, ErrCorrupt
	}
	return pt, nil
}

// Decode parses the configured form of a master key: standard base64, with
// or without padding, of exactly 32 bytes.
func Decode(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, fmt.Errorf("masterkey: not base64")
	}
	if len(raw) != Size {
		return nil, fmt.Errorf("masterkey: decodes to %d bytes, need %d", len(raw), Size)
	}
	return raw, nil
}

// Generate returns a new random key in its configured (base64) form.
func Generate() (string, error) {
	raw := make([]byte, Size)
	if _, err := io.ReadFull(rand.Reader, raw); err != nil {
		return "", fmt.Errorf("masterkey: generate: %w", err)
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// LoadOrCreate reads the key file at path, creating it with a new random key
// (mode 0600) when it does not exist. Creation is exclusive, so two
// processes starting at once agree on one key. created says whether this
// call made it.
func LoadOrCreate(path string) (raw []byte, created bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("masterkey: %w", err)
	}
	enc, err := Generate()
	if err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		// A crash before the write lands leaves an empty file; the next
		// start then fails loudly rather than minting a second key that
		// cannot open what the first one sealed.
		if _, werr := f.WriteString(enc + "\n"); werr != nil {
			f.Close()
			return nil, false, fmt.Errorf("masterkey: write %s: %w", path, werr)
		}
		if serr := f.Sync(); serr != nil {
			f.Close()
			return nil, false, fmt.Errorf("masterkey: sync %s: %w", path, serr)
		}
		if cerr := f.Close(); cerr != nil {
			return nil, false, fmt.Errorf("masterkey: close %s: %w", path, cerr)
		}
		raw, err := Decode(enc)
		return raw, true, err
	case errors.Is(err, fs.ErrExist):
		b, rerr := os.ReadFile(path)
		if rerr != nil {
			return nil, false, fmt.Errorf("masterkey: read %s: %w", path, rerr)
		}
		raw, derr := Decode(string(b))
		if derr != nil {
			return nil, false, fmt.Errorf("masterkey: %s: %w", path, derr)
		}
		return raw, false, nil
	default:
		return nil, false, fmt.Errorf("masterkey: create %s: %w", path, err)
	}
}
