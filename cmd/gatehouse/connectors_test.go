package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

const testIdPMetadata = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.acme.example"/>`

// fakeUpstreams stands in for federation/oidc and federation/saml: its
// connectors report problems as the test sets them, and its SP keys are
// counted.
type fakeUpstreams struct {
	problems []federation.Problem
	openErr  error
	secrets  []string // what the opener unsealed
	spKeys   int
}

func useFakeUpstreams(t *testing.T) *fakeUpstreams {
	t.Helper()
	f := &fakeUpstreams{}
	open := func(_ context.Context, c storage.Connector, env federation.Env) (federation.Connector, error) {
		if len(c.SecretSealed) > 0 {
			pt, err := env.Open(c.SecretSealed)
			if err != nil {
				return nil, err
			}
			f.secrets = append(f.secrets, string(pt))
		}
		if f.openErr != nil {
			return nil, f.openErr
		}
		return fakeConnector{f}, nil
	}
	oldOpeners, oldKey := connectorOpeners, newSPKey
	connectorOpeners = map[string]federation.Opener{storage.ConnectorOIDC: open, storage.ConnectorSAML: open}
	newSPKey = func(time.Time) (string, []byte, error) {
		f.spKeys++
		return "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n", []byte("sp key"), nil
	}
	t.Cleanup(func() { connectorOpeners, newSPKey = oldOpeners, oldKey })
	return f
}

type fakeConnector struct{ f *fakeUpstreams }

func (fakeConnector) Begin(context.Context, string) (federation.Start, error) {
	return federation.Start{}, nil
}
func (fakeConnector) Finish(context.Context, []byte, url.Values) (federation.Identity, error) {
	return federation.Identity{}, nil
}
func (c fakeConnector) Check(context.Context) []federation.Problem { return c.f.problems }

