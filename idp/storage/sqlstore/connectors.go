package sqlstore

import (
	"context"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// A connector's domains live in connector_domains (see domainChildren):
// one connector per domain, enforced by the database. Deleting a connector
// deletes its domains, links and assertion ids by ON DELETE CASCADE.
func init() {
	connectors.kids = domainChildren("connector_domains", "connector_id",
		func(c *storage.Connector) string { return c.ID },
		func(c *storage.Connector) *[]string { return &c.Domains })
}

func (s *Store) CreateConnector(ctx context.Context, c storage.Connector) error {
	return create(ctx, s, connectors, "create connector", c)
}

func (s *Store) GetConnector(ctx context.Context, id string) (storage.Connector, error) {
	return get(ctx, s, connectors, "get connector", id)
}

func (s *Store) GetConnectorByDomain(ctx context.Context, domain string) (storage.Connector, error) {
	return getWhere(ctx, s, connectors, "get connector by domain",
		connectors.selectWhere("WHERE id = (SELECT connector_id FROM connector_domains WHERE domain = $1)"), domain)
}

// ListConnectors filters by organization only when one is named, so that
// PostgreSQL can use the (org_id, id) index for it.
func (s *Store) ListConnectors(ctx context.Context, orgID string) ([]storage.Connector, error) {
	var w where
	if orgID != "" {
		w.add("org_id = %s", orgID)
	}
	out, err := connectors.many(ctx, s.d, connectors.selectWhere(w.String()+" ORDER BY id"), w.args...)
	return out, s.fail("list connectors", err)
}

// UpdateConnector keeps OrgID and CreatedAt whatever fn returns (update
// keeps the id): a connector never moves to another organization, whose
// users its links would then reach.
func (s *Store) UpdateConnector(ctx context.Context, id string, fn func(storage.Connector) (storage.Connector, error)) (storage.Connector, error) {
	return update(ctx, s, connectors, "update connector", id, func(cur storage.Connector) (storage.Connector, error) {
		next, err := fn(cur)
		next.OrgID, next.CreatedAt = cur.OrgID, cur.CreatedAt
		return next, err
	})
}

func (s *Store) DeleteConnector(ctx context.Context, id string) error {
	return remove(ctx, s, connectors, "delete connector", id)
}

var _ storage.Connectors = (*Store)(nil)
