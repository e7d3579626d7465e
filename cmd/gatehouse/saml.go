package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/samlidp/spmeta"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// spFlags holds the values of the saml sps commands' flags. The
// settings fill an admin.SPInput directly; files are read before storage
// is opened.
type spFlags struct {
	in                admin.SPInput
	metadataFile      string
	signerFile        string
	attributes        multiFlag
	attributeFormat   string
	alsoNameIDFormats multiFlag
}

const samlSPsCreateUsage = "--metadata-url URL | --metadata-file FILE [--entity-id ID] [--name NAME] " +
	"[--nameid-format persistent|emailAddress|transient|unspecified] [--also-nameid-format F]... " +
	"[--attribute SOURCE=NAME]... [--attribute-name-format uri|basic|unspecified] [--allow-idp-initiated] " +
	"[--default-relay-state URL] [--sign-response] [--encrypt-assertions] [--require-signed-requests] [--require-mfa] " +
	"[--metadata-signer-file PEM]"

const samlSPsUpdateUsage = "--entity-id ID [any flag of create; a repeatable flag given replaces its whole list]"

func samlSPSettingFlags(fs *flag.FlagSet, c *cmdEnv) {
	in, f := &c.saml.in, &c.saml
	fs.StringVar(&in.EntityID, "entity-id", "", "the provider's entity id (create: optional, checked against the metadata)")
	fs.StringVar(&in.Name, "name", "", "name shown to users (default: the entity id)")
	fs.StringVar(&in.MetadataURL, "metadata-url", "", "https URL of the provider's metadata; fetched now and again every saml.metadata_refresh")
	fs.StringVar(&f.metadataFile, "metadata-file", "", `file with the provider's metadata ("-" reads standard input)`)
	fs.StringVar(&f.signerFile, "metadata-signer-file", "", "PEM certificate that must sign the metadata")
	fs.StringVar(&in.NameIDFormat, "nameid-format", "", "NameID given when the request names none: "+strings.Join(storage.SAMLNameIDFormats, ", ")+
		" (default persistent: a stable opaque id per application)")
	fs.Var(&f.alsoNameIDFormats, "also-nameid-format", "another NameID format the application may ask for (repeatable)")
	fs.Var(&f.attributes, "attribute", "an attribute: SOURCE=NAME, SOURCE one of "+strings.Join(storage.SAMLAttributeSources, ", ")+
		" (repeatable; default: mail, displayName, givenName, sn, isMemberOf, o as URI names)")
	fs.StringVar(&f.attributeFormat, "attribute-name-format", "", "NameFormat of the --attribute names: uri (default), basic or unspecified")
	fs.BoolVar(&in.AllowIdPInitiated, "allow-idp-initiated", false, "let users start a sign-in from Gatehouse (My apps, /saml/init)")
	fs.StringVar(&in.DefaultRelayState, "default-relay-state", "", "RelayState of IdP-initiated sign-ins (where the application lands)")
	fs.BoolVar(&in.SignResponse, "sign-response", false, "sign the Response as well as the assertion")
	fs.BoolVar(&in.EncryptAssertions, "encrypt-assertions", false, "encrypt assertions to the metadata's encryption certificate")
	fs.BoolVar(&in.RequireSignedRequests, "require-signed-requests", false, "refuse unsigned AuthnRequests and LogoutRequests")
	fs.BoolVar(&in.RequireMFA, "require-mfa", false, "require a second factor for every sign-in to it")
}

func samlEntityFlag(fs *flag.FlagSet, c *cmdEnv) {
	fs.StringVar(&c.saml.in.EntityID, "entity-id", "", "the provider's entity id (required)")
}

// readSAMLFiles reads --metadata-file and --metadata-signer-file and
// parses --attribute into the input.
func (c *cmdEnv) readSAMLFiles() error {
	f := &c.saml
	if f.metadataFile != "" {
		if f.in.MetadataURL != "" {
			return fmt.Errorf("%w: --metadata-url and --metadata-file exclude each other", errUsage)
		}
		b, err := readFileOrStdin(f.metadataFile, c.io.in, spmeta.MaxSize)
		if err != nil {
			return fmt.Errorf("--metadata-file: %w", err)
		}
		f.in.Metadata = b
	}
	if f.signerFile != "" {
		b, err := readFileOrStdin(f.signerFile, nil, 64<<10)
		if err != nil {
			return fmt.Errorf("--metadata-signer-file: %w", err)
		}
		f.in.MetadataSigner = string(b)
	}
	for _, a := range f.attributes {
		src, name, ok := strings.Cut(a, "=")
		if !ok || src == "" || name == "" {
			return fmt.Errorf("%w: --attribute %q: want SOURCE=NAME", errUsage, a)
		}
		f.in.Attributes = append(f.in.Attributes, storage.SAMLAttribute{Source: src, Name: name, NameFormat: f.attributeFormat})
	}
	f.in.NameIDFormats = f.alsoNameIDFormats
	return nil
}

