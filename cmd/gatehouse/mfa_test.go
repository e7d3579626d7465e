package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// step is one command of a scripted session and what it must answer:
// the exit code, and text in stdout (exit 0) or stderr.
type step struct {
	name, stdin string
	args        []string
	code        int
	want        []string
}

func runSteps(t *testing.T, cli func(stdin string, args ...string) result, steps []step) {
	t.Helper()
	for _, s := range steps {
		r := cli(s.stdin, s.args...)
		got := r.out
		if s.code != 0 {
			got = r.out + r.errOut
		}
		ok := r.code == s.code
		for _, w := range s.want {
			ok = ok && strings.Contains(strings.Join(strings.Fields(got), " "), strings.Join(strings.Fields(w), " "))
		}
		if !ok {
			t.Fatalf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", s.name, r.code, s.code, r.out, r.errOut, s.want)
		}
	}
}

// TestOrgsMFACommands: set-mfa turns MFA on with its methods and off
// again, refuses what is not a policy, and orgs show prints the policy
// (text and JSON) with its generation.
func TestOrgsMFACommands(t *testing.T) {
	dir, cli := migratedDataDir(t)
	runSteps(t, cli, []step{
		{"create org", "", []string{"orgs", "create", "--name", "acme"}, 0, nil},
		{"show: off", "", []string{"orgs", "show", "--org", "acme"}, 0, []string{"name acme", "mfa policy: required no", "password policy:"}},
		{"on", "", []string{"orgs", "set-mfa", "--org", "acme", "--on", "--methods", "totp, Email", "--allow-skip"}, 0,
			[]string{"MFA policy of organization acme:", "required yes", "methods totp, email", "skip for now offered", "other email not allowed",
				"generation from the start: factors users set up before count"}},
		{"off", "", []string{"orgs", "set-mfa", "--org", "acme", "--off"}, 0, []string{"required no", "turned off 20"}},
		{"on again", "", []string{"orgs", "set-mfa", "--org", "acme", "--on", "--methods", "webauthn", "--other-email"}, 0,
			[]string{"methods webauthn", "other email allowed", "generation since 20", "factors and skips from before do not count"}},
		{"show by the old flag", "", []string{"orgs", "show", "--name", "acme"}, 0, []string{"methods webauthn", "min_length 8 (server default)"}},
		{"self-enrolment without sms", "", []string{"orgs", "set-mfa", "--org", "acme", "--on", "--methods", "webauthn", "--sms-self-enrol"}, 1,
			[]string{"add sms to the methods"}},
		{"no org", "", []string{"orgs", "set-mfa", "--off"}, 2, []string{"--org is required"}},
		{"neither on nor off", "", []string{"orgs", "set-mfa", "--org", "acme"}, 2, []string{"give --on (with --methods) or --off"}},
		{"on and off", "", []string{"orgs", "set-mfa", "--org", "acme", "--on", "--off", "--methods", "totp"}, 2, []string{"give --on"}},
		{"on without methods", "", []string{"orgs", "set-mfa", "--org", "acme", "--on"}, 2, []string{"--on needs --methods, from webauthn, totp, sms, email"}},
		{"off with methods", "", []string{"orgs", "set-mfa", "--org", "acme", "--off", "--methods", "totp"}, 2, []string{"--off takes no --methods"}},
		{"unknown method", "", []string{"orgs", "set-mfa", "--org", "acme", "--on", "--methods", "totp,carrier-pigeon"}, 1,
			[]string{`"carrier-pigeon" is not a second-factor method; the methods are webauthn, totp, sms, email`}},
		{"recovery is no method", "", []string{"orgs", "set-mfa", "--org", "acme", "--on", "--methods", "recovery"}, 1, []string{`"recovery" is not`}},
		{"unknown org", "", []string{"orgs", "set-mfa", "--org", "nope", "--off"}, 1, []string{`organization "nope" does not exist`}},
		{"show without org", "", []string{"orgs", "show"}, 2, []string{"--org is required"}},
		{"show with two names", "", []string{"orgs", "show", "--org", "acme", "--name", "other"}, 2, []string{"the same flag"}},
		{"show unknown", "", []string{"orgs", "show", "--org", "nope"}, 1, []string{"does not exist"}},
	})

	r := cli("", "orgs", "show", "--org", "acme", "--json")
	var out struct {
		Name string `json:"name"`
		MFA  struct {
			Required   bool      `json:"required"`
			Methods    []string  `json:"methods"`
			OtherEmail bool      `json:"other_email"`
			Since      time.Time `json:"since"`
			DisabledAt time.Time `json:"disabled_at"`
		} `json:"mfa"`
		PasswordPolicy struct {
			Effective map[string]any `json:"effective"`
		} `json:"password_policy"`
	}
	if err := json.Unmarshal([]byte(r.out), &out); err != nil || r.code != 0 {
		t.Fatalf("orgs show --json: %v\n%s%s", err, r.out, r.errOut)
	}
	if out.Name != "acme" || !out.MFA.Required || strings.Join(out.MFA.Methods, ",") != "webauthn" || !out.MFA.OtherEmail ||
		out.MFA.Since.IsZero() || out.MFA.Since.Before(out.MFA.DisabledAt) || out.PasswordPolicy.Effective["min_length"] != float64(8) {
		t.Errorf("orgs show --json: %+v\n%s", out, r.out)
	}

	inst := openTestInstance(t, dir)
	ctx := context.Background()
	o, _ := inst.Store.GetOrganizationByName(ctx, "acme")
	evs, err := inst.Store.ListAuditEvents(ctx, storage.AuditQuery{OrgID: o.ID, Type: audit.OrgMFAPolicyChanged})
	if err != nil || len(evs) != 3 || evs[2].Details["new"] != "on: totp, email; skip allowed" || evs[1].Details["new"] != "off" ||
		evs[0].Details["since"] == "" || !strings.HasPrefix(evs[0].ActorID, "cli:") {
		t.Fatalf("audit events %+v, %v", evs, err)
	}
}

