package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Connector administration: an organization's upstream identity providers
// (OIDC, SAML). One set of rules serves the CLI, the admin API, the config
// file's reconciliation and the console.

// Audit event types of connector and link administration, kept with the
// rules that record them. Their details always
// name the connector ("connector").
const (
	// AuditConnectorCreated: details "type", "source", "domains" and,
	// when the connector's domains were added to its organization,
	// "claimed_domains".
	AuditConnectorCreated = "connector.created"
	// AuditConnectorUpdated: details "source" and "changed" (the
	// settings that changed, by name: "client_secret", never its value).
	AuditConnectorUpdated = "connector.updated"
	// AuditConnectorEnabled and AuditConnectorDisabled: the connector
	// was turned on or off; a disabled one starts no login, and the
	// tokens of logins that stood on it stop working.
	AuditConnectorEnabled  = "connector.enabled"
	AuditConnectorDisabled = "connector.disabled"
	// AuditConnectorDeleted: the connector and its links are gone.
	AuditConnectorDeleted = "connector.deleted"
	// AuditLinkRemoved: an upstream identity is no longer linked to the
	// user; details "connector" and "subject".
	AuditLinkRemoved = "link.removed"
)

// Federation is what connector administration needs besides storage.
type Federation struct {
	// Sealer seals OIDC client secrets and SAML SP keys (the master
	// key); nil refuses to create connectors that need one.
	Sealer Sealer
	// Issuer is Gatehouse's issuer: a connector's URLs hang below it
	// (federation.URLsFor).
	Issuer string
	// Dev allows http upstream URLs on loopback (federation's rule).
	Dev bool
	// HTTP fetches upstream documents for Test; nil is each connector
	// type's own default.
	HTTP *http.Client
	// Openers open a stored connector by type (federation/oidc,
	// federation/saml), for Test. A type without one cannot be tested.
	Openers map[string]federation.Opener
	// NewSPKey makes a SAML connector's SP key pair: a certificate (PEM)
	// and its private key (PKCS#8 DER). Nil refuses SAML connectors.
	NewSPKey func(now time.Time) (certPEM string, keyDER []byte, err error)
}

// Sealer encrypts with associated data; *masterkey.Key is one.
type Sealer interface {
	Seal(plaintext, ad []byte) ([]byte, error)
	Open(sealed, ad []byte) ([]byte, error)
}

// ConnectorSecretAD is the associated data a connector's SecretSealed is
// sealed with: its id, so that a sealed secret copied onto another
// connector's row opens nowhere.
func ConnectorSecretAD(connectorID string) []byte { return federation.SecretAD(connectorID) }

// UnsealConnectorSecret opens connector secrets sealed by this package
// (federation.Registry's Unseal).
func UnsealConnectorSecret(k Sealer) func(sealed []byte, connectorID string) ([]byte, error) {
	return func(sealed []byte, connectorID string) ([]byte, error) {
		if k == nil {
			return nil, errors.New("admin: no master key to open connector secrets")
		}
		pt, err := k.Open(sealed, ConnectorSecretAD(connectorID))
		if err != nil {
			return nil, fmt.Errorf("admin: open secret of connector %q: %w", connectorID, err)
		}
		return pt, nil
	}
}

// ConnectorInput is a connector as an administrator describes it: CLI
// flags, an API body, a config file entry.
type ConnectorInput struct {
	// ID appears in the connector's URLs: 1-64 lower-case letters,
	// digits and hyphens.
	ID string
	// Org is the organization's name.
	Org  string
	Type string // storage.ConnectorOIDC or storage.ConnectorSAML
	// Name is what the login pages call it; default: the
	// organization's display name.
	Name string
	// Domains are email domains whose users sign in here. Each must be
	// the organization's or no organization's (it is then added to the
	// organization's domains).
	Domains                               []string
	TrustEmail, TrustMFA, JIT, RequireSSO bool
	// Enabled nil means enabled.
	Enabled *bool
	// OIDC or SAML holds the settings of Type; the other is nil. A SAML
	// connector's SPCertificate is Gatehouse's to make, never given.
	OIDC *federation.OIDCSettings
	SAML *federation.SAMLSettings
	// ClientSecret is an OIDC connector's client secret at the upstream
	// (required); it is stored sealed and never shown again.
	ClientSecret string
}

func (in ConnectorInput) redacted() connectorInputFields {
	f := connectorInputFields(in)
	if f.ClientSecret != "" {
		f.ClientSecret = "[redacted]"
	}
	return f
}

