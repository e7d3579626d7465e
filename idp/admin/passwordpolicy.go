package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// checkPassword applies org's effective policy (not its minimum age) to a
// password an administrator sets. A refusal is an InputError with the
// policy's own plain-words message.
func (s *Service) checkPassword(ctx context.Context, org storage.Organization, pw string) error {
	err := s.Checker.Check(ctx, s.Policy.WithOrg(org.PasswordPolicy), pw)
	var pe *password.PolicyError
	if errors.As(err, &pe) {
		return &InputError{Msg: pe.Message, Err: pe}
	}
	if err != nil {
		return fmt.Errorf("password policy: %w", err)
	}
	return nil
}

// The password policy settings, named as in the config file, the admin
// API, the CLI (with hyphens) and the audit record.
const (
	SettingMinLength   = "min_length"
	SettingMaxAge      = "max_age"
	SettingMinAge      = "min_age"
	SettingBreachCheck = "breach_check"
)

// PolicySettings lists the settings in the order they are shown.
var PolicySettings = []string{SettingMinLength, SettingMaxAge, SettingMinAge, SettingBreachCheck}

// PasswordPolicyChange is what to change in an organization's password
// policy. A nil field stays as it is; Inherit names settings that go back
// to the server default. A 0 age or a false BreachCheck turns that rule
// off for the organization whatever the default says.
type PasswordPolicyChange struct {
	MinLength   *int
	MaxAge      *time.Duration
	MinAge      *time.Duration
	BreachCheck *bool
	Inherit     []string
}

// PasswordPolicyInfo is an organization's password policy: what applies
// (Effective) and what the organization sets itself (Overrides; the rest
// is the server default).
type PasswordPolicyInfo struct {
	Org       storage.Organization
	Effective password.Policy
	Overrides storage.PasswordPolicy
}

// Overridden reports whether the organization sets setting itself.
func (i PasswordPolicyInfo) Overridden(setting string) bool {
	o := i.Overrides
	switch setting {
	case SettingMinLength:
		return o.MinLength > 0
	case SettingMaxAge:
		return o.MaxAge != nil
	case SettingMinAge:
		return o.MinAge != nil
	case SettingBreachCheck:
		return o.BreachCheck != nil
	}
	return false
}

func (s *Service) policyInfo(o storage.Organization) PasswordPolicyInfo {
	eff := s.Policy.WithOrg(o.PasswordPolicy)
	eff.MinLength = eff.MinimumLength()
	return PasswordPolicyInfo{Org: o, Effective: eff, Overrides: o.PasswordPolicy}
}

func (s *Service) orgByName(ctx context.Context, op, name string) (storage.Organization, error) {
	o, err := s.Store.GetOrganizationByName(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return o, &InputError{Msg: fmt.Sprintf("organization %q does not exist", shorten(name)), Err: storage.ErrNotFound}
	} else if err != nil {
		return o, fmt.Errorf("%s: %w", op, err)
	}
	return o, nil
}

// GetPasswordPolicy returns the password policy of the organization named
// org.
func (s *Service) GetPasswordPolicy(ctx context.Context, org string) (PasswordPolicyInfo, error) {
	o, err := s.orgByName(ctx, "get password policy", org)
	if err != nil {
		return PasswordPolicyInfo{}, err
	}
	return s.policyInfo(o), nil
}

