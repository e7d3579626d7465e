package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/federation"
)

const (
	testUpstreamSecret = "upstream-S3CRET-value"
	testMetadataXML    = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.acme.example"/>`
	testCertPEM        = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
)

func TestLoadConnectors(t *testing.T) {
	secretFile := writeFile(t, "okta-secret", testUpstreamSecret+"\n")
	mdFile := writeFile(t, "idp.xml", testMetadataXML+"\n")
	certFile := writeFile(t, "idp.pem", testCertPEM)
	yamlText := minimal + `connectors:
  - id: acme-okta
    org: acme
    type: oidc
    name: Acme SSO
    domains: [acme.example, corp.acme.example]
    trust_email: true
    trust_mfa: true
    jit: true
    require_sso: true
    oidc:
      issuer: https://acme.okta.example
      client_id: gatehouse
      client_secret_file: ` + secretFile + `
      scopes: [email, profile, groups]
      email_claim: mail
      groups_claim: roles
      groups_prefix: "acme:"
  - id: acme-adfs
    org: acme
    type: saml
    enabled: false
    saml:
      metadata_file: ` + mdFile + `
      certificate_file: ` + certFile + `
      email_attribute: mail
      groups_attribute: memberOf
      email_verified: true
  - id: beta-saml
    org: beta
    type: saml
    saml:
      metadata_url: https://idp.beta.example/metadata
`
	c, err := loadYAML(t, yamlText)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Connectors) != 3 {
		t.Fatalf("connectors = %+v", c.Connectors)
	}
	okta := c.Connectors[0]
	o := okta.OIDC
	if okta.ID != "acme-okta" || okta.Org != "acme" || okta.Name != "Acme SSO" || !okta.TrustEmail || !okta.TrustMFA || !okta.JIT ||
		!okta.RequireSSO || okta.Enabled != nil || !slices.Equal(okta.Domains, []string{"acme.example", "corp.acme.example"}) || okta.SAML != nil {
		t.Errorf("okta = %+v", okta)
	}
	if o.ClientSecret.Reveal() != testUpstreamSecret || o.ClientSecretFile != "" || o.Issuer != "https://acme.okta.example" ||
		o.EmailClaim != "mail" || o.GroupsClaim != "roles" || o.GroupsPrefix != "acme:" || len(o.Scopes) != 3 {
		t.Errorf("okta.oidc = %+v", o)
	}
	adfs := c.Connectors[1]
	if s := adfs.SAML; adfs.Enabled == nil || *adfs.Enabled || s.Metadata != testMetadataXML+"\n" || s.MetadataFile != "" ||
		s.Certificate != testCertPEM || s.CertificateFile != "" || !s.EmailVerified || s.GroupsAttribute != "memberOf" {
		t.Errorf("adfs = %+v %+v", adfs, adfs.SAML)
	}
	if c.Connectors[2].SAML.MetadataURL != "https://idp.beta.example/metadata" {
		t.Errorf("beta = %+v", c.Connectors[2].SAML)
	}

	var text bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "config", c)
	js, _ := json.Marshal(c)
	for what, out := range map[string]string{"slog": text.String(), "json": string(js), "%+v": fmt.Sprintf("%+v", c)} {
		if strings.Contains(out, testUpstreamSecret) {
			t.Errorf("%s leaks the client secret:\n%s", what, out)
		}
	}
	if !strings.Contains(text.String(), "config.connectors.0.oidc.client_secret="+Redacted) {
		t.Errorf("slog does not show the redacted secret:\n%s", text.String())
	}
	// Lists of structs have no variables: connectors live in the file.
	for _, name := range EnvNames() {
		if strings.HasPrefix(name, EnvPrefix+"CONNECTORS") {
			t.Errorf("variable %s", name)
		}
	}
}

