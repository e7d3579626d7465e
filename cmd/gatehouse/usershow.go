package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// runUsersShow prints what an administrator needs to know of one user:
// state, roles, factors (no secrets), the skip flag, the lockout and the
// last login.
func runUsersShow(ctx context.Context, c *cmdEnv) error {
	if c.email == "" {
		return fmt.Errorf("%w: --email is required", errUsage)
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	info, err := inst.Admin.ShowUser(ctx, c.email)
	if err != nil {
		return inputOrErr(err)
	}
	if c.asJSON {
		return writeJSON(c.io.out, showJSON(info, inst.Now()))
	}
	u, now := info.User, inst.Now()
	tw := tabwriter.NewWriter(c.io.out, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("email", u.Email)
	row("id", u.ID)
	row("name", orNone(u.Name))
	row("phone", orNone(u.Phone))
	row("organization", info.Org)
	row("state", string(u.State))
	row("email verified", yesNo(u.EmailVerified))
	row("roles", orNone(strings.Join(info.Roles, ", ")))
	switch {
	case info.LockedUntil.After(now):
		row("lockout", fmt.Sprintf("locked until %s (%d failed sign-ins); users unlock lifts it", stamp(info.LockedUntil), info.Failures))
	case info.Failures > 0:
		row("lockout", fmt.Sprintf("not locked; %d failed sign-ins counted", info.Failures))
	default:
		row("lockout", "not locked")
	}
	row("password", passwordLine(u.PasswordHash != "", u.PasswordChangedAt))
	row("mfa skipped", skipLine(u))
	row("enrolment required", enrolLine(u))
	if len(info.Factors) == 0 {
		row("factors", "none")
	}
	for i, f := range info.Factors {
		k := ""
		if i == 0 {
			k = "factors"
		}
		row(k, factorLine(f))
	}
	row("recovery codes", recoveryLine(info))
	row("last sign-in", stampOr(u.LastLoginAt, "never"))
	row("created", stamp(u.CreatedAt))
	return tw.Flush()
}

// skipLine says whether the user chose "Skip for now", and when: a skip
// counts only in the policy generation it was made in.
func skipLine(u storage.User) string {
	if !u.MFASkipped {
		return "no"
	}
	return "yes, " + stampOr(u.MFASkippedAt, "at an unknown time")
}

// enrolLine says whether an MFA reset makes the next sign-in set up a
// factor, and of which method.
func enrolLine(u storage.User) string {
	switch {
	case !u.MFAEnrollRequired:
		return "no"
	case u.MFAEnrolMethod == "":
		return "yes, at the next sign-in, any method the organization allows"
	}
	return "yes, at the next sign-in, method " + u.MFAEnrolMethod
}

func recoveryLine(info admin.UserInfo) string {
	if info.RecoveryTotal == 0 {
		return "none"
	}
	return fmt.Sprintf("%d of %d left", info.RecoveryCodes, info.RecoveryTotal)
}

func factorLine(f admin.FactorInfo) string {
	s := f.Kind
	if f.Label != "" {
		s += " " + fmt.Sprintf("%q", f.Label)
	}
	s += ", added " + stamp(f.CreatedAt)
	if !f.Confirmed {
		return s + ", enrolment not confirmed"
	}
	s += ", confirmed " + stamp(f.ConfirmedAt) + ", last used " + stampOr(f.LastUsedAt, "never")
	if f.Flagged {
		s += "; FLAGGED: its signature counter went backwards, so it may be a copy; it no longer signs in, remove it"
	}
	return s
}

func passwordLine(set bool, changed time.Time) string {
	if !set {
		return "none"
	}
	return "set, changed " + stampOr(changed, "at an unknown time")
}

func showJSON(info admin.UserInfo, now time.Time) map[string]any {
	u := info.User
	factors := make([]map[string]any, 0, len(info.Factors))
	for _, f := range info.Factors {
		factors = append(factors, map[string]any{"id": f.ID, "kind": f.Kind, "label": f.Label, "confirmed": f.Confirmed,
			"created_at": f.CreatedAt, "confirmed_at": optTime(f.ConfirmedAt), "last_used_at": optTime(f.LastUsedAt), "flagged": f.Flagged})
	}
	return map[string]any{
		"id": u.ID, "email": u.Email, "name": u.Name, "phone": u.Phone, "org": info.Org, "state": u.State, "email_verified": u.EmailVerified,
		"roles": nonNilStrings(u.Roles), "roles_described": nonNilStrings(info.Roles), "password_set": u.PasswordHash != "", "password_changed_at": optTime(u.PasswordChangedAt),
		"locked": info.LockedUntil.After(now), "locked_until": optTime(info.LockedUntil), "failed_sign_ins": info.Failures,
		"mfa_skipped": u.MFASkipped, "mfa_skipped_at": optTime(u.MFASkippedAt), "mfa_enroll_required": u.MFAEnrollRequired,
		"mfa_enrol_method": u.MFAEnrolMethod, "factors": factors,
		"recovery_codes_unused": info.RecoveryCodes, "recovery_codes_total": info.RecoveryTotal, "last_login_at": optTime(u.LastLoginAt), "created_at": u.CreatedAt,
	}
}

func optTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func stampOr(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return stamp(t)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
