package upstreamtest

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	"github.com/jonboulle/clockwork"
	dsig "github.com/russellhaering/goxmldsig"
)

// SAMLSPOptions shape the test service provider.
type SAMLSPOptions struct {
	// SignRequest signs its AuthnRequests.
	SignRequest bool
	// PostBinding sends AuthnRequests with HTTP-POST instead of
	// HTTP-Redirect.
	PostBinding bool
	ForceAuthn  bool
	// NameIDFormat is the NameIDPolicy format it asks for ("" :
	// unspecified, so the IdP gives its default).
	NameIDFormat crewjam.NameIDFormat
	// RequestedAuthnContext is what it asks of the login (nil: nothing).
	RequestedAuthnContext *crewjam.RequestedAuthnContext
	// AllowIdPInitiated accepts unsolicited Responses.
	AllowIdPInitiated bool
	// Now is the application's clock (nil: the real one); tests that move
	// the IdP's clock give it the same, or its IssueInstants go stale.
	Now func() time.Time
}

// followClock is the real clock except for Now, which is the test's.
type followClock struct {
	clockwork.Clock
	now func() time.Time
}

func (c followClock) Now() time.Time { return c.now() }

// SAMLSP is crewjam/saml's samlsp middleware on loopback: a SAML
// application in front of a page that shows who signed in. The protocol is
// the library's; the test reads what it accepted.
type SAMLSP struct {
	// URL is the application's root; EntityID its entity id (its
	// metadata URL).
	URL, EntityID string
	MW            *samlsp.Middleware
	server        *httptest.Server

	mu   sync.Mutex
	last *crewjam.Assertion
}

// SAMLSPSession is what the application's page reports.
type SAMLSPSession struct {
	NameID       string              `json:"name_id"`
	NameIDFormat string              `json:"name_id_format"`
	Attributes   map[string][]string `json:"attributes"`
}

