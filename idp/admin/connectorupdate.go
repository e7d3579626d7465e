package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// ConnectorChange is what UpdateConnector changes: every field left nil
// stays as it is.
type ConnectorChange struct {
	Name *string
	// Domains replaces the connector's domains (the rules of
	// ConnectorInput.Domains apply to the new ones).
	Domains                                        *[]string
	Enabled, TrustEmail, TrustMFA, JIT, RequireSSO *bool
	// EditOIDC or EditSAML, for a connector of that type, changes the
	// stored settings it is given; the result is checked as a new
	// connector's are. Setting one SAML metadata source (URL, inline)
	// drops the other. SPCertificate stays whatever the edit does. An
	// edit may run more than once and must only set fields.
	EditOIDC func(*federation.OIDCSettings)
	EditSAML func(*federation.SAMLSettings)
	// ClientSecret replaces an OIDC connector's client secret.
	ClientSecret *string
}

// Empty reports whether ch changes nothing.
func (ch ConnectorChange) Empty() bool {
	return ch.Name == nil && ch.Domains == nil && ch.Enabled == nil && ch.TrustEmail == nil && ch.TrustMFA == nil &&
		ch.JIT == nil && ch.RequireSSO == nil && ch.EditOIDC == nil && ch.EditSAML == nil && ch.ClientSecret == nil
}

// checkType refuses a change that does not fit a connector of type typ.
func (ch ConnectorChange) checkType(id, typ string) error {
	switch {
	case typ != storage.ConnectorOIDC && (ch.EditOIDC != nil || ch.ClientSecret != nil):
		return inputErr("connector %q is a %s connector: OIDC settings and a client secret do not apply", id, typ)
	case typ != storage.ConnectorSAML && ch.EditSAML != nil:
		return inputErr("connector %q is a %s connector: SAML settings do not apply", id, typ)
	}
	return nil
}

// UpdateConnector changes a runtime connector in reach and records what
// changed: connector.enabled or connector.disabled for Enabled,
// connector.updated for the rest. A change that changes nothing records
// nothing. New domains are claimed as at creation.
func (s *Service) UpdateConnector(ctx context.Context, reach Reach, actor, id string, ch ConnectorChange) (ConnectorInfo, error) {
	const op = "update connector"
	cur, err := s.connectorInReach(ctx, reach, op, id)
	if err != nil {
		return ConnectorInfo{}, err
	}
	if cur.Source == SourceConfig {
		return ConnectorInfo{}, connectorConfigManaged(id)
	}
	p, err := s.prepareChange(cur, ch)
	if err != nil {
		return ConnectorInfo{}, err
	}
	var changed []string
	var next storage.Connector
	err = storage.Atomically(ctx, s.Store, func(ctx context.Context) error {
		if p.domains != nil {
			if err := s.checkDomainsFree(ctx, id, *p.domains); err != nil {
				return err
			}
		}
		var err error
		next, err = s.Store.UpdateConnector(ctx, id, func(old storage.Connector) (storage.Connector, error) {
			if old.Source == SourceConfig {
				return old, connectorConfigManaged(id)
			}
			n, err := s.applyChange(old, ch, p)
			if err != nil {
				return old, err
			}
			if changed = connectorChanges(old, n); len(changed) == 0 {
				return old, errUnchanged
			}
			n.UpdatedAt = s.Now()
			return n, nil
		})
		if err != nil || p.domains == nil {
			return err
		}
		// Only a change of domains claims: a connector whose domains
		// stay is not refused for what its organization did since.
		_, err = s.claimDomains(ctx, reach, next.OrgID, next.Domains)
		return err
	})
	if err := s.updateErr(op, id, err); err != nil {
		return ConnectorInfo{}, err
	}
	if errors.Is(err, errUnchanged) {
		return s.GetConnector(ctx, reach, id)
	}
	if err := s.recordChanges(ctx, actor, next, changed); err != nil {
		return ConnectorInfo{}, err
	}
	return s.GetConnector(ctx, reach, id)
}

// updateErr is UpdateConnector's answer for err: nil for success and for
// an update that changed nothing.
func (s *Service) updateErr(op, id string, err error) error {
	var ie *InputError
	switch {
	case err == nil, errors.Is(err, errUnchanged):
		return nil
	case errors.As(err, &ie):
		return ie
	case errors.Is(err, storage.ErrNotFound):
		return connectorNotFound(id)
	case errors.Is(err, storage.ErrConflict):
		return conflictErr("one of the domains is already served by another connector")
	}
	return fmt.Errorf("%s: %w", op, err)
}

// recordChanges records connector.enabled or .disabled when Enabled
// changed and connector.updated for every other change.
func (s *Service) recordChanges(ctx context.Context, actor string, c storage.Connector, changed []string) error {
	base := map[string]string{"connector": c.ID, "source": c.Source}
	if slices.Contains(changed, "enabled") {
		typ := AuditConnectorDisabled
		if c.Enabled {
			typ = AuditConnectorEnabled
		}
		if err := s.Audit.Record(ctx, storage.AuditEvent{Type: typ, OrgID: c.OrgID, ActorID: actor, Details: base}); err != nil {
			return err
		}
		changed = slices.DeleteFunc(slices.Clone(changed), func(n string) bool { return n == "enabled" })
	}
	if len(changed) == 0 {
		return nil
	}
	base["changed"] = strings.Join(changed, " ")
	return s.Audit.Record(ctx, storage.AuditEvent{Type: AuditConnectorUpdated, OrgID: c.OrgID, ActorID: actor, Details: base})
}

