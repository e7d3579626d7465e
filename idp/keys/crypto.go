package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// RSABits is the size of generated RSA keys.
const RSABits = 2048

// Signer is the private key that signs now for one algorithm. Key holds
// the concrete type go-jose expects: *rsa.PrivateKey, *ecdsa.PrivateKey or
// ed25519.PrivateKey. Its fields match oidcop.SigningKey, so a conversion
// adapts it.
type Signer struct {
	ID, Algorithm string
	Key           crypto.Signer
}

// PublicKey is a published verification key: *rsa.PublicKey,
// *ecdsa.PublicKey or ed25519.PublicKey. Its use is always Use ("sig").
type PublicKey struct {
	ID, Algorithm string
	Key           crypto.PublicKey
}

// Use is the JWK "use" of every key this package manages.
const Use = "sig"

// String names the key without its material, so that %v cannot print it.
func (s Signer) String() string { return "keys.Signer{" + s.Algorithm + " " + s.ID + "}" }

// GoString is String, for %#v.
func (s Signer) GoString() string { return s.String() }

// LogValue redacts the private key.
func (s Signer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kid", s.ID), slog.String("alg", s.Algorithm))
}

var _ slog.LogValuer = Signer{}

// Sign returns the JWS signature (RFC 7518 section 3) of signingInput, the
// "header.payload" bytes: RSASSA-PKCS1-v1_5 with SHA-256 for RS256, the
// 64-byte R||S of ECDSA P-256 with SHA-256 for ES256, Ed25519 for EdDSA.
func (s Signer) Sign(signingInput []byte) ([]byte, error) {
	switch k := s.Key.(type) {
	case *rsa.PrivateKey:
		if s.Algorithm == RS256 {
			h := sha256.Sum256(signingInput)
			sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, h[:])
			if err != nil {
				return nil, fmt.Errorf("keys: sign with %s: %w", s.ID, err)
			}
			return sig, nil
		}
	case *ecdsa.PrivateKey:
		if s.Algorithm == ES256 {
			h := sha256.Sum256(signingInput)
			r, ss, err := ecdsa.Sign(rand.Reader, k, h[:])
			if err != nil {
				return nil, fmt.Errorf("keys: sign with %s: %w", s.ID, err)
			}
			sig := make([]byte, 64)
			r.FillBytes(sig[:32])
			ss.FillBytes(sig[32:])
			return sig, nil
		}
	case ed25519.PrivateKey:
		if s.Algorithm == EdDSA {
			return ed25519.Sign(k, signingInput), nil
		}
	}
	return nil, fmt.Errorf("keys: sign with %s: %w: %T for %s", s.ID, ErrInvalidKey, s.Key, s.Algorithm)
}

// Verify checks a JWS signature made by Signer.Sign with the matching key.
// It returns ErrBadSignature when the signature does not verify.
func (p PublicKey) Verify(signingInput, sig []byte) error {
	ok := false
	switch k := p.Key.(type) {
	case *rsa.PublicKey:
		if p.Algorithm == RS256 {
			h := sha256.Sum256(signingInput)
			ok = rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig) == nil
		}
	case *ecdsa.PublicKey:
		if p.Algorithm == ES256 && len(sig) == 64 {
			h := sha256.Sum256(signingInput)
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			ok = ecdsa.Verify(k, h[:], r, s)
		}
	case ed25519.PublicKey:
		if p.Algorithm == EdDSA {
			ok = ed25519.Verify(k, signingInput, sig)
		}
	}
	if !ok {
		return fmt.Errorf("keys: verify with %s (%s): %w", p.ID, p.Algorithm, ErrBadSignature)
	}
	return nil
}

// sealAD binds a sealed private key to its id: a sealed value copied onto
// another row does not open.
func sealAD(kid string) []byte { return []byte("signing_key:" + kid) }

// material is what a row's key bytes decode to. Key bytes never change for
// an id, so a material is cached by id for the life of the process; it
// remembers the bytes it came from in case a row is altered.
type material struct {
	publicDER, sealed, certDER []byte
	signer                     crypto.Signer
	public                     crypto.PublicKey
	cert                       *x509.Certificate // SAML rows only
	err                        error             // why the row cannot be used
}

func (mt *material) matches(row storage.SigningKey) bool {
	return bytes.Equal(mt.publicDER, row.PublicKey) && bytes.Equal(mt.sealed, row.PrivateKeySealed) &&
		bytes.Equal(mt.certDER, row.Certificate)
}

