package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The connector types for instance.Options: nil is the built-in ones
// (instance.Openers, federation/saml's NewSPKey); tests set fakes.
var (
	connectorOpeners map[string]federation.Opener
	newSPKey         func(now time.Time) (certPEM string, keyDER []byte, err error)
)

// withFederation is opts with this build's connector types.
func withFederation(opts instance.Options) instance.Options {
	opts.Connectors, opts.NewSPKey = connectorOpeners, newSPKey
	return opts
}

// connectorFlags holds the flag values of the connectors and links
// commands. The settings flags fill federation's settings directly, so
// that the CLI declares no setting of its own.
type connectorFlags struct {
	in                            admin.ConnectorInput
	oidc                          federation.OIDCSettings
	saml                          federation.SAMLSettings
	scopes                        string
	metadataFile, certificateFile string
	secretStdin                   bool
	disabled, enable, disable     bool
	connector, subject            string
}

// Flags that belong to one connector type.
var (
	oidcFlags = []string{"issuer", "client-id", "client-secret-stdin", "scopes", "email-claim", "groups-claim"}
	samlFlags = []string{"metadata-url", "metadata-file", "certificate-file", "email-attribute", "groups-attribute", "email-verified"}
)

const connectorsCreateUsage = "--org ORG --id ID --type oidc --issuer URL --client-id CID --client-secret-stdin " +
	"[--domain DOMAIN]... [--name NAME] [--trust-email] [--trust-mfa] [--jit] [--require-sso] [--disabled] " +
	"[--scopes \"a b\"] [--email-claim C] [--groups-claim C] [--groups-prefix P] | " +
	"--type saml (--metadata-url URL | --metadata-file FILE) [--certificate-file PEM] [--email-attribute A] " +
	"[--groups-attribute A] [--groups-prefix P] [--email-verified]"

const connectorsUpdateUsage = "--id ID [--enable | --disable] [--name NAME] [--domain DOMAIN]... " +
	"[--trust-email=true|false] [--trust-mfa=…] [--jit=…] [--require-sso=…] [--client-secret-stdin] [a setting of create]..."

func connectorCommands() []command {
	return []command{
		{name: "connectors create", summary: "add an organization's company sign-in (an upstream OIDC provider or SAML IdP)",
			usage: connectorsCreateUsage, run: runConnectorsCreate, flags: connectorsCreateFlags},
		{name: "connectors list", summary: "list upstream connectors", usage: "[--org ORG] [--json]", run: runConnectorsList,
			flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.org, "org", "", "only this organization")
				fs.BoolVar(&c.asJSON, "json", false, "print JSON lines")
			}},
		{name: "connectors show", summary: "show a connector's settings and URLs (never its secret)", usage: "--id ID [--json]",
			run: runConnectorsShow, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				connectorIDFlag(fs, c)
				fs.BoolVar(&c.asJSON, "json", false, "print JSON")
			}},
		{name: "connectors update", summary: "change a connector (each flag given changes one setting)", usage: connectorsUpdateUsage,
			run: runConnectorsUpdate, flags: connectorsUpdateFlags},
		{name: "connectors delete", summary: "delete a connector and its users' links to it", usage: "--id ID",
			run: runConnectorsDelete, flags: connectorIDFlag},
		{name: "connectors test", summary: "check a connector's upstream and print what is wrong", usage: "--id ID",
			run: runConnectorsTest, flags: connectorIDFlag},
		{name: "links list", summary: "list a user's links to upstream identities", usage: "--email EMAIL [--json]",
			run: runLinksList, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.email, "email", "", "the user's email address (required)")
				fs.BoolVar(&c.asJSON, "json", false, "print JSON lines")
			}},
		{name: "links remove", summary: "unlink an upstream identity from a user", usage: "--email EMAIL --connector ID --subject SUBJECT",
			run: runLinksRemove, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.email, "email", "", "the user's email address (required)")
				fs.StringVar(&c.conn.connector, "connector", "", "the connector's id (required)")
				fs.StringVar(&c.conn.subject, "subject", "", "the upstream subject, as links list shows it (required)")
			}},
	}
}

func connectorIDFlag(fs *flag.FlagSet, c *cmdEnv) {
	fs.StringVar(&c.conn.in.ID, "id", "", "connector id (required)")
}

func connectorsCreateFlags(fs *flag.FlagSet, c *cmdEnv) {
	in := &c.conn.in
	fs.StringVar(&in.Org, "org", "", "the organization's name (required)")
	fs.StringVar(&in.Type, "type", "", "oidc or saml (required)")
	fs.BoolVar(&c.conn.disabled, "disabled", false, "create it disabled (default: enabled)")
	connectorSettingFlags(fs, c)
}