// connectorInputFields is ConnectorInput without its methods, so that
// String can print it without recursing.
type connectorInputFields ConnectorInput

// String implements fmt.Stringer so %v and %+v never print the secret.
func (in ConnectorInput) String() string { return fmt.Sprintf("%+v", in.redacted()) }

// GoString implements fmt.GoStringer so %#v never prints the secret.
func (in ConnectorInput) GoString() string { return fmt.Sprintf("%#v", in.redacted()) }

// LogValue implements slog.LogValuer: the secret never reaches a log.
func (in ConnectorInput) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", in.ID), slog.String("org", in.Org), slog.String("type", in.Type),
		slog.Any("domains", in.Domains), slog.Bool("client_secret_set", in.ClientSecret != ""))
}

var (
	_ fmt.Stringer   = ConnectorInput{}
	_ fmt.GoStringer = ConnectorInput{}
	_ slog.LogValuer = ConnectorInput{}
)

// Limits of a connector's settings. Metadata is an IdP's own XML: tens of
// KiB for the large ones; the admin API's body limit is 1 MiB.
const (
	MaxConnectorSetting = 2048
	MaxConnectorList    = 100
	MaxClientSecret     = 1024
	MaxSAMLMetadata     = 512 << 10
)

var connectorIDRE = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

// CheckConnectorID is an InputError unless id may name a connector. It
// appears in the connector's URLs, so it is kept to what needs no escaping.
func CheckConnectorID(id string) error {
	if !connectorIDRE.MatchString(id) {
		return inputErr("connector id %q: use 1-64 lower-case letters, digits and hyphens (it appears in the connector's URLs)", shorten(id))
	}
	return nil
}

// CreatedConnector is what CreateConnector made.
type CreatedConnector struct {
	Connector storage.Connector
	// URLs are the connector's fixed addresses, for the upstream's
	// administrators (an OIDC redirect URI; a SAML SP's metadata and
	// ACS).
	URLs federation.URLs
	// ClaimedDomains are the domains this call added to the
	// organization.
	ClaimedDomains []string
}

// CreateConnector creates a runtime ("api") connector in an organization
// in reach. An OIDC connector's client secret is sealed; a SAML connector
// gets a new SP key pair, its key sealed and its certificate in its
// settings.
func (s *Service) CreateConnector(ctx context.Context, reach Reach, actor string, in ConnectorInput) (CreatedConnector, error) {
	c, org, err := s.newConnector(ctx, reach, in, nil)
	if err != nil {
		return CreatedConnector{}, err
	}
	c.Source = SourceAPI
	return s.storeConnector(ctx, reach, actor, c, org)
}

// newConnector checks in and returns the connector it describes, with its
// secret sealed, and its organization; the caller sets Source. prev, when
// not nil, is the stored connector in describes anew (the config file's
// at a restart): its sealed client secret is kept when it is in's, and its
// SP key pair is kept, so that neither changes at every start.
func (s *Service) newConnector(ctx context.Context, reach Reach, in ConnectorInput, prev *storage.Connector) (storage.Connector, storage.Organization, error) {
	if err := CheckConnectorID(in.ID); err != nil {
		return storage.Connector{}, storage.Organization{}, err
	}
	org, err := s.OrgInReach(ctx, reach, "create connector", in.Org)
	if err != nil {
		return storage.Connector{}, org, err
	}
	now := s.Now()
	c := storage.Connector{ID: in.ID, OrgID: org.ID, Type: in.Type, Enabled: in.Enabled == nil || *in.Enabled,
		TrustEmail: in.TrustEmail, TrustMFA: in.TrustMFA, JIT: in.JIT, RequireSSO: in.RequireSSO, CreatedAt: now, UpdatedAt: now}
	if c.Name, err = connectorName(in.Name, org); err != nil {
		return c, org, err
	}
	if c.Domains, err = normalizeDomains(in.Domains); err != nil {
		return c, org, err
	}
	switch in.Type {
	case storage.ConnectorOIDC:
		err = s.newOIDC(&c, in, prev)
	case storage.ConnectorSAML:
		err = s.newSAML(&c, in, prev, now)
	default:
		err = inputErr("connector type %q: the types are %s and %s", shorten(in.Type), storage.ConnectorOIDC, storage.ConnectorSAML)
	}
	return c, org, err
}

func connectorName(name string, org storage.Organization) (string, error) {
	name = strings.TrimSpace(name)
	if err := checkText("name", name, MaxDisplayName); err != nil {
		return "", err
	}
	return firstNonEmpty(name, firstNonEmpty(org.DisplayName, org.Name)), nil
}