// generate makes a new OIDC key of alg, sealed under sealer.
func generate(sealer *masterkey.Key, alg string, created, notBefore time.Time) (storage.SigningKey, *material, error) {
	priv, err := newPrivateKey(alg, RSABits)
	if err != nil {
		return storage.SigningKey{}, nil, err
	}
	return sealKey(sealer, storage.KeyUseOIDC, alg, priv, created, notBefore)
}

// newPrivateKey makes a key of alg; bits is the size of RSA keys.
func newPrivateKey(alg string, bits int) (crypto.Signer, error) {
	var (
		priv crypto.Signer
		err  error
	)
	// Since Go 1.26 these always use a secure source and ignore the
	// reader, which is why Manager takes none.
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, bits)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("keys: %w: %q", ErrUnknownAlgorithm, alg)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: generate %s key: %w", alg, err)
	}
	return priv, nil
}

// sealKey makes the row of a new key of use under a fresh id, its private
// part sealed under sealer for that id.
func sealKey(sealer *masterkey.Key, use, alg string, priv crypto.Signer, created, notBefore time.Time) (storage.SigningKey, *material, error) {
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return storage.SigningKey{}, nil, fmt.Errorf("keys: encode %s public key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, nil, fmt.Errorf("keys: encode %s private key: %w", alg, err)
	}
	defer clear(der)
	kid := newKID()
	sealed, err := sealer.Seal(der, sealAD(kid))
	if err != nil {
		return storage.SigningKey{}, nil, fmt.Errorf("keys: seal %s key: %w", alg, err)
	}
	row := storage.SigningKey{
		ID: kid, Use: use, Algorithm: alg,
		PublicKey: pub, PrivateKeySealed: sealed,
		CreatedAt: created, NotBefore: notBefore,
	}
	return row, &material{publicDER: pub, sealed: sealed, signer: priv, public: priv.Public()}, nil
}

// newKID returns a random, URL-safe key id of 130 bits.
func newKID() string { return strings.ToLower(storage.NewID()) }

// open decodes an OIDC row's key material; see openKey.
func open(sealer *masterkey.Key, row storage.SigningKey) *material {
	return openKey(sealer, row, algorithms[:])
}

// openKey decodes a row's key material and checks that it is
// self-consistent: its algorithm is one of algs, the sealed part opens for
// this id, is a key of the row's algorithm, and its public half is the
// row's PublicKey.
func openKey(sealer *masterkey.Key, row storage.SigningKey, algs []string) *material {
	mt := &material{publicDER: bytes.Clone(row.PublicKey), sealed: bytes.Clone(row.PrivateKeySealed),
		certDER: bytes.Clone(row.Certificate)}
	if !slices.Contains(algs, row.Algorithm) {
		return mt.fail(row, fmt.Errorf("%w: %q", ErrUnknownAlgorithm, row.Algorithm))
	}
	der, err := sealer.Open(row.PrivateKeySealed, sealAD(row.ID))
	if err != nil {
		return mt.fail(row, err)
	}
	defer clear(der)
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return mt.fail(row, fmt.Errorf("%w: private key: %w", ErrInvalidKey, err))
	}
	signer, ok := key.(crypto.Signer)
	if !ok || !fitsAlg(signer, row.Algorithm) {
		return mt.fail(row, fmt.Errorf("%w: a %T is not a %s key", ErrInvalidKey, key, row.Algorithm))
	}
	pub, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return mt.fail(row, fmt.Errorf("%w: public key: %w", ErrInvalidKey, err))
	}
	if !bytes.Equal(pub, row.PublicKey) {
		return mt.fail(row, fmt.Errorf("%w: the public key does not match the private key", ErrInvalidKey))
	}
	mt.signer, mt.public = signer, signer.Public()
	return mt
}

// fail marks mt unusable, and drops any key it decoded.
func (mt *material) fail(row storage.SigningKey, err error) *material {
	mt.signer, mt.public, mt.cert = nil, nil, nil
	mt.err = fmt.Errorf("keys: signing key %s: %w", row.ID, err)
	return mt
}

func fitsAlg(k crypto.Signer, alg string) bool {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return alg == RS256 && k.N.BitLen() >= RSABits
	case *ecdsa.PrivateKey:
		return alg == ES256 && k.Curve == elliptic.P256()
	case ed25519.PrivateKey:
		return alg == EdDSA
	}
	return false
}

// wrongMasterKey reports whether err says the value was sealed under another
// master key (as opposed to corrupt or altered).
func wrongMasterKey(err error) bool { return errors.Is(err, masterkey.ErrWrongKey) }