func connectorsUpdateFlags(fs *flag.FlagSet, c *cmdEnv) {
	fs.BoolVar(&c.conn.enable, "enable", false, "turn the connector on")
	fs.BoolVar(&c.conn.disable, "disable", false, "turn it off: it starts no login and the tokens of its logins stop working")
	connectorSettingFlags(fs, c)
}

// connectorSettingFlags are shared by create and update; on update a
// repeatable flag given once or more replaces the whole list.
func connectorSettingFlags(fs *flag.FlagSet, c *cmdEnv) {
	in, o, s := &c.conn.in, &c.conn.oidc, &c.conn.saml
	connectorIDFlag(fs, c)
	fs.StringVar(&in.Name, "name", "", "what the login pages call it (default: the organization's display name)")
	fs.Var((*multiFlag)(&in.Domains), "domain", "email domain whose users sign in here (repeatable); the organization's, or one no organization has (an admin's call adds it to the organization)")
	fs.BoolVar(&in.TrustEmail, "trust-email", false, "link a first login to the local account with the same email when both are verified")
	fs.BoolVar(&in.TrustMFA, "trust-mfa", false, "a second factor the upstream reports satisfies the organization's MFA policy")
	fs.BoolVar(&in.JIT, "jit", false, "a first login whose email matches no account creates one")
	fs.BoolVar(&in.RequireSSO, "require-sso", false, "users of these domains may not sign in with a password")
	fs.StringVar(&o.Issuer, "issuer", "", "oidc: the upstream's issuer URL (https)")
	fs.StringVar(&o.ClientID, "client-id", "", "oidc: Gatehouse's client id at the upstream")
	fs.BoolVar(&c.conn.secretStdin, "client-secret-stdin", false, "oidc: read the client secret from standard input (stored sealed)")
	fs.StringVar(&c.conn.scopes, "scopes", "", `oidc: scopes besides openid, space-separated (default "email profile")`)
	fs.StringVar(&o.EmailClaim, "email-claim", "", "oidc: the claim with the email (default email)")
	fs.StringVar(&o.GroupsClaim, "groups-claim", "", "oidc: the claim with the groups (default groups)")
	fs.StringVar(&c.conn.oidc.GroupsPrefix, "groups-prefix", "", `put before every upstream group in Gatehouse's tokens ("acme:")`)
	fs.StringVar(&s.MetadataURL, "metadata-url", "", "saml: the IdP's metadata URL (https)")
	fs.StringVar(&c.conn.metadataFile, "metadata-file", "", "saml: the IdP's metadata XML, stored as it is now")
	fs.StringVar(&c.conn.certificateFile, "certificate-file", "", "saml: pin the IdP's signing certificate (PEM)")
	fs.StringVar(&s.EmailAttribute, "email-attribute", "", "saml: the attribute with the email")
	fs.StringVar(&s.GroupsAttribute, "groups-attribute", "", "saml: the attribute with the groups")
	fs.BoolVar(&s.EmailVerified, "email-verified", false, "saml: the email attribute is the verified corporate address")
}

// checkTypeFlags refuses flags of the other connector type, so that a
// --metadata-url given to an OIDC connector is not silently ignored.
func checkTypeFlags(typ string, set map[string]bool) error {
	var other []string
	switch typ {
	case storage.ConnectorOIDC:
		other = samlFlags
	case storage.ConnectorSAML:
		other = oidcFlags
	}
	for _, f := range other {
		if set[f] {
			return fmt.Errorf("%w: --%s does not apply to a %s connector", errUsage, f, typ)
		}
	}
	return nil
}

// readFlagFile reads a file a flag names, at most max bytes (beyond is
// refused by the service's own limit).
func readFlagFile(flagName, path string, max int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--%s: %w", flagName, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return "", fmt.Errorf("--%s: %w", flagName, err)
	}
	return string(b), nil
}

// connectorSettings fills the settings the flags name: the files read, the
// scopes split, the secret read from standard input.
func (c *cmdEnv) connectorSettings() error {
	cf := &c.conn
	cf.oidc.Scopes = strings.Fields(cf.scopes)
	cf.saml.GroupsPrefix = cf.oidc.GroupsPrefix
	var err error
	if cf.metadataFile != "" {
		if cf.saml.Metadata, err = readFlagFile("metadata-file", cf.metadataFile, admin.MaxSAMLMetadata); err != nil {
			return err
		}
	}
	if cf.certificateFile != "" {
		if cf.saml.Certificate, err = readFlagFile("certificate-file", cf.certificateFile, 64<<10); err != nil {
			return err
		}
	}
	if cf.secretStdin {
		if cf.in.ClientSecret, err = readConnectorSecret(c.io.in); err != nil {
			return err
		}
	}
	return nil
}

