package saml_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"net/url"
	"reflect"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-idp/gatehouse/federation"
)

var ada = federation.Identity{
	Subject:       "u-1234",
	Email:         "ada@corp.example",
	EmailVerified: true,
	Name:          "Ada Lovelace",
	Groups:        []string{"eng", "admins"},
	ACR:           "https://refeds.org/profile/mfa",
}

// TestLogin drives whole logins through the real IdP: Begin, the IdP's SSO
// URL, its auto-submitting form, Finish.
func TestLogin(t *testing.T) {
	tests := []struct {
		name     string
		key      bool
		postOnly bool
		edit     func(u *upstream, s *federation.SAMLSettings)
		alter    func(t *testing.T, raw []byte) []byte // the Response before Finish
		check    func(t *testing.T, start federation.Start, a answer)
	}{
		{name: "redirect binding, no SP key", check: func(t *testing.T, start federation.Start, a answer) {
			q := mustQuery(t, start.URL)
			if start.Form != nil || q.Get("SAMLRequest") == "" || q.Get("RelayState") != "relay-1" {
				t.Errorf("Start = %+v, want a redirect with SAMLRequest and RelayState", start)
			}
			if q.Has("Signature") || q.Has("SigAlg") {
				t.Errorf("an SP without a key signed its request: %s", start.URL)
			}
			if a.action != spACS() {
				t.Errorf("the IdP posts to %q, want the ACS %q", a.action, spACS())
			}
		}},
		{name: "redirect binding, signed request, encrypted assertion", key: true, check: func(t *testing.T, start federation.Start, a answer) {
			q := mustQuery(t, start.URL)
			if q.Get("SigAlg") != dsig.RSASHA256SignatureMethod || q.Get("Signature") == "" {
				t.Errorf("SigAlg = %q, Signature %q: want an RSA-SHA256 signature", q.Get("SigAlg"), q.Get("Signature"))
			}
			if !bytes.Contains(a.responseXML(t), []byte("EncryptedAssertion")) {
				t.Error("the IdP did not encrypt the assertion to the SP's certificate")
			}
		}},
		{name: "post binding", postOnly: true, check: func(t *testing.T, start federation.Start, a answer) {
			if start.Form == nil || start.Form["SAMLRequest"] == "" || start.Form["RelayState"] != "relay-1" {
				t.Errorf("Start = %+v, want a form with SAMLRequest and RelayState", start)
			}
			if bytes.Contains(mustBase64(t, start.Form["SAMLRequest"]), []byte("Signature")) {
				t.Error("an SP without a key signed its request")
			}
		}},
		{name: "post binding, signed request", postOnly: true, key: true, check: func(t *testing.T, start federation.Start, a answer) {
			req := mustBase64(t, start.Form["SAMLRequest"])
			if !bytes.Contains(req, []byte(`Algorithm="`+dsig.RSASHA256SignatureMethod+`"`)) {
				t.Errorf("the AuthnRequest is not signed with RSA-SHA256: %s", req)
			}
		}},
		{name: "pinned certificate", edit: func(u *upstream, s *federation.SAMLSettings) {
			s.Certificate = certPEM(keys.idpCert)
		}},
		{name: "inline metadata", edit: func(u *upstream, s *federation.SAMLSettings) {
			md, _ := xml.Marshal(u.idp.Metadata())
			s.MetadataURL, s.Metadata = "", string(md)
		}},
		{name: "only the assertion signed", alter: func(t *testing.T, raw []byte) []byte {
			doc := parseXML(t, raw)
			removeSignature(doc.Root())
			return serialize(t, doc)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t)
			u.postOnly = tt.postOnly
			u.connect(tt.key, func(s *federation.SAMLSettings) {
				if tt.edit != nil {
					tt.edit(u, s)
				}
			})
			start, a := u.login("relay-1")
			if tt.check != nil {
				tt.check(t, start, a)
			}
			form := a.form
			if tt.alter != nil {
				form = a.with(tt.alter(t, a.responseXML(t)))
			}
			got, err := u.finish(start.State, form)
			if err != nil {
				t.Fatalf("Finish: %v", err)
			}
			if !reflect.DeepEqual(got, ada) {
				t.Errorf("Identity = %+v, want %+v", got, ada)
			}
		})
	}
}

