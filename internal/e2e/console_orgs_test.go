package e2e

// The console's organizations section and audit log, through their pages:
// an admin creates an organization, sets its MFA and password policies
// (a mistake is shown on the form, nothing saved), the changes are in the
// audit log and its CSV export; an organization admin is refused the
// section.

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func TestConsoleOrganizations(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.setAdmin(h.user(aliceEmail, alicePW), true)
		b := h.browser()
		h.consoleSignIn(t, b, aliceEmail)

		orgs := b.get(h.issuer + "/admin/orgs")
		wantPage(t, "the organizations", orgs, http.StatusOK, `data-page="orgs"`)
		create := consoleForm(t, orgs, "/admin/orgs")
		create.Set("name", "Not A Name")
		bad := b.post(h.issuer+"/admin/orgs", create)
		wantPage(t, "a bad name", bad, http.StatusUnprocessableEntity, "lower-case letters")
		if !strings.Contains(bad.body, `value="Not A Name"`) {
			t.Error("the form lost what was typed")
		}
		create.Set("name", "beta")
		create.Set("display_name", "Beta Corp")
		create.Set("domains", "beta.example\nBETA.example, beta.test")
		org := b.post(h.issuer+"/admin/orgs", create)
		wantPage(t, "the new organization", org, http.StatusOK, "<h1>Beta Corp</h1>")
		beta, err := h.inst.Store.GetOrganizationByName(h.ctx, "beta")
		if err != nil || !slices.Equal(beta.Domains, []string{"beta.example", "beta.test"}) {
			t.Fatalf("stored %+v, %v", beta, err)
		}

		// MFA on with no method: the form says why, nothing is saved.
		mfa := consoleForm(t, org, "/admin/orgs/beta/mfa")
		mfa.Set("required", "on")
		p := b.post(h.issuer+"/admin/orgs/beta/mfa", mfa)
		wantPage(t, "MFA without a method", p, http.StatusUnprocessableEntity, "at least one method")
		if !strings.Contains(p.body, `id="m-required" name="required" value="on" checked`) {
			t.Error("the form lost the ticked box")
		}
		mfa.Add("method", "totp")
		mfa.Add("method", "email")
		mfa.Set("allow_skip", "on")
		p = b.post(h.issuer+"/admin/orgs/beta/mfa", mfa)
		wantPage(t, "the saved MFA policy", p, http.StatusOK, "The MFA policy is saved")
		if o := h.org("beta"); !o.MFA.Required || !slices.Equal(o.MFA.AllowedMethods, []string{"totp", "email"}) || !o.MFA.AllowSkip {
			t.Fatalf("stored MFA policy %+v", o.MFA)
		}
		if !strings.Contains(p.body, `id="m-totp" name="method" value="totp" checked`) ||
			strings.Contains(p.body, `id="m-sms" name="method" value="sms" checked`) {
			t.Error("the page does not show the saved methods")
		}

		// Password policy: an age it cannot read is refused, then one is saved.
		pw := consoleForm(t, p, "/admin/orgs/beta/password")
		pw.Set("min_length", "12")
		pw.Set("max_age", "3 months")
		p = b.post(h.issuer+"/admin/orgs/beta/password", pw)
		wantPage(t, "a bad age", p, http.StatusUnprocessableEntity, "max_age")
		if h.org("beta").PasswordPolicy.MinLength != 0 {
			t.Fatal("a refused form changed the policy")
		}
		pw.Set("max_age", "90d")
		pw.Set("breach_check", "off")
		p = b.post(h.issuer+"/admin/orgs/beta/password", pw)
		wantPage(t, "the saved password policy", p, http.StatusOK, "The password policy is saved")
		pp := h.org("beta").PasswordPolicy
		if pp.MinLength != 12 || pp.MaxAge == nil || *pp.MaxAge != 90*24*time.Hour || pp.MinAge != nil || pp.BreachCheck == nil || *pp.BreachCheck {
			t.Fatalf("stored password policy %+v", pp)
		}

		// Details: a domain of another organization is a conflict.
		if _, err := h.inst.Admin.CreateOrg(h.ctx, "test", admin.CreateOrgInput{Name: "gamma", Domains: []string{"gamma.example"}}); err != nil {
			t.Fatal(err)
		}
		det := consoleForm(t, p, "/admin/orgs/beta/details")
		det.Set("display_name", "Beta Corporation")
		det.Set("domains", "beta.example\ngamma.example")
		p = b.post(h.issuer+"/admin/orgs/beta/details", det)
		wantPage(t, "another organization's domain", p, http.StatusUnprocessableEntity, "belongs to another organization")
		det.Set("domains", "beta.example")
		p = b.post(h.issuer+"/admin/orgs/beta/details", det)
		wantPage(t, "the saved details", p, http.StatusOK, "<h1>Beta Corporation</h1>")
		if o := h.org("beta"); !slices.Equal(o.Domains, []string{"beta.example"}) {
			t.Fatalf("domains %v", o.Domains)
		}

		// The audit log shows the changes, and the CSV has them.
		log := b.get(h.issuer + "/admin/audit?org=" + url.QueryEscape(beta.ID))
		for _, want := range []string{audit.OrgCreated, audit.OrgMFAPolicyChanged, audit.OrgPasswordPolicyChanged, audit.OrgUpdated, "console:"} {
			if !strings.Contains(log.body, want) {
				t.Errorf("the audit log lacks %q", want)
			}
		}
		if strings.Contains(log.body, `<th scope="row">`+audit.LoginSucceeded) {
			t.Error("the organization's log shows another organization's sign-in")
		}
		typed := b.get(h.issuer + "/admin/audit?type=" + audit.OrgMFAPolicyChanged)
		if strings.Contains(typed.body, `<th scope="row">`+audit.OrgUpdated) || !strings.Contains(typed.body, "new=on: totp, email; skip allowed") {
			t.Errorf("the type filter:\n%s", typed.body)
		}
		if p := b.get(h.issuer + "/admin/audit?from=yesterday"); p.resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("a bad day: %d", p.resp.StatusCode)
		}
		exp := b.get(h.issuer + "/admin/audit.csv?org=" + url.QueryEscape(beta.ID))
		if ct := exp.resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Fatalf("export Content-Type %q", ct)
		}
		rows, err := csv.NewReader(strings.NewReader(exp.body)).ReadAll()
		if err != nil {
			t.Fatalf("the export is not CSV: %v", err)
		}
		if len(rows) != 5 || rows[0][2] != "type" || rows[len(rows)-1][2] != audit.OrgCreated {
			t.Fatalf("export rows %q", rows)
		}
	})
}

