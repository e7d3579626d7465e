package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// maxPasswordInput bounds what --password-stdin reads; the policy's own
// limit is far below it.
const maxPasswordInput = 64 << 10

func runMigrate(ctx context.Context, c *cmdEnv) error {
	inst, err := c.openInstanceNoBootstrap(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	if len(inst.Migrated) == 0 {
		fmt.Fprintln(c.io.out, "database is up to date")
		return nil
	}
	for _, v := range inst.Migrated {
		fmt.Fprintf(c.io.out, "applied migration %04d\n", v)
	}
	return nil
}

func runUsersCreate(ctx context.Context, c *cmdEnv) error {
	if c.email == "" {
		return fmt.Errorf("%w: --email is required", errUsage)
	}
	if c.invite && c.passwordStdin {
		return fmt.Errorf("%w: --invite and --password-stdin exclude each other: an invited user sets their own password", errUsage)
	}
	var pw string
	if c.passwordStdin {
		var err error
		if pw, err = readPassword(c.io.in); err != nil {
			return err
		}
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	org := c.org
	if org == "" {
		org = inst.Config.Bootstrap.Organization
	}
	u, err := inst.Admin.CreateUser(ctx, actor(), admin.CreateUserInput{
		Email: c.email, Name: c.name, Phone: c.phone, Org: org, Password: pw, Admin: c.admin, EmailVerified: c.emailVerified,
	})
	if err != nil {
		return inputOrErr(err)
	}
	fmt.Fprintf(c.io.out, "created user %s (%s) in organization %s, state %s\n", u.Email, u.ID, org, u.State)
	if c.invite {
		if _, err := inst.Admin.SendInvite(ctx, actor(), u.Email); err != nil {
			return fmt.Errorf("the user was created, but the invite was not sent (send it again with users resend-invite): %w", inputOrErr(err))
		}
		fmt.Fprintf(c.io.out, "sent a welcome email to %s; its link is valid for %s\n", u.Email, inst.Config.Invite.TTL)
		return nil
	}
	if u.State == storage.UserInvited {
		fmt.Fprintln(c.io.out, "no password was set: the user cannot sign in until one is set (use --invite, users resend-invite or --password-stdin)")
	}
	return nil
}

// readPassword takes the first line of r: `echo pw | gatehouse …` and a
// secrets file both end with one newline that is not part of the password.
func readPassword(r io.Reader) (string, error) {
	br := bufio.NewReader(io.LimitReader(r, maxPasswordInput))
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("--password-stdin: standard input held no password")
	}
	return line, nil
}

func runUsersList(ctx context.Context, c *cmdEnv) error {
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	orgs, err := inst.Admin.ListOrgs(ctx)
	if err != nil {
		return err
	}
	orgName := map[string]string{}
	for _, o := range orgs {
		orgName[o.ID] = o.Name
	}
	l := newListing(c, "EMAIL\tORG\tSTATE\tROLES\tCREATED")
	after := ""
	for {
		page, err := inst.Admin.ListUsers(ctx, c.org, after, 500)
		if err != nil {
			return inputOrErr(err)
		}
		for _, u := range page {
			if err := l.add(userJSON(u, orgName[u.OrgID]), u.Email, orgName[u.OrgID], userState(u, inst.Now()),
				strings.Join(u.Roles, ","), u.CreatedAt.UTC().Format(time.RFC3339)); err != nil {
				return err
			}
		}
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].Email
	}
	return l.flush()
}

func userState(u storage.User, now time.Time) string {
	if u.LockedUntil.After(now) {
		return string(u.State) + " (locked)"
	}
	return string(u.State)
}

func userJSON(u storage.User, org string) map[string]any {
	return map[string]any{
		"id": u.ID, "email": u.Email, "email_verified": u.EmailVerified, "name": u.Name, "phone": u.Phone, "org": org,
		"state": u.State, "roles": u.Roles, "has_password": u.PasswordHash != "", "created_at": u.CreatedAt.UTC(),
	}
}

func runUsersDisable(ctx context.Context, c *cmdEnv) error {
	return userCommand(ctx, c, func(inst *instance.Instance) (string, error) {
		u, err := inst.Admin.DisableUser(ctx, actor(), c.email)
		return fmt.Sprintf("disabled user %s (%s); their sessions and tokens are revoked", u.Email, u.ID), err
	})
}

func runOrgsCreate(ctx context.Context, c *cmdEnv) error {
	if c.name == "" {
		return fmt.Errorf("%w: --name is required", errUsage)
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	o, err := inst.Admin.CreateOrg(ctx, actor(), admin.CreateOrgInput{Name: c.name, DisplayName: c.displayName, Domains: c.domains})
	if err != nil {
		return inputOrErr(err)
	}
	fmt.Fprintf(c.io.out, "created organization %s (%s)\n", o.Name, o.ID)
	return nil
}

func runOrgsList(ctx context.Context, c *cmdEnv) error {
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	orgs, err := inst.Admin.ListOrgs(ctx)
	if err != nil {
		return err
	}
	l := newListing(c, "NAME\tDISPLAY NAME\tDOMAINS\tMFA REQUIRED\tCREATED")
	for _, o := range orgs {
		if err := l.add(map[string]any{"id": o.ID, "name": o.Name, "display_name": o.DisplayName, "domains": o.Domains,
			"mfa_required": o.MFA.Required, "created_at": o.CreatedAt.UTC()},
			o.Name, o.DisplayName, strings.Join(o.Domains, ","), fmt.Sprint(o.MFA.Required), o.CreatedAt.UTC().Format(time.RFC3339)); err != nil {
			return err
		}
	}
	return l.flush()
}

// listing prints a command's list: a table (header, then one row per item,
// tab-separated), or with --json one JSON object per line for scripts.
type listing struct {
	c  *cmdEnv
	tw *tabwriter.Writer
}

func newListing(c *cmdEnv, header string) *listing {
	l := &listing{c: c, tw: tabwriter.NewWriter(c.io.out, 0, 4, 2, ' ', 0)}
	if !c.asJSON {
		fmt.Fprintln(l.tw, header)
	}
	return l
}

// add prints one item: asJSON as a JSON line, or the cells as a row.
func (l *listing) add(asJSON any, cells ...string) error {
	if l.c.asJSON {
		return writeJSON(l.c.io.out, asJSON)
	}
	_, err := fmt.Fprintln(l.tw, strings.Join(cells, "\t"))
	return err
}

func (l *listing) flush() error { return l.tw.Flush() }

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
