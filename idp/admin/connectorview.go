package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// ConnectorInfo is a connector with what is shown beside it.
type ConnectorInfo struct {
	Connector storage.Connector
	Org       string // the organization's name
	URLs      federation.URLs
}

func connectorNotFound(id string) error {
	return &InputError{Msg: fmt.Sprintf("no connector with id %q", shorten(id)), Err: storage.ErrNotFound}
}

// connectorInReach is connector id when its organization is in reach; any
// other id, text no id can be included, is connectorNotFound, so that an
// organization admin learns nothing of other organizations' connectors.
func (s *Service) connectorInReach(ctx context.Context, reach Reach, op, id string) (storage.Connector, error) {
	c, err := s.Store.GetConnector(ctx, id)
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInvalid):
		return storage.Connector{}, connectorNotFound(id)
	case err != nil:
		return storage.Connector{}, fmt.Errorf("%s: %w", op, err)
	case !reach.Org(c.OrgID):
		return storage.Connector{}, connectorNotFound(id)
	}
	return c, nil
}

// GetConnector returns connector id, when in reach. The row carries sealed
// secrets: callers show it through ViewConnector.
func (s *Service) GetConnector(ctx context.Context, reach Reach, id string) (ConnectorInfo, error) {
	const op = "get connector"
	c, err := s.connectorInReach(ctx, reach, op, id)
	if err != nil {
		return ConnectorInfo{}, err
	}
	o, err := s.Store.GetOrganization(ctx, c.OrgID)
	if err != nil {
		return ConnectorInfo{}, fmt.Errorf("%s: organization: %w", op, err)
	}
	return s.connectorInfo(c, o.Name), nil
}

func (s *Service) connectorInfo(c storage.Connector, org string) ConnectorInfo {
	return ConnectorInfo{Connector: c, Org: org, URLs: federation.URLsFor(s.Federation.Issuer, c.ID)}
}

