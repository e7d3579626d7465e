package spmeta

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml"
)

// MaxSize bounds a metadata document. A real SP's is a few kilobytes; a
// federation aggregate is far larger and is not what an SP registration
// takes.
const MaxSize = 1 << 20

// FetchTimeout bounds one fetch of a metadata URL.
const FetchTimeout = 15 * time.Second

// Metadata is a checked SP EntityDescriptor.
type Metadata struct {
	// EntityID is the provider's entity id.
	EntityID string
	// Document is the EntityDescriptor as Gatehouse stores it: the one SP
	// entity, without the signature that was checked (re-serialised from
	// what was verified, so nothing the signature did not cover is kept).
	Document []byte
	// ACS are the provider's AssertionConsumerService URLs.
	ACS []string
	// SLO says whether it has a SingleLogoutService.
	SLO bool
	// SigningCerts and EncryptionCert say which keys the metadata carries.
	SigningCerts   int
	EncryptionCert bool
	// AuthnRequestsSigned is the metadata's own promise to sign requests.
	AuthnRequestsSigned bool
	// Signer is the certificate whose signature was verified (nil: the
	// document was not signed).
	Signer *x509.Certificate
	// ValidUntil is the metadata's validUntil (zero: none).
	ValidUntil time.Time
}

// Check reads raw, an EntityDescriptor or an EntitiesDescriptor holding
// exactly one SP entity. When the document is signed, the signature must
// verify with trusted when it is given (a pinned or configured
// certificate), or else with the certificate in the signature itself (it
// then proves the document is whole, and the caller pins that certificate
// for the next fetch). now is for validUntil.
func Check(raw []byte, trusted *x509.Certificate, now time.Time) (Metadata, error) {
	if len(raw) > MaxSize {
		return Metadata{}, fmt.Errorf("metadata is larger than %d bytes", MaxSize)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return Metadata{}, errors.New("metadata is empty")
	}
	if hasDTD(raw) {
		return Metadata{}, errors.New("metadata has a document type declaration, which is refused")
	}
	var m Metadata
	doc := raw
	if signed(raw) {
		certs := []*x509.Certificate{}
		if trusted != nil {
			certs = append(certs, trusted)
		} else {
			c, err := signatureCert(raw)
			if err != nil {
				return Metadata{}, err
			}
			certs = append(certs, c)
		}
		verified, err := saml.VerifyMetadataSignature(raw, certs)
		if err != nil {
			return Metadata{}, fmt.Errorf("metadata signature: %w", err)
		}
		doc, m.Signer = verified, certs[0]
	} else if trusted != nil {
		return Metadata{}, errors.New("metadata is not signed, but a signing certificate is pinned for it")
	}
	ed, err := entity(doc)
	if err != nil {
		return Metadata{}, err
	}
	if err := describe(&m, ed, now); err != nil {
		return Metadata{}, err
	}
	ed.Signature = nil
	out, err := xml.Marshal(ed)
	if err != nil {
		return Metadata{}, fmt.Errorf("metadata: %w", err)
	}
	m.Document = out
	return m, nil
}

func describe(m *Metadata, ed *saml.EntityDescriptor, now time.Time) error {
	m.EntityID = ed.EntityID
	if m.EntityID == "" || len(m.EntityID) > 1024 {
		return errors.New("metadata: the entityID is missing or longer than 1024 bytes")
	}
	if !ed.ValidUntil.IsZero() {
		m.ValidUntil = ed.ValidUntil
		if !now.Before(ed.ValidUntil) {
			return fmt.Errorf("metadata expired at %s (validUntil)", ed.ValidUntil.UTC().Format(time.RFC3339))
		}
	}
	if len(ed.SPSSODescriptors) != 1 {
		return fmt.Errorf("metadata: want one SPSSODescriptor, found %d", len(ed.SPSSODescriptors))
	}
	d := ed.SPSSODescriptors[0]
	if !strings.Contains(d.ProtocolSupportEnumeration, "urn:oasis:names:tc:SAML:2.0:protocol") {
		return errors.New("metadata: the SPSSODescriptor does not support SAML 2.0")
	}
	for _, acs := range d.AssertionConsumerServices {
		if acs.Binding != saml.HTTPPostBinding {
			continue // the door answers by HTTP-POST only
		}
		if err := CheckEndpoint(acs.Location); err != nil {
			return fmt.Errorf("metadata: AssertionConsumerService %w", err)
		}
		m.ACS = append(m.ACS, acs.Location)
	}
	if len(m.ACS) == 0 {
		return errors.New("metadata: no AssertionConsumerService with the HTTP-POST binding")
	}
	for _, slo := range d.SingleLogoutServices {
		if slo.Binding != saml.HTTPRedirectBinding && slo.Binding != saml.HTTPPostBinding {
			continue
		}
		if err := CheckEndpoint(slo.Location); err != nil {
			return fmt.Errorf("metadata: SingleLogoutService %w", err)
		}
		m.SLO = true
	}
	for _, kd := range d.KeyDescriptors {
		for _, xc := range kd.KeyInfo.X509Data.X509Certificates {
			if _, err := ParseCert(xc.Data); err != nil {
				return fmt.Errorf("metadata: a KeyDescriptor's certificate: %w", err)
			}
			switch kd.Use {
			case "encryption":
				m.EncryptionCert = true
			case "signing":
				m.SigningCerts++
			default: // no use: both
				m.SigningCerts++
				m.EncryptionCert = true
			}
		}
	}
	m.AuthnRequestsSigned = d.AuthnRequestsSigned != nil && *d.AuthnRequestsSigned
	if m.AuthnRequestsSigned && m.SigningCerts == 0 {
		return errors.New("metadata: AuthnRequestsSigned is true but there is no signing certificate")
	}
	return nil
}

