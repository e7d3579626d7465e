package saml_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"html"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
	"github.com/jonboulle/clockwork"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-idp/gatehouse/federation"
	fsaml "github.com/gatehouse-idp/gatehouse/federation/saml"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// t0 is the tests' clock at start. Certificates are made around it.
var t0 = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

const issuer = "https://login.example.test"

// keys made once for the package (RSA key generation is the slow part).
var keys struct {
	idp, other         *rsa.PrivateKey
	idpCert, otherCert *x509.Certificate
	expiringCert       *x509.Certificate // idp's key, expiring 10 days after t0
	spCertPEM          string
	spKeyDER           []byte
}

func TestMain(m *testing.M) {
	var err error
	if keys.idp, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if keys.other, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	keys.idpCert = selfSigned(keys.idp, "Upstream IdP", t0.AddDate(1, 0, 0))
	keys.otherCert = selfSigned(keys.other, "Impostor", t0.AddDate(1, 0, 0))
	keys.expiringCert = selfSigned(keys.idp, "Upstream IdP (expiring)", t0.Add(10*24*time.Hour))
	if keys.spCertPEM, keys.spKeyDER, err = fsaml.NewSPKey(t0); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

func selfSigned(key *rsa.PrivateKey, cn string, notAfter time.Time) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: t0.Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return cert
}

func certPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// memAssertions is an in-memory storage.Assertions that honours expiry.
type memAssertions struct {
	mu   sync.Mutex
	used map[string]time.Time
	fail error // when set, every call fails with it (an outage)
}

func (m *memAssertions) UseAssertionID(_ context.Context, connectorID, id string, expiresAt, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	key := connectorID + "\x00" + id
	if exp, ok := m.used[key]; ok && now.Before(exp) {
		return storage.ErrAlreadyUsed
	}
	if m.used == nil {
		m.used = map[string]time.Time{}
	}
	m.used[key] = expiresAt
	return nil
}

// upstream is a real SAML IdP (crewjam's IdentityProvider) served on
// loopback, with our connector as its one SP.
type upstream struct {
	t     *testing.T
	clock *clockwork.FakeClock
	srv   *httptest.Server
	idp   *crewjam.IdentityProvider
	// impostor has the same entity id and URLs but signs with keys.other.
	impostor *crewjam.IdentityProvider
	store    *memAssertions
	conn     federation.Connector

	mu sync.Mutex
	// What the next answer is made of (set by tests, read by handlers).
	session       crewjam.Session
	tamper        func(*crewjam.Assertion)
	statusErr     *crewjam.StatusError
	destination   string // overrides the Response's Destination
	useImpostor   bool
	postOnly      bool   // the metadata offers only the HTTP-POST binding
	metadataBody  string // served instead of the metadata when set
	metadataFetch int
}

// newUpstream starts an IdP; open the connector with connect.
func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{t: t, clock: clockwork.NewFakeClockAt(t0), store: &memAssertions{}}
	u.session = crewjam.Session{
		ID: "sess-1", CreateTime: t0, ExpireTime: t0.Add(time.Hour), Index: "idx-1",
		NameID: "u-1234", NameIDFormat: string(crewjam.PersistentNameIDFormat),
		UserName: "ada", UserEmail: "ada@corp.example", UserCommonName: "Ada Lovelace",
		AuthnContextClassRef: "https://refeds.org/profile/mfa",
		CustomAttributes: []crewjam.Attribute{{Name: "groups", Values: []crewjam.AttributeValue{
			{Type: "xs:string", Value: "eng"}, {Type: "xs:string", Value: "admins"}}}},
	}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	u.idp = u.newIDP(keys.idp, keys.idpCert)
	u.impostor = u.newIDP(keys.other, keys.otherCert)
	return u
}