// TestUsersResetMFACommand resets users by email (one unknown among
// them: the others are reset, the command fails) and a whole
// organization, and mails each active user the notice.
func TestUsersResetMFACommand(t *testing.T) {
	dir, cli := migratedDataDir(t)
	runSteps(t, cli, []step{
		{"org", "", []string{"orgs", "create", "--name", "acme"}, 0, nil},
		{"ann", "a long passphrase\n", []string{"users", "create", "--email", "ann@example.com", "--password-stdin"}, 0, nil},
		{"bob", "a long passphrase\n", []string{"users", "create", "--email", "bob@example.com", "--password-stdin"}, 0, nil},
		{"cy", "a long passphrase\n", []string{"users", "create", "--email", "cy@acme.example", "--org", "acme", "--password-stdin"}, 0, nil},
		{"invited dee", "", []string{"users", "create", "--email", "dee@acme.example", "--org", "acme"}, 0, nil},
	})
	st := testenv.SQLiteAt(t, filepath.Join(dir, "gatehouse.db"))
	ctx := context.Background()
	ann, _ := st.GetUserByEmail(ctx, "ann@example.com")
	at := time.Now().UTC()
	for _, f := range []storage.Factor{
		{ID: "f1", UserID: ann.ID, Kind: storage.FactorTOTP, Secret: []byte("sealed"), ConfirmedAt: at, CreatedAt: at},
		{ID: "f2", UserID: ann.ID, Kind: storage.FactorRecovery, Secret: []byte("h"), ConfirmedAt: at, CreatedAt: at},
	} {
		if err := st.CreateFactor(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	runSteps(t, cli, []step{
		{"by email, one unknown", "", []string{"users", "reset-mfa", "--email", "ANN@example.com", "--email", "nobody@example.com",
			"--email", "bob@example.com", "--method", "totp"}, 1,
			[]string{"reset ann@example.com (" + ann.ID + "): 2 factors removed, 0 sessions ended, 0 tokens revoked; notice emailed",
				`FAILED nobody@example.com: no user with email "nobody@example.com"`, "reset bob@example.com",
				"2 reset, 1 failed; the next sign-in of each user reset sets up totp", "1 of 3 users could not be reset"}},
		{"whole org", "", []string{"users", "reset-mfa", "--org", "acme", "--all"}, 0,
			[]string{"reset cy@acme.example", "reset dee@acme.example", "no notice sent", "2 reset, 0 failed; the next sign-in of each user reset sets up any method the organization allows"}},
		{"nothing named", "", []string{"users", "reset-mfa"}, 2, []string{"give --email (repeatable), or --org ORG --all"}},
		{"org without all", "", []string{"users", "reset-mfa", "--org", "acme"}, 2, []string{"add --all to confirm"}},
		{"all without org", "", []string{"users", "reset-mfa", "--all"}, 2, []string{"--all needs --org"}},
		{"both", "", []string{"users", "reset-mfa", "--email", "ann@example.com", "--org", "acme", "--all"}, 2, []string{"not both"}},
		{"bad method", "", []string{"users", "reset-mfa", "--email", "ann@example.com", "--method", "recovery"}, 1, []string{`"recovery" is not a second-factor method`}},
		{"unknown org", "", []string{"users", "reset-mfa", "--org", "nope", "--all"}, 1, []string{`organization "nope" does not exist`}},
		{"show", "", []string{"users", "show", "--email", "ann@example.com"}, 0, []string{"enrolment required yes, at the next sign-in, method totp",
			"factors none", "recovery codes none"}},
	})
	if u, _ := st.GetUserByEmail(ctx, "cy@acme.example"); !u.MFAEnrollRequired || u.MFAEnrolMethod != "" {
		t.Errorf("cy after the org reset: %+v", u)
	}
	// The dev mail sink has one notice for each active user reset (the
	// invited one gets none).
	mail := sinkMail(t, dir)
	var to []string
	for _, m := range mail {
		if m.Subject != "Your default two-step sign-in was reset" && m.Subject != "Your acme two-step sign-in was reset" {
			t.Errorf("mail %q", m.Subject)
		}
		if !strings.Contains(m.Text, "At your next sign-in you will set up two-step sign-in again") {
			t.Errorf("notice text %s", m.Text)
		}
		to = append(to, m.Header.Get("To"))
	}
	if got := strings.Join(to, ","); len(mail) != 3 || !strings.Contains(got, "ann@example.com") || !strings.Contains(got, "cy@acme.example") {
		t.Errorf("%d notices to %s; want ann, bob and cy", len(mail), got)
	}
}

// TestUsersGrantRevokeCommands: roles are granted and taken with plain
// answers, users show names an org-admin's organization, and each change
// is audited.
func TestUsersGrantRevokeCommands(t *testing.T) {
	dir, cli := migratedDataDir(t)
	runSteps(t, cli, []step{
		{"org", "", []string{"orgs", "create", "--name", "acme"}, 0, nil},
		{"bob", "", []string{"users", "create", "--email", "bob@example.com"}, 0, nil},
		{"org-admin of their own org", "", []string{"users", "grant", "--email", "BOB@example.com", "--role", "org-admin"}, 0,
			[]string{"granted bob@example.com the role org-admin of organization default; roles now: org-admin of default"}},
		{"again", "", []string{"users", "grant", "--email", "bob@example.com", "--role", "org-admin"}, 0,
			[]string{"bob@example.com already holds the role org-admin of organization default: nothing to do"}},
		{"of acme", "", []string{"users", "grant", "--email", "bob@example.com", "--role", "org-admin", "--org", "acme"}, 0,
			[]string{"roles now: org-admin of default, org-admin of acme"}},
		{"admin", "", []string{"users", "grant", "--email", "bob@example.com", "--role", "admin"}, 0, []string{"granted bob@example.com the role admin"}},
		{"show", "", []string{"users", "show", "--email", "bob@example.com"}, 0, []string{"roles org-admin of default, org-admin of acme, admin"}},
		{"revoke acme", "", []string{"users", "revoke", "--email", "bob@example.com", "--role", "org-admin", "--org", "acme"}, 0,
			[]string{"took the role org-admin of organization acme from bob@example.com; roles now: org-admin of default, admin"}},
		{"revoke what is not held", "", []string{"users", "revoke", "--email", "bob@example.com", "--role", "org-admin", "--org", "acme"}, 0,
			[]string{"does not hold the role org-admin of organization acme: nothing to do"}},
		{"no role", "", []string{"users", "grant", "--email", "bob@example.com"}, 2, []string{"--role is required"}},
		{"no email", "", []string{"users", "revoke", "--role", "admin"}, 2, []string{"--email is required"}},
		{"unknown role", "", []string{"users", "grant", "--email", "bob@example.com", "--role", "superuser"}, 1, []string{"the roles are admin and org-admin"}},
		{"admin of an org", "", []string{"users", "grant", "--email", "bob@example.com", "--role", "admin", "--org", "acme"}, 1, []string{"goes with org-admin only"}},
		{"unknown org", "", []string{"users", "grant", "--email", "bob@example.com", "--role", "org-admin", "--org", "nope"}, 1, []string{"does not exist"}},
		{"unknown user", "", []string{"users", "grant", "--email", "nobody@example.com", "--role", "admin"}, 1, []string{"no user"}},
	})
	inst := openTestInstance(t, dir)
	ctx := context.Background()
	u, _ := inst.Store.GetUserByEmail(ctx, "bob@example.com")
	for typ, n := range map[string]int{audit.UserRoleGranted: 3, audit.UserRoleRevoked: 1} {
		if evs, err := inst.Store.ListAuditEvents(ctx, storage.AuditQuery{UserID: u.ID, Type: typ}); err != nil || len(evs) != n {
			t.Errorf("%s: %d events (%v); want %d", typ, len(evs), err, n)
		}
	}
}
