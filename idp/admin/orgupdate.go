package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// OrgChange is what to change of an organization's own fields; a nil
// field stays as it is.
type OrgChange struct {
	DisplayName *string
	// Domains replaces the organization's domains.
	Domains *[]string
}

// UpdateOrg changes the display name or the domains of the organization
// named org and records org.updated with each field changed. A domain
// that one of the organization's connectors serves cannot be removed
// (edit the connector first): home-realm discovery would otherwise send
// its users to a connector of an organization that no longer owns their
// domain. A domain of another organization is a conflict.
func (s *Service) UpdateOrg(ctx context.Context, actor, org string, ch OrgChange) (storage.Organization, error) {
	const op = "update organization"
	o, err := s.orgByName(ctx, op, org)
	if err != nil {
		return o, err
	}
	next := o
	if ch.DisplayName != nil {
		name := strings.TrimSpace(*ch.DisplayName)
		if err := checkText("display_name", name, MaxDisplayName); err != nil {
			return o, err
		}
		next.DisplayName = firstNonEmpty(name, o.Name)
	}
	if ch.Domains != nil {
		domains, err := normalizeDomains(*ch.Domains)
		if err != nil {
			return o, err
		}
		if err := s.checkDomainsServed(ctx, o, domains); err != nil {
			return o, err
		}
		next.Domains = domains
	}
	changes := map[string]string{}
	if next.DisplayName != o.DisplayName {
		changes["display_name"] = o.DisplayName + " -> " + next.DisplayName
	}
	if !slices.Equal(next.Domains, o.Domains) {
		changes["domains"] = strings.Join(o.Domains, ",") + " -> " + strings.Join(next.Domains, ",")
	}
	if len(changes) == 0 {
		return o, nil
	}
	now := s.Now()
	o, err = s.Store.UpdateOrganization(ctx, o.ID, func(cur storage.Organization) (storage.Organization, error) {
		cur.DisplayName, cur.Domains, cur.UpdatedAt = next.DisplayName, next.Domains, now
		return cur, nil
	})
	switch {
	case errors.Is(err, storage.ErrConflict):
		return o, conflictErr("one of the domains %s belongs to another organization", strings.Join(next.Domains, ", "))
	case errors.Is(err, storage.ErrNotFound):
		return o, &InputError{Msg: fmt.Sprintf("organization %q does not exist", shorten(org)), Err: storage.ErrNotFound}
	case err != nil:
		return o, fmt.Errorf("%s: %w", op, err)
	}
	return o, s.Audit.Record(ctx, storage.AuditEvent{Type: audit.OrgUpdated, OrgID: o.ID, ActorID: actor, Details: changes})
}

// checkDomainsServed refuses domains when it drops a domain one of o's
// connectors serves.
func (s *Service) checkDomainsServed(ctx context.Context, o storage.Organization, domains []string) error {
	cs, err := s.Store.ListConnectors(ctx, o.ID)
	if err != nil {
		return fmt.Errorf("update organization: connectors: %w", err)
	}
	for _, c := range cs {
		for _, d := range c.Domains {
			if !slices.Contains(domains, d) {
				return inputErr("domain %q is served by connector %q; remove it from the connector first", d, c.ID)
			}
		}
	}
	return nil
}

// InheritWord, as a setting's value in ParsePolicyChange, returns the
// setting to the server default.
const InheritWord = "default"

// ParsePolicyChange reads a password policy change from text, as a form
// or a command line gives it: values maps a setting (PolicySettings) to
// its value; a setting not in values stays as it is, InheritWord returns
// it to the server default. min_length is a number; the ages are whole
// days ("90d") or a duration ("36h"), 0 or "off" turning the rule off;
// breach_check is on/off (or true/false). The error is an InputError
// naming each setting it could not read.
func ParsePolicyChange(values map[string]string) (PasswordPolicyChange, error) {
	var ch PasswordPolicyChange
	var errs []string
	for _, name := range PolicySettings {
		v, ok := values[name]
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if v == InheritWord {
			ch.Inherit = append(ch.Inherit, name)
			continue
		}
		switch name {
		case SettingMinLength:
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %q is not a number", name, shorten(v)))
				continue
			}
			ch.MinLength = &n
		case SettingMaxAge, SettingMinAge:
			d, err := password.ParseAge(v)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", name, err))
				continue
			}
			if name == SettingMaxAge {
				ch.MaxAge = &d
			} else {
				ch.MinAge = &d
			}
		case SettingBreachCheck:
			b, ok := map[string]bool{"on": true, "true": true, "off": false, "false": false}[strings.ToLower(v)]
			if !ok {
				errs = append(errs, fmt.Sprintf("%s: use on, off or %s", name, InheritWord))
				continue
			}
			ch.BreachCheck = &b
		}
	}
	if len(errs) > 0 {
		return ch, inputErr("%s", strings.Join(errs, "; "))
	}
	return ch, nil
}

// OverrideText is what an organization sets for one setting as a form
// shows it: "" when it inherits the server default, else the value as
// ParsePolicyChange reads it back ("12", "90d", "off", "on").
func (i PasswordPolicyInfo) OverrideText(setting string) string {
	if !i.Overridden(setting) {
		return ""
	}
	return describeOverride(i.Overrides, setting)
}

// DefaultText is the server default of one setting, as OverrideText
// shows values.
func (s *Service) DefaultText(setting string) string {
	p := s.Policy
	switch setting {
	case SettingMinLength:
		return strconv.Itoa(p.MinimumLength())
	case SettingMaxAge:
		return DescribeAge(p.MaxAge)
	case SettingMinAge:
		return DescribeAge(p.MinAge)
	case SettingBreachCheck:
		return onOff(p.BreachCheck)
	}
	return ""
}
