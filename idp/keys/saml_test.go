package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// RSA key generation takes about 100ms (2048 bits) to 500ms (3072) here:
// these tests make as few keys as they can, one or two each.

const testIssuer = "https://id.example.com"

func newSAMLManager(st Store, mk *masterkey.Key, c *clock) *SAMLManager {
	return &SAMLManager{
		Store: st, Sealer: mk, Now: c.Now, Issuer: testIssuer,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		PublishAhead: testPublishAhead, TokenLifetime: testTokenLifetime, CacheTTL: testCacheTTL,
	}
}

func samlRows(t testing.TB, st Store) []storage.SigningKey {
	t.Helper()
	rs, err := st.ListSigningKeys(context.Background(), storage.KeyUseSAML)
	mustOK(t, err, "ListSigningKeys saml")
	return rs
}

func certIDs(t testing.TB, m *SAMLManager) []string {
	t.Helper()
	certs, err := m.Certificates(context.Background())
	mustOK(t, err, "Certificates")
	var ids []string
	for _, c := range certs {
		ids = append(ids, c.ID)
	}
	return ids
}

func samlSignerID(t testing.TB, m *SAMLManager) string {
	t.Helper()
	k, err := m.Signer(context.Background())
	mustOK(t, err, "SAML Signer")
	return k.ID
}

// TestSAMLConfig makes no keys: a bad configuration fails before any.
func TestSAMLConfig(t *testing.T) {
	st, mk := newStore(t), masterKey(t, 1)
	tests := []struct {
		name     string
		m        *SAMLManager
		ok       bool
		wantBits int
	}{
		{"defaults", &SAMLManager{Store: st, Sealer: mk, Issuer: testIssuer}, true, 2048},
		{"2048", &SAMLManager{Store: st, Sealer: mk, Issuer: testIssuer, KeyBits: 2048}, true, 2048},
		{"3072", &SAMLManager{Store: st, Sealer: mk, Issuer: testIssuer, KeyBits: 3072}, true, 3072},
		{"bare host issuer", &SAMLManager{Store: st, Sealer: mk, Issuer: "id.example.com"}, true, 2048},
		{"1024 bits", &SAMLManager{Store: st, Sealer: mk, Issuer: testIssuer, KeyBits: 1024}, false, 0},
		{"4096 bits", &SAMLManager{Store: st, Sealer: mk, Issuer: testIssuer, KeyBits: 4096}, false, 0},
		{"negative bits", &SAMLManager{Store: st, Sealer: mk, Issuer: testIssuer, KeyBits: -2048}, false, 0},
		{"no issuer", &SAMLManager{Store: st, Sealer: mk}, false, 0},
		{"no store", &SAMLManager{Sealer: mk, Issuer: testIssuer}, false, 0},
		{"no sealer", &SAMLManager{Store: st, Issuer: testIssuer}, false, 0},
		{"cache as long as publish-ahead", &SAMLManager{Store: st, Sealer: mk, Issuer: testIssuer,
			PublishAhead: time.Minute, CacheTTL: time.Minute}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			_, err := tt.m.Certificates(ctx)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrConfig)) {
				t.Fatalf("Certificates: err = %v, want ok=%v (ErrConfig otherwise)", err, tt.ok)
			}
			if tt.ok {
				r, _ := tt.m.ring()
				if r.cfg.publishAhead != DefaultSAMLPublishAhead || r.cfg.tokenLifetime != DefaultTokenLifetime || r.cfg.cacheTTL != DefaultCacheTTL {
					t.Errorf("defaults = %+v", r.cfg)
				}
				return
			}
			for name, call := range map[string]func() error{
				"Ensure": func() error { return tt.m.Ensure(ctx) },
				"Signer": func() error { _, err := tt.m.Signer(ctx); return err },
				"Rotate": func() error { _, err := tt.m.Rotate(ctx); return err },
				"Status": func() error { _, err := tt.m.Status(ctx); return err },
			} {
				if err := call(); !errors.Is(err, ErrConfig) {
					t.Errorf("%s: err = %v, want ErrConfig", name, err)
				}
			}
		})
	}
	if _, err := newSAMLManager(st, mk, newClock()).RotateDue(context.Background(), 0); !errors.Is(err, ErrConfig) {
		t.Errorf("RotateDue(0): err = %v, want ErrConfig", err)
	}
}