func TestConnectorsCommands(t *testing.T) {
	f := useFakeUpstreams(t)
	dir := filepath.Join(t.TempDir(), "data")
	d := []string{"--data-dir", dir}
	md := filepath.Join(t.TempDir(), "idp.xml")
	if err := os.WriteFile(md, []byte(testIdPMetadata), 0o600); err != nil {
		t.Fatal(err)
	}
	const secret = "upstream-client-secret"
	oidc := []string{"connectors", "create", "--org", "acme", "--id", "acme-okta", "--type", "oidc",
		"--issuer", "https://acme.okta.example", "--client-id", "gatehouse", "--client-secret-stdin",
		"--domain", "acme.example", "--domain", "corp.acme.example", "--name", "Acme SSO", "--trust-email", "--jit",
		"--scopes", "email profile groups", "--groups-prefix", "acme:"}
	steps := []struct {
		name    string
		stdin   string
		args    []string
		code    int
		want    string // substring of stdout (code 0) or stderr
		notWant string
	}{
		{"migrate", "", []string{"migrate"}, 0, "applied migration", ""},
		{"org", "", []string{"orgs", "create", "--name", "acme", "--domain", "acme.example"}, 0, "created organization acme", ""},
		{"missing org", "", []string{"connectors", "create", "--id", "x", "--type", "oidc"}, 2, "--org is required", ""},
		{"missing type", "", []string{"connectors", "create", "--org", "acme", "--id", "x"}, 2, "--type is required", ""},
		{"oidc without secret", "", []string{"connectors", "create", "--org", "acme", "--id", "x", "--type", "oidc",
			"--issuer", "https://a.example", "--client-id", "g"}, 2, "needs --client-secret-stdin", ""},
		{"empty secret", "", append(append([]string{}, oidc...), "--id", "empty"), 1, "held no secret", ""},
		{"saml flag on oidc", secret + "\n", append(append([]string{}, oidc...), "--metadata-url", "https://idp.example/md"), 2,
			"--metadata-url does not apply to a oidc connector", ""},
		{"http issuer", secret + "\n", []string{"connectors", "create", "--org", "acme", "--id", "x", "--type", "oidc",
			"--issuer", "http://login.example", "--client-id", "g", "--client-secret-stdin"}, 1, "must be https", ""},
		{"create oidc", secret + "\n", oidc, 0,
			"Give your identity provider this redirect URI: http://localhost:8080/federation/acme-okta/callback", secret},
		{"claims the new domain", secret + "\n", []string{"connectors", "create", "--org", "acme", "--id", "acme-2", "--type", "oidc",
			"--issuer", "https://acme.okta.example", "--client-id", "g", "--client-secret-stdin", "--domain", "new.example"}, 0,
			"added domain new.example to organization acme", ""},
		{"both metadata sources", "", []string{"connectors", "create", "--org", "acme", "--id", "adfs", "--type", "saml",
			"--metadata-url", "https://idp.example/md", "--metadata-file", md}, 2, "not both", ""},
		{"oidc flag on saml", "", []string{"connectors", "create", "--org", "acme", "--id", "adfs", "--type", "saml",
			"--metadata-file", md, "--issuer", "https://x.example"}, 2, "--issuer does not apply to a saml connector", ""},
		{"create saml", "", []string{"connectors", "create", "--org", "acme", "--id", "acme-adfs", "--type", "saml",
			"--metadata-file", md, "--email-verified", "--email-attribute", "mail", "--disabled"}, 0,
			"SP metadata URL (entity ID): http://localhost:8080/federation/acme-adfs/metadata\n  ACS URL: http://localhost:8080/federation/acme-adfs/acs", ""},
		{"list", "", []string{"connectors", "list"}, 0, "acme-adfs  acme  saml", ""},
		{"list --json", "", []string{"connectors", "list", "--org", "acme", "--json"}, 0, `"id":"acme-okta"`, secret},
		{"list of an unknown org", "", []string{"connectors", "list", "--org", "nope"}, 1, `organization "nope" does not exist`, ""},
		{"show", "", []string{"connectors", "show", "--id", "acme-okta"}, 0, "client secret", secret},
		{"show saml", "", []string{"connectors", "show", "--id", "acme-adfs"}, 0, "ACS URL", "EntityDescriptor"},
		{"show unknown", "", []string{"connectors", "show", "--id", "nope"}, 1, `no connector with id "nope"`, ""},
		{"update nothing", "", []string{"connectors", "update", "--id", "acme-okta"}, 2, "at least one setting", ""},
		{"enable and disable", "", []string{"connectors", "update", "--id", "acme-okta", "--enable", "--disable"}, 2, "exclude each other", ""},
		{"saml flag on the oidc one", "", []string{"connectors", "update", "--id", "acme-okta", "--email-attribute", "x"}, 2, "does not apply", ""},
		{"disable", "", []string{"connectors", "update", "--id", "acme-okta", "--disable"}, 0, "updated connector acme-okta (disabled)", ""},
		{"settings and flags", "rotated\n", []string{"connectors", "update", "--id", "acme-okta", "--enable", "--trust-email=false",
			"--groups-claim", "roles", "--client-secret-stdin"}, 0, "updated connector acme-okta (enabled)", "rotated"},
		{"bad update", "", []string{"connectors", "update", "--id", "acme-okta", "--issuer", "http://x.example"}, 1, "must be https", ""},
		{"metadata url for the saml one", "", []string{"connectors", "update", "--id", "acme-adfs", "--metadata-url", "https://idp.acme.example/md"}, 0,
			"updated connector acme-adfs (disabled)", ""},
		{"test ok", "", []string{"connectors", "test", "--id", "acme-okta"}, 0, "OK: no problems found", ""},
		{"test unknown", "", []string{"connectors", "test", "--id", "nope"}, 1, `no connector with id "nope"`, ""},
		{"delete", "", []string{"connectors", "delete", "--id", "acme-2"}, 0, "deleted connector acme-2 and its links", ""},
		{"help", "", []string{"connectors", "create", "--help"}, 0, "", ""},
	}
	for _, s := range steps {
		r := runCLI(t, s.stdin, append(s.args, d...)...)
		got := r.out
		if s.code != 0 {
			got = r.errOut
		}
		if r.code != s.code || !strings.Contains(got, s.want) || (s.notWant != "" && strings.Contains(r.out+r.errOut, s.notWant)) {
			t.Fatalf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q, not %q", s.name, r.code, s.code, r.out, r.errOut, s.want, s.notWant)
		}
	}
	// The opener got the rotated secret, unsealed for the connector's id.
	if len(f.secrets) != 1 || f.secrets[0] != "rotated" {
		t.Errorf("secrets the opener saw: %q", f.secrets)
	}
	if f.spKeys != 1 {
		t.Errorf("%d SP keys made", f.spKeys)
	}

	// Problems are printed in plain words, and the exit status says so.
	f.problems = []federation.Problem{{Code: "certificate_expiring", Message: "The signing certificate \"idp\" expires on 2030-01-20, within 30 days."},
		{Code: "issuer_mismatch", Message: "The discovery document names another issuer."}}
	r := runCLI(t, "", append([]string{"connectors", "test", "--id", "acme-okta"}, d...)...)
	if r.code != 1 || !strings.Contains(r.out, "problem: The signing certificate \"idp\" expires on 2030-01-20") ||
		!strings.Contains(r.out, "problem: The discovery document names another issuer.") || !strings.Contains(r.errOut, "2 problems found") {
		t.Errorf("test with problems: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	f.problems, f.openErr = nil, errors.New("metadata has no IDPSSODescriptor")
	if r := runCLI(t, "", append([]string{"connectors", "test", "--id", "acme-adfs"}, d...)...); r.code != 1 ||
		!strings.Contains(r.out, "problem: The connector cannot be used as it is set up: metadata has no IDPSSODescriptor.") {
		t.Errorf("test of a connector that does not open: exit %d\n%s%s", r.code, r.out, r.errOut)
	}

	// What was stored, and who did it.
	inst := openTestInstance(t, dir)
	ctx := context.Background()
	c, err := inst.Store.GetConnector(ctx, "acme-okta")
	if err != nil {
		t.Fatal(err)
	}
	settings, _ := federation.DecodeOIDC(c.Config, true)
	if c.Name != "Acme SSO" || c.TrustEmail || !c.JIT || !c.Enabled || settings.GroupsClaim != "roles" || settings.GroupsPrefix != "acme:" ||
		strings.Join(settings.Scopes, " ") != "email profile groups" || strings.Join(c.Domains, " ") != "acme.example corp.acme.example" {
		t.Errorf("stored %+v %+v", c, settings)
	}
	adfs, _ := inst.Store.GetConnector(ctx, "acme-adfs")
	if sm, _ := federation.DecodeSAML(adfs.Config, true); sm.MetadataURL != "https://idp.acme.example/md" || sm.Metadata != "" ||
		sm.EmailAttribute != "mail" || !sm.EmailVerified || adfs.Enabled {
		t.Errorf("stored saml %+v %+v", adfs, sm)
	}
	evs, _ := inst.Store.ListAuditEvents(ctx, storage.AuditQuery{Type: admin.AuditConnectorCreated})
	if len(evs) != 3 || !strings.HasPrefix(evs[0].ActorID, "cli:") {
		t.Errorf("audit %+v", evs)
	}
}

func TestLinksCommands(t *testing.T) {
	useFakeUpstreams(t)
	dir := filepath.Join(t.TempDir(), "data")
	d := []string{"--data-dir", dir}
	for _, args := range [][]string{
		{"migrate"},
		{"orgs", "create", "--name", "acme", "--domain", "acme.example"},
		{"users", "create", "--email", "ann@acme.example", "--org", "acme"},
	} {
		if r := runCLI(t, "", append(args, d...)...); r.code != 0 {
			t.Fatalf("%v: %d\n%s", args, r.code, r.errOut)
		}
	}
	if r := runCLI(t, "s3cret\n", append([]string{"connectors", "create", "--org", "acme", "--id", "okta", "--type", "oidc",
		"--issuer", "https://okta.example", "--client-id", "g", "--client-secret-stdin"}, d...)...); r.code != 0 {
		t.Fatalf("create: %s", r.errOut)
	}
	inst := openTestInstance(t, dir)
	u, err := inst.Store.GetUserByEmail(context.Background(), "ann@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := inst.Store.CreateLink(context.Background(), storage.Link{ConnectorID: "okta", Subject: "00u1", UserID: u.ID,
		Email: "ann@corp.example", CreatedAt: now, LastLoginAt: now}); err != nil {
		t.Fatal(err)
	}
	inst.Close()
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"links", "list", "--email", "ann@acme.example"}, 0, "okta       00u1     ann@corp.example"},
		{[]string{"links", "list", "--email", "ann@acme.example", "--json"}, 0, `"subject":"00u1"`},
		{[]string{"links", "list", "--email", "nobody@acme.example"}, 1, "no user with email"},
		{[]string{"links", "remove", "--email", "ann@acme.example", "--connector", "okta"}, 2, "--subject is required"},
		{[]string{"links", "remove", "--email", "ann@acme.example", "--connector", "okta", "--subject", "other"}, 1, "has no link"},
		{[]string{"links", "remove", "--email", "ann@acme.example", "--connector", "okta", "--subject", "00u1"}, 0, "removed the link"},
		{[]string{"links", "list", "--email", "ann@acme.example"}, 0, "CONNECTOR"},
	}
	for _, s := range steps {
		r := runCLI(t, "", append(s.args, d...)...)
		got := r.out
		if s.code != 0 {
			got = r.errOut
		}
		if r.code != s.code || !strings.Contains(got, s.want) {
			t.Fatalf("%v: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", s.args, r.code, s.code, r.out, r.errOut, s.want)
		}
	}
}

