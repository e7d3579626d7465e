package clients

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := NewSecret()
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != 32 {
			t.Fatalf("secret %q decodes to %d bytes, %v; want 32", s, len(b), err)
		}
		if seen[s] {
			t.Fatal("repeated secret")
		}
		seen[s] = true
		if err := CheckSecret(s); err != nil {
			t.Fatalf("a generated secret fails CheckSecret: %v", err)
		}
	}
}

func TestCheckSecret(t *testing.T) {
	tests := []struct {
		name, secret, want string // want "" means accepted
	}{
		{"minimum", strings.Repeat("s", 32), ""},
		{"maximum", strings.Repeat("s", 1024), ""},
		{"printable punctuation and spaces", "a b!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ 0123456789", ""},
		{"non-ASCII", strings.Repeat("ü", 16), ""},
		{"empty", "", "secret: must be at least 32 characters, got 0"},
		{"one short", strings.Repeat("s", 31), "secret: must be at least 32 characters, got 31"},
		{"too long", strings.Repeat("s", 1025), "secret: must be at most 1024 characters"},
		{"newline", strings.Repeat("s", 32) + "\n", "secret: must not contain control characters"},
		{"DEL", strings.Repeat("s", 32) + "\x7f", "control characters"},
		{"NUL", strings.Repeat("s", 32) + "\x00", "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSecret(tt.secret)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v; want %q", err, tt.want)
			}
			if err != nil && len(tt.secret) > 4 && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
}

func TestCheckDeclaredSecret(t *testing.T) {
	good, short := strings.Repeat("s", 32), "short-S3CRET"
	tests := []struct {
		name           string
		public, inFile bool
		secret, want   string // want "" means accepted
	}{
		{"confidential with its secret", false, false, good, ""},
		{"confidential with an unread secret file", false, true, "", ""},
		{"public without a secret", true, false, "", ""},
		{"confidential without a secret", false, false, "", "secret: required for a confidential client: set secret or secret_file"},
		{"public with a secret", true, false, good, "secret: a public client has no secret"},
		{"public with a secret file", true, true, "", "secret: a public client has no secret"},
		{"public with a short secret: one problem", true, false, short, "secret: a public client has no secret"},
		{"short secret", false, false, short, "secret: must be at least 32 characters, got 12"},
		{"short secret read from its file", false, true, short, "secret: must be at least 32 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDeclaredSecret(tt.public, tt.secret, tt.inFile)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Fatalf("got %v; want %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), short) {
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
}

func TestVerifySecret(t *testing.T) {
	secret := NewSecret()
	conf := storage.Client{ID: "c", SecretHash: storage.HashSecret(secret)}
	tests := []struct {
		name   string
		c      storage.Client
		secret string
		want   bool
	}{
		{"right", conf, secret, true},
		{"wrong", conf, NewSecret(), false},
		{"prefix", conf, secret[:42], false},
		{"empty given", conf, "", false},
		{"the hash itself", conf, conf.SecretHash, false},
		{"public client", storage.Client{ID: "p", Public: true}, "", false},
		{"public client with a stray hash", storage.Client{ID: "p", Public: true, SecretHash: storage.HashSecret(secret)}, secret, false},
		{"unknown client (zero value)", storage.Client{}, secret, false},
		{"unknown client, empty secret", storage.Client{}, "", false},
		{"unknown client sending the dummy's preimage", storage.Client{},
			"gatehouse: no client secret; this value is never accepted", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifySecret(tt.c, tt.secret); got != tt.want {
				t.Fatalf("VerifySecret = %v, want %v", got, tt.want)
			}
		})
	}
}

// A secret Client hashed must verify: the conversion and the token
// endpoint agree on the hash.
func TestClientSecretVerifies(t *testing.T) {
	in := validInput()
	in.Secret = NewSecret()
	c, err := in.DeclaredClient()
	if err != nil || !VerifySecret(c, in.Secret) || VerifySecret(c, NewSecret()) {
		t.Fatalf("DeclaredClient = %+v, %v", c, err)
	}
}
