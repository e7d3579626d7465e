package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// mfaFlags are the flags of orgs set-mfa and users reset-mfa.
type mfaFlags struct {
	on, off, allowSkip, otherEmail, smsSelfEnrol bool
	methods, method                              string
	emails                                       multiFlag
	all                                          bool
}

const setMFAUsage = "--org ORG (--on --methods M[,M...] [--allow-skip] [--other-email] [--sms-self-enrol] | --off)"

func setMFAFlags(fs *flag.FlagSet, c *cmdEnv) {
	fs.StringVar(&c.org, "org", "", "organization name (required)")
	fs.BoolVar(&c.mfa.on, "on", false, "require a second factor at sign-in")
	fs.BoolVar(&c.mfa.off, "off", false, "stop requiring one; turning it on again later makes everyone set one up again")
	fs.StringVar(&c.mfa.methods, "methods", "", "with --on: the methods users may set up, comma-separated: "+strings.Join(mfa.Known, ", "))
	fs.BoolVar(&c.mfa.allowSkip, "allow-skip", false, `with --on: offer "Skip for now" at the set-up step`)
	fs.BoolVar(&c.mfa.otherEmail, "other-email", false, "with --on: let email codes go to another address than the account's")
	fs.BoolVar(&c.mfa.smsSelfEnrol, "sms-self-enrol", false, "with --on and sms: let users without a mobile number on their profile enter one")
}

func runOrgsSetMFA(ctx context.Context, c *cmdEnv) error {
	m := c.mfa
	switch {
	case c.org == "":
		return fmt.Errorf("%w: --org is required", errUsage)
	case m.on == m.off:
		return fmt.Errorf("%w: give --on (with --methods) or --off", errUsage)
	case m.off && (c.set["methods"] || m.allowSkip || m.otherEmail || m.smsSelfEnrol):
		return fmt.Errorf("%w: --off takes no --methods, --allow-skip, --other-email or --sms-self-enrol", errUsage)
	case m.on && strings.TrimSpace(m.methods) == "":
		return fmt.Errorf("%w: --on needs --methods, from %s", errUsage, strings.Join(mfa.Known, ", "))
	}
	in := admin.MFAPolicyInput{Required: m.on, AllowSkip: m.allowSkip, OtherEmail: m.otherEmail, SMSSelfEnrol: m.smsSelfEnrol}
	if m.on {
		in.Methods = strings.Split(m.methods, ",")
	}
	return withInstance(ctx, c, func(inst *instance.Instance) (string, error) {
		o, err := inst.Admin.SetMFAPolicy(ctx, actor(), c.org, in)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "MFA policy of organization %s:\n", o.Name)
		writeMFAPolicy(&b, o.MFA)
		return strings.TrimSuffix(b.String(), "\n"), nil
	})
}

// writeMFAPolicy prints an MFA policy, one setting a line.
func writeMFAPolicy(w io.Writer, p storage.MFAPolicy) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "  %s\t%s\n", k, v) }
	if !p.Required {
		row("required", "no")
		if !p.DisabledAt.IsZero() {
			row("turned off", stamp(p.DisabledAt)+" (turning it on again makes everyone set up a second factor again)")
		}
		tw.Flush()
		return
	}
	row("required", "yes")
	row("methods", orNone(strings.Join(p.AllowedMethods, ", ")))
	row("skip for now", map[bool]string{true: "offered", false: "not offered"}[p.AllowSkip])
	row("other email", map[bool]string{true: "allowed", false: "not allowed"}[p.OtherEmail])
	if slices.Contains(p.AllowedMethods, mfa.SMS) {
		row("own mobile number", map[bool]string{true: "users may enter one", false: "the profile's only"}[p.SMSSelfEnrol])
	}
	if p.Since.IsZero() {
		row("generation", "from the start: factors users set up before count")
	} else {
		row("generation", "since "+stamp(p.Since)+": factors and skips from before do not count")
	}
	tw.Flush()
}

const resetMFAUsage = "(--email EMAIL [--email EMAIL]... | --org ORG --all) [--method M]"

func resetMFAFlags(fs *flag.FlagSet, c *cmdEnv) {
	fs.Var(&c.mfa.emails, "email", "a user's email address (repeatable)")
	fs.StringVar(&c.org, "org", "", "with --all: the organization whose users to reset")
	fs.BoolVar(&c.mfa.all, "all", false, "reset every user of --org")
	fs.StringVar(&c.mfa.method, "method", "", "the one method the next sign-in sets up ("+strings.Join(mfa.Known, ", ")+"); default: any the organization allows")
}

// runUsersResetMFA resets the users named, or a whole organization a page
// at a time, printing a line per user as it goes and a summary; it fails
// (exit 1) when any user could not be reset.
func runUsersResetMFA(ctx context.Context, c *cmdEnv) error {
	m := c.mfa
	switch {
	case len(m.emails) > 0 && (m.all || c.org != ""):
		return fmt.Errorf("%w: give --email, or --org with --all, not both", errUsage)
	case len(m.emails) == 0 && !m.all && c.org == "":
		return fmt.Errorf("%w: give --email (repeatable), or --org ORG --all", errUsage)
	case m.all && c.org == "":
		return fmt.Errorf("%w: --all needs --org", errUsage)
	case c.org != "" && !m.all:
		return fmt.Errorf("%w: --org resets every user of the organization: add --all to confirm", errUsage)
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	var done, failed int
	report := func(rs []admin.MFAReset) error {
		for _, r := range rs {
			if r.Err != nil {
				failed++
				fmt.Fprintf(c.io.out, "FAILED %s: %s\n", r.Ref, inputOrErr(r.Err))
				continue
			}
			done++
			fmt.Fprintf(c.io.out, "reset %s (%s): %s\n", r.User.Email, r.User.ID, resetLine(r))
		}
		return nil
	}
	if m.all {
		err = inst.Admin.ResetOrgMFA(ctx, actor(), admin.Everyone, c.org, m.method, report)
	} else {
		refs := make([]admin.UserRef, len(m.emails))
		for i, e := range m.emails {
			refs[i] = admin.UserRef{Email: e}
		}
		var rs []admin.MFAReset
		if rs, err = inst.Admin.ResetMFA(ctx, actor(), admin.Everyone, refs, m.method); err == nil {
			err = report(rs)
		}
	}
	if err != nil {
		if done+failed > 0 {
			fmt.Fprintf(c.io.out, "stopped after %d users (%d reset, %d failed)\n", done+failed, done, failed)
		}
		return inputOrErr(err)
	}
	enrol := "any method the organization allows"
	if m.method != "" {
		enrol = strings.ToLower(strings.TrimSpace(m.method))
	}
	fmt.Fprintf(c.io.out, "%d reset, %d failed; the next sign-in of each user reset sets up %s\n", done, failed, enrol)
	if failed > 0 {
		return fmt.Errorf("%d of %d users could not be reset", failed, done+failed)
	}
	return nil
}

func resetLine(r admin.MFAReset) string {
	notice := "no notice sent (the account cannot sign in, or email is not configured)"
	if r.Notified {
		notice = "notice emailed"
	}
	return fmt.Sprintf("%s removed, %s ended, %s revoked; %s", plural(r.FactorsRemoved, "factor"),
		plural(r.SessionsEnded, "session"), plural(r.TokensRevoked, "token"), notice)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