func readConnectorSecret(r io.Reader) (string, error) {
	s, err := readClientSecret(r)
	if err != nil {
		return "", errors.New(strings.ReplaceAll(err.Error(), "--secret-stdin", "--client-secret-stdin"))
	}
	return s, nil
}

func runConnectorsCreate(ctx context.Context, c *cmdEnv) error {
	in := &c.conn.in
	for _, req := range []struct{ flag, v string }{{"org", in.Org}, {"id", in.ID}, {"type", in.Type}} {
		if req.v == "" {
			return fmt.Errorf("%w: --%s is required", errUsage, req.flag)
		}
	}
	if err := checkTypeFlags(in.Type, c.set); err != nil {
		return err
	}
	if c.set["metadata-url"] && c.set["metadata-file"] {
		return fmt.Errorf("%w: give --metadata-url or --metadata-file, not both", errUsage)
	}
	if in.Type == storage.ConnectorOIDC && !c.conn.secretStdin {
		return fmt.Errorf("%w: an oidc connector needs --client-secret-stdin (the secret its upstream issued)", errUsage)
	}
	if err := c.connectorSettings(); err != nil {
		return err
	}
	switch in.Type {
	case storage.ConnectorOIDC:
		in.OIDC = &c.conn.oidc
	case storage.ConnectorSAML:
		in.SAML = &c.conn.saml
	}
	if c.conn.disabled {
		in.Enabled = ptrTo(false)
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	res, err := inst.Admin.CreateConnector(ctx, admin.Everyone, actor(), *in)
	if err != nil {
		return inputOrErr(err)
	}
	printCreated(c.io.out, res, in.Org)
	return nil
}

// printCreated says what was made and what to give the upstream's
// administrators.
func printCreated(w io.Writer, res admin.CreatedConnector, org string) {
	cn := res.Connector
	state := "enabled"
	if !cn.Enabled {
		state = "disabled"
	}
	fmt.Fprintf(w, "created %s connector %s for organization %s (%s)\n", cn.Type, cn.ID, org, state)
	for _, d := range res.ClaimedDomains {
		fmt.Fprintf(w, "added domain %s to organization %s\n", d, org)
	}
	if cn.Type == storage.ConnectorSAML {
		fmt.Fprintf(w, "Give your identity provider these:\n  SP metadata URL (entity ID): %s\n  ACS URL: %s\n", res.URLs.Metadata, res.URLs.ACS)
	} else {
		fmt.Fprintf(w, "Give your identity provider this redirect URI: %s\n", res.URLs.Callback)
	}
	fmt.Fprintf(w, "Check it with: gatehouse connectors test --id %s\n", cn.ID)
}

func ptrTo[T any](v T) *T { return &v }

func runConnectorsList(ctx context.Context, c *cmdEnv) error {
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	cs, err := inst.Admin.ListConnectors(ctx, admin.Everyone, c.org)
	if err != nil {
		return inputOrErr(err)
	}
	l := newListing(c, "ID\tORG\tTYPE\tNAME\tENABLED\tDOMAINS\tSOURCE")
	for _, i := range cs {
		v := admin.ViewConnector(i)
		if err := l.add(v, v.ID, v.Org, v.Type, v.Name, yesNo(v.Enabled), orNone(strings.Join(v.Domains, ",")), v.Source); err != nil {
			return err
		}
	}
	return l.flush()
}

func (c *cmdEnv) requireConnectorID() error {
	if c.conn.in.ID == "" {
		return fmt.Errorf("%w: --id is required", errUsage)
	}
	return nil
}

func runConnectorsShow(ctx context.Context, c *cmdEnv) error {
	if err := c.requireConnectorID(); err != nil {
		return err
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	i, err := inst.Admin.GetConnector(ctx, admin.Everyone, c.conn.in.ID)
	if err != nil {
		return inputOrErr(err)
	}
	v := admin.ViewConnector(i)
	if c.asJSON {
		return writeJSON(c.io.out, v)
	}
	return printConnector(c.io.out, v)
}

func printConnector(w io.Writer, v admin.ConnectorView) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, val string) { fmt.Fprintf(tw, "%s\t%s\n", k, val) }
	row("id", v.ID)
	row("organization", v.Org)
	row("type", v.Type)
	row("name", v.Name)
	row("enabled", yesNo(v.Enabled))
	row("domains", orNone(strings.Join(v.Domains, ", ")))
	row("trust email", yesNo(v.TrustEmail))
	row("trust mfa", yesNo(v.TrustMFA))
	row("jit provisioning", yesNo(v.JIT))
	row("require sso", yesNo(v.RequireSSO))
	if o := v.OIDC; o != nil {
		row("issuer", o.Issuer)
		row("client id", o.ClientID)
		row("client secret", setOrNone(v.HasSecret, "set (sealed)"))
		row("scopes", orNone(strings.Join(o.Scopes, " ")))
		row("redirect URI", v.URLs.RedirectURI)
	}
	if s := v.SAML; s != nil {
		metadata := s.MetadataURL
		if s.MetadataInline {
			metadata = "stored (read from a file)"
		}
		row("metadata", metadata)
		row("pinned certificate", yesNo(s.Certificate != ""))
		row("email verified", yesNo(s.EmailVerified))
		row("SP metadata URL (entity ID)", v.URLs.Metadata)
		row("ACS URL", v.URLs.ACS)
	}
	if v.Invalid != "" {
		row("settings", v.Invalid)
	}
	row("source", v.Source)
	row("created", stamp(v.CreatedAt))
	row("updated", stamp(v.UpdatedAt))
	return tw.Flush()
}

