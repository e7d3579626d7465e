package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
	"github.com/gatehouse-idp/gatehouse/idp/password"
)

// inheritWord, as a flag's value, returns a setting to the server default.
const inheritWord = "default"

const setPolicyUsage = "--org ORG [--min-length N] [--max-age AGE] [--min-age AGE] [--breach-check[=true|false]] (each also takes \"default\")"

// policyFlags are the settings of orgs set-password-policy, as typed; run
// knows from cmdEnv.set which were given.
type policyFlags struct {
	minLength, maxAge, minAge string
	breachCheck               boolOrDefault
}

// boolOrDefault is a boolean flag that also takes "default":
// --breach-check, --breach-check=false, --breach-check=default.
type boolOrDefault struct{ v string }

func (b *boolOrDefault) String() string   { return b.v }
func (b *boolOrDefault) IsBoolFlag() bool { return true }
func (b *boolOrDefault) Set(s string) error {
	if s == inheritWord {
		b.v = s
		return nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("use true, false or %s", inheritWord)
	}
	b.v = strconv.FormatBool(v)
	return nil
}

func setPolicyFlags(fs *flag.FlagSet, c *cmdEnv) {
	ageHelp := `%s: whole days ("90d") or a duration ("36h"); 0 turns it off; "default" is the server's`
	fs.StringVar(&c.org, "org", "", "organization name (required)")
	fs.StringVar(&c.policy.minLength, "min-length", "", `minimum length in characters, 8 to 1024; "default" is the server's`)
	fs.StringVar(&c.policy.maxAge, "max-age", "", fmt.Sprintf(ageHelp, "passwords older than this are replaced at the next login"))
	fs.StringVar(&c.policy.minAge, "min-age", "", fmt.Sprintf(ageHelp, "a self-service change or reset within this time of the last one is refused"))
	fs.Var(&c.policy.breachCheck, "breach-check", `refuse passwords Have I Been Pwned knows (=false: do not check; =default: the server's)`)
}

// policyChange turns the flags given into an admin.PasswordPolicyChange.
func (c *cmdEnv) policyChange() (admin.PasswordPolicyChange, error) {
	var ch admin.PasswordPolicyChange
	inherit := func(flagName, setting, v string) bool {
		if c.set[flagName] && v == inheritWord {
			ch.Inherit = append(ch.Inherit, setting)
			return true
		}
		return !c.set[flagName]
	}
	if !inherit("min-length", admin.SettingMinLength, c.policy.minLength) {
		n, err := strconv.Atoi(strings.TrimSpace(c.policy.minLength))
		if err != nil {
			return ch, fmt.Errorf("--min-length: %q is not a number (or %q)", c.policy.minLength, inheritWord)
		}
		ch.MinLength = &n
	}
	for _, a := range []struct {
		flag, setting, v string
		out              **time.Duration
	}{{"max-age", admin.SettingMaxAge, c.policy.maxAge, &ch.MaxAge}, {"min-age", admin.SettingMinAge, c.policy.minAge, &ch.MinAge}} {
		if inherit(a.flag, a.setting, a.v) {
			continue
		}
		d, err := password.ParseAge(a.v)
		if err != nil {
			return ch, fmt.Errorf("--%s: %w", a.flag, err)
		}
		*a.out = &d
	}
	if !inherit("breach-check", admin.SettingBreachCheck, c.policy.breachCheck.v) {
		b := c.policy.breachCheck.v == "true"
		ch.BreachCheck = &b
	}
	return ch, nil
}

func runOrgsSetPasswordPolicy(ctx context.Context, c *cmdEnv) error {
	if c.org == "" {
		return fmt.Errorf("%w: --org is required", errUsage)
	}
	if !c.set["min-length"] && !c.set["max-age"] && !c.set["min-age"] && !c.set["breach-check"] {
		return fmt.Errorf("%w: give at least one of --min-length, --max-age, --min-age, --breach-check "+
			"('gatehouse orgs show --org %s' shows the policy)", errUsage, c.org)
	}
	ch, err := c.policyChange()
	if err != nil {
		return err
	}
	return withInstance(ctx, c, func(inst *instance.Instance) (string, error) {
		info, err := inst.Admin.SetPasswordPolicy(ctx, actor(), c.org, ch)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "password policy of organization %s:\n", info.Org.Name)
		writePolicy(&b, info)
		return strings.TrimSuffix(b.String(), "\n"), nil
	})
}

// runOrgsShow prints an organization with its MFA policy and its
// effective password policy. --name is the flag's older spelling, kept
// so that scripts written before --org keep working.
func runOrgsShow(ctx context.Context, c *cmdEnv) error {
	org := c.org
	switch {
	case org != "" && c.name != "" && org != c.name:
		return fmt.Errorf("%w: --org and --name are the same flag; give one", errUsage)
	case org == "":
		org = c.name
	}
	if org == "" {
		return fmt.Errorf("%w: --org is required", errUsage)
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	info, err := inst.Admin.GetPasswordPolicy(ctx, org)
	if err != nil {
		return inputOrErr(err)
	}
	o := info.Org
	if c.asJSON {
		mfa := admin.ViewMFAPolicy(o)
		pw := admin.ViewPasswordPolicy(info)
		return writeJSON(c.io.out, map[string]any{"id": o.ID, "name": o.Name, "display_name": o.DisplayName,
			"domains": nonNilStrings(o.Domains), "created_at": o.CreatedAt.UTC(), "mfa": mfa,
			"password_policy": map[string]any{"effective": pw.Effective, "overrides": pw.Overrides}})
	}
	tw := tabwriter.NewWriter(c.io.out, 0, 4, 2, ' ', 0)
	for _, row := range [][2]string{{"name", o.Name}, {"id", o.ID}, {"display name", o.DisplayName},
		{"domains", orNone(strings.Join(o.Domains, ","))}, {"created", stamp(o.CreatedAt)}} {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	tw.Flush()
	fmt.Fprintln(c.io.out, "mfa policy:")
	writeMFAPolicy(c.io.out, o.MFA)
	fmt.Fprintln(c.io.out, "password policy:")
	writePolicy(c.io.out, info)
	return nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// writePolicy prints the effective policy, one setting a line, with where
// each value comes from.
func writePolicy(w io.Writer, info admin.PasswordPolicyInfo) {
	e := info.Effective
	values := map[string]string{
		admin.SettingMinLength:   strconv.Itoa(e.MinLength),
		admin.SettingMaxAge:      admin.DescribeAge(e.MaxAge),
		admin.SettingMinAge:      admin.DescribeAge(e.MinAge),
		admin.SettingBreachCheck: map[bool]string{true: "on", false: "off"}[e.BreachCheck],
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range admin.PolicySettings {
		from := "server default"
		if info.Overridden(s) {
			from = "organization"
		}
		fmt.Fprintf(tw, "  %s\t%s\t(%s)\n", s, values[s], from)
	}
	tw.Flush()
}