// TestIdentity maps what the IdP asserts to an Identity.
func TestIdentity(t *testing.T) {
	tests := []struct {
		name    string
		session func(s *crewjam.Session)
		edit    func(s *federation.SAMLSettings)
		want    func(id *federation.Identity)
		refusal string
	}{
		{name: "email from an emailAddress NameID", session: func(s *crewjam.Session) {
			s.NameID, s.NameIDFormat, s.UserEmail = "ada@corp.example", string(crewjam.EmailAddressNameIDFormat), ""
		}, want: func(id *federation.Identity) { id.Subject = "ada@corp.example" }},
		{name: "no email", session: func(s *crewjam.Session) { s.UserEmail = "" },
			want: func(id *federation.Identity) { id.Email, id.EmailVerified = "", false }},
		{name: "email not verified by settings", edit: func(s *federation.SAMLSettings) { s.EmailVerified = false },
			want: func(id *federation.Identity) { id.EmailVerified = false }},
		{name: "attributes named in the settings", session: func(s *crewjam.Session) {
			s.CustomAttributes = []crewjam.Attribute{
				attr("urn:acme:mail", "ada.l@acme.example"), attr("urn:acme:name", "A. Lovelace"),
				attr("urn:acme:roles", "r1", "r2"), attr("groups", "ignored"),
			}
		}, edit: func(s *federation.SAMLSettings) {
			s.EmailAttribute, s.NameAttribute, s.GroupsAttribute = "urn:acme:mail", "urn:acme:name", "urn:acme:roles"
		}, want: func(id *federation.Identity) {
			id.Email, id.Name, id.Groups = "ada.l@acme.example", "A. Lovelace", []string{"r1", "r2"}
		}},
		{name: "Entra ID claim names", session: func(s *crewjam.Session) {
			s.UserEmail, s.UserCommonName = "", ""
			s.CustomAttributes = []crewjam.Attribute{
				attr("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", "ada@entra.example"),
				attr("http://schemas.microsoft.com/identity/claims/displayname", "Ada (Entra)"),
				attr("http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", "g-1", "g-2"),
			}
		}, want: func(id *federation.Identity) {
			id.Email, id.Name, id.Groups = "ada@entra.example", "Ada (Entra)", []string{"g-1", "g-2"}
		}},
		{name: "groups split over two attributes, name from given name and surname", session: func(s *crewjam.Session) {
			s.UserCommonName, s.UserGivenName, s.UserSurname = "", "Ada", "Lovelace"
			s.CustomAttributes = []crewjam.Attribute{attr("memberOf", "a"), attr("memberOf", "b", " ")}
		}, want: func(id *federation.Identity) { id.Groups = []string{"a", "b"} }},
		{name: "no ACR", session: func(s *crewjam.Session) { s.AuthnContextClassRef = "" },
			want: func(id *federation.Identity) {
				id.ACR = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
			}},
		{name: "transient NameID refused", session: func(s *crewjam.Session) {
			s.NameIDFormat = string(crewjam.TransientNameIDFormat)
		}, refusal: "no_subject"},
		{name: "empty NameID refused", session: func(s *crewjam.Session) { s.NameID = "" }, refusal: "no_subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t)
			if tt.session != nil {
				tt.session(&u.session)
			}
			u.connect(false, tt.edit)
			start, a := u.login("relay-1")
			got, err := u.finish(start.State, a.form)
			if tt.refusal != "" {
				wantRefusal(t, err, tt.refusal)
				return
			}
			if err != nil {
				t.Fatalf("Finish: %v", err)
			}
			want := ada
			want.Groups = append([]string(nil), ada.Groups...)
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Identity = %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestMetadata reads the SP metadata the IdP is given.
func TestMetadata(t *testing.T) {
	for _, key := range []bool{false, true} {
		u := newUpstream(t)
		conn := u.connect(key, nil)
		raw, err := conn.(federation.Metadata).Metadata(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var ed crewjam.EntityDescriptor
		if err := xml.Unmarshal(raw, &ed); err != nil {
			t.Fatalf("metadata: %v\n%s", err, raw)
		}
		if ed.EntityID != spEntityID() || len(ed.SPSSODescriptors) != 1 {
			t.Fatalf("metadata = %s", raw)
		}
		sp := ed.SPSSODescriptors[0]
		acs := sp.AssertionConsumerServices
		if len(acs) != 1 || acs[0].Binding != crewjam.HTTPPostBinding || acs[0].Location != spACS() {
			t.Errorf("key %v: ACS = %+v, want one HTTP-POST at %s", key, acs, spACS())
		}
		if sp.WantAssertionsSigned == nil || !*sp.WantAssertionsSigned {
			t.Errorf("key %v: WantAssertionsSigned is not true", key)
		}
		if sp.AuthnRequestsSigned == nil || *sp.AuthnRequestsSigned != key {
			t.Errorf("key %v: AuthnRequestsSigned = %v", key, sp.AuthnRequestsSigned)
		}
		uses := map[string]bool{}
		for _, kd := range sp.KeyDescriptors {
			if c := kd.KeyInfo.X509Data.X509Certificates; len(c) == 1 && c[0].Data == spCertBase64() {
				uses[kd.Use] = true
			}
		}
		want := map[string]bool{}
		if key {
			want = map[string]bool{"signing": true, "encryption": true}
		}
		if len(sp.KeyDescriptors) != len(want) || !reflect.DeepEqual(uses, want) {
			t.Errorf("key %v: key descriptors %+v, want the SP certificate for %v", key, sp.KeyDescriptors, want)
		}
		if !ed.ValidUntil.IsZero() {
			t.Errorf("key %v: metadata valid until %s: it must not expire in the IdP", key, ed.ValidUntil)
		}
	}
}

func attr(name string, values ...string) crewjam.Attribute {
	a := crewjam.Attribute{Name: name}
	for _, v := range values {
		a.Values = append(a.Values, crewjam.AttributeValue{Type: "xs:string", Value: v})
	}
	return a
}

func spCertBase64() string {
	c, err := parseCert(keys.spCertPEM)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(c.Raw)
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func mustBase64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
