package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
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
	// Branding replaces the organization's look on the login pages.
	Branding *storage.Branding
}

// UpdateOrg changes the display name, the domains or the branding of the
// organization named org and records org.updated with each field changed. A domain
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
	if ch.Branding != nil {
		b, err := s.checkBranding(*ch.Branding)
		if err != nil {
			return o, err
		}
		next.Branding = b
	}
	changes := map[string]string{}
	if next.Branding != o.Branding {
		changes["branding"] = describeBranding(o.Branding) + " -> " + describeBranding(next.Branding)
	}
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
		// Only the fields given: a connector's claim of a domain that ran
		// meanwhile must not be undone by a change of the name.
		if ch.DisplayName != nil {
			cur.DisplayName = next.DisplayName
		}
		if ch.Domains != nil {
			cur.Domains = next.Domains
		}
		if ch.Branding != nil {
			cur.Branding = next.Branding
		}
		cur.UpdatedAt = now
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

// MaxLogoURL bounds a logo's URL.
const MaxLogoURL = 2048

var accentRE = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// checkBranding returns b in canonical form, or an InputError: the logo an
// https URL (http too in dev mode) without credentials, the accent a
// #rrggbb colour on which white text has the 4.5:1 contrast WCAG asks of
// text (the buttons it colours have white labels).
func (s *Service) checkBranding(b storage.Branding) (storage.Branding, error) {
	b.LogoURL, b.Accent = strings.TrimSpace(b.LogoURL), strings.ToLower(strings.TrimSpace(b.Accent))
	if b.LogoURL != "" {
		u, err := url.Parse(b.LogoURL)
		ok := err == nil && u.Host != "" && u.User == nil && (u.Scheme == "https" || (s.Federation.Dev && u.Scheme == "http"))
		if !ok || len(b.LogoURL) > MaxLogoURL || !storage.Storable(b.LogoURL) {
			return b, inputErr("logo URL %q: give an https URL of an image, at most %d characters", shorten(b.LogoURL), MaxLogoURL)
		}
	}
	if b.Accent != "" {
		if !accentRE.MatchString(b.Accent) {
			return b, inputErr("accent colour %q: give it as #rrggbb, such as #1d4ed8", shorten(b.Accent))
		}
		if c := contrastWithWhite(b.Accent); c < 4.5 {
			return b, inputErr("accent colour %s is too light for white button text (contrast %.1f:1; it needs 4.5:1): choose a darker one", b.Accent, c)
		}
	}
	return b, nil
}

// contrastWithWhite is WCAG 2's contrast ratio of white on hex (#rrggbb).
func contrastWithWhite(hex string) float64 {
	lin := func(s string) float64 {
		v, _ := strconv.ParseUint(s, 16, 8)
		c := float64(v) / 255
		if c <= 0.04045 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(hex[1:3]) + 0.7152*lin(hex[3:5]) + 0.0722*lin(hex[5:7])
	return 1.05 / (l + 0.05)
}

func describeBranding(b storage.Branding) string {
	if !b.Branded() {
		return "none"
	}
	return fmt.Sprintf("logo=%s accent=%s", cmp.Or(b.LogoURL, "none"), cmp.Or(b.Accent, "none"))
}