// TestConnectorInputsFromConfig: the file's connectors reach the
// reconciliation whole, and a SAML connector's SP key survives a restart.
func TestConnectorInputsFromConfig(t *testing.T) {
	f := useFakeUpstreams(t)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "s")
	md := filepath.Join(dir, "idp.xml")
	for path, content := range map[string]string{secretFile: "file-secret\n", md: testIdPMetadata} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	yaml := `dev: true
data_dir: ` + filepath.Join(dir, "data") + `
connectors:
  - id: okta
    org: default
    type: oidc
    domains: [default.example]
    trust_mfa: true
    enabled: false
    oidc:
      issuer: https://okta.example
      client_id: g
      client_secret_file: ` + secretFile + `
      scopes: [email]
  - id: adfs
    org: default
    type: saml
    saml:
      metadata_file: ` + md + `
      email_verified: true
`
	path := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := instance.ConnectorInputs(cfg)
	if len(got) != 2 || got[0].ClientSecret != "file-secret" || got[0].OIDC.Issuer != "https://okta.example" || !got[0].TrustMFA ||
		got[0].Enabled == nil || *got[0].Enabled || got[1].SAML.Metadata != testIdPMetadata || !got[1].SAML.EmailVerified || got[1].OIDC != nil {
		t.Fatalf("inputs %+v", got)
	}
	ctx := context.Background()
	var spCert string
	for start := range 2 {
		inst, err := instance.Open(ctx, cfg, withFederation(instance.Options{Logger: slog.New(slog.DiscardHandler)}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inst.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
		if err := inst.Start(ctx); err != nil {
			t.Fatalf("start %d: %v", start, err)
		}
		c, err := inst.Store.GetConnector(ctx, "adfs")
		inst.Close()
		if err != nil {
			t.Fatal(err)
		}
		var s federation.SAMLSettings
		_ = json.Unmarshal(c.Config, &s)
		if spCert != "" && s.SPCertificate != spCert {
			t.Fatal("a restart changed the SP certificate")
		}
		spCert = s.SPCertificate
	}
	if f.spKeys != 1 {
		t.Errorf("%d SP keys made over two starts", f.spKeys)
	}
	if r := runCLI(t, "", "connectors", "delete", "--id", "okta", "--config", path); r.code != 1 || !strings.Contains(r.errOut, "config file") {
		t.Errorf("deleting a config connector: %d\n%s", r.code, r.errOut)
	}
	if r := runCLI(t, "", "connectors", "list", "--config", path); r.code != 0 || !strings.Contains(r.out, "config") {
		t.Errorf("list: %d\n%s%s", r.code, r.out, r.errOut)
	}
}