// preparedChange is what of a change is checked once, before the update:
// the name, the domains and the sealed secret.
type preparedChange struct {
	name    *string
	domains *[]string
	sealed  []byte
}

func (s *Service) prepareChange(cur storage.Connector, ch ConnectorChange) (preparedChange, error) {
	var p preparedChange
	if err := ch.checkType(cur.ID, cur.Type); err != nil {
		return p, err
	}
	if ch.Name != nil {
		name := strings.TrimSpace(*ch.Name)
		if name == "" {
			return p, inputErr("a connector's name cannot be empty: the login pages show it")
		}
		if err := checkText("name", name, MaxDisplayName); err != nil {
			return p, err
		}
		p.name = &name
	}
	if ch.Domains != nil {
		d, err := normalizeDomains(*ch.Domains)
		if err != nil {
			return p, err
		}
		p.domains = &d
	}
	if ch.ClientSecret != nil {
		if *ch.ClientSecret == "" {
			return p, inputErr("the new client secret is empty")
		}
		if err := checkClientSecret(*ch.ClientSecret); err != nil {
			return p, err
		}
		var err error
		if p.sealed, err = s.sealConnectorSecret(cur.ID, []byte(*ch.ClientSecret)); err != nil {
			return p, err
		}
	}
	return p, nil
}

// applyChange is old with ch applied.
func (s *Service) applyChange(old storage.Connector, ch ConnectorChange, p preparedChange) (storage.Connector, error) {
	n := old
	n.Domains = slices.Clone(old.Domains)
	if p.name != nil {
		n.Name = *p.name
	}
	if p.domains != nil {
		n.Domains = *p.domains
	}
	for _, f := range []struct {
		to   *bool
		from *bool
	}{{&n.Enabled, ch.Enabled}, {&n.TrustEmail, ch.TrustEmail}, {&n.TrustMFA, ch.TrustMFA}, {&n.JIT, ch.JIT}, {&n.RequireSSO, ch.RequireSSO}} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
	if p.sealed != nil {
		n.SecretSealed = p.sealed
	}
	var err error
	switch {
	case ch.EditOIDC != nil:
		n.Config, err = s.editOIDC(old.Config, ch.EditOIDC)
	case ch.EditSAML != nil:
		n.Config, err = s.editSAML(old.Config, ch.EditSAML)
	}
	return n, err
}

func (s *Service) editOIDC(raw []byte, edit func(*federation.OIDCSettings)) ([]byte, error) {
	var o federation.OIDCSettings
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("stored oidc settings: %w", err)
	}
	edit(&o)
	return s.oidcConfig(o)
}

func (s *Service) editSAML(raw []byte, edit func(*federation.SAMLSettings)) ([]byte, error) {
	var prev federation.SAMLSettings
	if err := json.Unmarshal(raw, &prev); err != nil {
		return nil, fmt.Errorf("stored saml settings: %w", err)
	}
	n := prev
	n.MFAValues = slices.Clone(prev.MFAValues)
	edit(&n)
	// Naming the metadata anew names its source: the other one goes.
	switch {
	case n.MetadataURL != prev.MetadataURL && n.MetadataURL != "" && n.Metadata == prev.Metadata:
		n.Metadata = ""
	case n.Metadata != prev.Metadata && n.Metadata != "" && n.MetadataURL == prev.MetadataURL:
		n.MetadataURL = ""
	}
	n.SPCertificate = prev.SPCertificate
	n, err := s.checkSAML(n)
	if err != nil {
		return nil, err
	}
	return marshalSettings(n)
}

// connectorChanges names the settings that differ between a and b; a
// sealed secret shows as "client_secret" or "sp_key", never its value.
func connectorChanges(a, b storage.Connector) []string {
	var out []string
	add := func(name string, differs bool) {
		if differs {
			out = append(out, name)
		}
	}
	add("name", a.Name != b.Name)
	add("domains", !slices.Equal(a.Domains, b.Domains))
	add("enabled", a.Enabled != b.Enabled)
	add("trust_email", a.TrustEmail != b.TrustEmail)
	add("trust_mfa", a.TrustMFA != b.TrustMFA)
	add("jit", a.JIT != b.JIT)
	add("require_sso", a.RequireSSO != b.RequireSSO)
	add("settings", !sameSettings(a.Type, a.Config, b.Config))
	secret := "client_secret"
	if a.Type == storage.ConnectorSAML {
		secret = "sp_key"
	}
	add(secret, !bytes.Equal(a.SecretSealed, b.SecretSealed))
	return out
}

// sameSettings compares two stored settings as the settings they decode
// to, so that JSON written by an older version (other key order, a
// default spelled out) is no change.
func sameSettings(typ string, a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	canon := func(raw []byte) ([]byte, bool) {
		var v any = &federation.OIDCSettings{}
		if typ == storage.ConnectorSAML {
			v = &federation.SAMLSettings{}
		}
		if json.Unmarshal(raw, v) != nil {
			return nil, false
		}
		out, err := json.Marshal(v)
		return out, err == nil
	}
	ca, okA := canon(a)
	cb, okB := canon(b)
	return okA && okB && bytes.Equal(ca, cb)
}
