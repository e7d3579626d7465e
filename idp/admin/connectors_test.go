package admin

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

const testIssuer = "https://id.example.com"

// fakeFed is what withFederation wires: a real master key, an SP key
// generator that counts its calls, and an opener per type whose connector
// reports problems (or whose Open fails) as a test says.
type fakeFed struct {
	key *masterkey.Key

	mu       sync.Mutex
	spKeys   int
	spKeyAt  []time.Time
	opened   []storage.Connector
	unsealed []string // what env.Open gave the opener
	openErr  error
	problems []federation.Problem
	closed   int
}

func withFederation(t *testing.T, s *Service) *fakeFed {
	t.Helper()
	raw := make([]byte, masterkey.Size)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	k, err := masterkey.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeFed{key: k}
	open := func(ctx context.Context, c storage.Connector, env federation.Env) (federation.Connector, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.opened = append(f.opened, c)
		if env.Issuer != testIssuer || env.Assertions == nil || env.Now == nil {
			return nil, errors.New("env incomplete")
		}
		if len(c.SecretSealed) > 0 {
			pt, err := env.Open(c.SecretSealed)
			if err != nil {
				return nil, err
			}
			f.unsealed = append(f.unsealed, string(pt))
		}
		if f.openErr != nil {
			return nil, f.openErr
		}
		return &fakeConn{f: f}, nil
	}
	s.Federation = Federation{Sealer: k, Issuer: testIssuer,
		Openers: map[string]federation.Opener{storage.ConnectorOIDC: open, storage.ConnectorSAML: open},
		NewSPKey: func(at time.Time) (string, []byte, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.spKeys++
			f.spKeyAt = append(f.spKeyAt, at)
			return "-----BEGIN CERTIFICATE-----\nsp-cert-" + string(rune('0'+f.spKeys)) + "\n-----END CERTIFICATE-----\n",
				[]byte("sp-key-der"), nil
		}}
	return f
}

type fakeConn struct{ f *fakeFed }

func (c *fakeConn) Begin(context.Context, string) (federation.Start, error) {
	return federation.Start{}, nil
}
func (c *fakeConn) Finish(context.Context, []byte, url.Values) (federation.Identity, error) {
	return federation.Identity{}, nil
}
func (c *fakeConn) Check(context.Context) []federation.Problem { return c.f.problems }
func (c *fakeConn) Close() error {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.closed++
	return nil
}

// fedFixture is a service with federation, the organizations acme
// (domain acme.example) and beta (domain beta.example).
func fedFixture(t *testing.T) (*Service, *fakeFed, storage.Organization, storage.Organization) {
	t.Helper()
	return fedFixtureOn(t, newService(t))
}

// fedFixtureOn is fedFixture over s (eachStore's backends).
func fedFixtureOn(t *testing.T, s *Service) (*Service, *fakeFed, storage.Organization, storage.Organization) {
	t.Helper()
	f := withFederation(t, s)
	ctx := context.Background()
	acme, err := s.CreateOrg(ctx, "test", CreateOrgInput{Name: "acme", DisplayName: "Acme Corp", Domains: []string{"acme.example"}})
	if err != nil {
		t.Fatal(err)
	}
	beta, err := s.CreateOrg(ctx, "test", CreateOrgInput{Name: "beta", Domains: []string{"beta.example"}})
	if err != nil {
		t.Fatal(err)
	}
	return s, f, acme, beta
}

func oidcInput(id string, domains ...string) ConnectorInput {
	return ConnectorInput{ID: id, Org: "acme", Type: storage.ConnectorOIDC, Domains: domains, ClientSecret: "upstream-secret",
		OIDC: &federation.OIDCSettings{Issuer: "https://login.acme.example", ClientID: "gatehouse"}}
}

const testMetadata = `<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.acme.example"/>`

func samlInput(id string, domains ...string) ConnectorInput {
	return ConnectorInput{ID: id, Org: "acme", Type: storage.ConnectorSAML, Domains: domains,
		SAML: &federation.SAMLSettings{Metadata: testMetadata, EmailVerified: true}}
}

func connectorAudit(t *testing.T, s *Service, orgID string) []string {
	t.Helper()
	evs, err := backend(t, s).ListAuditEvents(context.Background(), storage.AuditQuery{OrgID: orgID})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if strings.HasPrefix(e.Type, "connector.") || strings.HasPrefix(e.Type, "link.") {
			out = append(out, e.Type+" "+e.Details["connector"]+" "+e.Details["changed"]+" "+e.ActorID)
		}
	}
	slices.Reverse(out)
	return out
}

func TestCreateConnectorRefuses(t *testing.T) { eachStore(t, testCreateConnectorRefuses) }

