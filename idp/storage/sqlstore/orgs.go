package sqlstore

import (
	"context"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// An organization's domains live in org_domains (see domainChildren).
func init() {
	orgs.kids = domainChildren("org_domains", "org_id",
		func(o *storage.Organization) string { return o.ID },
		func(o *storage.Organization) *[]string { return &o.Domains })
}

// domainChildren stores an entity's email domains in table, keyed by
// domain, so that the database itself refuses to give one domain to two
// owners (a violation is ErrConflict); owner is the column naming the
// entity, and ord keeps the caller's order. table and owner are constants,
// never input.
func domainChildren[T any](table, owner string, id func(*T) string, domains func(*T) *[]string) *children[T] {
	return &children[T]{
		load: func(ctx context.Context, q Querier, v *T) error {
			rows, err := q.Query(ctx, `SELECT domain FROM `+table+` WHERE `+owner+` = $1 ORDER BY ord`, id(v))
			if err != nil {
				return err
			}
			defer rows.Close()
			ds := domains(v)
			*ds = nil
			for rows.Next() {
				var d string
				if err := rows.Scan(&d); err != nil {
					return err
				}
				*ds = append(*ds, d)
			}
			return rows.Err()
		},
		store: func(ctx context.Context, q Querier, v *T) error {
			if err := checkText("domains", *domains(v)); err != nil {
				return err
			}
			for i, d := range *domains(v) {
				if _, err := q.Exec(ctx, `INSERT INTO `+table+` (domain, `+owner+`, ord) VALUES ($1, $2, $3)`, d, id(v), i); err != nil {
					return err
				}
			}
			return nil
		},
		clear: func(ctx context.Context, q Querier, v *T) error {
			_, err := q.Exec(ctx, `DELETE FROM `+table+` WHERE `+owner+` = $1`, id(v))
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
	return getWhere(ctx, s, orgs, "get organization by name", orgs.selectWhere("WHERE name = $1"), name)
}

func (s *Store) GetOrganizationByDomain(ctx context.Context, domain string) (storage.Organization, error) {
	return getWhere(ctx, s, orgs, "get organization by domain",
		orgs.selectWhere("WHERE id = (SELECT org_id FROM org_domains WHERE domain = $1)"), domain)
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