func TestValidateConnectors(t *testing.T) {
	oidc := func(f func(*Connector)) Connector {
		c := Connector{ID: "okta", Org: "acme", Type: "oidc",
			OIDC: &ConnectorOIDC{Issuer: "https://acme.okta.example", ClientID: "g", ClientSecret: testUpstreamSecret}}
		if f != nil {
			f(&c)
		}
		return c
	}
	saml := func(f func(*ConnectorSAML)) Connector {
		c := Connector{ID: "adfs", Org: "acme", Type: "saml", SAML: &ConnectorSAML{MetadataURL: "https://idp.acme.example/md"}}
		if f != nil {
			f(c.SAML)
		}
		return c
	}
	tests := []struct {
		name       string
		dev        bool
		connectors []Connector
		want       []string // empty: valid
	}{
		{"oidc", false, []Connector{oidc(nil)}, nil},
		{"oidc with an unread secret file", false, []Connector{oidc(func(c *Connector) { c.OIDC.ClientSecret, c.OIDC.ClientSecretFile = "", "/run/s" })}, nil},
		{"saml by url", false, []Connector{saml(nil)}, nil},
		{"saml by unread file", false, []Connector{saml(func(s *ConnectorSAML) { s.MetadataURL, s.MetadataFile = "", "/etc/idp.xml" })}, nil},
		{"dev allows a loopback upstream", true, []Connector{oidc(func(c *Connector) { c.OIDC.Issuer = "http://127.0.0.1:9000" })}, nil},
		{"http upstream", false, []Connector{oidc(func(c *Connector) { c.OIDC.Issuer = "http://127.0.0.1:9000" })},
			[]string{"connectors[0].oidc: federation: upstream URLs must be https"}},
		{"missing id and org", false, []Connector{oidc(func(c *Connector) { c.ID, c.Org = "", "" })},
			[]string{"connectors[0].id: required", "connectors[0].org: required"}},
		{"duplicate ids", false, []Connector{oidc(nil), saml(nil), oidc(nil)}, []string{`connectors[2].id: "okta" is the id of connectors[0] too`}},
		{"unknown type", false, []Connector{{ID: "x", Org: "acme", Type: "ldap"}}, []string{`connectors[0].type: "ldap" is not one of oidc, saml`}},
		{"oidc without its block", false, []Connector{{ID: "x", Org: "acme", Type: "oidc"}}, []string{"connectors[0].oidc: required for an oidc connector"}},
		{"oidc with a saml block", false, []Connector{oidc(func(c *Connector) { c.SAML = &ConnectorSAML{} })}, []string{"connectors[0].saml: an oidc connector has no saml"}},
		{"saml with an oidc block", false, []Connector{func() Connector { c := saml(nil); c.OIDC = &ConnectorOIDC{}; return c }()},
			[]string{"connectors[0].oidc: a saml connector has no oidc"}},
		{"oidc without issuer, client id, secret", false, []Connector{oidc(func(c *Connector) { c.OIDC = &ConnectorOIDC{} })},
			[]string{"connectors[0].oidc: an OIDC connector needs an issuer URL", "connectors[0].oidc: an OIDC connector needs a client id",
				"connectors[0].oidc.client_secret: required"}},
		{"secret inline and by file", false, []Connector{oidc(func(c *Connector) { c.OIDC.ClientSecretFile = "/x" })},
			[]string{"connectors[0].oidc.client_secret: connectors[0].oidc.client_secret and connectors[0].oidc.client_secret_file are both set"}},
		{"saml without metadata", false, []Connector{saml(func(s *ConnectorSAML) { s.MetadataURL = "" })},
			[]string{"connectors[0].saml: a SAML connector needs the IdP's metadata"}},
		{"saml with two metadata sources", false, []Connector{saml(func(s *ConnectorSAML) { s.MetadataFile = "/x" })},
			[]string{"connectors[0].saml: give the IdP's metadata by URL or as XML, not both"}},
		{"metadata inline and by file", false, []Connector{saml(func(s *ConnectorSAML) { s.MetadataURL, s.Metadata, s.MetadataFile = "", "<x/>", "/x" })},
			[]string{"connectors[0].saml.metadata: metadata and metadata_file are both set"}},
		{"certificate inline and by file", false, []Connector{saml(func(s *ConnectorSAML) { s.Certificate, s.CertificateFile = testCertPEM, "/x" })},
			[]string{"connectors[0].saml.certificate: certificate and certificate_file are both set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fullConfig()
			c.Dev = tt.dev
			c.Connectors = tt.connectors
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if n := len(flatten(err)); n != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", n, len(tt.want), err)
			}
			if strings.Contains(err.Error(), testUpstreamSecret) {
				t.Errorf("error quotes a secret: %v", err)
			}
		})
	}
}