// TestSAMLEnsure: the first key signs at once, with a certificate as the
// metadata needs it, sealed at rest, apart from the OIDC keys.
func TestSAMLEnsure(t *testing.T) {
	ctx := context.Background()
	st, c, mk := newStore(t), newClock(), masterKey(t, 1)
	m := newSAMLManager(st, mk, c)
	if _, err := m.Signer(ctx); !errors.Is(err, ErrNoSigningKey) {
		t.Fatalf("Signer before Ensure: err = %v, want ErrNoSigningKey", err)
	}
	mustOK(t, m.Ensure(ctx), "Ensure")
	rs := samlRows(t, st)
	if len(rs) != 1 {
		t.Fatalf("%d SAML keys, want 1", len(rs))
	}
	row := rs[0]
	if row.Use != storage.KeyUseSAML || row.Algorithm != RS256 || !row.CreatedAt.Equal(t0) || !row.NotBefore.Equal(t0) ||
		!row.RetireAt.IsZero() || !row.ExpiresAt.IsZero() {
		t.Errorf("row %+v: want saml RS256, signing from %s, no end", row, t0)
	}
	if n := len(rows(t, st)); n != 0 {
		t.Errorf("%d OIDC keys after the SAML Ensure, want 0", n)
	}

	k, err := m.Signer(ctx)
	mustOK(t, err, "Signer")
	if k.ID != row.ID || !bytes.Equal(k.Certificate.Raw, row.Certificate) || k.Key.N.BitLen() != 2048 {
		t.Errorf("Signer = %s (%d bits); want %s, 2048 bits, with the row's certificate", k.ID, k.Key.N.BitLen(), row.ID)
	}
	checkCertificate(t, k, t0)
	certs, err := m.Certificates(ctx)
	mustOK(t, err, "Certificates")
	if len(certs) != 1 || certs[0].ID != k.ID || certs[0].Certificate != k.Certificate || !certs[0].NotBefore.Equal(t0) {
		t.Errorf("Certificates = %+v, want the signer's alone", certs)
	}

	t.Run("sealed at rest", func(t *testing.T) {
		der, err := x509.MarshalPKCS8PrivateKey(k.Key)
		mustOK(t, err, "marshal")
		if bytes.Contains(row.PrivateKeySealed, der[len(der)-32:]) {
			t.Error("PrivateKeySealed contains the PKCS8 DER")
		}
		other := newSAMLManager(st, masterKey(t, 2), c)
		if err := other.Ensure(ctx); !errors.Is(err, masterkey.ErrWrongKey) {
			t.Errorf("Ensure with another master key: err = %v, want ErrWrongKey", err)
		}
	})
	t.Run("redacted", func(t *testing.T) {
		var logs bytes.Buffer
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("signing", "key", k)
		for _, out := range []string{fmt.Sprintf("%v", k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), logs.String()} {
			if !strings.Contains(out, k.ID) || strings.Contains(out, "Primes") || len(out) > 200 {
				t.Errorf("%q: want the kid and no key material", out)
			}
		}
	})

	// Idempotent, also later; and an OIDC Manager on the same store
	// neither sees nor touches the SAML key.
	c.Advance(48 * time.Hour)
	mustOK(t, m.Ensure(ctx), "Ensure again")
	oidc := newManager(st, mk, c)
	if ids := publicIDs(t, oidc); len(ids) != 0 {
		t.Errorf("OIDC PublicKeys = %v, want none", ids)
	}
	if _, err := oidc.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if again := samlRows(t, st); len(again) != 1 || again[0].ID != row.ID || !again[0].RetireAt.IsZero() {
		t.Errorf("after Ensure again: %+v, want the one key unchanged", again)
	}
}

