package keys

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// SAML key sizes and defaults.
const (
	// DefaultSAMLKeyBits is the size of new SAML keys unless KeyBits
	// asks for SAMLKeyBits3072.
	DefaultSAMLKeyBits = 2048
	SAMLKeyBits3072    = 3072
	// DefaultSAMLPublishAhead is how long a rotated SAML key is published
	// before it signs. Far longer than OIDC's: service providers read IdP
	// metadata rarely (daily at best) and many have the certificate
	// pasted in by hand, so an administrator needs days to roll it out.
	DefaultSAMLPublishAhead = 7 * 24 * time.Hour
	// samlCertBackdate is how far before the key's creation its
	// certificate is valid, for service providers whose clock is behind.
	samlCertBackdate = time.Hour
	// samlCertYears is how long the certificate is valid. Service
	// providers use it only as a container for the public key, and many
	// reject an expired one, so it outlives any rotation schedule.
	samlCertYears = 10
)

// samlAlgs: SAML keys are RSA, signing with RSA-SHA256 (the JOSE name
// RS256 is what rows store).
var samlAlgs = []string{RS256}

// SAMLManager generates, rotates and serves the keys that sign SAML
// assertions and responses (KeyUseSAML rows), each with a self-signed
// certificate for the IdP metadata. Its timeline, caching, sealing and
// behaviour across instances are Manager's (see the package doc), with one
// chain of RS256 keys. Set its fields before first use; it is safe for
// concurrent use afterwards, and must not be copied.
type SAMLManager struct {
	Store  Store
	Sealer *masterkey.Key
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger reports rows that cannot be used (nil: slog.Default()).
	Logger *slog.Logger

	// PublishAhead, TokenLifetime and CacheTTL are Manager's, except
	// that PublishAhead defaults to DefaultSAMLPublishAhead. TokenLifetime
	// bounds how long an assertion is accepted.
	PublishAhead  time.Duration
	TokenLifetime time.Duration
	CacheTTL      time.Duration

	// KeyBits is the size of new keys: DefaultSAMLKeyBits (also for zero)
	// or SAMLKeyBits3072; anything else is ErrConfig. Keys made at the
	// other size stay in use until rotated.
	KeyBits int
	// Issuer names this IdP in the certificates' subject ("Gatehouse
	// SAML signing <host>"): the issuer URL, or a bare host. Required.
	Issuer string

	lazy lazyRing
}

// SAMLKey is the key that signs now, with its certificate.
type SAMLKey struct {
	ID          string
	Key         *rsa.PrivateKey
	Certificate *x509.Certificate
}

// String names the key without its material, so that %v cannot print it.
func (k SAMLKey) String() string { return "keys.SAMLKey{" + k.ID + "}" }

// GoString is String, for %#v.
func (k SAMLKey) GoString() string { return k.String() }

// LogValue redacts the private key.
func (k SAMLKey) LogValue() slog.Value { return slog.GroupValue(slog.String("kid", k.ID)) }

var _ slog.LogValuer = SAMLKey{}

// SAMLCertificate is a published certificate, for the IdP metadata.
type SAMLCertificate struct {
	ID          string
	Certificate *x509.Certificate
	// NotBefore and RetireAt bound when its key signs (RetireAt zero: no
	// successor yet).
	NotBefore, RetireAt time.Time
}

// ring checks the fields and builds the machinery, once.
func (m *SAMLManager) ring() (*ring, error) {
	return m.lazy.get(func() (*ring, error) {
		cfg, errs := newSettings(durations{store: m.Store, sealer: m.Sealer, publishAhead: m.PublishAhead,
			tokenLifetime: m.TokenLifetime, cacheTTL: m.CacheTTL, defaultPublishAhead: DefaultSAMLPublishAhead})
		bits := m.KeyBits
		if bits == 0 {
			bits = DefaultSAMLKeyBits
		}
		if bits != DefaultSAMLKeyBits && bits != SAMLKeyBits3072 {
			errs = append(errs, fmt.Errorf("KeyBits must be %d or %d, got %d", DefaultSAMLKeyBits, SAMLKeyBits3072, m.KeyBits))
		}
		cn, err := samlSubject(m.Issuer)
		if err != nil {
			errs = append(errs, err)
		}
		if err := configError(errs); err != nil {
			return nil, err
		}
		k := kind{
			use:    storage.KeyUseSAML,
			prefix: "SAML ",
			algs:   samlAlgs,
			generate: func(_ string, created, notBefore time.Time) (storage.SigningKey, *material, error) {
				return generateSAML(m.Sealer, bits, cn, created, notBefore)
			},
			open: func(row storage.SigningKey) *material { return openSAML(m.Sealer, row) },
		}
		return &ring{kind: k, store: m.Store, cfg: cfg, now: m.now, logger: m.logger}, nil
	})
}

func (m *SAMLManager) now() time.Time { return nowOr(m.Now) }

func (m *SAMLManager) logger() *slog.Logger { return loggerOr(m.Logger) }

// samlSubject is the certificates' common name, from the issuer's host.
func samlSubject(issuer string) (string, error) {
	if issuer == "" {
		return "", errors.New("Issuer is empty")
	}
	host := issuer
	if u, err := url.Parse(issuer); err == nil && u.Host != "" {
		host = u.Host
	}
	return "Gatehouse SAML signing " + host, nil
}

// Ensure makes sure a SAML key signs now, creating one that signs at once
// when none does (a first start, or keys left to lapse); instances starting
// together create one between them. See Manager.Ensure.
func (m *SAMLManager) Ensure(ctx context.Context) error {
	r, err := m.ring()
	if err != nil {
		return err
	}
	return r.ensure(ctx)
}

