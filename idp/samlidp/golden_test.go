package samlidp

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"flag"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenNow is the pinned clock of the golden Responses.
var goldenNow = time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC)

// testdata's keys are test-only, made once with openssl and committed so
// that the golden signatures are stable.
func loadKeyPair(t testing.TB, name string) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join("testdata", name+"-cert.pem"), filepath.Join("testdata", name+"-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return pair.PrivateKey.(*rsa.PrivateKey), cert
}

type fixedKeys struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

func (k fixedKeys) Signer(context.Context) (SigningKey, error) {
	return SigningKey{ID: "golden", Key: k.key, Certificate: k.cert}, nil
}
func (k fixedKeys) Certificates(context.Context) ([]*x509.Certificate, error) {
	return []*x509.Certificate{k.cert}, nil
}

// The respond path reads none of these; the door requires them.
type (
	noStore    struct{ Store }
	noSessions struct{}
	noPages    struct{ Pages }
)

func (noSessions) Browser(*http.Request) (session.Browser, error) { return session.Browser{}, nil }

// pinRandom makes crewjam's random source (and so every id the door and
// the library make) a fixed sequence for the test.
func pinRandom(t testing.TB) {
	old := saml.RandReader
	saml.RandReader = rand.NewChaCha8([32]byte{'g', 'a', 't', 'e', 'h', 'o', 'u', 's', 'e'})
	t.Cleanup(func() { saml.RandReader = old })
}