func readFileOrStdin(path string, stdin io.Reader, max int64) ([]byte, error) {
	var r io.Reader
	if path == "-" && stdin != nil {
		r = stdin
	} else {
		fh, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		r = fh
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}

func runSAMLSPsCreate(ctx context.Context, c *cmdEnv) error {
	if err := c.readSAMLFiles(); err != nil {
		return err
	}
	if c.saml.in.MetadataURL == "" && len(c.saml.in.Metadata) == 0 {
		return fmt.Errorf("%w: --metadata-url or --metadata-file is required", errUsage)
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	sp, err := inst.Admin.CreateServiceProvider(ctx, actor(), c.saml.in)
	if err != nil {
		return inputOrErr(err)
	}
	fmt.Fprintf(c.io.out, "registered SAML service provider %s\n", sp.EntityID)
	return printSP(c.io.out, admin.ViewServiceProvider(sp))
}

func runSAMLSPsUpdate(ctx context.Context, c *cmdEnv) error {
	if err := c.requireEntityID(); err != nil {
		return err
	}
	id := c.saml.in.EntityID
	if err := c.readSAMLFiles(); err != nil {
		return err
	}
	given := c.saml.in
	edits := map[string]func(in *admin.SPInput){
		"name":                    func(in *admin.SPInput) { in.Name = given.Name },
		"metadata-url":            func(in *admin.SPInput) { in.MetadataURL, in.Metadata = given.MetadataURL, nil },
		"metadata-file":           func(in *admin.SPInput) { in.Metadata, in.MetadataURL = given.Metadata, "" },
		"metadata-signer-file":    func(in *admin.SPInput) { in.MetadataSigner = given.MetadataSigner },
		"nameid-format":           func(in *admin.SPInput) { in.NameIDFormat = given.NameIDFormat },
		"also-nameid-format":      func(in *admin.SPInput) { in.NameIDFormats = given.NameIDFormats },
		"attribute":               func(in *admin.SPInput) { in.Attributes = given.Attributes },
		"allow-idp-initiated":     func(in *admin.SPInput) { in.AllowIdPInitiated = given.AllowIdPInitiated },
		"default-relay-state":     func(in *admin.SPInput) { in.DefaultRelayState = given.DefaultRelayState },
		"sign-response":           func(in *admin.SPInput) { in.SignResponse = given.SignResponse },
		"encrypt-assertions":      func(in *admin.SPInput) { in.EncryptAssertions = given.EncryptAssertions },
		"require-signed-requests": func(in *admin.SPInput) { in.RequireSignedRequests = given.RequireSignedRequests },
		"require-mfa":             func(in *admin.SPInput) { in.RequireMFA = given.RequireMFA },
	}
	var chosen []func(*admin.SPInput)
	for name, edit := range edits {
		if c.set[name] {
			chosen = append(chosen, edit)
		}
	}
	if len(chosen) == 0 {
		return fmt.Errorf("%w: give at least one setting to change", errUsage)
	}
	apply := func(in *admin.SPInput) {
		for _, edit := range chosen {
			edit(in)
		}
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	sp, err := inst.Admin.UpdateServiceProvider(ctx, actor(), id, apply)
	if err != nil {
		return inputOrErr(err)
	}
	fmt.Fprintf(c.io.out, "updated SAML service provider %s\n", sp.EntityID)
	return printSP(c.io.out, admin.ViewServiceProvider(sp))
}

func (c *cmdEnv) requireEntityID() error {
	if c.saml.in.EntityID == "" {
		return fmt.Errorf("%w: --entity-id is required", errUsage)
	}
	return nil
}

func runSAMLSPsList(ctx context.Context, c *cmdEnv) error {
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	sps, err := inst.Admin.ListServiceProviders(ctx)
	if err != nil {
		return err
	}
	l := newListing(c, "ENTITY ID\tNAME\tSOURCE\tNAMEID\tIDP-INITIATED\tMETADATA")
	for _, sp := range sps {
		v := admin.ViewServiceProvider(sp)
		md := "file"
		if v.MetadataURL != "" {
			md = v.MetadataURL
			if v.MetadataError != "" {
				md += " (last fetch failed)"
			}
		}
		if err := l.add(v, v.EntityID, orNone(v.Name), v.Source, strings.Join(v.NameIDFormats, ","), yesNo(v.AllowIdPInitiated), md); err != nil {
			return err
		}
	}
	return l.flush()
}

func runSAMLSPsShow(ctx context.Context, c *cmdEnv) error {
	if err := c.requireEntityID(); err != nil {
		return err
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	sp, err := inst.Admin.GetServiceProvider(ctx, c.saml.in.EntityID)
	if err != nil {
		return inputOrErr(err)
	}
	if c.asJSON {
		return writeJSON(c.io.out, admin.ViewServiceProvider(sp))
	}
	return printSP(c.io.out, admin.ViewServiceProvider(sp))
}

func printSP(w io.Writer, v admin.SPView) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, val string) { fmt.Fprintf(tw, "%s\t%s\n", k, val) }
	row("entity id", v.EntityID)
	row("name", orNone(v.Name))
	row("source", v.Source)
	row("ACS URLs", strings.Join(v.ACS, " "))
	row("single logout", yesNo(v.SingleLogout))
	row("NameID formats", strings.Join(v.NameIDFormats, ", ")+" (the first is the default)")
	attrs := "the defaults (mail, displayName, givenName, sn, isMemberOf, o)"
	if len(v.Attributes) > 0 {
		var parts []string
		for _, a := range v.Attributes {
			parts = append(parts, a.Source+"="+a.Name)
		}
		attrs = strings.Join(parts, ", ")
	}
	row("attributes", attrs)
	row("IdP-initiated", yesNo(v.AllowIdPInitiated))
	if v.DefaultRelayState != "" {
		row("default RelayState", v.DefaultRelayState)
	}
	row("sign response", yesNo(v.SignResponse))
	row("encrypt assertions", yesNo(v.EncryptAssertions))
	row("require signed requests", yesNo(v.RequireSigned))
	row("require MFA", yesNo(v.RequireMFA))
	if v.MetadataURL != "" {
		row("metadata URL", v.MetadataURL)
		if v.MetadataFetchedAt != nil {
			row("metadata fetched", v.MetadataFetchedAt.UTC().Format(time.RFC3339))
		}
		row("metadata signer", setOrNone(v.MetadataSigned, "pinned"))
		if v.MetadataError != "" {
			row("last fetch error", v.MetadataError)
		}
	}
	return tw.Flush()
}

func runSAMLSPsDelete(ctx context.Context, c *cmdEnv) error {
	if err := c.requireEntityID(); err != nil {
		return err
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	if err := inst.Admin.DeleteServiceProvider(ctx, actor(), c.saml.in.EntityID); err != nil {
		return inputOrErr(err)
	}
	fmt.Fprintf(c.io.out, "deleted SAML service provider %s\n", c.saml.in.EntityID)
	return nil
}

func runSAMLSPsRefresh(ctx context.Context, c *cmdEnv) error {
	if err := c.requireEntityID(); err != nil {
		return err
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	changed, err := inst.Admin.RefreshServiceProvider(ctx, actor(), c.saml.in.EntityID)
	if err != nil {
		return inputOrErr(err)
	}
	if changed {
		fmt.Fprintf(c.io.out, "refreshed the metadata of %s: it changed\n", c.saml.in.EntityID)
	} else {
		fmt.Fprintf(c.io.out, "refreshed the metadata of %s: unchanged\n", c.saml.in.EntityID)
	}
	return nil
}

func runSAMLMetadata(ctx context.Context, c *cmdEnv) error {
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	md, err := inst.SAMLMetadata(ctx)
	if err != nil {
		return err
	}
	_, err = c.io.out.Write(md)
	return err
}

func samlCommands() []command {
	return []command{
		{name: "saml metadata", summary: "print the SAML IdP's metadata (also served at ISSUER/saml/metadata), to give to applications",
			run: runSAMLMetadata},
		{name: "saml sps create", summary: "register a SAML application (service provider) from its metadata", usage: samlSPsCreateUsage,
			run: runSAMLSPsCreate, flags: samlSPSettingFlags},
		{name: "saml sps update", summary: "change a SAML application's settings or metadata", usage: samlSPsUpdateUsage,
			run: runSAMLSPsUpdate, flags: samlSPSettingFlags},
		{name: "saml sps list", summary: "list SAML applications", usage: "[--json]", run: runSAMLSPsList,
			flags: func(fs *flag.FlagSet, c *cmdEnv) { fs.BoolVar(&c.asJSON, "json", false, "print JSON lines") }},
		{name: "saml sps show", summary: "show a SAML application", usage: "--entity-id ID [--json]", run: runSAMLSPsShow,
			flags: func(fs *flag.FlagSet, c *cmdEnv) {
				samlEntityFlag(fs, c)
				fs.BoolVar(&c.asJSON, "json", false, "print JSON")
			}},
		{name: "saml sps delete", summary: "delete a SAML application", usage: "--entity-id ID", run: runSAMLSPsDelete, flags: samlEntityFlag},
		{name: "saml sps refresh", summary: "fetch a SAML application's metadata from its URL now", usage: "--entity-id ID",
			run: runSAMLSPsRefresh, flags: samlEntityFlag},
	}
}
