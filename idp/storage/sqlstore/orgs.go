package sqlstore

import (
	"context"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Domains live in org_domains, keyed by domain, so that the database itself
// refuses to give one domain to two organizations. ord keeps the caller's
// order.
func init() {
	orgs.kids = &children[storage.Organization]{
		load: func(ctx context.Context, q Querier, o *storage.Organization) error {
			rows, err := q.Query(ctx, `SELECT domain FROM org_domains WHERE org_id = $1 ORDER BY ord`, o.ID)
			if err != nil {
				return err
			}
			defer rows.Close()
			o.Domains = nil
			for rows.Next() {
				var d string
				if err := rows.Scan(&d); err != nil {
					return err
				}
				o.Domains = append(o.Domains, d)
			}
			return rows.Err()
		},
		store: func(ctx context.Context, q Querier, o *storage.Organization) error {
			if err := checkText("domains", o.Domains); err != nil {
				return err
			}
			for i, d := range o.Domains {
				if _, err := q.Exec(ctx, `INSERT INTO org_domains (domain, org_id, ord) VALUES ($1, $2, $3)`, d, o.ID, i); err != nil {
					return err
				}
			}
			return nil
		},
		clear: func(ctx context.Context, q Querier, o *storage.Organization) error {
			_, err := q.Exec(ctx, `DELETE FROM org_domains WHERE org_id = $1`, o.ID)
			return err
		},
	}
}

func (s *Store) CreateOrganization(ctx context.Context, o storage.Organization) error {
	return create(ctx, s, orgs, "create organization", o)
}

func (s *Store) GetOrganization(ctx context.Context, id string) (storage.Organization, error) {
	return get(ctx, s, orgs, "get organization", id)
}

func (s *Store) GetOrganizationByName(ctx context.Context, name string) (storage.Organization, error) {
	return s.oneOrg(ctx, "get organization by name", orgs.selectWhere("WHERE name = $1"), name)
}

func (s *Store) GetOrganizationByDomain(ctx context.Context, domain string) (storage.Organization, error) {
	return s.oneOrg(ctx, "get organization by domain",
		orgs.selectWhere("WHERE id = (SELECT org_id FROM org_domains WHERE domain = $1)"), domain)
}

func (s *Store) oneOrg(ctx context.Context, op, query string, arg string) (storage.Organization, error) {
	o, err := orgs.one(ctx, s.d, query, arg)
	if err == nil {
		err = orgs.loadChildren(ctx, s.d, &o)
	}
	if err != nil {
		return storage.Organization{}, s.fail(op, err)
	}
	return o, nil
}

// ListOrganizations returns every organization ordered by name.
func (s *Store) ListOrganizations(ctx context.Context) ([]storage.Organization, error) {
	out, err := orgs.many(ctx, s.d, orgs.selectWhere("ORDER BY name"))
	return out, s.fail("list organizations", err)
}

func (s *Store) UpdateOrganization(ctx context.Context, id string, fn func(storage.Organization) (storage.Organization, error)) (storage.Organization, error) {
	return update(ctx, s, orgs, "update organization", id, fn)
}

// DeleteOrganization fails with ErrConflict while users still belong to it.
func (s *Store) DeleteOrganization(ctx context.Context, id string) error {
	return remove(ctx, s, orgs, "delete organization", id)
}
