package saml

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"math/big"
	"net/url"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// noReplays is a storage.Assertions that never saw an assertion.
type noReplays struct{}

func (noReplays) UseAssertionID(context.Context, string, string, time.Time, time.Time) error {
	return nil
}

// fuzzConnector is a connector with inline metadata of an IdP whose key
// nobody has: no input can prove anything to it.
func fuzzConnector(f *testing.F) (*Connector, []byte) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		f.Fatal(err)
	}
	md := crewjam.EntityDescriptor{EntityID: "https://idp.example/metadata", IDPSSODescriptors: []crewjam.IDPSSODescriptor{{
		SSODescriptor: crewjam.SSODescriptor{RoleDescriptor: crewjam.RoleDescriptor{KeyDescriptors: []crewjam.KeyDescriptor{{
			Use: "signing", KeyInfo: crewjam.KeyInfo{X509Data: crewjam.X509Data{X509Certificates: []crewjam.X509Certificate{
				{Data: base64.StdEncoding.EncodeToString(der)}}}}}}}},
		SingleSignOnServices: []crewjam.Endpoint{{Binding: crewjam.HTTPRedirectBinding, Location: "https://idp.example/sso"}},
	}}}
	raw, err := xml.Marshal(md)
	if err != nil {
		f.Fatal(err)
	}
	config, _ := json.Marshal(federation.SAMLSettings{Metadata: string(raw)})
	conn, err := Open(context.Background(), storage.Connector{ID: "fuzz", Type: storage.ConnectorSAML, Config: config},
		federation.Env{Issuer: "https://login.example", Assertions: noReplays{}, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	start, err := conn.Begin(context.Background(), "relay")
	if err != nil {
		f.Fatal(err)
	}
	return conn.(*Connector), start.State
}

// FuzzFinish: whatever is posted, Finish refuses it, and never panics.
func FuzzFinish(f *testing.F) {
	conn, state := fuzzConnector(f)
	for _, seed := range []string{
		"", "<samlp:Response/>",
		`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">` +
			`<saml:Assertion ID="a"><saml:Subject><saml:NameID>x</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>`,
		`<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := url.Values{"RelayState": {"relay"}, "SAMLResponse": {base64.StdEncoding.EncodeToString(raw)}}
		_, err := conn.Finish(context.Background(), state, in)
		var ref *federation.Refusal
		if !errors.As(err, &ref) {
			t.Fatalf("Finish(%q) = %v, want a refusal", raw, err)
		}
	})
}

// FuzzScreen: screen never panics on any input.
func FuzzScreen(f *testing.F) {
	f.Add([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`))
	f.Add([]byte(`<!DOCTYPE x><x/>`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_ = screen(raw)
		_ = refuseDirectives(raw)
	})
}
