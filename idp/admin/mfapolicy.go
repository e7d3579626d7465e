package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// MFAPolicyInput is an organization's second-factor policy as an
// administrator sets it. Methods, AllowSkip, OtherEmail and SMSSelfEnrol
// apply only with Required.
type MFAPolicyInput struct {
	Required bool
	// Methods are the methods users may enrol (mfa.Known); at least one
	// when Required. Recovery codes are not a method: they always come
	// with the first factor.
	Methods    []string
	AllowSkip  bool
	OtherEmail bool
	// SMSSelfEnrol lets users without a number on their profile enter
	// one for text-message codes; only with the sms method.
	SMSSelfEnrol bool
}

// knownMethods says which method names exist, for error messages.
func knownMethods() string { return strings.Join(mfa.Known, ", ") }

// checkMethod is an InputError unless name is a method a policy may name.
func checkMethod(name string) error {
	if !mfa.IsKnown(name) {
		return inputErr("%q is not a second-factor method; the methods are %s", shorten(name), knownMethods())
	}
	return nil
}

// normalizeMethods trims, lower-cases and de-duplicates methods, and
// refuses an unknown one.
func normalizeMethods(in []string) ([]string, error) {
	var out []string
	for _, m := range in {
		m = strings.ToLower(strings.TrimSpace(m))
		if err := checkMethod(m); err != nil {
			return nil, err
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// validate returns the policy settings in canonical form, or an
// InputError.
func (in MFAPolicyInput) validate() (MFAPolicyInput, error) {
	if !in.Required {
		if len(in.Methods) > 0 || in.AllowSkip || in.OtherEmail || in.SMSSelfEnrol {
			return in, inputErr("methods, allow_skip, other_email and sms_self_enrol apply only while MFA is required; turning it off takes none of them")
		}
		return in, nil
	}
	methods, err := normalizeMethods(in.Methods)
	if err != nil {
		return in, err
	}
	if len(methods) == 0 {
		return in, inputErr("requiring MFA needs at least one method; the methods are %s", knownMethods())
	}
	if in.SMSSelfEnrol && !slices.Contains(methods, mfa.SMS) {
		return in, inputErr("sms_self_enrol applies to text-message codes: add sms to the methods, or leave it out")
	}
	in.Methods = methods
	return in, nil
}

// nextMFAPolicy applies in to cur at now. The generation (Since) moves
// only when MFA is turned on again after having been turned off: everyone
// then enrols again, since the factors of an earlier generation were
// chosen under a policy that was dropped. The first time it is turned on,
// Since stays zero, so that factors users added for themselves keep
// counting. Changing methods or skip while it is on keeps Since: a user
// whose factor is no longer allowed is asked for another one by the
// login, not by a new generation.
func nextMFAPolicy(cur storage.MFAPolicy, in MFAPolicyInput, now time.Time) storage.MFAPolicy {
	next := storage.MFAPolicy{Required: in.Required, Since: cur.Since, DisabledAt: cur.DisabledAt}
	switch {
	case cur.Required && !in.Required:
		next.DisabledAt = now
	case !cur.Required && in.Required && !cur.DisabledAt.IsZero():
		next.Since = now
	}
	if in.Required {
		next.AllowedMethods, next.AllowSkip, next.OtherEmail, next.SMSSelfEnrol = in.Methods, in.AllowSkip, in.OtherEmail, in.SMSSelfEnrol
	}
	return next
}

// DescribeMFAPolicy is a policy in one line, as the audit record and the
// CLI show it: "off", or "on: totp, email; skip allowed; other email
// addresses allowed".
func DescribeMFAPolicy(p storage.MFAPolicy) string {
	if !p.Required {
		return "off"
	}
	s := "on: " + strings.Join(p.AllowedMethods, ", ")
	if len(p.AllowedMethods) == 0 {
		s = "on: every method but email"
	}
	if p.AllowSkip {
		s += "; skip allowed"
	}
	if p.OtherEmail {
		s += "; other email addresses allowed"
	}
	if p.SMSSelfEnrol {
		s += "; users may enter their own mobile number"
	}
	return s
}

// GetMFAPolicy returns the organization named org, whose MFA field is its
// policy.
func (s *Service) GetMFAPolicy(ctx context.Context, org string) (storage.Organization, error) {
	return s.orgByName(ctx, "get MFA policy", org)
}

// SetMFAPolicy replaces the MFA policy of the organization named org and
// records org.mfa_policy_changed with the old and the new policy (and the
// new generation's start when it moved). A change that changes nothing is
// not recorded.
func (s *Service) SetMFAPolicy(ctx context.Context, actor, org string, in MFAPolicyInput) (storage.Organization, error) {
	const op = "set MFA policy"
	in, err := in.validate()
	if err != nil {
		return storage.Organization{}, err
	}
	o, err := s.orgByName(ctx, op, org)
	if err != nil {
		return o, err
	}
	now := s.Now()
	var old storage.MFAPolicy
	o, err = s.Store.UpdateOrganization(ctx, o.ID, func(cur storage.Organization) (storage.Organization, error) {
		old = cur.MFA
		next := nextMFAPolicy(cur.MFA, in, now)
		if !sameMFAPolicy(old, next) {
			cur.MFA, cur.UpdatedAt = next, now
		}
		return cur, nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return o, &InputError{Msg: fmt.Sprintf("organization %q does not exist", shorten(org)), Err: storage.ErrNotFound}
	} else if err != nil {
		return o, fmt.Errorf("%s: %w", op, err)
	}
	if sameMFAPolicy(old, o.MFA) {
		return o, nil
	}
	details := map[string]string{"old": DescribeMFAPolicy(old), "new": DescribeMFAPolicy(o.MFA)}
	if !o.MFA.Since.Equal(old.Since) {
		details["since"] = o.MFA.Since.UTC().Format(time.RFC3339)
	}
	return o, s.Audit.Record(ctx, storage.AuditEvent{Type: audit.OrgMFAPolicyChanged, OrgID: o.ID, ActorID: actor, Details: details})
}

// sameMFAPolicy compares every setting of a policy: one left out here
// would be a change SetMFAPolicy neither stores nor records.
func sameMFAPolicy(a, b storage.MFAPolicy) bool {
	return a.Required == b.Required && slices.Equal(a.AllowedMethods, b.AllowedMethods) && a.AllowSkip == b.AllowSkip &&
		a.OtherEmail == b.OtherEmail && a.SMSSelfEnrol == b.SMSSelfEnrol && a.Since.Equal(b.Since) && a.DisabledAt.Equal(b.DisabledAt)
}
