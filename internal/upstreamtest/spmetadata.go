package upstreamtest

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"net/url"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// SPKey is a service provider's key and self-signed certificate.
func SPKey(t testing.TB) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	return selfSigned(t, "test sp")
}

// SPMetadata is the metadata crewjam's ServiceProvider publishes for an
// application at base (ACS base+/saml/acs, SLO base+/saml/slo by
// HTTP-POST, entity id base+/saml/metadata), with its signing and
// encryption keys, valid until validUntil, with edit applied.
func SPMetadata(t testing.TB, key *rsa.PrivateKey, cert *x509.Certificate, base string, validUntil time.Time,
	edit func(*crewjam.EntityDescriptor)) []byte {
	t.Helper()
	u := func(p string) url.URL { v, _ := url.Parse(base + p); return *v }
	sp := crewjam.ServiceProvider{Key: key, Certificate: cert, MetadataURL: u("/saml/metadata"), AcsURL: u("/saml/acs"),
		SloURL: u("/saml/slo"), LogoutBindings: []string{crewjam.HTTPPostBinding},
		SignatureMethod: dsig.RSASHA256SignatureMethod} // so it publishes its signing key too
	ed := sp.Metadata()
	ed.ValidUntil = validUntil
	if edit != nil {
		edit(ed)
	}
	b, err := xml.Marshal(ed)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// SignMetadata signs doc's root element (enveloped, RSA-SHA256), as a
// federation operator signs the metadata it publishes.
func SignMetadata(t testing.TB, key *rsa.PrivateKey, cert *x509.Certificate, doc []byte) []byte {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil {
		t.Fatal(err)
	}
	d.Root().CreateAttr("ID", "_md")
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key}))
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		t.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(d.Root())
	if err != nil {
		t.Fatal(err)
	}
	d.SetRoot(signed)
	out, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