// testProvider is the door with a fixed key and clock and nothing behind
// it: enough to shape and sign Responses.
func testProvider(t testing.TB, now time.Time) *Provider {
	t.Helper()
	key, cert := loadKeyPair(t, "golden-idp")
	p, err := New(Options{Issuer: "https://id.golden.example", Store: noStore{}, Flow: &authflow.Flow{}, Keys: fixedKeys{key, cert},
		Sessions: noSessions{}, Pages: noPages{}, Now: func() time.Time { return now },
		LoginURL: func(string) string { return "/login" }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// goldenSP is the service provider of the golden files: crewjam's SP
// metadata for https://app.golden.example, with settings.
func goldenSP(t testing.TB, settings storage.SPSettings) (storage.ServiceProvider, *saml.ServiceProvider) {
	t.Helper()
	key, cert := loadKeyPair(t, "golden-sp")
	u := func(s string) url.URL { v, _ := url.Parse(s); return *v }
	sp := &saml.ServiceProvider{Key: key, Certificate: cert, MetadataURL: u("https://app.golden.example/saml/metadata"),
		AcsURL: u("https://app.golden.example/saml/acs"), SloURL: u("https://app.golden.example/saml/slo")}
	md := sp.Metadata()
	md.ValidUntil = goldenNow.Add(48 * time.Hour)
	doc, err := xml.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	return storage.ServiceProvider{EntityID: sp.MetadataURL.String(), Name: "Golden", Metadata: doc, Settings: settings}, sp
}

// goldenCase is one Response to generate.
type goldenCase struct {
	name      string
	settings  storage.SPSettings
	requestID string // "" : IdP-initiated
	amr       []string
	format    string
}

// makeResponse runs the door's respond path for c and returns the
// Response's XML.
func makeResponse(t testing.TB, p *Provider, c goldenCase) []byte {
	t.Helper()
	sp, _ := goldenSP(t, c.settings)
	return respondTo(t, p, c, sp)
}

// respondTo is makeResponse for a stored provider made already: what
// rebuild and respond do for one /saml/continue, from the provider's
// stored metadata to the Response's bytes, and nothing else.
func respondTo(t testing.TB, p *Provider, c goldenCase, sp storage.ServiceProvider) []byte {
	t.Helper()
	ctx := context.Background()
	idp, err := p.identityProvider(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := descriptor(sp)
	if err != nil {
		t.Fatal(err)
	}
	now := p.now()
	req := &saml.IdpAuthnRequest{IDP: idp, HTTPRequest: httptest.NewRequest(http.MethodGet, "/saml/continue", nil),
		RelayState: "golden-relay", ServiceProviderMetadata: ed, Now: now}
	if c.requestID != "" {
		req.Request = saml.AuthnRequest{ID: c.requestID, Version: "2.0", IssueInstant: now.Add(-time.Minute),
			Destination: p.ssoURL.String(), Issuer: &saml.Issuer{Value: sp.EntityID}}
	}
	req.SPSSODescriptor = &ed.SPSSODescriptors[0]
	req.ACSEndpoint = &ed.SPSSODescriptors[0].AssertionConsumerServices[0]
	a := &answer{p: p, idp: idp, req: req, sp: sp}
	user := storage.User{ID: "user-1", Email: "ann@golden.example", Name: "Ann Lee"}
	s := subject{user: user, org: storage.Organization{Name: "golden", DisplayName: "Golden Inc."}, groups: []string{"staff", "finance"},
		nameID: user.Email, nameIDFormat: string(saml.EmailAddressNameIDFormat), sessionIndex: sessionIndex("golden-session"),
		sessionEnd: now.Add(12 * time.Hour)}
	if c.format == "persistent" {
		s.nameID, s.nameIDFormat = "gh_pairwise_golden", string(saml.PersistentNameIDFormat)
	}
	ar := storage.AuthRequest{ID: "auth-request-1", ClientID: sp.EntityID, AuthTime: now.Add(-2 * time.Minute), AMR: c.amr}
	if err := a.respond(ar, s); err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.ResponseEl)
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var goldenCases = []goldenCase{
	{name: "sp-initiated-email-password", requestID: "id-request-golden-1", amr: []string{"pwd"}, format: "emailAddress",
		settings: storage.SPSettings{NameIDFormats: []string{"emailAddress"}}},
	{name: "sp-initiated-persistent-mfa-signed-response", requestID: "id-request-golden-2", amr: []string{"pwd", "otp", "mfa"},
		format: "persistent", settings: storage.SPSettings{SignResponse: true,
			Attributes: []storage.SAMLAttribute{{Source: "email", Name: "Email", NameFormat: "basic"}, {Source: "groups", Name: "Groups", NameFormat: "basic"}}}},
	{name: "idp-initiated", amr: []string{"pwd"}, format: "emailAddress", settings: storage.SPSettings{NameIDFormats: []string{"emailAddress"}, AllowIdPInitiated: true}},
}

// TestAssertionGolden: the Responses the door makes, with a pinned clock,
// random source and key, are byte for byte the files in testdata
// (go test ./idp/samlidp -run TestAssertionGolden -update rewrites them),
// each signature in them verifies with the golden certificate (the
// assertion's always, the Response's exactly when the provider asks for
// it), and crewjam's service provider accepts each: a golden file cannot
// hold a Response whose signature or conditions are wrong.
func TestAssertionGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			pinRandom(t)
			p := testProvider(t, goldenNow)
			got := makeResponse(t, p, c)
			path := filepath.Join("testdata", c.name+".golden.xml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("the Response differs from %s (run with -update if the change is meant):\n%s", path, got)
			}
			// Generating again with the same seed gives the same bytes.
			pinRandom(t)
			if again := makeResponse(t, testProvider(t, goldenNow), c); !bytes.Equal(again, got) {
				t.Fatal("the Response is not deterministic under a pinned clock and random source")
			}

			checkSignatures(t, got, c.settings.SignResponse)

			_, sp := goldenSP(t, c.settings)
			idpMD, err := p.Metadata(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var ed saml.EntityDescriptor
			if err := xml.Unmarshal(idpMD, &ed); err != nil {
				t.Fatal(err)
			}
			sp.IDPMetadata = &ed
			sp.AllowIDPInitiated = c.requestID == ""
			sp.Clock = dsig.NewFakeClockAt(goldenNow)
			var ids []string
			if c.requestID != "" {
				ids = []string{c.requestID}
			}
			as, err := sp.ParseXMLResponse(got, ids, sp.AcsURL)
			if err != nil {
				var ire *saml.InvalidResponseError
				if e, ok := err.(*saml.InvalidResponseError); ok {
					ire = e
				}
				t.Fatalf("crewjam's SP refuses the golden Response: %v (%+v)", err, ire)
			}
			wantClass := ClassPasswordProtectedTransport
			if c.format == "persistent" {
				wantClass = ClassREFEDSMFA
			}
			if got := as.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value; got != wantClass {
				t.Errorf("class %q, want %q", got, wantClass)
			}
		})
	}
}

// checkSignatures verifies, with goxmldsig alone and the golden IdP
// certificate as the only trusted one, the signature of the Response's
// assertion (which must be there) and that of the Response itself (which
// must be there exactly when responseSigned). crewjam's SP, checked after,
// accepts a Response whose assertion or Response signature is missing as
// long as one of the two is there; this says which ones are.
func checkSignatures(t *testing.T, response []byte, responseSigned bool) {
	t.Helper()
	_, cert := loadKeyPair(t, "golden-idp")
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(response); err != nil {
		t.Fatal(err)
	}
	resp := doc.Root()
	assertion := resp.SelectElement("Assertion")
	if resp.Tag != "Response" || assertion == nil {
		t.Fatalf("no Response with an Assertion: <%s>", resp.FullTag())
	}
	for _, el := range []struct {
		what   string
		el     *etree.Element
		signed bool
	}{{"assertion", assertion, true}, {"Response", resp, responseSigned}} {
		if has := el.el.SelectElement("Signature") != nil; has != el.signed {
			t.Fatalf("the %s has a signature: %v, want %v", el.what, has, el.signed)
		}
		if !el.signed {
			continue
		}
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
		vc.Clock = dsig.NewFakeClockAt(goldenNow)
		signed, err := vc.Validate(el.el)
		if err != nil {
			t.Fatalf("the %s's signature does not verify with testdata/golden-idp-cert.pem: %v", el.what, err)
		}
		if got, want := signed.SelectAttrValue("ID", ""), el.el.SelectAttrValue("ID", "-"); got != want {
			t.Fatalf("the %s's signature covers %q, not the %s (%q)", el.what, got, el.what, want)
		}
		if m := el.el.FindElement("Signature/SignedInfo/SignatureMethod"); m == nil || m.SelectAttrValue("Algorithm", "") != dsig.RSASHA256SignatureMethod {
			t.Fatalf("the %s is not signed with RSA-SHA256", el.what)
		}
	}
}