func (u *upstream) newIDP(key *rsa.PrivateKey, cert *x509.Certificate) *crewjam.IdentityProvider {
	base, _ := url.Parse(u.srv.URL)
	return &crewjam.IdentityProvider{
		Key: key, Certificate: cert,
		Logger:                  log.New(testWriter{u.t}, "idp: ", 0),
		MetadataURL:             *base.JoinPath("metadata"),
		SSOURL:                  *base.JoinPath("sso"),
		ServiceProviderProvider: u,
		SessionProvider:         u,
		AssertionMaker:          u,
		ResponseWriter:          u,
		Clock:                   dsig.NewFakeClock(u.clock),
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	idp, postOnly, body := u.idp, u.postOnly, u.metadataBody
	if u.useImpostor {
		idp = u.impostor
	}
	if r.URL.Path == "/metadata" {
		u.metadataFetch++
	}
	u.mu.Unlock()
	switch r.URL.Path {
	case "/metadata":
		if body != "" {
			io.WriteString(w, body)
			return
		}
		md := idp.Metadata()
		if postOnly {
			md.IDPSSODescriptors[0].SingleSignOnServices = md.IDPSSODescriptors[0].SingleSignOnServices[1:]
		}
		out, _ := xml.Marshal(md)
		w.Write(out)
	case "/sso":
		idp.ServeSSO(w, r)
	case "/init": // an IdP-initiated (unsolicited) login
		idp.ServeIDPInitiated(w, r, spEntityID(), r.URL.Query().Get("RelayState"))
	default:
		http.NotFound(w, r)
	}
}

func spEntityID() string { return federation.URLsFor(issuer, "acme").Metadata }
func spACS() string      { return federation.URLsFor(issuer, "acme").ACS }

// GetServiceProvider implements crewjam.ServiceProviderProvider with our
// connector's own metadata.
func (u *upstream) GetServiceProvider(r *http.Request, id string) (*crewjam.EntityDescriptor, error) {
	md, ok := u.conn.(federation.Metadata)
	if !ok || id != spEntityID() {
		return nil, os.ErrNotExist
	}
	raw, err := md.Metadata(r.Context())
	if err != nil {
		return nil, err
	}
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(raw, &ed); err != nil {
		return nil, err
	}
	return &ed, nil
}

// GetSession implements crewjam.SessionProvider: the test user is
// signed in.
func (u *upstream) GetSession(http.ResponseWriter, *http.Request, *crewjam.IdpAuthnRequest) *crewjam.Session {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.session
	return &s
}

// MakeAssertion implements crewjam.AssertionMaker: crewjam's own, then the
// test's tampering (before the IdP signs it).
func (u *upstream) MakeAssertion(req *crewjam.IdpAuthnRequest, s *crewjam.Session) error {
	u.mu.Lock()
	tamper, statusErr := u.tamper, u.statusErr
	u.mu.Unlock()
	if statusErr != nil {
		return statusErr
	}
	if err := (crewjam.DefaultAssertionMaker{}).MakeAssertion(req, s); err != nil {
		return err
	}
	if tamper != nil {
		tamper(req.Assertion)
	}
	return nil
}

// WriteResponse implements crewjam.ResponseWriter: crewjam's form, with the
// Response addressed to u.destination when set.
func (u *upstream) WriteResponse(w http.ResponseWriter, req *crewjam.IdpAuthnRequest) error {
	u.mu.Lock()
	dest := u.destination
	u.mu.Unlock()
	if dest != "" && req.ACSEndpoint != nil {
		ep := *req.ACSEndpoint
		ep.Location = dest
		req.ACSEndpoint = &ep
	}
	return req.WriteResponse(w)
}

// fetches is how often the metadata was fetched.
func (u *upstream) fetches() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.metadataFetch
}

func (u *upstream) set(fn func(u *upstream)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	fn(u)
}

// connect opens the connector against u's metadata URL with settings
// changed by edit, and an SP key when withKey.
func (u *upstream) connect(withKey bool, edit func(*federation.SAMLSettings)) federation.Connector {
	u.t.Helper()
	conn, err := u.open(withKey, edit)
	if err != nil {
		u.t.Fatalf("Open: %v", err)
	}
	u.conn = conn
	return conn
}

