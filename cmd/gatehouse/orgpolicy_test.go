package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// TestOrgsPasswordPolicyCommands: set-password-policy changes only the
// settings given, shows the effective policy and where each value comes
// from, and the policy then applies where an admin sets a password.
func TestOrgsPasswordPolicyCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := []string{"--data-dir", dir}
	for _, s := range []struct {
		name, stdin string
		args        []string
		code        int
		want        []string // in stdout (code 0) or stderr
	}{
		{"migrate", "", []string{"migrate"}, 0, []string{"applied migration"}},
		{"create org", "", []string{"orgs", "create", "--name", "acme"}, 0, []string{"created organization acme"}},
		{"show defaults", "", []string{"orgs", "show", "--name", "acme"}, 0, []string{"name          acme",
			"min_length    8    (server default)", "max_age       off  (server default)", "breach_check  off  (server default)"}},
		{"set", "", []string{"orgs", "set-password-policy", "--org", "acme", "--min-length", "12", "--max-age", "90d", "--min-age", "24h", "--breach-check"}, 0,
			[]string{"password policy of organization acme:", "min_length    12   (organization)", "max_age       90d  (organization)",
				"min_age       1d   (organization)", "breach_check  on   (organization)"}},
		{"back to default, and off", "", []string{"orgs", "set-password-policy", "--org", "acme", "--breach-check=default", "--min-age", "0"}, 0,
			[]string{"min_length    12   (organization)", "min_age       off  (organization)", "breach_check  off  (server default)"}},
		{"show after", "", []string{"orgs", "show", "--name", "acme"}, 0, []string{"max_age       90d  (organization)"}},
		{"short password for the org", "elevenchars\n", []string{"users", "create", "--email", "a@acme.example", "--org", "acme", "--password-stdin"}, 1,
			[]string{"too short: it must be at least 12 characters"}},
		{"common password", "password1234\n", []string{"users", "create", "--email", "a@acme.example", "--org", "acme", "--password-stdin"}, 1,
			[]string{"most commonly used passwords"}},
		{"ok password", "plinth-tuba-87-quasar\n", []string{"users", "create", "--email", "a@acme.example", "--org", "acme", "--password-stdin"}, 0,
			[]string{"created user a@acme.example"}},
		{"set-password common", "qwerty123456\n", []string{"users", "set-password", "--email", "a@acme.example", "--password-stdin"}, 1,
			[]string{"most commonly used passwords"}},
		{"set-password at once: no minimum age for an admin", "another-long-passphrase\n", []string{"users", "set-password", "--email", "a@acme.example", "--password-stdin"}, 0,
			[]string{"set the password of a@acme.example"}},
		{"no setting", "", []string{"orgs", "set-password-policy", "--org", "acme"}, 2, []string{"give at least one of --min-length"}},
		{"no org", "", []string{"orgs", "set-password-policy", "--min-length", "9"}, 2, []string{"--org is required"}},
		{"unknown org", "", []string{"orgs", "set-password-policy", "--org", "nope", "--min-length", "9"}, 1, []string{`organization "nope" does not exist`}},
		{"below the floor", "", []string{"orgs", "set-password-policy", "--org", "acme", "--min-length", "6"}, 1, []string{"min_length: must be between 8 and 1024, got 6"}},
		{"not a number", "", []string{"orgs", "set-password-policy", "--org", "acme", "--min-length", "ten"}, 1, []string{`--min-length: "ten" is not a number`}},
		{"bad age", "", []string{"orgs", "set-password-policy", "--org", "acme", "--max-age", "3 months"}, 1, []string{`--max-age: "3 months" is not an age`}},
		{"max age too short", "", []string{"orgs", "set-password-policy", "--org", "acme", "--max-age", "2h"}, 1, []string{"max_age: must be 0"}},
		{"bad breach-check", "", []string{"orgs", "set-password-policy", "--org", "acme", "--breach-check=maybe"}, 2, []string{"use true, false or default"}},
		{"show unknown", "", []string{"orgs", "show", "--name", "nope"}, 1, []string{"does not exist"}},
	} {
		r := runCLI(t, s.stdin, append(s.args, d...)...)
		got := r.out
		if s.code != 0 {
			got = r.errOut
		}
		ok := r.code == s.code
		for _, w := range s.want {
			ok = ok && strings.Contains(got, w)
		}
		if !ok {
			t.Fatalf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", s.name, r.code, s.code, r.out, r.errOut, s.want)
		}
	}

	// What was stored, and the audit trail of the two changes.
	inst := openTestInstance(t, dir)
	ctx := context.Background()
	o, err := inst.Store.GetOrganizationByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	pp := o.PasswordPolicy
	if pp.MinLength != 12 || pp.MaxAge == nil || *pp.MaxAge != 90*24*time.Hour || pp.MinAge == nil || *pp.MinAge != 0 || pp.BreachCheck != nil {
		t.Fatalf("stored policy %+v", pp)
	}
	evs, err := inst.Store.ListAuditEvents(ctx, storage.AuditQuery{OrgID: o.ID, Type: audit.OrgPasswordPolicyChanged})
	if err != nil || len(evs) != 2 || evs[0].Details["breach_check"] != "on -> default" || evs[1].Details["max_age"] != "default -> 90d" ||
		!strings.HasPrefix(evs[0].ActorID, "cli:") {
		t.Fatalf("audit events %+v, %v", evs, err)
	}
}