// Signer returns the key that signs now. It reads storage at most once per
// CacheTTL and decrypts each key once per process.
func (m *SAMLManager) Signer(ctx context.Context) (SAMLKey, error) {
	r, err := m.ring()
	if err != nil {
		return SAMLKey{}, err
	}
	e, err := r.signer(ctx, 0)
	if err != nil {
		return SAMLKey{}, err
	}
	// openSAML and generateSAML admit only RSA keys with a certificate.
	return SAMLKey{ID: e.row.ID, Key: e.mat.signer.(*rsa.PrivateKey), Certificate: e.mat.cert}, nil
}

// Certificates returns the certificates published now, for the IdP
// metadata: the one whose key signs now first, then the others newest
// first (during a rotation the next key's, then a retired one's until its
// grace period ends). Rows whose material does not open are left out.
func (m *SAMLManager) Certificates(ctx context.Context) ([]SAMLCertificate, error) {
	r, err := m.ring()
	if err != nil {
		return nil, err
	}
	return publishedAs(ctx, r, func(e *entry) SAMLCertificate {
		return SAMLCertificate{ID: e.row.ID, Certificate: e.mat.cert, NotBefore: e.row.NotBefore, RetireAt: e.row.RetireAt}
	})
}

// Rotate publishes a new key. It signs from now + PublishAhead (or at once
// when no key signs now); the key it succeeds stops signing then and stays
// published for TokenLifetime + CacheTTL more. See Manager.Rotate.
func (m *SAMLManager) Rotate(ctx context.Context) (storage.SigningKey, error) {
	r, err := m.ring()
	if err != nil {
		return storage.SigningKey{}, err
	}
	return r.rotateNow(ctx, 0)
}

// RotateDue rotates when the signing key has signed for maxAge or longer
// and has no successor yet. See Manager.RotateDue.
func (m *SAMLManager) RotateDue(ctx context.Context, maxAge time.Duration) ([]storage.SigningKey, error) {
	if maxAge <= 0 {
		return nil, fmt.Errorf("%w: maxAge must be positive, got %s", ErrConfig, maxAge)
	}
	r, err := m.ring()
	if err != nil {
		return nil, err
	}
	return r.rotateDue(ctx, maxAge)
}

// Prune deletes SAML keys whose ExpiresAt has passed and returns how many.
func (m *SAMLManager) Prune(ctx context.Context) (int, error) {
	r, err := m.ring()
	if err != nil {
		return 0, err
	}
	return r.prune(ctx)
}

// Maintain is one round of upkeep, safe on every instance: Ensure,
// RotateDue(maxAge) when maxAge > 0, then Prune.
func (m *SAMLManager) Maintain(ctx context.Context, maxAge time.Duration) error {
	r, err := m.ring()
	if err != nil {
		return err
	}
	return r.maintain(ctx, maxAge)
}

// Status reads storage (not the cache) and returns every SAML key with its
// state now, in signing order (oldest first).
func (m *SAMLManager) Status(ctx context.Context) ([]KeyStatus, error) {
	r, err := m.ring()
	if err != nil {
		return nil, err
	}
	return r.status(ctx)
}

// generateSAML makes a new RSA key of bits and its certificate, sealed
// under sealer.
func generateSAML(sealer *masterkey.Key, bits int, cn string, created, notBefore time.Time) (storage.SigningKey, *material, error) {
	priv, err := newPrivateKey(RS256, bits)
	if err != nil {
		return storage.SigningKey{}, nil, err
	}
	der, err := samlCertificate(priv.(*rsa.PrivateKey), cn, created)
	if err != nil {
		return storage.SigningKey{}, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return storage.SigningKey{}, nil, fmt.Errorf("keys: parse new SAML certificate: %w", err)
	}
	row, mt, err := sealKey(sealer, storage.KeyUseSAML, RS256, priv, created, notBefore)
	if err != nil {
		return storage.SigningKey{}, nil, err
	}
	row.Certificate, mt.certDER, mt.cert = der, der, cert
	return row, mt, nil
}

// samlCertificate self-signs a certificate for key, valid from shortly
// before created for samlCertYears.
func samlCertificate(key *rsa.PrivateKey, cn string, created time.Time) ([]byte, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             created.Add(-samlCertBackdate),
		NotAfter:              created.AddDate(samlCertYears, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("keys: create SAML certificate: %w", err)
	}
	return der, nil
}

// randomSerial is a random positive serial number of up to 128 bits.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("keys: certificate serial: %w", err)
		}
		if n.Sign() > 0 { // serials must be positive
			return n, nil
		}
	}
}

// openSAML decodes a SAML row: its key as openKey does, and its
// certificate, which must carry the row's public key and be signed by its
// own private key with RSA-SHA256. Without the master key nobody can make
// such a certificate, so whoever can write rows cannot change what the
// metadata publishes for a key.
func openSAML(sealer *masterkey.Key, row storage.SigningKey) *material {
	mt := openKey(sealer, row, samlAlgs)
	if mt.err != nil {
		return mt
	}
	if len(row.Certificate) == 0 {
		return mt.fail(row, fmt.Errorf("%w: no certificate", ErrInvalidKey))
	}
	cert, err := x509.ParseCertificate(row.Certificate)
	if err != nil {
		return mt.fail(row, fmt.Errorf("%w: certificate: %w", ErrInvalidKey, err))
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(mt.public) {
		return mt.fail(row, fmt.Errorf("%w: the certificate is not the key's", ErrInvalidKey))
	}
	// CheckSignatureFrom would demand a CA; the signature is what matters.
	if cert.SignatureAlgorithm != x509.SHA256WithRSA ||
		cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) != nil {
		return mt.fail(row, fmt.Errorf("%w: the certificate is not signed by its key with RSA-SHA256", ErrInvalidKey))
	}
	mt.cert = cert
	return mt
}