func (s *Service) newOIDC(c *storage.Connector, in ConnectorInput, prev *storage.Connector) error {
	if in.SAML != nil || in.OIDC == nil {
		return inputErr("an oidc connector takes OIDC settings (issuer, client id) and no SAML ones")
	}
	var err error
	if c.Config, err = s.oidcConfig(*in.OIDC); err != nil {
		return err
	}
	if err := checkClientSecret(in.ClientSecret); err != nil {
		return err
	}
	if in.ClientSecret == "" {
		return inputErr("an OIDC connector needs the client secret its upstream issued")
	}
	if prev != nil && s.sealedIs(*prev, in.ClientSecret) {
		c.SecretSealed = prev.SecretSealed
		return nil
	}
	c.SecretSealed, err = s.sealConnectorSecret(c.ID, []byte(in.ClientSecret))
	return err
}

// sealedIs reports whether c's sealed secret is secret.
func (s *Service) sealedIs(c storage.Connector, secret string) bool {
	if c.Type != storage.ConnectorOIDC || len(c.SecretSealed) == 0 {
		return false
	}
	pt, err := UnsealConnectorSecret(s.Federation.Sealer)(c.SecretSealed, c.ID)
	return err == nil && subtle.ConstantTimeCompare(pt, []byte(secret)) == 1
}

func (s *Service) newSAML(c *storage.Connector, in ConnectorInput, prev *storage.Connector, now time.Time) error {
	if in.OIDC != nil || in.SAML == nil {
		return inputErr("a saml connector takes SAML settings (the IdP's metadata) and no OIDC ones")
	}
	if in.ClientSecret != "" {
		return inputErr("a SAML connector has no client secret")
	}
	settings := *in.SAML
	if settings.SPCertificate != "" {
		return inputErr("sp_certificate is Gatehouse's own: it is made with the connector's SP key")
	}
	var err error
	if settings, err = s.checkSAML(settings); err != nil {
		return err
	}
	if cert, sealed, ok := spKeyOf(prev); ok {
		settings.SPCertificate, c.SecretSealed = cert, sealed
	} else if settings.SPCertificate, c.SecretSealed, err = s.newSPKey(c.ID, now); err != nil {
		return err
	}
	c.Config, err = marshalSettings(settings)
	return err
}

// spKeyOf is the SP key pair of a stored SAML connector c, if it has one.
func spKeyOf(c *storage.Connector) (certPEM string, sealed []byte, ok bool) {
	if c == nil || c.Type != storage.ConnectorSAML || len(c.SecretSealed) == 0 {
		return "", nil, false
	}
	var settings federation.SAMLSettings
	if json.Unmarshal(c.Config, &settings) != nil || settings.SPCertificate == "" {
		return "", nil, false
	}
	return settings.SPCertificate, c.SecretSealed, true
}

// newSPKey makes an SP key pair for connector id and seals its key.
func (s *Service) newSPKey(id string, now time.Time) (certPEM string, sealed []byte, err error) {
	if s.Federation.NewSPKey == nil {
		return "", nil, errors.New("create SAML connector: this server has no SAML SP key generator")
	}
	certPEM, der, err := s.Federation.NewSPKey(now)
	if err != nil {
		return "", nil, fmt.Errorf("create SAML connector: SP key: %w", err)
	}
	sealed, err = s.sealConnectorSecret(id, der)
	return certPEM, sealed, err
}

func (s *Service) sealConnectorSecret(id string, plaintext []byte) ([]byte, error) {
	if s.Federation.Sealer == nil {
		return nil, errors.New("connector secret: no master key to seal it with")
	}
	sealed, err := s.Federation.Sealer.Seal(plaintext, ConnectorSecretAD(id))
	if err != nil {
		return nil, fmt.Errorf("connector secret: %w", err)
	}
	return sealed, nil
}

func checkClientSecret(secret string) error {
	if secret == "" {
		return nil
	}
	if !storage.Storable(secret) || len(secret) > MaxClientSecret {
		return inputErr("the client secret must be text of at most %d bytes", MaxClientSecret)
	}
	return nil
}

