package samlidp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func ptr[T any](v T) *T { return &v }

func TestChooseFormat(t *testing.T) {
	sp := func(formats ...string) storage.ServiceProvider {
		return storage.ServiceProvider{EntityID: "https://sp.example/md", Settings: storage.SPSettings{NameIDFormats: formats}}
	}
	email, persistent, transient := string(saml.EmailAddressNameIDFormat), string(saml.PersistentNameIDFormat), string(saml.TransientNameIDFormat)
	tests := []struct {
		name    string
		sp      storage.ServiceProvider
		policy  *saml.NameIDPolicy
		want    string
		refused bool
	}{
		{"no settings, no policy: persistent", sp(), nil, persistent, false},
		{"first is the default", sp("emailAddress", "persistent"), nil, email, false},
		{"policy without format", sp("transient"), &saml.NameIDPolicy{AllowCreate: ptr(true)}, transient, false},
		{"allowed format asked", sp("emailAddress", "persistent"), &saml.NameIDPolicy{Format: ptr(persistent)}, persistent, false},
		{"unspecified takes the default", sp("emailAddress"), &saml.NameIDPolicy{Format: ptr(string(saml.UnspecifiedNameIDFormat))}, email, false},
		{"unspecified when allowed", sp("emailAddress", "unspecified"), &saml.NameIDPolicy{Format: ptr(string(saml.UnspecifiedNameIDFormat))}, string(saml.UnspecifiedNameIDFormat), false},
		{"format not allowed", sp("persistent"), &saml.NameIDPolicy{Format: ptr(email)}, "", true},
		{"unknown format", sp(), &saml.NameIDPolicy{Format: ptr("urn:example:kerberos")}, "", true},
		{"own qualifier", sp(), &saml.NameIDPolicy{SPNameQualifier: ptr("https://sp.example/md")}, persistent, false},
		{"another provider's qualifier", sp(), &saml.NameIDPolicy{SPNameQualifier: ptr("https://other.example/md")}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st := chooseFormat(tt.sp, tt.policy)
			if tt.refused {
				if st == nil || st.SecondLevel != saml.StatusInvalidNameIDPolicy || st.TopLevel != saml.StatusRequester {
					t.Fatalf("got %q %v; want InvalidNameIDPolicy", got, st)
				}
				return
			}
			if st != nil || got != tt.want {
				t.Fatalf("got %q %v; want %q", got, st, tt.want)
			}
		})
	}
}

func TestWantsMFAAndAuthnClass(t *testing.T) {
	ppt := ClassPasswordProtectedTransport
	rac := func(cmp string, refs ...string) *saml.RequestedAuthnContext {
		return &saml.RequestedAuthnContext{Comparison: cmp, AuthnContextClassRefs: refs}
	}
	tests := []struct {
		name     string
		rac      *saml.RequestedAuthnContext
		wantsMFA bool
		afterPwd string
		afterMFA string
	}{
		{"none", nil, false, ppt, ClassREFEDSMFA},
		{"exact refeds", rac("exact", ClassREFEDSMFA), true, ppt, ClassREFEDSMFA},
		{"minimum refeds", rac("minimum", ClassREFEDSMFA), true, ppt, ClassREFEDSMFA},
		{"exact ppt", rac("exact", ppt), false, ppt, ppt},
		{"ppt or refeds", rac("", ppt, ClassREFEDSMFA), false, ppt, ClassREFEDSMFA},
		{"better than ppt", rac("better", ppt), true, ppt, ClassREFEDSMFA},
		{"minimum ppt", rac("minimum", ppt), false, ppt, ClassREFEDSMFA},
		{"maximum refeds", rac("maximum", ClassREFEDSMFA), false, ppt, ClassREFEDSMFA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wantsMFA(tt.rac); got != tt.wantsMFA {
				t.Errorf("wantsMFA = %v", got)
			}
			if got := authnClass([]string{authflow.AMRPassword}, tt.rac); got != tt.afterPwd {
				t.Errorf("after a password: %q", got)
			}
			if got := authnClass([]string{authflow.AMRPassword, authflow.AMRMFA}, tt.rac); got != tt.afterMFA {
				t.Errorf("after MFA: %q", got)
			}
		})
	}
}

func TestConstrain(t *testing.T) {
	var ar storage.AuthRequest
	constrain(&ar, saml.AuthnRequest{ForceAuthn: ptr(true), IsPassive: ptr(true),
		RequestedAuthnContext: &saml.RequestedAuthnContext{AuthnContextClassRefs: []string{ClassREFEDSMFA}},
		Subject:               &saml.Subject{NameID: &saml.NameID{Format: string(saml.EmailAddressNameIDFormat), Value: "ann@example.com"}}})
	if !slices.Equal(ar.Prompt, []string{"login", "none"}) || !slices.Equal(ar.ACRValues, []string{authflow.ACRMFA}) || ar.LoginHint != "ann@example.com" {
		t.Fatalf("%+v", ar)
	}
	ar = storage.AuthRequest{}
	constrain(&ar, saml.AuthnRequest{ForceAuthn: ptr(false), IsPassive: ptr(false)})
	if len(ar.Prompt) != 0 || len(ar.ACRValues) != 0 || ar.LoginHint != "" {
		t.Fatalf("%+v", ar)
	}
}

