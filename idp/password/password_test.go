package password

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// cheap keeps tests fast; the parameters themselves are tested separately.
var cheap = Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(cheap, 0)
	long200 := strings.Repeat("correct horse ", 14) + "battery!!!!!"
	tests := []struct {
		name   string
		stored string
		try    string
		ok     bool
	}{
		{"same", "s3cret-passw0rd", "s3cret-passw0rd", true},
		{"wrong", "s3cret-passw0rd", "s3cret-passw0rD", false},
		{"empty try", "s3cret-passw0rd", "", false},
		{"200 chars not truncated", long200, long200[:len(long200)-1], false},
		{"200 chars", long200, long200, true},
		// U+FB01 (ﬁ ligature) NFKC-normalises to "fi".
		{"nfkc equivalent", "ﬁnance-2024!", "finance-2024!", true},
		{"precomposed vs combining", "caf\u00e9-latte-9", "cafe\u0301-latte-9", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := h.Hash(ctx, tt.stored)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
				t.Fatalf("encoding %q", enc)
			}
			ok, rehash, err := h.Verify(ctx, enc, tt.try)
			if err != nil || ok != tt.ok || rehash {
				t.Fatalf("Verify = %v, %v, %v; want %v, false, nil", ok, rehash, err, tt.ok)
			}
		})
	}
}

func TestSaltIsRandom(t *testing.T) {
	h := NewHasher(cheap, 0)
	a, _ := h.Hash(context.Background(), "same-password")
	b, _ := h.Hash(context.Background(), "same-password")
	if a == b {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
}

func TestRehashWhenParamsChange(t *testing.T) {
	ctx := context.Background()
	old := NewHasher(cheap, 0)
	enc, _ := old.Hash(ctx, "password-123")
	stronger := NewHasher(Params{MemoryKiB: 128, Iterations: 2, Parallelism: 1}, 0)
	ok, rehash, err := stronger.Verify(ctx, enc, "password-123")
	if err != nil || !ok || !rehash {
		t.Fatalf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

func TestDefaultParamsEncode(t *testing.T) {
	// The production parameters themselves are under test here, so the
	// cost (about 20 ms) is paid once.
	h := NewHasher(DefaultParams, 0)
	enc, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default encoding %q", enc)
	}
}

func TestMalformedHashes(t *testing.T) {
	h := NewHasher(cheap, 0)
	good, _ := h.Hash(context.Background(), "x")
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	bad := []string{
		"",
		"plaintext",
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1$" + salt + "$" + key + "$extra",
		"$argon2id$v=19$m=99999999,t=1,p=1$" + salt + "$" + key, // memory bomb
		"$argon2id$v=19$m=64,t=1000,p=1$" + salt + "$" + key,    // CPU bomb
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1,x=2$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$!!$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AA",
	}
	for _, enc := range bad {
		ok, _, err := h.Verify(context.Background(), enc, "x")
		if ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformedHash", enc, ok, err)
		}
	}
}

func TestVerifyHonoursContext(t *testing.T) {
	h := NewHasher(cheap, 1)
	h.sem <- struct{}{} // the only slot is busy
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "password-123"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with busy hasher and cancelled ctx = %v; want context.Canceled", err)
	}
}

func TestVerifyDummyNeverMatches(t *testing.T) {
	h := NewHasher(cheap, 0)
	h.VerifyDummy(context.Background(), "gatehouse-dummy-password") // must not panic, returns nothing
	if h.dummy == "" {
		t.Fatal("dummy hash was not computed")
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		p, err := Generate(20)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != 20 || strings.ContainsAny(p, "0O1lI") {
			t.Fatalf("Generate = %q", p)
		}
		if seen[p] {
			t.Fatalf("Generate repeated %q", p)
		}
		seen[p] = true
	}
}

func FuzzVerifyNeverPanics(f *testing.F) {
	h := NewHasher(cheap, 0)
	good, _ := h.Hash(context.Background(), "x")
	f.Add(good, "x")
	f.Add("$argon2id$v=19$m=1,t=1,p=255$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "")
	f.Fuzz(func(t *testing.T, enc, pw string) {
		_, _, _ = h.Verify(context.Background(), enc, pw)
	})
}

func BenchmarkHashDefault(b *testing.B) {
	h := NewHasher(DefaultParams, 0)
	for b.Loop() {
		if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