func testCreateConnectorRefuses(t *testing.T, s *Service) {
	fedFixtureOn(t, s)
	ctx := context.Background()
	if _, err := s.CreateConnector(ctx, Everyone, "test", oidcInput("taken", "taken.example")); err != nil {
		t.Fatal(err)
	}
	edit := func(in ConnectorInput, f func(*ConnectorInput)) ConnectorInput { f(&in); return in }
	badCert := "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
	tests := []struct {
		name     string
		in       ConnectorInput
		want     string
		conflict bool
	}{
		{"upper-case id", oidcInput("Acme"), "connector id", false},
		{"id with a slash", oidcInput("a/b"), "connector id", false},
		{"id too long", oidcInput(strings.Repeat("a", 65)), "connector id", false},
		{"empty id", oidcInput(""), "connector id", false},
		{"unknown org", edit(oidcInput("x"), func(in *ConnectorInput) { in.Org = "nope" }), `organization "nope" does not exist`, false},
		{"unknown type", edit(oidcInput("x"), func(in *ConnectorInput) { in.Type = "ldap" }), `connector type "ldap"`, false},
		{"oidc without settings", edit(oidcInput("x"), func(in *ConnectorInput) { in.OIDC = nil }), "takes OIDC settings", false},
		{"oidc with saml settings", edit(oidcInput("x"), func(in *ConnectorInput) { in.SAML = &federation.SAMLSettings{} }), "takes OIDC settings", false},
		{"http issuer", edit(oidcInput("x"), func(in *ConnectorInput) { in.OIDC.Issuer = "http://login.acme.example" }), "must be https", false},
		{"http loopback outside dev", edit(oidcInput("x"), func(in *ConnectorInput) { in.OIDC.Issuer = "http://127.0.0.1:9000" }), "must be https", false},
		{"no issuer no client id", edit(oidcInput("x"), func(in *ConnectorInput) { in.OIDC = &federation.OIDCSettings{} }),
			"needs an issuer URL; an OIDC connector needs a client id", false},
		{"no secret", edit(oidcInput("x"), func(in *ConnectorInput) { in.ClientSecret = "" }), "needs the client secret", false},
		{"secret with NUL", edit(oidcInput("x"), func(in *ConnectorInput) { in.ClientSecret = "a\x00b" }), "client secret must be text", false},
		{"claim name with NUL", edit(oidcInput("x"), func(in *ConnectorInput) { in.OIDC.EmailClaim = "e\x00" }), "email_claim contains a NUL", false},
		{"name too long", edit(oidcInput("x"), func(in *ConnectorInput) { in.Name = strings.Repeat("n", MaxDisplayName+1) }), "name is", false},
		{"saml without metadata", edit(samlInput("x"), func(in *ConnectorInput) { in.SAML.Metadata = "" }), "needs the IdP's metadata", false},
		{"saml with both metadata", edit(samlInput("x"), func(in *ConnectorInput) { in.SAML.MetadataURL = "https://idp.acme.example/md" }), "not both", false},
		{"saml http metadata url", edit(samlInput("x"), func(in *ConnectorInput) { in.SAML.Metadata, in.SAML.MetadataURL = "", "http://idp.acme.example/md" }), "must be https", false},
		{"saml metadata not xml", edit(samlInput("x"), func(in *ConnectorInput) { in.SAML.Metadata = "<a><b></a>" }), "not well-formed XML", false},
		{"saml metadata text", edit(samlInput("x"), func(in *ConnectorInput) { in.SAML.Metadata = "just text" }), "holds no XML element", false},
		{"saml metadata doctype", edit(samlInput("x"), func(in *ConnectorInput) { in.SAML.Metadata = `<!DOCTYPE x [<!ENTITY a "b">]><x/>` }), "DOCTYPE", false},
		{"saml metadata too large", edit(samlInput("x"), func(in *ConnectorInput) {
			in.SAML.Metadata = "<x>" + strings.Repeat("a", MaxSAMLMetadata) + "</x>"
		}), "the limit is", false},
		{"saml bad certificate", edit(samlInput("x"), func(in *ConnectorInput) { in.SAML.Certificate = badCert }), "does not parse", false},
		{"saml certificate not pem", edit(samlInput("x"), func(in *ConnectorInput) { in.SAML.Certificate = "MIIB" }), "one PEM certificate", false},
		{"saml sp certificate given", edit(samlInput("x"), func(in *ConnectorInput) { in.SAML.SPCertificate = "x" }), "Gatehouse's own", false},
		{"saml with client secret", edit(samlInput("x"), func(in *ConnectorInput) { in.ClientSecret = "s" }), "no client secret", false},
		{"saml with oidc settings", edit(samlInput("x"), func(in *ConnectorInput) { in.OIDC = &federation.OIDCSettings{} }), "takes SAML settings", false},
		{"bad domain", oidcInput("x", "not a domain"), "not a valid DNS name", false},
		{"another org's domain", oidcInput("x", "beta.example"), `domain "beta.example" belongs to another organization`, true},
		{"another connector's domain", oidcInput("x", "taken.example"), `already served by connector "taken"`, true},
		{"taken id", oidcInput("taken"), `a connector with id "taken" already exists`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateConnector(ctx, Everyone, "test", tt.in)
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(ie.Msg, tt.want) || errors.Is(err, storage.ErrConflict) != tt.conflict {
				t.Fatalf("CreateConnector = %v; want an InputError with %q (conflict %v)", err, tt.want, tt.conflict)
			}
		})
	}
	cs, err := s.ListConnectors(ctx, Everyone, "")
	if err != nil || len(cs) != 1 {
		t.Fatalf("after refusals: %d connectors, %v", len(cs), err)
	}
}