func setOrNone(set bool, what string) string {
	if set {
		return what
	}
	return "none"
}

func runConnectorsDelete(ctx context.Context, c *cmdEnv) error {
	if err := c.requireConnectorID(); err != nil {
		return err
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	if err := inst.Admin.DeleteConnector(ctx, admin.Everyone, actor(), c.conn.in.ID); err != nil {
		return inputOrErr(err)
	}
	fmt.Fprintf(c.io.out, "deleted connector %s and its links\n", c.conn.in.ID)
	return nil
}

func runConnectorsTest(ctx context.Context, c *cmdEnv) error {
	if err := c.requireConnectorID(); err != nil {
		return err
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	ps, err := inst.Admin.TestConnector(ctx, admin.Everyone, c.conn.in.ID)
	if err != nil {
		return inputOrErr(err)
	}
	if len(ps) == 0 {
		fmt.Fprintln(c.io.out, "OK: no problems found")
		return nil
	}
	for _, p := range ps {
		fmt.Fprintf(c.io.out, "problem: %s\n", p.Message)
	}
	// The problems are printed: the error only makes the exit status
	// say so.
	if len(ps) == 1 {
		return errors.New("1 problem found")
	}
	return fmt.Errorf("%d problems found", len(ps))
}

func runConnectorsUpdate(ctx context.Context, c *cmdEnv) error {
	if err := c.requireConnectorID(); err != nil {
		return err
	}
	if c.conn.enable && c.conn.disable {
		return fmt.Errorf("%w: --enable and --disable exclude each other", errUsage)
	}
	if err := c.connectorSettings(); err != nil {
		return err
	}
	ch := c.connectorChange()
	if ch.Empty() {
		return fmt.Errorf("%w: give at least one setting to change", errUsage)
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	cur, err := inst.Admin.GetConnector(ctx, admin.Everyone, c.conn.in.ID)
	if err != nil {
		return inputOrErr(err)
	}
	if err := checkTypeFlags(cur.Connector.Type, c.set); err != nil {
		return err
	}
	i, err := inst.Admin.UpdateConnector(ctx, admin.Everyone, actor(), c.conn.in.ID, ch)
	if err != nil {
		return inputOrErr(err)
	}
	state := "enabled"
	if !i.Connector.Enabled {
		state = "disabled"
	}
	fmt.Fprintf(c.io.out, "updated connector %s (%s)\n", i.Connector.ID, state)
	return nil
}

// connectorChange is the change the command line asks for: every flag
// given, and only those.
func (c *cmdEnv) connectorChange() admin.ConnectorChange {
	cf, set := &c.conn, c.set
	var ch admin.ConnectorChange
	if set["name"] {
		ch.Name = &cf.in.Name
	}
	if set["domain"] {
		ch.Domains = &cf.in.Domains
	}
	for flagName, f := range map[string]struct {
		to   **bool
		from *bool
	}{"trust-email": {&ch.TrustEmail, &cf.in.TrustEmail}, "trust-mfa": {&ch.TrustMFA, &cf.in.TrustMFA},
		"jit": {&ch.JIT, &cf.in.JIT}, "require-sso": {&ch.RequireSSO, &cf.in.RequireSSO}} {
		if set[flagName] {
			*f.to = f.from
		}
	}
	if cf.enable || cf.disable {
		ch.Enabled = ptrTo(cf.enable)
	}
	if cf.secretStdin {
		ch.ClientSecret = &cf.in.ClientSecret
	}
	given := cf.oidc
	if edits := oidcEdits(given, set); len(edits) > 0 {
		ch.EditOIDC = func(o *federation.OIDCSettings) {
			for _, e := range edits {
				e(o)
			}
		}
	}
	if edits := samlEdits(cf.saml, set); len(edits) > 0 {
		ch.EditSAML = func(s *federation.SAMLSettings) {
			for _, e := range edits {
				e(s)
			}
		}
	}
	return ch
}

// oidcEdits are the changes of the OIDC settings flags given.
func oidcEdits(given federation.OIDCSettings, set map[string]bool) []func(*federation.OIDCSettings) {
	return editsGiven(set, map[string]func(*federation.OIDCSettings){
		"issuer":        func(o *federation.OIDCSettings) { o.Issuer = given.Issuer },
		"client-id":     func(o *federation.OIDCSettings) { o.ClientID = given.ClientID },
		"scopes":        func(o *federation.OIDCSettings) { o.Scopes = given.Scopes },
		"email-claim":   func(o *federation.OIDCSettings) { o.EmailClaim = given.EmailClaim },
		"groups-claim":  func(o *federation.OIDCSettings) { o.GroupsClaim = given.GroupsClaim },
		"groups-prefix": func(o *federation.OIDCSettings) { o.GroupsPrefix = given.GroupsPrefix },
	})
}

// samlEdits are the changes of the SAML settings flags given. Naming the
// metadata anew (by URL or file) drops the other source (the service's
// rule).
func samlEdits(given federation.SAMLSettings, set map[string]bool) []func(*federation.SAMLSettings) {
	return editsGiven(set, map[string]func(*federation.SAMLSettings){
		"metadata-url":     func(s *federation.SAMLSettings) { s.MetadataURL = given.MetadataURL },
		"metadata-file":    func(s *federation.SAMLSettings) { s.Metadata = given.Metadata },
		"certificate-file": func(s *federation.SAMLSettings) { s.Certificate = given.Certificate },
		"email-attribute":  func(s *federation.SAMLSettings) { s.EmailAttribute = given.EmailAttribute },
		"groups-attribute": func(s *federation.SAMLSettings) { s.GroupsAttribute = given.GroupsAttribute },
		"email-verified":   func(s *federation.SAMLSettings) { s.EmailVerified = given.EmailVerified },
		"groups-prefix":    func(s *federation.SAMLSettings) { s.GroupsPrefix = given.GroupsPrefix },
	})
}

// editsGiven are the edits of the flags set names.
func editsGiven[T any](set map[string]bool, edits map[string]func(*T)) []func(*T) {
	var out []func(*T)
	for flagName, e := range edits {
		if set[flagName] {
			out = append(out, e)
		}
	}
	return out
}

func runLinksList(ctx context.Context, c *cmdEnv) error {
	if c.email == "" {
		return fmt.Errorf("%w: --email is required", errUsage)
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	ls, err := inst.Admin.ListLinks(ctx, admin.Everyone, c.email)
	if err != nil {
		return inputOrErr(err)
	}
	l := newListing(c, "CONNECTOR\tSUBJECT\tUPSTREAM EMAIL\tLINKED\tLAST SIGN-IN")
	for _, i := range ls {
		v := admin.ViewLink(i)
		if err := l.add(v, v.Connector, v.Subject, orNone(v.Email), stamp(v.CreatedAt), stamp(v.LastLoginAt)); err != nil {
			return err
		}
	}
	return l.flush()
}

func runLinksRemove(ctx context.Context, c *cmdEnv) error {
	for _, req := range []struct{ flag, v string }{{"email", c.email}, {"connector", c.conn.connector}, {"subject", c.conn.subject}} {
		if req.v == "" {
			return fmt.Errorf("%w: --%s is required", errUsage, req.flag)
		}
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	if err := inst.Admin.RemoveLink(ctx, admin.Everyone, actor(), c.email, c.conn.connector, c.conn.subject); err != nil {
		return inputOrErr(err)
	}
	fmt.Fprintf(c.io.out, "removed the link of %s to %s at connector %s\n", c.email, c.conn.subject, c.conn.connector)
	return nil
}
