package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// maxMetadataFile bounds saml.metadata_file: an IdP's metadata is tens of
// KiB; the admin rules refuse more than 512 KiB.
const maxMetadataFile = 1 << 20

// Connector is an organization's upstream identity provider declared in
// the config file. Declared connectors are reconciled on every start:
// created or updated to match, and deleted (with their links) when they
// leave the file; connectors created with the CLI or the admin API are
// left alone. A declared SAML connector's SP key pair is made when it is
// first created and kept across restarts.
//
// Connector is only the file's shape. Validate applies what concerns the
// file's entries as such (ids present and unique, the type and its block,
// federation's settings rules with the dev flag, the client secret, one
// metadata source); the reconciliation at start applies the rest of
// idp/admin's rules (the id's form, the organization, the domains) and
// reports every problem before anything changes. Lists of connectors have
// no GATEHOUSE_* variables, like every list of structs: they are
// configured in the file.
type Connector struct {
	ID string `yaml:"id"`
	// Org is the organization's name; it must exist (gatehouse orgs
	// create).
	Org  string `yaml:"org"`
	Type string `yaml:"type"` // oidc or saml
	Name string `yaml:"name"`
	// Domains are the email domains whose users sign in here; each must
	// be the organization's or no organization's (it is then added).
	Domains    []string `yaml:"domains"`
	TrustEmail bool     `yaml:"trust_email"`
	TrustMFA   bool     `yaml:"trust_mfa"`
	JIT        bool     `yaml:"jit"`
	RequireSSO bool     `yaml:"require_sso"`
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled"`
	// OIDC or SAML, matching Type, holds the type's settings.
	OIDC *ConnectorOIDC `yaml:"oidc"`
	SAML *ConnectorSAML `yaml:"saml"`
}

// ConnectorOIDC is an upstream OIDC provider (federation.OIDCSettings).
type ConnectorOIDC struct {
	Issuer   string `yaml:"issuer"`
	ClientID string `yaml:"client_id"`
	// ClientSecret is stored sealed with the master key.
	ClientSecret       Secret   `yaml:"client_secret" secret:"client_secret_file"`
	ClientSecretFile   string   `yaml:"client_secret_file"`
	Scopes             []string `yaml:"scopes"`
	EmailClaim         string   `yaml:"email_claim"`
	EmailVerifiedClaim string   `yaml:"email_verified_claim"`
	NameClaim          string   `yaml:"name_claim"`
	GroupsClaim        string   `yaml:"groups_claim"`
	GroupsPrefix       string   `yaml:"groups_prefix"`
	MFAValues          []string `yaml:"mfa_values"`
}

// ConnectorSAML is an upstream SAML IdP (federation.SAMLSettings). Its
// metadata is metadata_url (fetched again when it expires), or the XML
// itself, inline or read at load from metadata_file; certificate (or
// certificate_file) pins the IdP's signing certificate.
type ConnectorSAML struct {
	MetadataURL     string   `yaml:"metadata_url"`
	Metadata        string   `yaml:"metadata"`
	MetadataFile    string   `yaml:"metadata_file"`
	Certificate     string   `yaml:"certificate"`
	CertificateFile string   `yaml:"certificate_file"`
	EmailAttribute  string   `yaml:"email_attribute"`
	NameAttribute   string   `yaml:"name_attribute"`
	GroupsAttribute string   `yaml:"groups_attribute"`
	GroupsPrefix    string   `yaml:"groups_prefix"`
	EmailVerified   bool     `yaml:"email_verified"`
	MFAValues       []string `yaml:"mfa_values"`
}

// OIDCSettings is the connector's OIDC block as federation stores it.
func (o ConnectorOIDC) OIDCSettings() federation.OIDCSettings {
	return federation.OIDCSettings{Issuer: o.Issuer, ClientID: o.ClientID, Scopes: o.Scopes, EmailClaim: o.EmailClaim,
		EmailVerifiedClaim: o.EmailVerifiedClaim, NameClaim: o.NameClaim, GroupsClaim: o.GroupsClaim,
		GroupsPrefix: o.GroupsPrefix, MFAValues: o.MFAValues}
}

// SAMLSettings is the connector's SAML block as federation stores it,
// the files already read (Load).
func (s ConnectorSAML) SAMLSettings() federation.SAMLSettings {
	return federation.SAMLSettings{MetadataURL: s.MetadataURL, Metadata: s.Metadata, Certificate: s.Certificate,
		EmailAttribute: s.EmailAttribute, NameAttribute: s.NameAttribute, GroupsAttribute: s.GroupsAttribute,
		GroupsPrefix: s.GroupsPrefix, EmailVerified: s.EmailVerified, MFAValues: s.MFAValues}
}