// NewSAMLSP starts a service provider trusting the IdP whose metadata is
// idpMetadata (Gatehouse's /saml/metadata, as fetched).
func NewSAMLSP(t testing.TB, idpMetadata []byte, o SAMLSPOptions) *SAMLSP {
	t.Helper()
	key, cert := selfSigned(t, "test sp")
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(idpMetadata, &ed); err != nil {
		t.Fatalf("idp metadata: %v", err)
	}
	s := &SAMLSP{}
	mux := http.NewServeMux()
	s.server = httptest.NewServer(mux)
	t.Cleanup(s.server.Close)
	root, _ := url.Parse(s.server.URL)
	m, err := samlsp.New(samlsp.Options{
		URL: *root, Key: key, Certificate: cert, IDPMetadata: &ed,
		SignRequest: o.SignRequest, ForceAuthn: o.ForceAuthn, AllowIDPInitiated: o.AllowIdPInitiated,
		RequestedAuthnContext: o.RequestedAuthnContext,
		// The SP is on http loopback: its cookies cannot be Secure.
		CookieSameSite: http.SameSiteLaxMode,
		// Cookies ignore ports: each application on 127.0.0.1 needs its
		// own session cookie name, or the last sign-in overwrites the
		// others.
		CookieName: "token_" + root.Port(),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Asking for no format in particular (spelled out, as Keycloak-facing
	// SPs do) takes the provider's default; the library alone would ask
	// for transient.
	m.ServiceProvider.AuthnNameIDFormat, m.ServiceProvider.SendUnspecifiedNameIDFormat = crewjam.UnspecifiedNameIDFormat, true
	if o.NameIDFormat != "" {
		m.ServiceProvider.AuthnNameIDFormat = o.NameIDFormat
	}
	if o.PostBinding {
		m.Binding = crewjam.HTTPPostBinding
	}
	if o.Now != nil {
		m.ServiceProvider.Clock = dsig.NewFakeClock(followClock{clockwork.NewRealClock(), o.Now})
	}
	m.AssertionHandler = assertionTap{s}
	s.MW = m
	s.URL = s.server.URL
	s.EntityID = m.ServiceProvider.MetadataURL.String()
	mux.Handle("/saml/", m)
	// Signing out of the application starts single logout at the IdP.
	mux.HandleFunc("/logout", m.HandleStartLogout)
	mux.Handle("/", m.RequireAccount(http.HandlerFunc(s.whoami)))
	return s
}

// Metadata is the SP's metadata, as an admin would paste it.
func (s *SAMLSP) Metadata(t testing.TB) []byte {
	t.Helper()
	buf, err := xml.MarshalIndent(s.MW.ServiceProvider.Metadata(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return buf
}

// LastAssertion is the last assertion the SP accepted.
func (s *SAMLSP) LastAssertion() *crewjam.Assertion {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

type assertionTap struct{ s *SAMLSP }

func (a assertionTap) HandleAssertion(as *crewjam.Assertion) error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.s.last = as
	return nil
}

// whoami is the protected page: the session's NameID and attributes.
func (s *SAMLSP) whoami(w http.ResponseWriter, r *http.Request) {
	sess, ok := samlsp.SessionFromContext(r.Context()).(samlsp.JWTSessionClaims)
	if !ok {
		http.Error(w, "no session", http.StatusUnauthorized)
		return
	}
	out := SAMLSPSession{NameID: sess.Subject, NameIDFormat: sess.NameIDFormat, Attributes: map[string][]string(sess.Attributes)}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// AuthnRequest builds an AuthnRequest of this SP to ssoURL, for tests that
// send their own (replays, tampering, IsPassive); edit changes it before
// it is encoded.
func (s *SAMLSP) AuthnRequest(t testing.TB, ssoURL string, edit func(*crewjam.AuthnRequest)) *crewjam.AuthnRequest {
	t.Helper()
	req, err := s.MW.ServiceProvider.MakeAuthenticationRequest(ssoURL, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	return req
}

// RedirectURL encodes req with the HTTP-Redirect binding (signed when the
// SP signs its requests).
func (s *SAMLSP) RedirectURL(t testing.TB, req *crewjam.AuthnRequest, relayState string) string {
	t.Helper()
	u, err := req.Redirect(relayState, &s.MW.ServiceProvider)
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

// RawRedirect is the HTTP-Redirect encoding of arbitrary XML: deflated,
// base64, unsigned.
func RawRedirect(ssoURL string, xmlDoc []byte, relayState string) string {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = fw.Write(xmlDoc)
	_ = fw.Close()
	q := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(buf.Bytes())}}
	if relayState != "" {
		q.Set("RelayState", relayState)
	}
	return ssoURL + "?" + q.Encode()
}

// DeflateBomb is an HTTP-Redirect message that inflates to about n bytes
// of XML from a tiny query.
func DeflateBomb(ssoURL string, n int) string {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = fw.Write([]byte(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x">`))
	chunk := []byte(strings.Repeat("<a/>", 1024))
	for written := 0; written < n; written += len(chunk) {
		_, _ = fw.Write(chunk)
	}
	_ = fw.Close()
	return ssoURL + "?" + url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(buf.Bytes())}}.Encode()
}

// Post is the HTTP-POST binding's form of arbitrary XML.
func Post(xmlDoc []byte, relayState string) url.Values {
	f := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xmlDoc)}}
	if relayState != "" {
		f.Set("RelayState", relayState)
	}
	return f
}

// RequestXML is req as the XML the SP would send (unsigned).
func RequestXML(t testing.TB, req *crewjam.AuthnRequest) []byte {
	t.Helper()
	buf, err := xml.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return buf
}

// ParseResponse decodes a SAMLResponse form field into the Response (its
// assertion as the SP would see it, when not encrypted).
func ParseResponse(t testing.TB, samlResponse string) *crewjam.Response {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(samlResponse)
	if err != nil {
		t.Fatal(err)
	}
	var r crewjam.Response
	if err := xml.Unmarshal(raw, &r); err != nil {
		t.Fatalf("response: %v\n%s", err, raw)
	}
	return &r
}

// selfSigned makes an RSA-2048 key and a self-signed certificate.
func selfSigned(t testing.TB, cn string) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert
}