func TestCreateOIDCConnector(t *testing.T) {
	s, f, acme, _ := fedFixture(t)
	ctx := context.Background()
	in := oidcInput("acme-okta", "ACME.example", "Sub.Acme.Example.")
	in.TrustEmail, in.JIT = true, true
	in.OIDC.Scopes = []string{"email profile", "groups", "email"}
	in.OIDC.GroupsPrefix = " acme: "
	res, err := s.CreateConnector(ctx, Everyone, "cli:op", in)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Connector
	if c.OrgID != acme.ID || !c.Enabled || !c.TrustEmail || c.TrustMFA || !c.JIT || c.Name != "Acme Corp" || c.Source != SourceAPI {
		t.Errorf("connector %+v", c)
	}
	if !slices.Equal(c.Domains, []string{"acme.example", "sub.acme.example"}) || !slices.Equal(res.ClaimedDomains, []string{"sub.acme.example"}) {
		t.Errorf("domains %v, claimed %v", c.Domains, res.ClaimedDomains)
	}
	if res.URLs.Callback != testIssuer+"/federation/acme-okta/callback" {
		t.Errorf("URLs %+v", res.URLs)
	}
	stored, err := s.Store.GetConnector(ctx, "acme-okta")
	if err != nil {
		t.Fatal(err)
	}
	settings, err := federation.DecodeOIDC(stored.Config, false)
	if err != nil || !slices.Equal(settings.Scopes, []string{"email", "profile", "groups"}) || settings.GroupsPrefix != "acme:" {
		t.Errorf("settings %+v, %v", settings, err)
	}
	if strings.Contains(string(stored.SecretSealed), "upstream-secret") || strings.Contains(string(stored.Config), "upstream-secret") {
		t.Error("the client secret is stored in the clear")
	}
	// Sealed for this connector's id: it opens for it and for no other.
	if pt, err := UnsealConnectorSecret(f.key)(stored.SecretSealed, "acme-okta"); err != nil || string(pt) != "upstream-secret" {
		t.Errorf("unseal = %q, %v", pt, err)
	}
	if _, err := UnsealConnectorSecret(f.key)(stored.SecretSealed, "other"); !errors.Is(err, masterkey.ErrCorrupt) {
		t.Errorf("unseal for another id = %v; want ErrCorrupt", err)
	}
	o, _ := s.Store.GetOrganization(ctx, acme.ID)
	if !slices.Equal(o.Domains, []string{"acme.example", "sub.acme.example"}) {
		t.Errorf("organization domains %v", o.Domains)
	}
	if got := connectorAudit(t, s, acme.ID); !slices.Equal(got, []string{"connector.created acme-okta  cli:op"}) {
		t.Errorf("audit %v", got)
	}
	// Disabled at creation when asked.
	off := false
	in2 := oidcInput("acme-2")
	in2.Enabled = &off
	if res, err := s.CreateConnector(ctx, Everyone, "test", in2); err != nil || res.Connector.Enabled {
		t.Errorf("disabled create = %+v, %v", res.Connector, err)
	}
}

func TestCreateConnectorDevLoopback(t *testing.T) {
	s, _, _, _ := fedFixture(t)
	s.Federation.Dev = true
	in := oidcInput("local")
	in.OIDC.Issuer = "http://127.0.0.1:9000"
	if _, err := s.CreateConnector(context.Background(), Everyone, "test", in); err != nil {
		t.Fatalf("dev loopback issuer: %v", err)
	}
	in = oidcInput("remote")
	in.OIDC.Issuer = "http://login.acme.example"
	if _, err := s.CreateConnector(context.Background(), Everyone, "test", in); err == nil {
		t.Fatal("dev mode allowed http on a public host")
	}
}

func TestCreateSAMLConnector(t *testing.T) { eachStore(t, testCreateSAMLConnector) }

