package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
)

const phoneFlagHelp = `phone number with its country code, e.g. "+41 79 123 45 67" or "0041 79 123 45 67"; stored in E.164 form`

const usersUpdateUsage = `--email EMAIL [--name NAME] [--phone NUMBER | --phone ""]`

func usersUpdateFlags(fs *flag.FlagSet, c *cmdEnv) {
	fs.StringVar(&c.email, "email", "", "the user's email address (required)")
	fs.StringVar(&c.name, "name", "", "new display name")
	fs.StringVar(&c.phone, "phone", "", phoneFlagHelp+`; "" removes the number`)
}

// runUsersUpdate changes only the profile fields whose flags were given:
// `--phone ""` clears the number, while leaving --phone out keeps it.
func runUsersUpdate(ctx context.Context, c *cmdEnv) error {
	if c.email == "" {
		return fmt.Errorf("%w: --email is required", errUsage)
	}
	var ch admin.ProfileChange
	if c.set["name"] {
		ch.Name = &c.name
	}
	if c.set["phone"] {
		ch.Phone = &c.phone
	}
	if ch.Name == nil && ch.Phone == nil {
		return fmt.Errorf("%w: give --name or --phone: nothing to change", errUsage)
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	u, err := inst.Admin.UpdateProfile(ctx, actor(), c.email, ch)
	if err != nil {
		return inputOrErr(err)
	}
	var parts []string
	if ch.Name != nil {
		parts = append(parts, "name "+orNone(u.Name))
	}
	if ch.Phone != nil {
		parts = append(parts, "phone "+orNone(u.Phone))
	}
	fmt.Fprintf(c.io.out, "updated user %s: %s\n", u.Email, strings.Join(parts, ", "))
	return nil
}
