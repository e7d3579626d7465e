package saml

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// NewSPKey makes a key pair for a new connector's SP: an RSA-2048 key as
// PKCS#8 DER (to be sealed into Connector.SecretSealed) and a self-signed
// certificate for it, valid from now for about ten years, as PEM (for
// SAMLSettings.SPCertificate). IdPs use the certificate only as a
// container for the public key.
func NewSPKey(now time.Time) (certPEM string, keyDER []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", nil, fmt.Errorf("saml: sp key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return "", nil, fmt.Errorf("saml: sp key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Gatehouse SAML SP"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", nil, fmt.Errorf("saml: sp certificate: %w", err)
	}
	if keyDER, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
		return "", nil, fmt.Errorf("saml: sp key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), keyDER, nil
}

// spKeyPair unseals the SP's key (PKCS#8 DER, RSA) and parses its
// certificate (PEM). Neither: the SP has no key. One without the other, or
// a certificate that is not the key's, is an error.
func spKeyPair(sealed []byte, certPEM string, open func([]byte) ([]byte, error)) (*rsa.PrivateKey, *x509.Certificate, error) {
	switch {
	case len(sealed) == 0 && certPEM == "":
		return nil, nil, nil
	case len(sealed) == 0:
		return nil, nil, errors.New("sp_certificate is set but there is no SP key")
	case certPEM == "":
		return nil, nil, errors.New("there is an SP key but no sp_certificate")
	case open == nil:
		return nil, nil, errors.New("the SP key is sealed and env.Open is nil")
	}
	der, err := open(sealed)
	if err != nil {
		return nil, nil, fmt.Errorf("unseal SP key: %w", err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, nil, fmt.Errorf("SP key: %w", err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("SP key is %T, not RSA", parsed)
	}
	cert, err := parseCertificatePEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("sp_certificate: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, errors.New("sp_certificate is not the SP key's")
	}
	return key, cert, nil
}

// parseCertificatePEM parses one PEM certificate.
func parseCertificatePEM(s string) (*x509.Certificate, error) {
	block, rest := pem.Decode([]byte(s))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, errors.New("more than one PEM block")
	}
	return x509.ParseCertificate(block.Bytes)
}