// checkCertificate: self-signed with RSA-SHA256 by k, for the issuer's
// host, valid from an hour before created for ten years, and k verifies
// what it signs.
func checkCertificate(t *testing.T, k SAMLKey, created time.Time) {
	t.Helper()
	cert := k.Certificate
	if cert.Subject.CommonName != "Gatehouse SAML signing id.example.com" || cert.Issuer.CommonName != cert.Subject.CommonName {
		t.Errorf("subject %q, issuer %q", cert.Subject, cert.Issuer)
	}
	if cert.SignatureAlgorithm != x509.SHA256WithRSA || cert.KeyUsage != x509.KeyUsageDigitalSignature || cert.IsCA {
		t.Errorf("signature %s, key usage %v, CA %v", cert.SignatureAlgorithm, cert.KeyUsage, cert.IsCA)
	}
	if !cert.NotBefore.Equal(created.Add(-time.Hour)) || !cert.NotAfter.Equal(created.AddDate(10, 0, 0)) {
		t.Errorf("valid %s to %s, want %s to %s", cert.NotBefore, cert.NotAfter, created.Add(-time.Hour), created.AddDate(10, 0, 0))
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 || cert.SerialNumber.BitLen() < 64 {
		t.Errorf("serial %s: want a random positive 128-bit number", cert.SerialNumber)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if !k.Key.PublicKey.Equal(cert.PublicKey) {
		t.Error("the certificate's public key is not the signer's")
	}
	h := sha256.Sum256([]byte("<saml:Assertion/>"))
	sig, err := rsa.SignPKCS1v15(nil, k.Key, crypto.SHA256, h[:])
	mustOK(t, err, "sign")
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, h[:], sig); err != nil {
		t.Errorf("the certificate does not verify the key's signature: %v", err)
	}
}

// TestSAMLRotationTimeline walks one rotation: the metadata lists the next
// certificate before it signs, the old one until its grace ends.
func TestSAMLRotationTimeline(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t), newClock()
	m := newSAMLManager(st, masterKey(t, 1), c)
	mustOK(t, m.Ensure(ctx), "Ensure")
	old := samlSignerID(t, m)

	c.Advance(time.Hour)
	rotatedAt := c.Now()
	k, err := m.Rotate(ctx)
	mustOK(t, err, "Rotate")
	if k.Use != storage.KeyUseSAML || !k.CreatedAt.Equal(rotatedAt) || !k.NotBefore.Equal(rotatedAt.Add(testPublishAhead)) || len(k.Certificate) == 0 {
		t.Errorf("Rotate = %+v; want a SAML key with a certificate, signing from %s", k, rotatedAt.Add(testPublishAhead))
	}
	next := k.ID
	switchAt, unpublish := k.NotBefore, k.NotBefore.Add(testGrace)

	steps := []struct {
		name                string
		at                  time.Time
		signer              string
		certs               []string
		oldState, nextState KeyState
		prune               int
	}{
		{"just rotated", rotatedAt, old, []string{old, next}, StateActive, StateNext, 0},
		{"a second before the switch", switchAt.Add(-time.Second), old, []string{old, next}, StateActive, StateNext, 0},
		{"the switch", switchAt, next, []string{next, old}, StateRetired, StateActive, 0},
		{"a second before unpublishing", unpublish.Add(-time.Second), next, []string{next, old}, StateRetired, StateActive, 0},
		{"unpublished", unpublish, next, []string{next}, StateExpired, StateActive, 1},
		{"after pruning", unpublish.Add(time.Minute), next, []string{next}, "", StateActive, 0},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			c.Set(step.at)
			if got := samlSignerID(t, m); got != step.signer {
				t.Errorf("Signer = %s, want %s", got, step.signer)
			}
			if got := certIDs(t, m); !slices.Equal(got, step.certs) {
				t.Errorf("Certificates = %v, want %v", got, step.certs)
			}
			sts, err := m.Status(ctx)
			mustOK(t, err, "Status")
			states := map[string]KeyState{}
			for _, s := range sts {
				states[s.Key.ID] = s.State
			}
			if states[old] != step.oldState || states[next] != step.nextState {
				t.Errorf("states old %q, next %q; want %q, %q", states[old], states[next], step.oldState, step.nextState)
			}
			n, err := m.Prune(ctx)
			mustOK(t, err, "Prune")
			if n != step.prune {
				t.Errorf("Prune = %d, want %d", n, step.prune)
			}
		})
	}
	certs, err := m.Certificates(ctx)
	mustOK(t, err, "Certificates")
	if len(certs) != 1 || !certs[0].NotBefore.Equal(switchAt) || !certs[0].RetireAt.IsZero() {
		t.Errorf("Certificates = %+v; want the rotated key's, signing from %s, no end", certs, switchAt)
	}

	// Scheduled rotation, by age, through Maintain.
	mustOK(t, m.Maintain(ctx, time.Hour), "Maintain")
	if n := len(samlRows(t, st)); n != 2 {
		t.Errorf("Maintain with a key older than maxAge: %d keys, want 2 (one rotation)", n)
	}
}