func (u *upstream) open(withKey bool, edit func(*federation.SAMLSettings)) (federation.Connector, error) {
	s := federation.SAMLSettings{MetadataURL: u.srv.URL + "/metadata", EmailVerified: true}
	if edit != nil {
		edit(&s)
	}
	c := storage.Connector{ID: "acme", Type: storage.ConnectorSAML, Name: "Acme SSO", Enabled: true}
	if withKey {
		s.SPCertificate = u.spCertPEM()
		c.SecretSealed = keys.spKeyDER
	}
	var err error
	if c.Config, err = json.Marshal(s); err != nil {
		return nil, err
	}
	return fsaml.Open(context.Background(), c, u.env())
}

func (u *upstream) spCertPEM() string { return keys.spCertPEM }

func (u *upstream) env() federation.Env {
	return federation.Env{
		Issuer:     issuer,
		HTTP:       &http.Client{Timeout: 5 * time.Second},
		Open:       func(b []byte) ([]byte, error) { return b, nil },
		Assertions: u.store,
		Now:        u.clock.Now,
		Dev:        true,
		Logger:     slog.New(slog.DiscardHandler),
	}
}

// answer is the IdP's auto-submitting form, as the browser would post it.
type answer struct {
	action string
	form   url.Values
}

var (
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	fieldRE  = regexp.MustCompile(`<input type="hidden" name="(SAMLResponse|RelayState)" value="([^"]*)"`)
)

// login runs Begin and takes the browser to the IdP (the redirect, or the
// posted form), returning Begin's Start and the IdP's answer.
func (u *upstream) login(relay string) (federation.Start, answer) {
	u.t.Helper()
	start, err := u.conn.Begin(context.Background(), relay)
	if err != nil {
		u.t.Fatalf("Begin: %v", err)
	}
	var resp *http.Response
	if start.Form == nil {
		resp, err = http.Get(start.URL)
	} else {
		form := url.Values{}
		for k, v := range start.Form {
			form.Set(k, v)
		}
		resp, err = http.PostForm(start.URL, form)
	}
	if err != nil {
		u.t.Fatalf("to the IdP: %v", err)
	}
	return start, u.readAnswer(resp)
}

func (u *upstream) readAnswer(resp *http.Response) answer {
	u.t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		u.t.Fatalf("IdP answered %s: %s", resp.Status, body)
	}
	a := answer{form: url.Values{}}
	if m := actionRE.FindSubmatch(body); m != nil {
		a.action = html.UnescapeString(string(m[1]))
	}
	for _, m := range fieldRE.FindAllSubmatch(body, -1) {
		a.form.Add(string(m[1]), html.UnescapeString(string(m[2])))
	}
	if a.form.Get("SAMLResponse") == "" {
		u.t.Fatalf("no SAMLResponse in the IdP's answer: %s", body)
	}
	return a
}

// unsolicited is an IdP-initiated answer with RelayState relay.
func (u *upstream) unsolicited(relay string) answer {
	u.t.Helper()
	resp, err := http.Get(u.srv.URL + "/init?RelayState=" + url.QueryEscape(relay))
	if err != nil {
		u.t.Fatal(err)
	}
	return u.readAnswer(resp)
}

func (u *upstream) finish(state []byte, form url.Values) (federation.Identity, error) {
	return u.conn.Finish(context.Background(), state, form)
}

// responseXML is the decoded SAMLResponse of a.
func (a answer) responseXML(t *testing.T) []byte {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(a.form.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// with is a's form with the SAMLResponse replaced by xml.
func (a answer) with(xml []byte) url.Values {
	form := url.Values{}
	for k, v := range a.form {
		form[k] = append([]string(nil), v...)
	}
	form.Set("SAMLResponse", base64.StdEncoding.EncodeToString(xml))
	return form
}

// wantRefusal fails unless err is a *federation.Refusal with reason.
func wantRefusal(t *testing.T, err error, reason string) {
	t.Helper()
	var ref *federation.Refusal
	if !errors.As(err, &ref) {
		t.Fatalf("err = %v, want a refusal %q", err, reason)
	}
	if ref.Reason != reason {
		t.Fatalf("refusal reason = %q (%v), want %q", ref.Reason, ref, reason)
	}
}