func TestLoadConnectorsRejects(t *testing.T) {
	empty := writeFile(t, "empty.xml", "\n")
	tests := []struct {
		name, yaml string
		want       string
	}{
		{"unknown key names the list and suggests", minimal + "connectors:\n  - id: x\n    org: acme\n    type: oidc\n    oidc:\n      issuer: https://a.example\n      client_idd: g\n",
			`unknown key "connectors[].oidc.client_idd" (did you mean "connectors[].oidc.client_id"?)`},
		{"missing metadata file", minimal + "connectors:\n  - id: x\n    org: acme\n    type: saml\n    saml:\n      metadata_file: /nonexistent/idp.xml\n",
			"connectors[0].saml.metadata_file: cannot read file"},
		{"empty metadata file", minimal + "connectors:\n  - id: x\n    org: acme\n    type: saml\n    saml:\n      metadata_file: " + empty + "\n",
			"is empty"},
		{"missing secret file", minimal + "connectors:\n  - id: x\n    org: acme\n    type: oidc\n    oidc:\n      issuer: https://a.example\n      client_id: g\n      client_secret_file: /nonexistent/s\n",
			"connectors[0].oidc.client_secret_file: cannot read secret file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadYAML(t, tt.yaml)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v; want %q", err, tt.want)
			}
		})
	}
}

// TestConnectorSettings: the file's blocks carry every setting federation
// stores, so one added there cannot be silently dropped between the file
// and storage. SPCertificate is Gatehouse's own, never declared.
func TestConnectorSettings(t *testing.T) {
	for _, tc := range []struct {
		file, settings reflect.Type
		skip           []string
		extra          int // the *_file keys
	}{
		{reflect.TypeFor[ConnectorOIDC](), reflect.TypeFor[federation.OIDCSettings](), nil, 2},
		{reflect.TypeFor[ConnectorSAML](), reflect.TypeFor[federation.SAMLSettings](), []string{"SPCertificate"}, 2},
	} {
		for i := range tc.settings.NumField() {
			name := tc.settings.Field(i).Name
			if _, ok := tc.file.FieldByName(name); !ok && !slices.Contains(tc.skip, name) {
				t.Errorf("%s has no field %s", tc.file, name)
			}
		}
		if got, want := tc.file.NumField(), tc.settings.NumField()-len(tc.skip)+tc.extra; got != want {
			t.Errorf("%s has %d fields; want %d", tc.file, got, want)
		}
	}
	o := ConnectorOIDC{Issuer: "i", ClientID: "c", Scopes: []string{"s"}, EmailClaim: "e", EmailVerifiedClaim: "ev",
		NameClaim: "n", GroupsClaim: "g", GroupsPrefix: "p", MFAValues: []string{"m"}}
	if got := o.OIDCSettings(); got.Issuer != "i" || got.EmailVerifiedClaim != "ev" || got.NameClaim != "n" || got.MFAValues[0] != "m" {
		t.Errorf("OIDCSettings %+v", got)
	}
	s := ConnectorSAML{MetadataURL: "u", Metadata: "m", Certificate: "c", EmailAttribute: "e", NameAttribute: "n",
		GroupsAttribute: "g", GroupsPrefix: "p", EmailVerified: true, MFAValues: []string{"v"}}
	if got := s.SAMLSettings(); got.Metadata != "m" || got.Certificate != "c" || got.NameAttribute != "n" || !got.EmailVerified || got.MFAValues[0] != "v" {
		t.Errorf("SAMLSettings %+v", got)
	}
}
