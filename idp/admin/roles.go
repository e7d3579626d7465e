package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Roles an administrator grants, as the CLI and the audit record name
// them. An org-admin is stored per organization (storage.OrgAdminRole).
const (
	RoleNameAdmin    = "admin"
	RoleNameOrgAdmin = "org-admin"
)

// RoleChange names a role to grant or revoke: Role is RoleNameAdmin or
// RoleNameOrgAdmin; Org, for an org-admin only, is the organization's
// name ("" for the user's own).
type RoleChange struct {
	Email, Role, Org string
	// Self is the acting user's ID when a person acts (the console): an
	// admin does not revoke their own admin role, which would take the
	// console from them mid-change and may leave no admin at all.
	Self string
}

// RoleResult says what GrantRole or RevokeRole did.
type RoleResult struct {
	User storage.User
	// Org is the organization an org-admin role is for ("" for admin).
	Org storage.Organization
	// Changed is false when the user already held (grant) or did not
	// hold (revoke) the role: nothing was changed or recorded.
	Changed bool
}

// GrantRole gives the user ch.Email names a role and records
// user.role_granted. The API reads roles at every call, so the role works
// with the user's next admin API call, through the gatehouse:admin scope
// of a token from their next login or refresh.
func (s *Service) GrantRole(ctx context.Context, actor string, ch RoleChange) (RoleResult, error) {
	return s.changeRole(ctx, actor, "grant role", ch, audit.UserRoleGranted, func(roles []string, role string) []string {
		if slices.Contains(roles, role) {
			return roles
		}
		return append(slices.Clone(roles), role)
	})
}

// RevokeRole takes a role from the user ch.Email names and records
// user.role_revoked. It takes effect at the user's next admin API call,
// whatever tokens they hold.
func (s *Service) RevokeRole(ctx context.Context, actor string, ch RoleChange) (RoleResult, error) {
	return s.changeRole(ctx, actor, "revoke role", ch, audit.UserRoleRevoked, func(roles []string, role string) []string {
		return slices.DeleteFunc(slices.Clone(roles), func(r string) bool { return r == role })
	})
}

func (s *Service) changeRole(ctx context.Context, actor, op string, ch RoleChange, typ string, apply func(roles []string, role string) []string) (RoleResult, error) {
	u, err := s.userByEmail(ctx, op, ch.Email)
	if err != nil {
		return RoleResult{}, err
	}
	res := RoleResult{}
	role, err := s.storedRole(ctx, op, u, ch, &res.Org)
	if err != nil {
		return RoleResult{}, err
	}
	if typ == audit.UserRoleRevoked && role == storage.RoleAdmin && ch.Self != "" && ch.Self == u.ID {
		return RoleResult{}, inputErr("you cannot revoke your own admin role; another admin can")
	}
	now := s.Now()
	res.User, err = s.Store.UpdateUser(ctx, u.ID, func(cur storage.User) (storage.User, error) {
		next := apply(cur.Roles, role)
		res.Changed = !slices.Equal(next, cur.Roles)
		if res.Changed {
			cur.Roles, cur.UpdatedAt = next, now
		}
		return cur, nil
	})
	if err != nil {
		return RoleResult{}, fmt.Errorf("%s: %w", op, err)
	}
	if !res.Changed {
		return res, nil
	}
	details := map[string]string{"role": ch.Role}
	if res.Org.ID != "" {
		details["org"], details["org_id"] = res.Org.Name, res.Org.ID
	}
	return res, s.Audit.Record(ctx, storage.AuditEvent{Type: typ, OrgID: u.OrgID, ActorID: actor, UserID: u.ID, Details: details})
}

// storedRole is the role string ch stands for in u.Roles, and sets *org
// to an org-admin's organization.
func (s *Service) storedRole(ctx context.Context, op string, u storage.User, ch RoleChange, org *storage.Organization) (string, error) {
	switch strings.TrimSpace(ch.Role) {
	case RoleNameAdmin:
		if ch.Org != "" {
			return "", inputErr("the admin role is for the whole install; an organization goes with %s only", RoleNameOrgAdmin)
		}
		return storage.RoleAdmin, nil
	case RoleNameOrgAdmin:
		var err error
		if ch.Org == "" {
			*org, err = s.Store.GetOrganization(ctx, u.OrgID)
			if err != nil {
				return "", fmt.Errorf("%s: organization: %w", op, err)
			}
		} else if *org, err = s.orgByName(ctx, op, ch.Org); err != nil {
			return "", err
		}
		return storage.OrgAdminRole(org.ID), nil
	}
	return "", inputErr("role %q: the roles are %s and %s", shorten(ch.Role), RoleNameAdmin, RoleNameOrgAdmin)
}

// DescribeRoles names roles as people read them: "admin", and "org-admin
// of acme" for storage.OrgAdminRole (of a deleted organization, its ID).
func (s *Service) DescribeRoles(ctx context.Context, roles []string) ([]string, error) {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		id, ok := strings.CutPrefix(r, storage.RoleOrgAdminPrefix)
		if !ok {
			out = append(out, r)
			continue
		}
		o, err := s.Store.GetOrganization(ctx, id)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			out = append(out, fmt.Sprintf("%s of a deleted organization (%s)", RoleNameOrgAdmin, id))
		case err != nil:
			return nil, fmt.Errorf("describe roles: %w", err)
		default:
			out = append(out, RoleNameOrgAdmin+" of "+o.Name)
		}
	}
	return out, nil
}