// SetPasswordPolicy changes the password policy of the organization named
// org and records org.password_policy_changed with each setting changed.
// The resulting effective policy must be within idp/password's bounds
// (Policy.Validate); otherwise nothing changes and the InputError says
// which setting is wrong. A change that changes nothing is not recorded.
func (s *Service) SetPasswordPolicy(ctx context.Context, actor, org string, ch PasswordPolicyChange) (PasswordPolicyInfo, error) {
	const op = "set password policy"
	o, err := s.orgByName(ctx, op, org)
	if err != nil {
		return PasswordPolicyInfo{}, err
	}
	var changes map[string]string
	now := s.Now()
	o, err = s.Store.UpdateOrganization(ctx, o.ID, func(cur storage.Organization) (storage.Organization, error) {
		next, diff, err := s.applyPolicyChange(cur.PasswordPolicy, ch)
		if err != nil {
			return cur, err
		}
		changes = diff
		if len(diff) > 0 {
			cur.PasswordPolicy, cur.UpdatedAt = next, now
		}
		return cur, nil
	})
	if err != nil {
		var ie *InputError
		if errors.As(err, &ie) {
			return PasswordPolicyInfo{}, ie
		}
		return PasswordPolicyInfo{}, fmt.Errorf("%s: %w", op, err)
	}
	if len(changes) == 0 {
		return s.policyInfo(o), nil
	}
	return s.policyInfo(o), s.Audit.Record(ctx, storage.AuditEvent{Type: audit.OrgPasswordPolicyChanged, OrgID: o.ID,
		ActorID: actor, Details: changes})
}

// applyPolicyChange returns cur with ch applied, and each setting that
// changed as "old -> new"; or an InputError.
func (s *Service) applyPolicyChange(cur storage.PasswordPolicy, ch PasswordPolicyChange) (storage.PasswordPolicy, map[string]string, error) {
	inherit := map[string]bool{}
	for _, name := range ch.Inherit {
		if !slices.Contains(PolicySettings, name) {
			return cur, nil, inputErr("%q is not a password policy setting; the settings are %s", shorten(name), strings.Join(PolicySettings, ", "))
		}
		inherit[name] = true
	}
	next := cur
	set := func(name string, given bool, apply, reset func()) error {
		switch {
		case given && inherit[name]:
			return inputErr("%s: give a value or go back to the server default, not both", name)
		case given:
			apply()
		case inherit[name]:
			reset()
		}
		return nil
	}
	if err := errors.Join(
		set(SettingMinLength, ch.MinLength != nil, func() { next.MinLength = *ch.MinLength }, func() { next.MinLength = 0 }),
		set(SettingMaxAge, ch.MaxAge != nil, func() { next.MaxAge = ptr(*ch.MaxAge) }, func() { next.MaxAge = nil }),
		set(SettingMinAge, ch.MinAge != nil, func() { next.MinAge = ptr(*ch.MinAge) }, func() { next.MinAge = nil }),
		set(SettingBreachCheck, ch.BreachCheck != nil, func() { next.BreachCheck = ptr(*ch.BreachCheck) }, func() { next.BreachCheck = nil }),
	); err != nil {
		return cur, nil, inputErr("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	eff := s.Policy.WithOrg(next)
	switch {
	case ch.MinLength != nil:
		eff.MinLength = *ch.MinLength // 0 or less is out of range, not "inherit"
	case eff.MinLength == 0:
		eff.MinLength = eff.MinimumLength()
	}
	if err := eff.Validate(); err != nil {
		return cur, nil, inputErr("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	diff := map[string]string{}
	for _, name := range PolicySettings {
		if a, b := describeOverride(cur, name), describeOverride(next, name); a != b {
			diff[name] = a + " -> " + b
		}
	}
	return next, diff, nil
}

// describeOverride says what an organization sets for one setting, as the
// audit record and the CLI show it: "default" when it inherits.
func describeOverride(o storage.PasswordPolicy, setting string) string {
	switch setting {
	case SettingMinLength:
		if o.MinLength > 0 {
			return strconv.Itoa(o.MinLength)
		}
	case SettingMaxAge:
		if o.MaxAge != nil {
			return DescribeAge(*o.MaxAge)
		}
	case SettingMinAge:
		if o.MinAge != nil {
			return DescribeAge(*o.MinAge)
		}
	case SettingBreachCheck:
		if o.BreachCheck != nil {
			return onOff(*o.BreachCheck)
		}
	}
	return "default"
}

// DescribeAge is an age as people read it: "off" for 0, else "90d", "36h".
func DescribeAge(d time.Duration) string {
	if d == 0 {
		return "off"
	}
	return password.FormatAge(d)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func ptr[T any](v T) *T { return &v }