func TestAttributes(t *testing.T) {
	s := subject{user: storage.User{Email: "ann@example.com", Name: "Ann Marie Smith"}, org: storage.Organization{Name: "acme", DisplayName: "Acme"},
		groups: []string{"acme:finance", "acme:staff"}}
	got := attributes(nil, s)
	byName := map[string][]string{}
	for _, a := range got {
		if a.NameFormat != nameFormatURI {
			t.Errorf("%s: format %q", a.Name, a.NameFormat)
		}
		for _, v := range a.Values {
			byName[a.FriendlyName] = append(byName[a.FriendlyName], v.Value)
		}
	}
	want := map[string][]string{"mail": {"ann@example.com"}, "displayName": {"Ann Marie Smith"}, "givenName": {"Ann Marie"},
		"sn": {"Smith"}, "isMemberOf": {"acme:finance", "acme:staff"}, "o": {"Acme"}}
	for k, v := range want {
		if !slices.Equal(byName[k], v) {
			t.Errorf("%s = %v, want %v", k, byName[k], v)
		}
	}
	// Configured names and formats; a value the user lacks is left out.
	got = attributes([]storage.SAMLAttribute{{Source: "email", Name: "Email", NameFormat: "basic"}, {Source: "family_name", Name: "Last"},
		{Source: "groups", Name: "Groups", NameFormat: "unspecified"}}, subject{user: storage.User{Email: "bo@example.com", Name: "Bo"}})
	if len(got) != 1 || got[0].Name != "Email" || got[0].NameFormat != nameFormatBasic || got[0].Values[0].Value != "bo@example.com" {
		t.Fatalf("%+v", got)
	}
}

func TestSplitName(t *testing.T) {
	for in, want := range map[string][2]string{"": {"", ""}, "Ann": {"Ann", ""}, "Ann Smith": {"Ann", "Smith"},
		"  Jean  Luc   Picard ": {"Jean Luc", "Picard"}} {
		g, f := splitName(in)
		if g != want[0] || f != want[1] {
			t.Errorf("splitName(%q) = %q, %q", in, g, f)
		}
	}
}

// testKey is an IdP key and certificate for the tests.
func testKey(t testing.TB) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert
}

func TestRedirectSignatureRoundTrip(t *testing.T) {
	key, cert := testKey(t)
	_, other := testKey(t)
	idp := &saml.IdentityProvider{Key: key, Certificate: cert}
	resp := &saml.LogoutResponse{ID: "id-1", Version: "2.0", IssueInstant: time.Now().UTC(), Destination: "https://idp.example/saml/slo",
		Status: saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}}}
	u, err := signedRedirect(idp, "https://sp.example/slo?x=1", "SAMLResponse", resp.Element(), "relay ~ state")
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := url.Parse(u)
	if parsed.Query().Get("x") != "1" || parsed.Query().Get("RelayState") != "relay ~ state" {
		t.Fatalf("url %s", u)
	}
	doc, err := verifyRedirect(parsed.RawQuery, "SAMLResponse", []*x509.Certificate{other, cert})
	if err != nil {
		t.Fatal(err)
	}
	var back saml.LogoutResponse
	if err := xml.Unmarshal(doc, &back); err != nil || back.ID != "id-1" {
		t.Fatalf("%+v %v", back, err)
	}
	for name, q := range map[string]string{
		"wrong key":         parsed.RawQuery,
		"tampered relay":    strings.Replace(parsed.RawQuery, "RelayState=relay", "RelayState=evil", 1),
		"unsigned":          strings.Split(parsed.RawQuery, "&Signature=")[0],
		"duplicate message": parsed.RawQuery + "&SAMLResponse=x",
		"sha1": strings.Replace(parsed.RawQuery, url.QueryEscape("xmldsig-more#rsa-sha256"),
			url.QueryEscape("xmldsig#rsa-sha1"), 1),
	} {
		certs := []*x509.Certificate{cert}
		if name == "wrong key" {
			certs = []*x509.Certificate{other}
		}
		if _, err := verifyRedirect(q, "SAMLResponse", certs); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCheckXML(t *testing.T) {
	for _, doc := range []string{`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`, `<!doctype x><x/>`} {
		if checkXML([]byte(doc)) == nil {
			t.Errorf("accepted %s", doc)
		}
	}
	if err := checkXML([]byte(`<samlp:LogoutResponse/>`)); err != nil {
		t.Error(err)
	}
}

func TestDescriptorAppliesSettings(t *testing.T) {
	md := `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/md"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
		`<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>AA==</X509Certificate></X509Data></KeyInfo></KeyDescriptor>` +
		`<KeyDescriptor use="encryption"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>AA==</X509Certificate></X509Data></KeyInfo></KeyDescriptor>` +
		`<KeyDescriptor><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>AA==</X509Certificate></X509Data></KeyInfo></KeyDescriptor>` +
		`<AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="1"/></SPSSODescriptor></EntityDescriptor>`
	sp := storage.ServiceProvider{EntityID: "https://sp.example/md", Metadata: []byte(md)}
	ed, err := descriptor(sp)
	if err != nil {
		t.Fatal(err)
	}
	d := ed.SPSSODescriptors[0]
	if len(d.KeyDescriptors) != 2 || d.KeyDescriptors[0].Use != "signing" || d.KeyDescriptors[1].Use != "signing" || d.AuthnRequestsSigned != nil {
		t.Fatalf("without encryption: %+v", d)
	}
	sp.Settings = storage.SPSettings{EncryptAssertions: true, RequireSignedRequests: true}
	ed, _ = descriptor(sp)
	d = ed.SPSSODescriptors[0]
	if len(d.KeyDescriptors) != 3 || d.AuthnRequestsSigned == nil || !*d.AuthnRequestsSigned {
		t.Fatalf("with encryption and signed requests: %+v", d)
	}
	sp.EntityID = "https://other.example/md"
	if _, err := descriptor(sp); err == nil {
		t.Fatal("metadata of another entity accepted")
	}
}
