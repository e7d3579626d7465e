package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// configConnector is one declared connector, checked, with the plain
// secret it was given (to tell at update whether the stored one is it).
type configConnector struct {
	c      storage.Connector
	org    storage.Organization
	secret string
	exists bool
}

// ReconcileConfigConnectors makes the config connectors in storage match
// inputs, the connectors declared in the config file: missing ones are
// created, changed ones updated, and config connectors no longer declared
// deleted (with their links). Runtime ("api") connectors are never
// touched; a declared id that belongs to one is an error. Every input is
// checked before anything changes, and all problems are reported
// together. A declared SAML connector's SP key pair is made once, when it
// is created, and kept at every later start: the IdP holds its
// certificate. An unchanged file costs no writes and no audit events.
//
// It runs on every start, possibly on several instances at once; each step
// tolerates another instance having done it first.
func (s *Service) ReconcileConfigConnectors(ctx context.Context, inputs []ConnectorInput) error {
	existing, err := s.Store.ListConnectors(ctx, "")
	if err != nil {
		return fmt.Errorf("reconcile config connectors: %w", err)
	}
	byID := map[string]storage.Connector{}
	for _, c := range existing {
		byID[c.ID] = c
	}
	want, err := s.declaredConnectors(ctx, inputs, byID)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, d := range want {
		seen[d.c.ID] = true
		if err := s.reconcileConnector(ctx, d); err != nil {
			return fmt.Errorf("reconcile config connector %q: %w", d.c.ID, err)
		}
	}
	for _, old := range existing {
		if old.Source != SourceConfig || seen[old.ID] {
			continue
		}
		err := s.Store.DeleteConnector(ctx, old.ID)
		if errors.Is(err, storage.ErrNotFound) {
			continue // another instance deleted it
		} else if err != nil {
			return fmt.Errorf("reconcile config connectors: delete %q: %w", old.ID, err)
		}
		if err := s.Audit.Record(ctx, storage.AuditEvent{Type: AuditConnectorDeleted, OrgID: old.OrgID, ActorID: configActor,
			Details: map[string]string{"connector": old.ID, "type": old.Type, "source": SourceConfig}}); err != nil {
			return err
		}
	}
	return nil
}

// declaredConnectors checks every input and returns them as connectors,
// or every problem at once.
func (s *Service) declaredConnectors(ctx context.Context, inputs []ConnectorInput, byID map[string]storage.Connector) ([]configConnector, error) {
	var errs []error
	want := make([]configConnector, 0, len(inputs))
	first := map[string]int{}
	for i, in := range inputs {
		prefix := fmt.Sprintf("connectors[%d] (id %q): ", i, in.ID)
		if j, dup := first[in.ID]; dup {
			errs = append(errs, inputErr("%sthe id of connectors[%d] again", prefix, j))
			continue
		}
		first[in.ID] = i
		old, exists := byID[in.ID]
		var prev *storage.Connector
		if exists {
			prev = &old
		}
		c, org, err := s.newConnector(ctx, Everyone, in, prev)
		if err != nil {
			errs = append(errs, prefixed(prefix, err))
			continue
		}
		if err := declaredOverStored(old, c, exists); err != nil {
			errs = append(errs, prefixed(prefix, err))
			continue
		}
		if _, err := s.toClaim(ctx, Everyone, org, c.Domains); err != nil {
			errs = append(errs, prefixed(prefix, err))
			continue
		}
		c.Source = SourceConfig
		want = append(want, configConnector{c: c, org: org, secret: in.ClientSecret, exists: exists})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("config connectors: %w", errors.Join(errs...))
	}
	return want, nil
}

// declaredOverStored refuses a declared connector c that cannot replace the
// stored one of its id: a runtime connector, or one of another
// organization or type (its links would reach another organization's
// users, or stand on another protocol's subjects).
func declaredOverStored(old, c storage.Connector, exists bool) error {
	switch {
	case !exists:
		return nil
	case old.Source != SourceConfig:
		return conflictErr("a connector with this id was created through the CLI or admin API; delete it or rename the config entry")
	case old.OrgID != c.OrgID:
		return inputErr("the connector belongs to another organization; a connector cannot move: give it a new id")
	case old.Type != c.Type:
		return inputErr("the connector is a %s connector; its type cannot change: give it a new id", old.Type)
	}
	return nil
}

// prefixed puts prefix before an InputError's message, keeping its sentinel.
func prefixed(prefix string, err error) error {
	var ie *InputError
	if errors.As(err, &ie) {
		return &InputError{Msg: prefix + ie.Msg, Err: ie.Err}
	}
	return fmt.Errorf("%s%w", strings.TrimSuffix(prefix, " "), err)
}

// reconcileConnector creates or updates one config connector. d.exists is
// a hint from the listing; a concurrent start may have changed the truth
// since.
func (s *Service) reconcileConnector(ctx context.Context, d configConnector) error {
	if !d.exists {
		_, err := s.storeConnector(ctx, Everyone, configActor, d.c, d.org)
		if !errors.Is(err, storage.ErrConflict) {
			return err
		}
		if _, gerr := s.Store.GetConnector(ctx, d.c.ID); gerr != nil {
			return err // not the id: a domain another connector serves
		}
		// Another instance created it first: update it to match.
	}
	var changed []string
	var next storage.Connector
	err := storage.Atomically(ctx, s.Store, func(ctx context.Context) error {
		if err := s.checkDomainsFree(ctx, d.c.ID, d.c.Domains); err != nil {
			return err
		}
		var err error
		next, err = s.Store.UpdateConnector(ctx, d.c.ID, func(old storage.Connector) (storage.Connector, error) {
			if err := declaredOverStored(old, d.c, true); err != nil {
				return old, err
			}
			n := s.keepSecrets(old, d.c, d.secret)
			if changed = connectorChanges(old, n); len(changed) == 0 {
				return old, errUnchanged
			}
			n.CreatedAt, n.UpdatedAt = old.CreatedAt, s.Now()
			return n, nil
		})
		if err != nil {
			return err
		}
		_, err = s.claimDomains(ctx, Everyone, next.OrgID, next.Domains)
		return err
	})
	switch {
	case errors.Is(err, errUnchanged):
		return nil
	case err != nil:
		return fmt.Errorf("update: %w", err)
	}
	return s.recordChanges(ctx, configActor, next, changed)
}

// keepSecrets is want with old's sealed secrets where they are still
// right: the client secret when it is the one declared, the SP key pair
// always (another instance may have made it first).
func (s *Service) keepSecrets(old, want storage.Connector, secret string) storage.Connector {
	n := want
	if old.Type == storage.ConnectorOIDC && s.sealedIs(old, secret) {
		n.SecretSealed = old.SecretSealed
	}
	cert, sealed, ok := spKeyOf(&old)
	if !ok {
		return n
	}
	settings, err := samlSettingsOf(want)
	if err != nil {
		return n
	}
	settings.SPCertificate, n.SecretSealed = cert, sealed
	if raw, err := marshalSettings(settings); err == nil {
		n.Config = raw
	}
	return n
}