// ListConnectors lists the connectors in reach, by organization and id: of
// the organization named org, or with org "" of every organization in
// reach.
func (s *Service) ListConnectors(ctx context.Context, reach Reach, org string) ([]ConnectorInfo, error) {
	const op = "list connectors"
	var orgs []storage.Organization
	switch {
	case org != "":
		o, err := s.OrgInReach(ctx, reach, op, org)
		if err != nil {
			return nil, err
		}
		orgs = []storage.Organization{o}
	default:
		all, err := s.Store.ListOrganizations(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		for _, o := range all {
			if reach.Org(o.ID) {
				orgs = append(orgs, o)
			}
		}
	}
	var out []ConnectorInfo
	for _, o := range orgs {
		cs, err := s.Store.ListConnectors(ctx, o.ID)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		for _, c := range cs {
			out = append(out, s.connectorInfo(c, o.Name))
		}
	}
	return out, nil
}

// DeleteConnector deletes a runtime connector in reach, with its links:
// nobody signs in through it any more, and the tokens of logins that stood
// on it stop working. Config connectors are refused.
func (s *Service) DeleteConnector(ctx context.Context, reach Reach, actor, id string) error {
	const op = "delete connector"
	c, err := s.connectorInReach(ctx, reach, op, id)
	if err != nil {
		return err
	}
	if c.Source == SourceConfig {
		return connectorConfigManaged(id)
	}
	if err := s.Store.DeleteConnector(ctx, id); errors.Is(err, storage.ErrNotFound) {
		return connectorNotFound(id)
	} else if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return s.Audit.Record(ctx, storage.AuditEvent{Type: AuditConnectorDeleted, OrgID: c.OrgID, ActorID: actor,
		Details: map[string]string{"connector": id, "type": c.Type, "source": c.Source}})
}

// connectorConfigManaged is the error, an InputError wrapping
// storage.ErrConflict, for a change to a config connector through the CLI
// or the API: the next start would silently undo it.
func connectorConfigManaged(id string) error {
	return conflictErr("connector %q is declared in the config file; change it there", id)
}

// ConnectorView is how a connector is shown to operators (CLI, admin
// API). It has no field for a sealed secret, so no caller can leak one,
// and shows inline SAML metadata only as present or not: it is the IdP's
// document, and can be large.
type ConnectorView struct {
	ID         string   `json:"id"`
	Org        string   `json:"org"`
	OrgID      string   `json:"org_id"`
	Type       string   `json:"type"`
	Name       string   `json:"name"`
	Domains    []string `json:"domains"`
	Enabled    bool     `json:"enabled"`
	TrustEmail bool     `json:"trust_email"`
	TrustMFA   bool     `json:"trust_mfa"`
	JIT        bool     `json:"jit"`
	RequireSSO bool     `json:"require_sso"`
	// HasSecret: an OIDC client secret or a SAML SP key is stored.
	HasSecret bool      `json:"has_secret"`
	OIDC      *OIDCView `json:"oidc,omitempty"`
	SAML      *SAMLView `json:"saml,omitempty"`
	URLs      URLsView  `json:"urls"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Invalid says why the stored settings cannot be shown ("": they
	// can).
	Invalid string `json:"invalid_settings,omitempty"`
}

// OIDCView is an OIDC connector's settings; the secret is not among them.
type OIDCView = federation.OIDCSettings

// SAMLView is a SAML connector's settings, inline metadata shown as a flag.
type SAMLView struct {
	MetadataURL     string   `json:"metadata_url,omitempty"`
	MetadataInline  bool     `json:"metadata_inline"`
	Certificate     string   `json:"certificate,omitempty"`
	SPCertificate   string   `json:"sp_certificate,omitempty"`
	EmailAttribute  string   `json:"email_attribute,omitempty"`
	NameAttribute   string   `json:"name_attribute,omitempty"`
	GroupsAttribute string   `json:"groups_attribute,omitempty"`
	GroupsPrefix    string   `json:"groups_prefix,omitempty"`
	EmailVerified   bool     `json:"email_verified"`
	MFAValues       []string `json:"mfa_values,omitempty"`
}

// URLsView are the connector's fixed URLs that apply to its type.
type URLsView struct {
	RedirectURI string `json:"redirect_uri,omitempty"`
	Metadata    string `json:"metadata,omitempty"`
	ACS         string `json:"acs,omitempty"`
}

// ViewURLs are the URLs of a connector of type typ.
func ViewURLs(typ string, u federation.URLs) URLsView {
	if typ == storage.ConnectorSAML {
		return URLsView{Metadata: u.Metadata, ACS: u.ACS}
	}
	return URLsView{RedirectURI: u.Callback}
}

// ViewConnector returns i as shown to operators.
func ViewConnector(i ConnectorInfo) ConnectorView {
	c := i.Connector
	v := ConnectorView{ID: c.ID, Org: i.Org, OrgID: c.OrgID, Type: c.Type, Name: c.Name, Domains: nonNil(c.Domains),
		Enabled: c.Enabled, TrustEmail: c.TrustEmail, TrustMFA: c.TrustMFA, JIT: c.JIT, RequireSSO: c.RequireSSO,
		HasSecret: len(c.SecretSealed) > 0, URLs: ViewURLs(c.Type, i.URLs), Source: c.Source,
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
	var err error
	switch c.Type {
	case storage.ConnectorOIDC:
		var o federation.OIDCSettings
		if err = json.Unmarshal(c.Config, &o); err == nil {
			v.OIDC = &o
		}
	case storage.ConnectorSAML:
		var sm federation.SAMLSettings
		if err = json.Unmarshal(c.Config, &sm); err == nil {
			v.SAML = &SAMLView{MetadataURL: sm.MetadataURL, MetadataInline: sm.Metadata != "", Certificate: sm.Certificate,
				SPCertificate: sm.SPCertificate, EmailAttribute: sm.EmailAttribute, NameAttribute: sm.NameAttribute,
				GroupsAttribute: sm.GroupsAttribute, GroupsPrefix: sm.GroupsPrefix, EmailVerified: sm.EmailVerified,
				MFAValues: sm.MFAValues}
		}
	}
	if err != nil {
		// A row storage holds but no one can read: show it, say so.
		v.Invalid = "the stored settings are not valid JSON"
	}
	return v
}

// ConnectorURLs are the URLs a connector of id will have, for the
// upstream's administrators before anything is created: they follow from
// the id alone (federation.URLsFor). A bad id is an InputError.
func (s *Service) ConnectorURLs(id string) (federation.URLs, error) {
	if err := CheckConnectorID(id); err != nil {
		return federation.URLs{}, err
	}
	return federation.URLsFor(s.Federation.Issuer, id), nil
}
