package upstreamtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
)

// SAML is crewjam/saml's IdentityProvider on loopback, upstream of one
// service provider whose metadata it reads from spMetadataURL (Gatehouse's
// own endpoint, over HTTP, as a real IdP is given it). Whoever SignInAs
// names is signed in at the IdP.
type SAML struct {
	// MetadataURL is the IdP's metadata.
	MetadataURL string
	server      *httptest.Server
	idp         *crewjam.IdentityProvider
	spMetadata  string
	http        *http.Client

	mu     sync.Mutex
	person *Person
}

// NewSAML starts an IdP whose one SP publishes its metadata at
// spMetadataURL.
func NewSAML(t testing.TB, spMetadataURL string) *SAML {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "upstream idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	s := &SAML{spMetadata: spMetadataURL, http: &http.Client{Timeout: 10 * time.Second}}
	s.server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.server.Close)
	base, _ := url.Parse(s.server.URL)
	s.MetadataURL = s.server.URL + "/metadata"
	logger := log.New(io.Discard, "", 0)
	if os.Getenv("GATEHOUSE_TEST_LOG") != "" {
		logger = log.New(os.Stderr, "upstream idp: ", 0)
	}
	s.idp = &crewjam.IdentityProvider{Key: key, Certificate: cert, Logger: logger,
		MetadataURL: *base.JoinPath("metadata"), SSOURL: *base.JoinPath("sso"),
		ServiceProviderProvider: s, SessionProvider: s}
	return s
}

// SignInAs makes p the person signed in at the IdP (nil: nobody, and the
// IdP answers every request with an error page).
func (s *SAML) SignInAs(p *Person) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.person = p
}

func (s *SAML) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/metadata":
		out, err := xml.Marshal(s.idp.Metadata())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		_, _ = w.Write(out)
	case "/sso":
		s.idp.ServeSSO(w, r)
	default:
		http.NotFound(w, r)
	}
}

// GetServiceProvider is crewjam's ServiceProviderProvider: the one SP, by
// its published metadata.
func (s *SAML) GetServiceProvider(r *http.Request, id string) (*crewjam.EntityDescriptor, error) {
	resp, err := s.http.Get(s.spMetadata)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sp metadata: %s", resp.Status)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(raw, &ed); err != nil {
		return nil, err
	}
	if ed.EntityID != id {
		return nil, os.ErrNotExist
	}
	return &ed, nil
}

// GetSession is crewjam's SessionProvider: the person SignInAs named,
// signed in with a password (or, with MFA, the REFEDS MFA profile).
func (s *SAML) GetSession(w http.ResponseWriter, r *http.Request, req *crewjam.IdpAuthnRequest) *crewjam.Session {
	s.mu.Lock()
	p := s.person
	s.mu.Unlock()
	if p == nil {
		http.Error(w, "nobody is signed in at the upstream", http.StatusForbidden)
		return nil
	}
	acr := "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	if p.MFA {
		acr = "https://refeds.org/profile/mfa"
	}
	now := time.Now()
	var groups []crewjam.AttributeValue
	for _, g := range p.Groups {
		groups = append(groups, crewjam.AttributeValue{Type: "xs:string", Value: g})
	}
	sess := &crewjam.Session{ID: rand.Text(), CreateTime: now, ExpireTime: now.Add(time.Hour), Index: rand.Text(),
		NameID: p.ID, NameIDFormat: string(crewjam.PersistentNameIDFormat),
		UserName: p.Username, UserEmail: p.Email, UserCommonName: p.Name, AuthnContextClassRef: acr}
	if len(groups) > 0 {
		sess.CustomAttributes = []crewjam.Attribute{{Name: "groups", Values: groups}}
	}
	return sess
}