// checkConnectors is the rules-table check for "connectors". Problems are
// reported at "[i].field", so they read "connectors[1].oidc.issuer: …".
func checkConnectors(c *Config) error {
	var errs []error
	first := map[string]int{}
	for i, cn := range c.Connectors {
		idx := fmt.Sprintf("[%d]", i)
		if cn.ID == "" {
			errs = append(errs, at(idx+".id", errors.New("required")))
		} else if j, dup := first[cn.ID]; dup {
			errs = append(errs, at(idx+".id", fmt.Errorf("%q is the id of connectors[%d] too", cn.ID, j)))
		} else {
			first[cn.ID] = i
		}
		if cn.Org == "" {
			errs = append(errs, at(idx+".org", errors.New("required: the organization's name")))
		}
		errs = append(errs, connectorType(idx, cn, c.Dev))
	}
	return errors.Join(errs...)
}

// connectorType checks the block of cn's type and that the other is
// absent.
func connectorType(idx string, cn Connector, dev bool) error {
	switch cn.Type {
	case storage.ConnectorOIDC:
		if cn.SAML != nil {
			return at(idx+".saml", errors.New("an oidc connector has no saml settings"))
		}
		if cn.OIDC == nil {
			return at(idx+".oidc", errors.New("required for an oidc connector (issuer, client_id, client_secret)"))
		}
		return checkOIDCBlock(idx+".oidc", *cn.OIDC, dev)
	case storage.ConnectorSAML:
		if cn.OIDC != nil {
			return at(idx+".oidc", errors.New("a saml connector has no oidc settings"))
		}
		if cn.SAML == nil {
			return at(idx+".saml", errors.New("required for a saml connector (metadata_url or metadata_file)"))
		}
		return checkSAMLBlock(idx+".saml", *cn.SAML, dev)
	}
	return at(idx+".type", oneOf(cn.Type, storage.ConnectorOIDC, storage.ConnectorSAML))
}

func checkOIDCBlock(key string, o ConnectorOIDC, dev bool) error {
	var errs []error
	for _, err := range flatten(o.OIDCSettings().Validate(dev)) {
		errs = append(errs, at(key, err))
	}
	// Before the file is read only client_secret_file is set; Load
	// checks again after reading it.
	if o.ClientSecret == "" && o.ClientSecretFile == "" {
		errs = append(errs, at(key+".client_secret", errors.New("required (set client_secret or client_secret_file)")))
	}
	return errors.Join(errs...)
}

func checkSAMLBlock(key string, s ConnectorSAML, dev bool) error {
	var errs []error
	for _, pair := range [][3]string{{"metadata", s.Metadata, s.MetadataFile}, {"certificate", s.Certificate, s.CertificateFile}} {
		if pair[1] != "" && pair[2] != "" {
			errs = append(errs, at(key+"."+pair[0], fmt.Errorf("%s and %s_file are both set; set only one", pair[0], pair[0])))
		}
	}
	settings := s.SAMLSettings()
	if s.MetadataFile != "" && settings.Metadata == "" {
		settings.Metadata = "(from metadata_file)" // not yet read: it counts as given
	}
	for _, err := range flatten(settings.Validate(dev)) {
		errs = append(errs, at(key, err))
	}
	return errors.Join(errs...)
}

// readConnectorFiles fills each SAML connector's metadata and certificate
// from their *_file settings and clears those, as readSecretFiles does for
// secrets. When both are set it does nothing: Validate reports it.
func readConnectorFiles(c *Config) []error {
	var errs []error
	for i := range c.Connectors {
		s := c.Connectors[i].SAML
		if s == nil {
			continue
		}
		for _, f := range []struct {
			key        string
			value, src *string
			max        int64
		}{{"metadata_file", &s.Metadata, &s.MetadataFile, maxMetadataFile}, {"certificate_file", &s.Certificate, &s.CertificateFile, maxSecretFileSize}} {
			if *f.src == "" || *f.value != "" {
				continue
			}
			text, err := readTextFile(*f.src, f.max)
			if err != nil {
				errs = append(errs, &FieldError{Key: fmt.Sprintf("connectors[%d].saml.%s", i, f.key), Err: err})
				continue
			}
			*f.value, *f.src = text, ""
		}
	}
	return errs
}

// readTextFile returns a file of at most max bytes.
func readTextFile(path string, max int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return "", fmt.Errorf("cannot read file: %w", err)
	}
	if int64(len(b)) > max {
		return "", fmt.Errorf("file %q is larger than %d KiB", path, max>>10)
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", fmt.Errorf("file %q is empty", path)
	}
	return string(b), nil
}