// TestConsoleAuditExportDefusesFormulas: a user agent that a spreadsheet
// would run as a formula is exported as text.
func TestConsoleAuditExportDefusesFormulas(t *testing.T) {
	h := newHarness(t, config.StorageSQLite)
	id := h.user(aliceEmail, alicePW)
	h.setAdmin(id, true)
	if err := h.inst.Audit.Record(h.ctx, storage.AuditEvent{Type: audit.LoginFailed, UserID: id, UserAgent: `=HYPERLINK("https://evil.example")`}); err != nil {
		t.Fatal(err)
	}
	b := h.browser()
	h.consoleSignIn(t, b, aliceEmail)
	exp := b.get(h.issuer + "/admin/audit.csv?type=" + audit.LoginFailed)
	rows, err := csv.NewReader(strings.NewReader(exp.body)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("export %q, %v", rows, err)
	}
	if ua := rows[1][8]; ua != `'=HYPERLINK("https://evil.example")` {
		t.Errorf("user agent exported as %q", ua)
	}
}

// org is the stored organization named name.
func (h *harness) org(name string) storage.Organization {
	h.t.Helper()
	o, err := h.inst.Store.GetOrganizationByName(h.ctx, name)
	if err != nil {
		h.t.Fatal(err)
	}
	return o
}

// TestConsoleKeys: an admin rotates a chain of signing keys from the Keys
// page; the new key is on the timeline and the rotation in the audit log.
func TestConsoleKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		id := h.user(aliceEmail, alicePW)
		h.setAdmin(id, true)
		b := h.browser()
		h.consoleSignIn(t, b, aliceEmail)
		p := b.get(h.issuer + "/admin/keys")
		wantPage(t, "the keys", p, http.StatusOK, `data-page="keys"`)
		form := consoleForm(t, p, "/admin/keys/rotate")
		form.Set("chain", "oidc/HS256")
		wantPage(t, "a chain that is none", b.post(h.issuer+"/admin/keys/rotate", form), http.StatusUnprocessableEntity, "algorithm")
		form.Set("chain", "oidc/ES256")
		done := b.post(h.issuer+"/admin/keys/rotate", form)
		wantPage(t, "after the rotation", done, http.StatusOK, `id="rotated"`)
		evs, _ := h.inst.Store.ListAuditEvents(h.ctx, storage.AuditQuery{Type: audit.KeyRotated})
		if len(evs) != 1 || evs[0].ActorID != "console:"+id || evs[0].Details["alg"] != "ES256" {
			t.Fatalf("key.rotated events %+v", evs)
		}
		if !strings.Contains(done.body, evs[0].Details["kid"]) {
			t.Error("the timeline lacks the new key")
		}
	})
}