// TestSAMLEnsureConcurrentInstances: instances starting together on an
// empty database make one SAML key and all sign with it at once. (The
// OIDC test also runs PostgreSQL; the ring under test is the same.)
func TestSAMLEnsureConcurrentInstances(t *testing.T) {
	const instances = 3
	ctx := context.Background()
	path, c, mk := dbPath(t), newClock(), masterKey(t, 1)
	ms := make([]*SAMLManager, instances)
	for i := range ms {
		ms[i] = newSAMLManager(testenv.SQLiteAt(t, path), mk, c)
	}
	var wg sync.WaitGroup
	errs := make([]error, instances)
	start := make(chan struct{})
	for i, m := range ms {
		wg.Go(func() {
			<-start
			errs[i] = m.Ensure(ctx)
		})
	}
	close(start)
	wg.Wait()
	mustOK(t, errors.Join(errs...), "concurrent Ensure")
	rs := samlRows(t, ms[0].Store)
	if len(rs) != 1 {
		t.Fatalf("%d SAML keys after concurrent starts, want 1", len(rs))
	}
	for i, m := range ms {
		if id, ids := samlSignerID(t, m), certIDs(t, m); id != rs[0].ID || !slices.Equal(ids, []string{rs[0].ID}) {
			t.Errorf("instance %d signs with %s and publishes %v; want %s", i, id, ids, rs[0].ID)
		}
	}
}

