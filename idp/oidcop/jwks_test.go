package oidcop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// flakyKeys publishes fixed keys, or fails as a storage outage does, with
// the DSN in the error as a driver's dial error carries it.
type flakyKeys struct {
	keys []PublicKey
	down bool
}

var errDial = fmt.Errorf("%w: failed to connect to `user=gatehouse database=idp host=db.internal port=5432`", storage.ErrUnavailable)

func (k *flakyKeys) Signer(context.Context, string) (SigningKey, error) {
	return SigningKey{}, errors.New("no signing here")
}
func (k *flakyKeys) PublicKeys(context.Context) ([]PublicKey, error) {
	if k.down {
		return nil, errDial
	}
	return k.keys, nil
}

func testKeys(t *testing.T) []PublicKey {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return []PublicKey{{ID: "r1", Algorithm: "RS256", Key: &rk.PublicKey}, {ID: "e<1>&", Algorithm: "ES256", Key: &ek.PublicKey}}
}

func jwksProvider(t *testing.T, k Keys) *Provider {
	p, err := New(Options{Issuer: "https://id.example", Keys: k, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func getKeys(p *Provider) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	p.keys(w, httptest.NewRequest(http.MethodGet, PathKeys, nil))
	return w
}

// TestKeysSameAsLibrary: Gatehouse's /keys writes exactly the document and
// content type the library's handler wrote.
func TestKeysSameAsLibrary(t *testing.T) {
	k := &flakyKeys{keys: testKeys(t)}
	p := jwksProvider(t, k)
	lib := httptest.NewRecorder()
	op.Keys(lib, httptest.NewRequest(http.MethodGet, PathKeys, nil), &opStorage{p: jwksProvider(t, k)})
	ours := getKeys(p)
	if ours.Code != lib.Code || ours.Body.String() != lib.Body.String() || ours.Header().Get("Content-Type") != lib.Header().Get("Content-Type") {
		t.Errorf("ours %d %q %s\nlibrary %d %q %s", ours.Code, ours.Header().Get("Content-Type"), ours.Body,
			lib.Code, lib.Header().Get("Content-Type"), lib.Body)
	}
}

// TestKeysThroughOutage: once a set was loaded, an outage serves it again;
// before any was, the answer is a generic 503. No body names the storage.
func TestKeysThroughOutage(t *testing.T) {
	k := &flakyKeys{keys: testKeys(t)}
	p := jwksProvider(t, k)
	before := getKeys(p)
	k.down = true
	during := getKeys(p)
	if during.Code != http.StatusOK || during.Body.String() != before.Body.String() {
		t.Errorf("during an outage: %d %s; want 200 and %s", during.Code, during.Body, before.Body)
	}
	// The id_token_hint verifier reads the same fallback.
	if ks, err := (&opStorage{p: p}).KeySet(context.Background()); err != nil || len(ks) != 2 {
		t.Errorf("KeySet during an outage: %d keys, %v", len(ks), err)
	}

	cold := getKeys(jwksProvider(t, &flakyKeys{down: true}))
	if cold.Code != http.StatusServiceUnavailable || cold.Header().Get("Retry-After") == "" ||
		!strings.Contains(cold.Header().Get("Content-Type"), "application/json") {
		t.Errorf("never loaded: %d %v; want 503 JSON with Retry-After", cold.Code, cold.Header())
	}
	for _, leak := range []string{"gatehouse", "idp", "db.internal", "5432", "storage"} {
		if strings.Contains(cold.Body.String(), leak) || strings.Contains(during.Body.String(), leak) {
			t.Errorf("a /keys body names %q: %s / %s", leak, cold.Body, during.Body)
		}
	}
}