// storeConnector stores a new connector c of org, claiming its domains in
// the same unit of work, and records connector.created.
func (s *Service) storeConnector(ctx context.Context, reach Reach, actor string, c storage.Connector, org storage.Organization) (CreatedConnector, error) {
	res := CreatedConnector{URLs: federation.URLsFor(s.Federation.Issuer, c.ID)}
	err := storage.Atomically(ctx, s.Store, func(ctx context.Context) error {
		if err := s.checkConnectorFree(ctx, c.ID, c.Domains); err != nil {
			return err
		}
		var err error
		if res.ClaimedDomains, err = s.claimDomains(ctx, reach, org.ID, c.Domains); err != nil {
			return err
		}
		return s.Store.CreateConnector(ctx, c)
	})
	var ie *InputError
	switch {
	case errors.As(err, &ie):
		return CreatedConnector{}, ie
	case errors.Is(err, storage.ErrConflict):
		return CreatedConnector{}, conflictErr("a connector with id %q, or one serving one of its domains, already exists", c.ID)
	case err != nil:
		return CreatedConnector{}, fmt.Errorf("create connector: %w", err)
	}
	res.Connector = c
	details := map[string]string{"connector": c.ID, "type": c.Type, "source": c.Source, "domains": strings.Join(c.Domains, " ")}
	if len(res.ClaimedDomains) > 0 {
		details["claimed_domains"] = strings.Join(res.ClaimedDomains, " ")
	}
	return res, s.Audit.Record(ctx, storage.AuditEvent{Type: AuditConnectorCreated, OrgID: c.OrgID, ActorID: actor, Details: details})
}

// checkConnectorFree is a conflict InputError when id is taken or one of
// domains is served by another connector, so that the operator learns
// which; the unique constraints still decide a race.
func (s *Service) checkConnectorFree(ctx context.Context, id string, domains []string) error {
	if _, err := s.Store.GetConnector(ctx, id); err == nil {
		return conflictErr("a connector with id %q already exists", id)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("create connector: %w", err)
	}
	return s.checkDomainsFree(ctx, id, domains)
}

// checkDomainsFree: no connector but id serves one of domains.
func (s *Service) checkDomainsFree(ctx context.Context, id string, domains []string) error {
	for _, d := range domains {
		other, err := s.Store.GetConnectorByDomain(ctx, d)
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			return fmt.Errorf("connector domains: %w", err)
		case other.ID != id:
			return conflictErr("domain %q is already served by connector %q", d, other.ID)
		}
	}
	return nil
}

// claimDomains makes each of domains organization orgID's: one it has is
// fine, one no organization has is added to it, one of another
// organization is refused (toClaim). It returns the domains it added; run
// it in the unit that stores the connector.
func (s *Service) claimDomains(ctx context.Context, reach Reach, orgID string, domains []string) ([]string, error) {
	o, err := s.Store.GetOrganization(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("connector domains: organization: %w", err)
	}
	add, err := s.toClaim(ctx, reach, o, domains)
	if err != nil || len(add) == 0 {
		return nil, err
	}
	now := s.Now()
	_, err = s.Store.UpdateOrganization(ctx, orgID, func(cur storage.Organization) (storage.Organization, error) {
		for _, d := range add {
			if !slices.Contains(cur.Domains, d) {
				cur.Domains = append(cur.Domains, d)
			}
		}
		cur.UpdatedAt = now
		return cur, nil
	})
	if errors.Is(err, storage.ErrConflict) {
		return nil, conflictErr("one of the domains %s was just added to another organization", strings.Join(add, ", "))
	} else if err != nil {
		return nil, fmt.Errorf("connector domains: %w", err)
	}
	return add, nil
}

// toClaim returns the domains o must be given for a connector of domains,
// or why it cannot have them. Only an admin (Everyone) adds a domain: an
// organization admin cannot otherwise change which domains their
// organization owns, and a claimed domain sends its users to the
// organization's upstream (and, with require_sso, away from their
// passwords).
func (s *Service) toClaim(ctx context.Context, reach Reach, o storage.Organization, domains []string) ([]string, error) {
	var add []string
	for _, d := range domains {
		if slices.Contains(o.Domains, d) {
			continue
		}
		if !reach.all {
			return nil, inputErr("domain %q is not one of organization %q's domains; only an admin can add a domain to an organization", d, o.Name)
		}
		switch owner, err := s.Store.GetOrganizationByDomain(ctx, d); {
		case err == nil && owner.ID == o.ID:
			// Added since o was read (another instance reconciling the
			// same file at the same start): it is ours already.
			continue
		case err == nil:
			return nil, conflictErr("domain %q belongs to another organization", d)
		case !errors.Is(err, storage.ErrNotFound):
			return nil, fmt.Errorf("connector domains: %w", err)
		}
		add = append(add, d)
	}
	if n := len(o.Domains) + len(add); len(add) > 0 && n > MaxDomains {
		return nil, inputErr("organization %q would have %d domains; it may have at most %d", o.Name, n, MaxDomains)
	}
	return add, nil
}
