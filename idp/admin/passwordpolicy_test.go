package admin

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func policyEvents(t *testing.T, s *Service, orgID string) []map[string]string {
	t.Helper()
	evs, err := backend(t, s).ListAuditEvents(context.Background(), storage.AuditQuery{OrgID: orgID, Type: audit.OrgPasswordPolicyChanged})
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, e := range evs {
		if e.ActorID != "test" {
			t.Errorf("event actor %q", e.ActorID)
		}
		out = append(out, e.Details)
	}
	return out
}

// TestSetPasswordPolicy walks one organization through changes: each step
// gives the effective policy, the audit record of what changed, or the
// reason it was refused (and then nothing changed).
func TestSetPasswordPolicy(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	s.Policy = password.Policy{MinLength: 10, BreachCheck: true, MaxAge: 365 * 24 * time.Hour}
	if _, err := s.Bootstrap(ctx, "default", ""); err != nil {
		t.Fatal(err)
	}
	const day = 24 * time.Hour
	d := func(v time.Duration) *time.Duration { return &v }
	steps := []struct {
		name    string
		change  PasswordPolicyChange
		want    password.Policy
		details map[string]string // nil: no event
		err     string
	}{
		{"nothing to change", PasswordPolicyChange{}, password.Policy{MinLength: 10, BreachCheck: true, MaxAge: 365 * day}, nil, ""},
		{"raise min length", PasswordPolicyChange{MinLength: ptr(14)},
			password.Policy{MinLength: 14, BreachCheck: true, MaxAge: 365 * day},
			map[string]string{"min_length": "default -> 14"}, ""},
		{"same again records nothing", PasswordPolicyChange{MinLength: ptr(14)},
			password.Policy{MinLength: 14, BreachCheck: true, MaxAge: 365 * day}, nil, ""},
		{"turn off what the default has on", PasswordPolicyChange{MaxAge: d(0), BreachCheck: ptr(false)},
			password.Policy{MinLength: 14},
			map[string]string{"max_age": "default -> off", "breach_check": "default -> off"}, ""},
		{"min age", PasswordPolicyChange{MinAge: d(day)},
			password.Policy{MinLength: 14, MinAge: day},
			map[string]string{"min_age": "default -> 1d"}, ""},
		{"back to the defaults", PasswordPolicyChange{Inherit: []string{"min_length", "max_age", "breach_check"}},
			password.Policy{MinLength: 10, BreachCheck: true, MaxAge: 365 * day, MinAge: day},
			map[string]string{"min_length": "14 -> default", "max_age": "off -> default", "breach_check": "off -> default"}, ""},
		{"min length below the floor", PasswordPolicyChange{MinLength: ptr(6)}, password.Policy{}, nil, "min_length: must be between 8 and 1024, got 6"},
		{"min length 0 is not inherit", PasswordPolicyChange{MinLength: ptr(0)}, password.Policy{}, nil, "min_length: must be between 8 and 1024, got 0"},
		{"min length above the longest password", PasswordPolicyChange{MinLength: ptr(1025)}, password.Policy{}, nil, "got 1025"},
		{"max age too short", PasswordPolicyChange{MaxAge: d(time.Hour)}, password.Policy{}, nil, "max_age: must be 0"},
		{"negative age", PasswordPolicyChange{MinAge: d(-time.Hour)}, password.Policy{}, nil, "min_age: must be 0"},
		{"min age not below the inherited max age", PasswordPolicyChange{MinAge: d(30 * day), MaxAge: d(20 * day)}, password.Policy{}, nil, "must be shorter than max_age"},
		{"set and inherit at once", PasswordPolicyChange{MinLength: ptr(12), Inherit: []string{"min_length"}}, password.Policy{}, nil, "not both"},
		{"unknown setting", PasswordPolicyChange{Inherit: []string{"complexity"}}, password.Policy{}, nil, `"complexity" is not a password policy setting`},
	}
	org, _ := s.Store.GetOrganizationByName(ctx, "default")
	events := 0
	for _, st := range steps {
		before, _ := s.GetPasswordPolicy(ctx, "default")
		info, err := s.SetPasswordPolicy(ctx, "test", "default", st.change)
		if st.err != "" {
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(ie.Msg, st.err) {
				t.Fatalf("%s: err = %v; want an InputError with %q", st.name, err, st.err)
			}
			if after, _ := s.GetPasswordPolicy(ctx, "default"); !reflect.DeepEqual(after.Overrides, before.Overrides) {
				t.Fatalf("%s: a refused change changed the policy: %+v", st.name, after.Overrides)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if info.Effective != st.want {
			t.Fatalf("%s: effective %+v; want %+v", st.name, info.Effective, st.want)
		}
		if got, _ := s.GetPasswordPolicy(ctx, "default"); got.Effective != st.want {
			t.Fatalf("%s: stored effective %+v; want %+v", st.name, got.Effective, st.want)
		}
		evs := policyEvents(t, s, org.ID)
		if st.details != nil {
			events++
			if len(evs) != events || !reflect.DeepEqual(evs[0], st.details) {
				t.Fatalf("%s: audit %v; want %d events, newest %v", st.name, evs, events, st.details)
			}
		} else if len(evs) != events {
			t.Fatalf("%s: %d events; want %d", st.name, len(evs), events)
		}
	}
	if _, err := s.SetPasswordPolicy(ctx, "test", "nope", PasswordPolicyChange{}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown organization: %v; want ErrNotFound", err)
	}
}

type fixedBreacher map[string]bool

func (f fixedBreacher) Breached(_ context.Context, pw string) (bool, error) { return f[pw], nil }

// TestSetPasswordAppliesThePolicy: an administrator's password goes
// through the organization's effective policy (its length, the list, the
// breach check), but not the minimum age, which an admin overrides.
func TestSetPasswordAppliesThePolicy(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	s.Checker = &password.Checker{Breach: fixedBreacher{"hunter2-but-longer": true}, Logger: slog.New(slog.DiscardHandler)}
	if _, err := s.Bootstrap(ctx, "default", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "test", CreateUserInput{Email: "a@example.com", Org: "default"}); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	if _, err := s.SetPasswordPolicy(ctx, "test", "default", PasswordPolicyChange{MinLength: ptr(12), BreachCheck: ptr(true), MinAge: &day}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, pw, rule string
	}{
		{"too short for the org", "elevenchars", password.RuleTooShort},
		{"common", "qwertyuiop123", password.RuleCommon},
		{"breached", "hunter2-but-longer", password.RuleBreached},
		{"too long", strings.Repeat("x", password.MaxLength+1), password.RuleTooLong},
		{"ok", "plinth-tuba-87-quasar", ""},
		{"again at once: no minimum age for an admin", "another-long-passphrase", ""},
		{"200 characters", strings.Repeat("plinth-tuba ", 17)[:200], ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.SetPassword(ctx, "test", "a@example.com", tt.pw)
			if tt.rule == "" {
				if err != nil {
					t.Fatalf("SetPassword = %v", err)
				}
				if ok, _, err := s.Hasher.Verify(ctx, u.PasswordHash, tt.pw); !ok || err != nil {
					t.Fatalf("the stored hash does not verify the exact password: %v %v", ok, err)
				}
				return
			}
			var ie *InputError
			var pe *password.PolicyError
			if !errors.As(err, &ie) || !errors.As(err, &pe) || pe.Rule != tt.rule || ie.Msg != pe.Message {
				t.Fatalf("SetPassword = %v; want an InputError carrying the %q rule", err, tt.rule)
			}
		})
	}
}
