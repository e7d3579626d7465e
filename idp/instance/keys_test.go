package instance

import (
	"context"
	"testing"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/keys"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// TestStartEnsuresSAMLKeys: Start makes the SAML key beside the OIDC ones,
// from the config's key size and issuer, once.
func TestStartEnsuresSAMLKeys(t *testing.T) {
	ctx := context.Background()
	cfg := config.DevDefault()
	cfg.DataDir = t.TempDir()
	cfg.SAML.KeyBits = config.SAMLKeyBits3072
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	inst, err := Open(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	if inst.SAMLKeys.KeyBits != 3072 || inst.SAMLKeys.Issuer != cfg.Issuer {
		t.Errorf("SAMLKeys built with %d bits, issuer %q; want the config's", inst.SAMLKeys.KeyBits, inst.SAMLKeys.Issuer)
	}
	// 3072-bit keys take long to make: start with the default size.
	inst.SAMLKeys = &keys.SAMLManager{Store: inst.Store, Sealer: inst.Key, Now: inst.Now, Logger: inst.Logger, Issuer: cfg.Issuer}

	for range 2 {
		if err := inst.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := inst.Store.ListSigningKeys(ctx, storage.KeyUseSAML)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("%d SAML keys after two starts, want 1", len(rows))
	}
	k, err := inst.SAMLKeys.Signer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k.ID != rows[0].ID || k.Certificate.Subject.CommonName != "Gatehouse SAML signing localhost:8080" {
		t.Errorf("SAML signer %s, subject %q; want %s, for the issuer's host", k.ID, k.Certificate.Subject.CommonName, rows[0].ID)
	}
	for _, alg := range keys.Algorithms() {
		if _, err := inst.Keys.Signer(ctx, alg); err != nil {
			t.Errorf("OIDC %s: %v", alg, err)
		}
	}
}