func testCreateSAMLConnector(t *testing.T, s *Service) {
	s, f, acme, _ := fedFixtureOn(t, s)
	ctx := context.Background()
	res, err := s.CreateConnector(ctx, Everyone, "test", samlInput("acme-adfs", "acme.example"))
	if err != nil {
		t.Fatal(err)
	}
	if res.URLs.Metadata != testIssuer+"/federation/acme-adfs/metadata" || res.URLs.ACS != testIssuer+"/federation/acme-adfs/acs" {
		t.Errorf("URLs %+v", res.URLs)
	}
	c, _ := s.Store.GetConnector(ctx, "acme-adfs")
	settings, err := federation.DecodeSAML(c.Config, false)
	if err != nil || !strings.Contains(settings.SPCertificate, "sp-cert-1") || settings.Metadata != testMetadata || !settings.EmailVerified {
		t.Errorf("settings %+v, %v", settings, err)
	}
	if f.spKeys != 1 || !f.spKeyAt[0].Equal(now) {
		t.Errorf("SP keys made %d at %v", f.spKeys, f.spKeyAt)
	}
	if pt, err := UnsealConnectorSecret(f.key)(c.SecretSealed, "acme-adfs"); err != nil || string(pt) != "sp-key-der" {
		t.Errorf("SP key unseals to %q, %v", pt, err)
	}
	if c.OrgID != acme.ID {
		t.Errorf("org %s", c.OrgID)
	}
	// Without a generator or a master key, nothing is created.
	s.Federation.NewSPKey = nil
	if _, err := s.CreateConnector(ctx, Everyone, "test", samlInput("no-gen")); err == nil || !strings.Contains(err.Error(), "no SAML SP key generator") {
		t.Errorf("no generator: %v", err)
	}
	s.Federation.Sealer = nil
	if _, err := s.CreateConnector(ctx, Everyone, "test", oidcInput("no-key")); err == nil || !strings.Contains(err.Error(), "no master key") {
		t.Errorf("no master key: %v", err)
	}
	if _, err := s.Store.GetConnector(ctx, "no-key"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a refused connector was stored: %v", err)
	}
}

// An organization admin manages their own organization's connectors, with
// the domains it owns; claiming a new domain is an admin's.
func TestConnectorsOrgAdminReach(t *testing.T) {
	s, _, acme, beta := fedFixture(t)
	ctx := context.Background()
	oa := OrgsReach([]string{acme.ID})
	if _, err := s.CreateConnector(ctx, oa, "api:oa", oidcInput("mine", "acme.example")); err != nil {
		t.Fatalf("own org, own domain: %v", err)
	}
	for _, tc := range []struct {
		name string
		in   ConnectorInput
		want string
	}{
		{"unclaimed domain", oidcInput("x", "new.example"), `domain "new.example" is not one of organization "acme"'s domains; only an admin`},
		{"another org's domain", oidcInput("x", "beta.example"), `domain "beta.example" is not one of organization "acme"'s domains; only an admin`},
		{"another org", func() ConnectorInput { in := oidcInput("x"); in.Org = "beta"; return in }(), `organization "beta" does not exist`},
	} {
		if _, err := s.CreateConnector(ctx, oa, "api:oa", tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.name, err, tc.want)
		}
	}
	theirs := oidcInput("theirs")
	theirs.Org = "beta"
	if _, err := s.CreateConnector(ctx, Everyone, "test", theirs); err != nil {
		t.Fatal(err)
	}
	// beta's connector does not exist for acme's admin, whatever is asked.
	on := true
	for name, err := range map[string]error{
		"get": func() error { _, err := s.GetConnector(ctx, oa, "theirs"); return err }(),
		"update": func() error {
			_, err := s.UpdateConnector(ctx, oa, "api:oa", "theirs", ConnectorChange{Enabled: &on})
			return err
		}(),
		"delete": s.DeleteConnector(ctx, oa, "api:oa", "theirs"),
		"test":   func() error { _, err := s.TestConnector(ctx, oa, "theirs"); return err }(),
	} {
		if err == nil || err.Error() != `no connector with id "theirs"` || !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s of another organization's connector: %v", name, err)
		}
	}
	// The organization gave up a domain since: a change that leaves the
	// connector's domains alone is not refused for it.
	if _, err := s.Store.UpdateOrganization(ctx, acme.ID, func(o storage.Organization) (storage.Organization, error) {
		o.Domains = nil
		return o, nil
	}); err != nil {
		t.Fatal(err)
	}
	off := false
	if _, err := s.UpdateConnector(ctx, oa, "api:oa", "mine", ConnectorChange{Enabled: &off}); err != nil {
		t.Errorf("disable after the domain left the organization: %v", err)
	}
	if _, err := s.UpdateConnector(ctx, oa, "api:oa", "mine", ConnectorChange{Domains: &[]string{}}); err != nil {
		t.Errorf("dropping the domain: %v", err)
	}
	if _, err := s.UpdateConnector(ctx, oa, "api:oa", "mine", ConnectorChange{Domains: &[]string{"acme.example"}}); err == nil ||
		!strings.Contains(err.Error(), "only an admin") {
		t.Errorf("an organization admin re-claimed a domain: %v", err)
	}
	list, err := s.ListConnectors(ctx, oa, "")
	if err != nil || len(list) != 1 || list[0].Connector.ID != "mine" || list[0].Org != "acme" {
		t.Errorf("org admin's list: %+v, %v", list, err)
	}
	if _, err := s.ListConnectors(ctx, oa, "beta"); err == nil {
		t.Error("org admin listed beta's connectors")
	}
	all, err := s.ListConnectors(ctx, Everyone, "")
	if err != nil || len(all) != 2 || all[0].Connector.OrgID != acme.ID || all[1].Connector.OrgID != beta.ID {
		t.Errorf("admin's list: %+v, %v", all, err)
	}
}