// TestSAMLForgedRows: whoever can write rows but lacks the master key can
// neither publish a certificate nor change the one published for a key.
func TestSAMLForgedRows(t *testing.T) {
	ctx := context.Background()
	st, c, mk := newStore(t), newClock(), masterKey(t, 1)
	m := newSAMLManager(st, mk, c)
	mustOK(t, m.Ensure(ctx), "Ensure")
	signer, err := m.Signer(ctx)
	mustOK(t, err, "Signer")
	later := t0.Add(time.Minute)
	fresh, _, err := generateSAML(mk, 2048, "Gatehouse SAML signing x", later, later)
	mustOK(t, err, "generateSAML")
	freshPub, err := x509.ParsePKIXPublicKey(fresh.PublicKey)
	mustOK(t, err, "parse public key")
	// A certificate for fresh's public key, signed by another key (the
	// signer's, standing in for the forger's).
	foreignCert := func() []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "forged"},
			NotBefore: t0, NotAfter: t0.AddDate(1, 0, 0), SignatureAlgorithm: x509.SHA256WithRSA}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, signer.Certificate, freshPub, signer.Key)
		mustOK(t, err, "create forged certificate")
		return der
	}
	ecdsaRow, _, err := generate(mk, ES256, later, later)
	mustOK(t, err, "generate ES256")

	tests := []struct {
		name    string
		forge   func() storage.SigningKey
		wantErr error
	}{
		{"another key's certificate", func() storage.SigningKey {
			r := fresh
			r.Certificate = signer.Certificate.Raw
			return r
		}, ErrInvalidKey},
		{"certificate signed by another key", func() storage.SigningKey {
			r := fresh
			r.Certificate = foreignCert()
			return r
		}, ErrInvalidKey},
		{"certificate altered", func() storage.SigningKey {
			r := fresh
			r.Certificate = bytes.Clone(fresh.Certificate)
			r.Certificate[len(r.Certificate)-1] ^= 1
			return r
		}, ErrInvalidKey},
		{"no certificate", func() storage.SigningKey {
			r := fresh
			r.Certificate = nil
			return r
		}, ErrInvalidKey},
		{"copied to another id", func() storage.SigningKey {
			r := fresh
			r.ID = newKID()
			return r
		}, masterkey.ErrCorrupt},
		{"an OIDC ES256 key relabelled", func() storage.SigningKey {
			r := ecdsaRow
			r.Use = storage.KeyUseSAML
			return r
		}, ErrUnknownAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forged := tt.forge()
			if forged.ID == fresh.ID {
				forged.ID = newKID() // a row of its own; the seal's id check is another case
				forged.PrivateKeySealed = resealed(t, mk, fresh, forged.ID)
			}
			mustOK(t, st.CreateSigningKey(ctx, forged), "CreateSigningKey")
			t.Cleanup(func() { st.DeleteSigningKey(ctx, forged.ID) })
			c.Set(later.Add(time.Second))
			t.Cleanup(func() { c.Set(t0) })

			sts, err := m.Status(ctx)
			mustOK(t, err, "Status")
			i := slices.IndexFunc(sts, func(s KeyStatus) bool { return s.Key.ID == forged.ID })
			if i < 0 || sts[i].State != StateInvalid || !errors.Is(sts[i].Err, tt.wantErr) {
				t.Errorf("Status of the forged key: %+v; want invalid, %v", sts, tt.wantErr)
			}
			if ids := certIDs(t, m); slices.Contains(ids, forged.ID) {
				t.Errorf("forged key %s is published", forged.ID)
			}
			if got := samlSignerID(t, m); got != signer.ID {
				t.Errorf("Signer = %s, want %s (the forged key is newer but must be ignored)", got, signer.ID)
			}
		})
	}

	// The unaltered row is fine: the cases above fail for what they change.
	mustOK(t, st.CreateSigningKey(ctx, fresh), "CreateSigningKey")
	c.Set(later.Add(time.Second + testCacheTTL)) // past the cache the subtests filled
	if got := samlSignerID(t, m); got != fresh.ID {
		t.Errorf("Signer = %s, want the newer genuine key %s", got, fresh.ID)
	}
}

// resealed is k's private key sealed for id, as the master key's holder
// would store it under another id.
func resealed(t *testing.T, mk *masterkey.Key, k storage.SigningKey, id string) []byte {
	t.Helper()
	der, err := mk.Open(k.PrivateKeySealed, sealAD(k.ID))
	mustOK(t, err, "open")
	sealed, err := mk.Seal(der, sealAD(id))
	mustOK(t, err, "seal")
	return sealed
}

// TestSAMLKeyBits: a 3072-bit setting applies to new keys; keys made at
// 2048 bits sign until they are rotated out.
func TestSAMLKeyBits(t *testing.T) {
	if testing.Short() {
		t.Skip("makes a 3072-bit RSA key")
	}
	ctx := context.Background()
	st, c, mk := newStore(t), newClock(), masterKey(t, 1)
	mustOK(t, newSAMLManager(st, mk, c).Ensure(ctx), "Ensure at 2048 bits")
	m := newSAMLManager(st, mk, c)
	m.KeyBits = 3072
	k, err := m.Signer(ctx)
	mustOK(t, err, "Signer")
	if k.Key.N.BitLen() != 2048 {
		t.Errorf("the existing key has %d bits, want 2048", k.Key.N.BitLen())
	}
	next, err := m.Rotate(ctx)
	mustOK(t, err, "Rotate")
	c.Set(next.NotBefore)
	k, err = m.Signer(ctx)
	mustOK(t, err, "Signer")
	if k.ID != next.ID || k.Key.N.BitLen() != 3072 {
		t.Errorf("after the rotation: %s with %d bits, want %s with 3072", k.ID, k.Key.N.BitLen(), next.ID)
	}
}
