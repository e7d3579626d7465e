package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
)

const roleUsage = "--email EMAIL --role admin|org-admin [--org ORG]"

func roleFlags(fs *flag.FlagSet, c *cmdEnv) {
	fs.StringVar(&c.email, "email", "", "the user's email address (required)")
	fs.StringVar(&c.role, "role", "", "admin (the whole install) or org-admin (one organization's users) (required)")
	fs.StringVar(&c.org, "org", "", "with org-admin: the organization (default: the user's own)")
}

func runUsersGrant(ctx context.Context, c *cmdEnv) error {
	return roleCommand(ctx, c, func(inst *instance.Instance, ch admin.RoleChange) (admin.RoleResult, string, error) {
		res, err := inst.Admin.GrantRole(ctx, actor(), ch)
		if !res.Changed {
			return res, "%[1]s already holds the role %[2]s: nothing to do", err
		}
		return res, "granted %[1]s the role %[2]s", err
	})
}

func runUsersRevoke(ctx context.Context, c *cmdEnv) error {
	return roleCommand(ctx, c, func(inst *instance.Instance, ch admin.RoleChange) (admin.RoleResult, string, error) {
		res, err := inst.Admin.RevokeRole(ctx, actor(), ch)
		if !res.Changed {
			return res, "%[1]s does not hold the role %[2]s: nothing to do", err
		}
		return res, "took the role %[2]s from %[1]s", err
	})
}

// roleCommand runs a grant or a revoke and prints what it says: a format
// of the user's email and the role, then the roles the user holds now.
func roleCommand(ctx context.Context, c *cmdEnv, act func(*instance.Instance, admin.RoleChange) (admin.RoleResult, string, error)) error {
	if c.role == "" {
		return fmt.Errorf("%w: --role is required (admin or org-admin)", errUsage)
	}
	return userCommand(ctx, c, func(inst *instance.Instance) (string, error) {
		res, format, err := act(inst, admin.RoleChange{Email: c.email, Role: c.role, Org: c.org})
		if err != nil {
			return "", err
		}
		role := c.role
		if res.Org.ID != "" {
			role += " of organization " + res.Org.Name
		}
		roles, err := inst.Admin.DescribeRoles(ctx, res.User.Roles)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf(format, res.User.Email, role) + "; roles now: " + orNone(strings.Join(roles, ", ")), nil
	})
}
