package masterkey

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func mustKey(t *testing.T) *Key {
	t.Helper()
	enc, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	k, err := New(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := mustKey(t)
	other := mustKey(t)
	secret := []byte("-----BEGIN PRIVATE KEY-----")
	sealed, err := k.Seal(secret, []byte("signing_key:a"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the plaintext")
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1

	tests := []struct {
		name   string
		key    *Key
		sealed []byte
		ad     string
		want   error
	}{
		{"round trip", k, sealed, "signing_key:a", nil},
		{"other row", k, sealed, "signing_key:b", ErrCorrupt},
		{"other key", other, sealed, "signing_key:a", ErrWrongKey},
		{"tampered", k, flipped, "signing_key:a", ErrCorrupt},
		{"truncated", k, sealed[:10], "signing_key:a", ErrCorrupt},
		{"empty", k, nil, "signing_key:a", ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := tt.key.Open(tt.sealed, []byte(tt.ad))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open err = %v; want %v", err, tt.want)
			}
			if tt.want == nil && !bytes.Equal(pt, secret) {
				t.Fatalf("Open = %q", pt)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", true},
		{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", true},
		{"  AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", true},
		{"AAAA", false},
		{"not base64 at all!!", false},
		{"", false},
	}
	for _, tt := range tests {
		if _, err := Decode(tt.in); (err == nil) != tt.ok {
			t.Errorf("Decode(%q) err = %v; want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "master.key")
	first, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("first LoadOrCreate = %v, %v", created, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v; want 0600", st.Mode().Perm())
	}
	again, created, err := LoadOrCreate(path)
	if err != nil || created || !bytes.Equal(first, again) {
		t.Fatalf("second LoadOrCreate = created %v, err %v, same %v", created, err, bytes.Equal(first, again))
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(path); err == nil {
		t.Fatal("corrupt key file accepted")
	}
}