func TestUpdateConnector(t *testing.T) { eachStore(t, testUpdateConnector) }

func testUpdateConnector(t *testing.T, s *Service) {
	s, f, acme, _ := fedFixtureOn(t, s)
	ctx := context.Background()
	if _, err := s.CreateConnector(ctx, Everyone, "test", oidcInput("okta", "acme.example")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateConnector(ctx, Everyone, "test", samlInput("adfs")); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Store.GetConnector(ctx, "adfs")
	off, on, yes := false, true, true
	name, secret, empty := " Acme SSO ", "new-secret", ""
	domains := []string{"acme.example", "extra.example"}
	tests := []struct {
		name    string
		id      string
		ch      ConnectorChange
		want    string // error substring; "" for success
		changed string // the audit trail's newest entry
	}{
		{"disable", "okta", ConnectorChange{Enabled: &off}, "", "connector.disabled okta  api:x"},
		{"disable again changes nothing", "okta", ConnectorChange{Enabled: &off}, "", "connector.disabled okta  api:x"},
		{"enable", "okta", ConnectorChange{Enabled: &on}, "", "connector.enabled okta  api:x"},
		{"flags and name", "okta", ConnectorChange{TrustEmail: &yes, TrustMFA: &yes, JIT: &yes, RequireSSO: &yes, Name: &name}, "",
			"connector.updated okta name trust_email trust_mfa jit require_sso api:x"},
		{"settings", "okta", ConnectorChange{EditOIDC: func(o *federation.OIDCSettings) { o.GroupsClaim = "roles" }}, "",
			"connector.updated okta settings api:x"},
		{"secret", "okta", ConnectorChange{ClientSecret: &secret}, "", "connector.updated okta client_secret api:x"},
		{"domains", "okta", ConnectorChange{Domains: &domains}, "", "connector.updated okta domains api:x"},
		{"bad settings", "okta", ConnectorChange{EditOIDC: func(o *federation.OIDCSettings) { o.Issuer = "http://x.example" }}, "must be https", ""},
		{"empty secret", "okta", ConnectorChange{ClientSecret: &empty}, "new client secret is empty", ""},
		{"empty name", "okta", ConnectorChange{Name: &empty}, "name cannot be empty", ""},
		{"saml settings on oidc", "okta", ConnectorChange{EditSAML: func(*federation.SAMLSettings) {}}, "SAML settings do not apply", ""},
		{"secret on saml", "adfs", ConnectorChange{ClientSecret: &secret}, "client secret do not apply", ""},
		{"another org's domain", "adfs", ConnectorChange{Domains: &[]string{"beta.example"}}, "belongs to another organization", ""},
		{"a domain of another connector", "adfs", ConnectorChange{Domains: &[]string{"extra.example"}}, `already served by connector "okta"`, ""},
		{"metadata url replaces inline metadata", "adfs", ConnectorChange{EditSAML: func(sm *federation.SAMLSettings) {
			sm.MetadataURL, sm.SPCertificate = "https://idp.acme.example/md", "forged"
		}}, "", "connector.updated adfs settings api:x"},
		{"inline metadata replaces the url", "adfs", ConnectorChange{EditSAML: func(sm *federation.SAMLSettings) { sm.Metadata = testMetadata }}, "",
			"connector.updated adfs settings api:x"},
		{"unknown", "nope", ConnectorChange{Enabled: &on}, `no connector with id "nope"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.UpdateConnector(ctx, Everyone, "api:x", tt.id, tt.ch)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("UpdateConnector = %v; want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			trail := connectorAudit(t, s, acme.ID)
			if got := trail[len(trail)-1]; got != tt.changed {
				t.Fatalf("newest audit entry %q; want %q", got, tt.changed)
			}
		})
	}
	c, _ := s.Store.GetConnector(ctx, "okta")
	if c.Name != "Acme SSO" || !c.TrustEmail || !c.RequireSSO || !c.Enabled || !slices.Equal(c.Domains, domains) {
		t.Errorf("okta after updates: %+v", c)
	}
	if pt, _ := UnsealConnectorSecret(f.key)(c.SecretSealed, "okta"); string(pt) != "new-secret" {
		t.Errorf("secret %q", pt)
	}
	if o, _ := s.Store.GetOrganization(ctx, acme.ID); !slices.Contains(o.Domains, "extra.example") {
		t.Errorf("the new domain was not claimed: %v", o.Domains)
	}
	after, _ := s.Store.GetConnector(ctx, "adfs")
	sb, _ := federation.DecodeSAML(before.Config, false)
	sa, err := federation.DecodeSAML(after.Config, false)
	if err != nil || sa.SPCertificate != sb.SPCertificate || sa.MetadataURL != "" || sa.Metadata != testMetadata ||
		string(after.SecretSealed) != string(before.SecretSealed) || f.spKeys != 1 {
		t.Errorf("adfs after updates: %+v, %v (SP keys made %d)", sa, err, f.spKeys)
	}
}

func TestConfigConnectorsRefuseRuntimeChanges(t *testing.T) {
	s, _, _, _ := fedFixture(t)
	ctx := context.Background()
	if err := s.ReconcileConfigConnectors(ctx, []ConnectorInput{oidcInput("declared")}); err != nil {
		t.Fatal(err)
	}
	on := true
	_, uerr := s.UpdateConnector(ctx, Everyone, "test", "declared", ConnectorChange{Enabled: &on})
	for name, err := range map[string]error{"update": uerr, "delete": s.DeleteConnector(ctx, Everyone, "test", "declared")} {
		if err == nil || !strings.Contains(err.Error(), "declared in the config file") || !errors.Is(err, storage.ErrConflict) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDeleteConnectorDeletesLinks(t *testing.T) { eachStore(t, testDeleteConnectorDeletesLinks) }

func testDeleteConnectorDeletesLinks(t *testing.T, s *Service) {
	s, _, acme, _ := fedFixtureOn(t, s)
	ctx := context.Background()
	if _, err := s.CreateConnector(ctx, Everyone, "test", oidcInput("okta")); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, "test", CreateUserInput{Email: "ann@acme.example", Org: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if err := backend(t, s).CreateLink(ctx, storage.Link{ConnectorID: "okta", Subject: "sub-1", UserID: u.ID, CreatedAt: now, LastLoginAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConnector(ctx, Everyone, "cli:op", "okta"); err != nil {
		t.Fatal(err)
	}
	if _, err := backend(t, s).GetLink(ctx, "okta", "sub-1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("link survived: %v", err)
	}
	if err := s.DeleteConnector(ctx, Everyone, "cli:op", "okta"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if got := connectorAudit(t, s, acme.ID); !slices.Equal(got, []string{"connector.created okta  test", "connector.deleted okta  cli:op"}) {
		t.Errorf("audit %v", got)
	}
}

func TestTestConnector(t *testing.T) {
	s, f, _, _ := fedFixture(t)
	ctx := context.Background()
	if _, err := s.CreateConnector(ctx, Everyone, "test", oidcInput("okta")); err != nil {
		t.Fatal(err)
	}
	expiring := federation.Problem{Code: "certificate_expiring", Message: "The signing certificate expires soon."}
	tests := []struct {
		name     string
		openErr  error
		problems []federation.Problem
		want     []string // codes
		msg      string
	}{
		{"healthy", nil, nil, nil, ""},
		{"problems", nil, []federation.Problem{expiring}, []string{"certificate_expiring"}, "expires soon"},
		{"unreachable", &url.Error{Op: "Get", URL: "https://login.acme.example", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}},
			nil, []string{"unreachable"}, "could not be reached"},
		{"timeout", context.DeadlineExceeded, nil, []string{"unreachable"}, "could not be reached"},
		{"invalid", errors.New("issuer mismatch in discovery"), nil, []string{"invalid"}, "cannot be used as it is set up: issuer mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.openErr, f.problems = tt.openErr, tt.problems
			ps, err := s.TestConnector(ctx, Everyone, "okta")
			if err != nil {
				t.Fatal(err)
			}
			var codes []string
			for _, p := range ps {
				codes = append(codes, p.Code)
				if !strings.Contains(p.Message, tt.msg) {
					t.Errorf("message %q; want %q", p.Message, tt.msg)
				}
			}
			if !slices.Equal(codes, tt.want) {
				t.Fatalf("problems %v; want %v", codes, tt.want)
			}
		})
	}
	// The opener got the connector's secret, unsealed for its id.
	if len(f.unsealed) == 0 || f.unsealed[0] != "upstream-secret" || f.closed != 2 {
		t.Errorf("unsealed %v, closed %d", f.unsealed, f.closed)
	}
	delete(s.Federation.Openers, storage.ConnectorOIDC)
	if _, err := s.TestConnector(ctx, Everyone, "okta"); !errors.Is(err, ErrNoOpener) {
		t.Errorf("no opener: %v", err)
	}
	if _, err := s.TestConnector(ctx, Everyone, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
}

func TestLinks(t *testing.T) { eachStore(t, testLinks) }

func testLinks(t *testing.T, s *Service) {
	s, _, acme, _ := fedFixtureOn(t, s)
	ctx := context.Background()
	if _, err := s.CreateConnector(ctx, Everyone, "test", oidcInput("okta")); err != nil {
		t.Fatal(err)
	}
	ann, err := s.CreateUser(ctx, "test", CreateUserInput{Email: "ann@acme.example", Org: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := s.CreateUser(ctx, "test", CreateUserInput{Email: "bob@acme.example", Org: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []storage.Link{
		{ConnectorID: "okta", Subject: "ann/1", UserID: ann.ID, Email: "ann@acme.example", Groups: []string{"acme:eng"}, CreatedAt: now, LastLoginAt: now},
		{ConnectorID: "okta", Subject: "bob-1", UserID: bob.ID, CreatedAt: now, LastLoginAt: now},
	} {
		if err := backend(t, s).CreateLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	ls, err := s.ListLinks(ctx, Everyone, "Ann@acme.example")
	if err != nil || len(ls) != 1 || ls[0].Link.Subject != "ann/1" || ls[0].ConnectorName != "Acme Corp" || ls[0].ConnectorType != "oidc" {
		t.Fatalf("ann's links %+v, %v", ls, err)
	}
	v, _ := json.Marshal(ViewLink(ls[0]))
	if !strings.Contains(string(v), `"groups":["acme:eng"]`) {
		t.Errorf("view %s", v)
	}
	// Bob's link is not Ann's to lose.
	if err := s.RemoveLink(ctx, Everyone, "cli:op", "ann@acme.example", "okta", "bob-1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("removing another user's link: %v", err)
	}
	if err := s.RemoveLink(ctx, OrgsReach([]string{"other"}), "api:x", "ann@acme.example", "okta", "ann/1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("out of reach: %v", err)
	}
	if err := s.RemoveLink(ctx, Everyone, "cli:op", "ann@acme.example", "okta", "ann/1"); err != nil {
		t.Fatal(err)
	}
	if ls, _ := s.UserLinks(ctx, ann.ID); len(ls) != 0 {
		t.Errorf("links left %+v", ls)
	}
	if _, err := backend(t, s).GetLink(ctx, "okta", "bob-1"); err != nil {
		t.Errorf("bob's link: %v", err)
	}
	evs, _ := backend(t, s).ListAuditEvents(ctx, storage.AuditQuery{UserID: ann.ID, Type: AuditLinkRemoved})
	if len(evs) != 1 || evs[0].Details["subject"] != "ann/1" || evs[0].OrgID != acme.ID || evs[0].ActorID != "cli:op" {
		t.Errorf("audit %+v", evs)
	}
}

func TestViewConnectorShowsNoSecret(t *testing.T) {
	s, _, _, _ := fedFixture(t)
	ctx := context.Background()
	for _, in := range []ConnectorInput{oidcInput("okta"), samlInput("adfs")} {
		if _, err := s.CreateConnector(ctx, Everyone, "test", in); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.ListConnectors(ctx, Everyone, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range list {
		b, _ := json.Marshal(ViewConnector(i))
		for _, leak := range []string{"upstream-secret", "sp-key", "secret_sealed", "EntityDescriptor"} {
			if strings.Contains(string(b), leak) {
				t.Errorf("%s view holds %q: %s", i.Connector.ID, leak, b)
			}
		}
		if !strings.Contains(string(b), `"has_secret":true`) {
			t.Errorf("view %s", b)
		}
	}
	adfs := ViewConnector(list[0])
	if adfs.SAML == nil || !adfs.SAML.MetadataInline || adfs.URLs.ACS == "" || adfs.URLs.RedirectURI != "" {
		t.Errorf("saml view %+v", adfs)
	}
	okta := ViewConnector(list[1])
	if okta.OIDC == nil || okta.OIDC.Issuer != "https://login.acme.example" || okta.URLs.RedirectURI == "" {
		t.Errorf("oidc view %+v", okta)
	}
	if s := (ConnectorInput{ClientSecret: "hunter2"}); strings.Contains(s.String()+s.GoString(), "hunter2") {
		t.Error("ConnectorInput prints its secret")
	}
}

func TestReconcileConfigConnectors(t *testing.T) { eachStore(t, testReconcileConfigConnectors) }

func testReconcileConfigConnectors(t *testing.T, s *Service) {
	s, f, acme, _ := fedFixtureOn(t, s)
	ctx := context.Background()
	if _, err := s.CreateConnector(ctx, Everyone, "test", oidcInput("runtime")); err != nil {
		t.Fatal(err)
	}
	okta := oidcInput("okta", "acme.example")
	adfs := samlInput("adfs", "new.example")
	renamed := okta
	renamed.Name, renamed.ClientSecret = "Okta", "rotated-secret"
	movedMD := samlInput("adfs", "new.example")
	movedMD.SAML = &federation.SAMLSettings{MetadataURL: "https://idp.acme.example/md"}
	steps := []struct {
		name   string
		inputs []ConnectorInput
		trail  []string // audit entries this step adds
	}{
		{"create", []ConnectorInput{okta, adfs}, []string{"connector.created okta  config", "connector.created adfs  config"}},
		{"unchanged: no writes", []ConnectorInput{okta, adfs}, nil},
		{"secret and name", []ConnectorInput{renamed, adfs}, []string{"connector.updated okta name client_secret config"}},
		{"metadata", []ConnectorInput{renamed, movedMD}, []string{"connector.updated adfs settings config"}},
		{"removed from the file", []ConnectorInput{renamed}, []string{"connector.deleted adfs  config"}},
	}
	before := len(connectorAudit(t, s, acme.ID))
	var spCert string
	for _, st := range steps {
		if err := s.ReconcileConfigConnectors(ctx, st.inputs); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		trail := connectorAudit(t, s, acme.ID)
		if got := trail[before:]; !slices.Equal(got, st.trail) {
			t.Fatalf("%s: audit %q; want %q", st.name, got, st.trail)
		}
		before = len(trail)
		if c, err := s.Store.GetConnector(ctx, "adfs"); err == nil {
			sm, _ := federation.DecodeSAML(c.Config, false)
			if spCert == "" {
				spCert = sm.SPCertificate
			} else if sm.SPCertificate != spCert {
				t.Fatalf("%s: the SP certificate changed", st.name)
			}
		}
	}
	if f.spKeys != 1 {
		t.Errorf("%d SP keys made; want one, kept across starts", f.spKeys)
	}
	c, _ := s.Store.GetConnector(ctx, "okta")
	if pt, _ := UnsealConnectorSecret(f.key)(c.SecretSealed, "okta"); c.Source != SourceConfig || c.Name != "Okta" || string(pt) != "rotated-secret" {
		t.Errorf("okta %+v (secret %q)", c, pt)
	}
	if o, _ := s.Store.GetOrganization(ctx, acme.ID); !slices.Contains(o.Domains, "new.example") {
		t.Errorf("the declared domain was not claimed: %v", o.Domains)
	}
	if _, err := s.Store.GetConnector(ctx, "runtime"); err != nil {
		t.Errorf("the runtime connector was touched: %v", err)
	}
}

func TestReconcileConfigConnectorsReportsEverything(t *testing.T) {
	eachStore(t, testReconcileConfigConnectorsReportsEverything)
}

func testReconcileConfigConnectorsReportsEverything(t *testing.T, s *Service) {
	fedFixtureOn(t, s)
	ctx := context.Background()
	if _, err := s.CreateConnector(ctx, Everyone, "test", oidcInput("runtime")); err != nil {
		t.Fatal(err)
	}
	if err := s.ReconcileConfigConnectors(ctx, []ConnectorInput{oidcInput("kept")}); err != nil {
		t.Fatal(err)
	}
	otherOrg := oidcInput("kept")
	otherOrg.Org = "beta"
	unknownOrg := oidcInput("lost")
	unknownOrg.Org = "nope"
	err := s.ReconcileConfigConnectors(ctx, []ConnectorInput{
		otherOrg,
		oidcInput("runtime"),
		oidcInput("Bad ID"),
		oidcInput("dup"), oidcInput("dup"),
		oidcInput("theirs", "beta.example"),
		unknownOrg,
		samlInput("typed"),
	})
	for _, want := range []string{
		`connectors[0] (id "kept"): the connector belongs to another organization`,
		`connectors[1] (id "runtime"): a connector with this id was created through the CLI or admin API`,
		`connectors[2] (id "Bad ID"): connector id`,
		`connectors[4] (id "dup"): the id of connectors[3] again`,
		`connectors[5] (id "theirs"): domain "beta.example" belongs to another organization`,
		`connectors[6] (id "lost"): organization "nope" does not exist`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nlacks %q", err, want)
		}
	}
	// Nothing changed: "kept" is still there, nothing was created.
	cs, _ := s.ListConnectors(ctx, Everyone, "")
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.Connector.ID)
	}
	if !slices.Equal(ids, []string{"kept", "runtime"}) {
		t.Errorf("connectors after a refused file: %v", ids)
	}
	// A type change is refused too.
	typed := samlInput("kept")
	if err := s.ReconcileConfigConnectors(ctx, []ConnectorInput{typed}); err == nil || !strings.Contains(err.Error(), "its type cannot change") {
		t.Errorf("type change: %v", err)
	}
}

// Instances starting at once agree on one connector and one SP key.
func TestReconcileConfigConnectorsConcurrent(t *testing.T) {
	eachStore(t, testReconcileConfigConnectorsConcurrent)
}

func testReconcileConfigConnectorsConcurrent(t *testing.T, s *Service) {
	fedFixtureOn(t, s)
	ctx := context.Background()
	inputs := []ConnectorInput{oidcInput("okta", "acme.example"), samlInput("adfs", "new.example")}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.ReconcileConfigConnectors(ctx, inputs)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
	}
	c, _ := s.Store.GetConnector(ctx, "adfs")
	before, _ := federation.DecodeSAML(c.Config, false)
	if err := s.ReconcileConfigConnectors(ctx, inputs); err != nil {
		t.Fatal(err)
	}
	c2, _ := s.Store.GetConnector(ctx, "adfs")
	after, _ := federation.DecodeSAML(c2.Config, false)
	if after.SPCertificate != before.SPCertificate || string(c.SecretSealed) != string(c2.SecretSealed) || !c2.UpdatedAt.Equal(c.UpdatedAt) {
		t.Error("a later start changed the SP key pair")
	}
}