// CheckEndpoint is the rule for an SP's endpoint URL: https, or http on a
// loopback host (an application on the same machine, as in development).
func CheckEndpoint(loc string) error {
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute URL without user info or fragment", loc)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q: use https (http only on localhost, 127.0.0.1 or [::1])", loc)
}

func loopback(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func hasDTD(b []byte) bool {
	up := bytes.ToUpper(b)
	return bytes.Contains(up, []byte("<!DOCTYPE")) || bytes.Contains(up, []byte("<!ENTITY"))
}

// signed says whether the root element has a ds:Signature child; only a
// root signature counts (VerifyMetadataSignature's rule).
func signed(raw []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(raw))
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 && t.Name.Local == "Signature" && t.Name.Space == "http://www.w3.org/2000/09/xmldsig#" {
				return true
			}
		case xml.EndElement:
			depth--
			if depth == 0 {
				return false
			}
		}
	}
}

// signatureCert is the certificate in the root signature's KeyInfo.
func signatureCert(raw []byte) (*x509.Certificate, error) {
	var root struct {
		Signature struct {
			KeyInfo struct {
				X509Data struct {
					Certs []string `xml:"X509Certificate"`
				} `xml:"X509Data"`
			} `xml:"KeyInfo"`
		} `xml:"http://www.w3.org/2000/09/xmldsig# Signature"`
	}
	if err := xml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if len(root.Signature.KeyInfo.X509Data.Certs) == 0 {
		return nil, errors.New("metadata is signed but names no certificate, and none is pinned for it")
	}
	return ParseCert(root.Signature.KeyInfo.X509Data.Certs[0])
}

// ParseCert reads a metadata X509Certificate element's text (base64 DER,
// whitespace allowed).
func ParseCert(data string) (*x509.Certificate, error) {
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(data), ""))
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// entity is the one SP EntityDescriptor of doc.
func entity(doc []byte) (*saml.EntityDescriptor, error) {
	var root struct{ XMLName xml.Name }
	if err := xml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("metadata is not XML: %w", err)
	}
	const md = "urn:oasis:names:tc:SAML:2.0:metadata"
	switch {
	case root.XMLName.Space == md && root.XMLName.Local == "EntityDescriptor":
		var ed saml.EntityDescriptor
		if err := xml.Unmarshal(doc, &ed); err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		return &ed, nil
	case root.XMLName.Space == md && root.XMLName.Local == "EntitiesDescriptor":
		var eds saml.EntitiesDescriptor
		if err := xml.Unmarshal(doc, &eds); err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		var found *saml.EntityDescriptor
		for i := range eds.EntityDescriptors {
			if len(eds.EntityDescriptors[i].SPSSODescriptors) == 0 {
				continue
			}
			if found != nil {
				return nil, errors.New("metadata holds several service providers; register each with its own metadata")
			}
			found = &eds.EntityDescriptors[i]
		}
		if found == nil {
			return nil, errors.New("metadata holds no service provider")
		}
		if eds.ValidUntil != nil && (found.ValidUntil.IsZero() || eds.ValidUntil.Before(found.ValidUntil)) {
			found.ValidUntil = *eds.ValidUntil
		}
		return found, nil
	}
	return nil, fmt.Errorf("metadata: want an md:EntityDescriptor, found %s", root.XMLName.Local)
}

// Fetch gets a metadata document from rawURL with client (nil: a client
// that follows no redirect to a non-https URL). It refuses plain http
// except on loopback, a status other than 200, and a body over MaxSize.
func Fetch(ctx context.Context, client *http.Client, rawURL string) ([]byte, error) {
	if err := CheckEndpoint(rawURL); err != nil {
		return nil, fmt.Errorf("metadata URL %w", err)
	}
	if client == nil {
		client = &http.Client{Timeout: FetchTimeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return CheckEndpoint(req.URL.String())
		}}
	}
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("metadata URL: %w", err)
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch metadata: %s answered %s", rawURL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch metadata: %w", err)
	}
	if len(body) > MaxSize {
		return nil, fmt.Errorf("fetch metadata: larger than %d bytes", MaxSize)
	}
	return body, nil
}

// EncodeCert and DecodeCert carry a pinned certificate in settings (PEM).
func EncodeCert(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// DecodeCert reads a PEM certificate ("" : nil).
func DecodeCert(s string) (*x509.Certificate, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}
