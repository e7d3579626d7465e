package password

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func bcryptHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// TestVerifyBcrypt: imported bcrypt hashes of every common prefix verify
// and always ask for a re-hash; the bcrypt quirks other systems relied on
// (72-byte input, the password as typed) carry over; a hash whose cost
// would take minutes, or that does not parse, is a malformed hash, not a
// wrong password.
func TestVerifyBcrypt(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 0)
	const pw = "correct horse battery staple"
	a := bcryptHash(t, pw)
	long := strings.Repeat("x", 72)
	ligature := "ﬁsh and chips" // NFKC: "fish and chips"
	for _, tc := range []struct {
		name     string
		encoded  string
		typed    string
		ok       bool
		wantErr  error
		noRehash bool
	}{
		{"$2a$", a, pw, true, nil, false},
		{"$2b$", "$2b$" + a[4:], pw, true, nil, false},
		{"$2y$", "$2y$" + a[4:], pw, true, nil, false},
		{"wrong password", a, pw + "!", false, nil, true},
		{"empty password", a, "", false, nil, true},
		{"only the first 72 bytes count, as where it was made", bcryptHash(t, long), long + "ignored", true, nil, false},
		{"typed as the other system hashed it", bcryptHash(t, ligature), ligature, true, nil, false},
		{"hashed in normal form, typed with a ligature", bcryptHash(t, Normalize(ligature)), ligature, true, nil, false},
		{"cost above the bound", "$2a$15$" + a[7:], pw, false, ErrMalformedHash, true},
		{"truncated", a[:20], pw, false, ErrMalformedHash, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, tc.encoded, tc.typed)
			if ok != tc.ok || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Verify = %v, %v, %v; want ok %v, err %v", ok, rehash, err, tc.ok, tc.wantErr)
			}
			if ok && !rehash {
				t.Fatal("a bcrypt match did not ask for a re-hash to argon2id")
			}
			if tc.noRehash && rehash {
				t.Fatal("a refused password asked for a re-hash")
			}
		})
	}
}

func TestCheckImported(t *testing.T) {
	h := NewHasher(Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 0)
	argon, err := h.Hash(context.Background(), "some password")
	if err != nil {
		t.Fatal(err)
	}
	a := bcryptHash(t, "some password")
	for _, tc := range []struct {
		encoded string
		ok      bool
	}{
		{argon, true}, {a, true}, {"$2y$" + a[4:], true},
		{"$2a$31$" + a[7:], false}, {"plaintext", false}, {"", false}, {"$argon2i$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA", false},
		{"$1$md5crypt$abc", false}, {"{SSHA}abc", false},
	} {
		if err := CheckImported(tc.encoded); (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrMalformedHash)) {
			t.Errorf("CheckImported(%.20q) = %v; want ok %v", tc.encoded, err, tc.ok)
		}
	}
}
