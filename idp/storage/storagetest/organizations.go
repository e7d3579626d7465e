package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Domains in fixtures are written sorted: the contract does not say whether
// a backend keeps their order, and a sorted list reads back the same either
// way.

var organizationTests = []testCase{
	{"RoundTrip", testOrganizationRoundTrip},
	{"List", testOrganizationList},
	{"NotFound", testOrganizationNotFound},
	{"CreateConflicts", testOrganizationCreateConflicts},
	{"UpdateReplacesDomains", testOrganizationUpdateReplacesDomains},
	{"UpdateConflicts", testOrganizationUpdateConflicts},
	{"DeleteFreesNameAndDomains", testOrganizationDeleteFrees},
	{"DeleteWithUsersFails", testOrganizationDeleteWithUsers},
}

func testOrganizationRoundTrip(t *testing.T, f *fixture) {
	minimal := storage.Organization{ID: "org-min", Name: "minimal", CreatedAt: at(0), UpdatedAt: at(0)}
	for _, o := range []storage.Organization{
		newOrg("org-full", "full", "a.example", "b.example", "sub.c.example"),
		minimal,
	} {
		mustOK(t, f.s.CreateOrganization(f.ctx, o), "CreateOrganization "+o.ID)

		got, err := f.s.GetOrganization(f.ctx, o.ID)
		if checkOK(t, err, "GetOrganization "+o.ID) {
			checkEqual(t, "GetOrganization "+o.ID, o, got)
		}
		got, err = f.s.GetOrganizationByName(f.ctx, o.Name)
		if checkOK(t, err, "GetOrganizationByName "+o.Name) {
			checkEqual(t, "GetOrganizationByName "+o.Name, o, got)
		}
		for _, d := range o.Domains {
			got, err = f.s.GetOrganizationByDomain(f.ctx, d)
			if checkOK(t, err, "GetOrganizationByDomain "+d) {
				checkEqual(t, "GetOrganizationByDomain "+d, o, got)
			}
		}
	}
}

func testOrganizationList(t *testing.T, f *fixture) {
	got, err := f.s.ListOrganizations(f.ctx)
	mustOK(t, err, "ListOrganizations on an empty store")
	if len(got) != 0 {
		t.Errorf("ListOrganizations on an empty store = %d rows, want 0", len(got))
	}
	want := map[string]storage.Organization{}
	for _, o := range []storage.Organization{
		newOrg("org-b", "beta", "beta.example"),
		newOrg("org-a", "alpha", "alpha.example", "alpha.test"),
		newOrg("org-c", "gamma"),
	} {
		mustOK(t, f.s.CreateOrganization(f.ctx, o), "CreateOrganization "+o.ID)
		want[o.ID] = o
	}
	got, err = f.s.ListOrganizations(f.ctx)
	mustOK(t, err, "ListOrganizations")
	if len(got) != len(want) {
		t.Fatalf("ListOrganizations = %d rows, want %d", len(got), len(want))
	}
	for _, o := range got {
		w, ok := want[o.ID]
		if !ok {
			t.Errorf("ListOrganizations returned unknown or duplicate id %q", o.ID)
			continue
		}
		delete(want, o.ID)
		checkEqual(t, "ListOrganizations row "+o.ID, w, o)
	}
}

func testOrganizationNotFound(t *testing.T, f *fixture) {
	mustOK(t, f.s.CreateOrganization(f.ctx, newOrg("org-1", "acme", "acme.example")), "CreateOrganization")
	_, err := f.s.GetOrganization(f.ctx, "org-missing")
	checkErr(t, err, storage.ErrNotFound, "GetOrganization of a missing id")
	_, err = f.s.GetOrganizationByName(f.ctx, "missing")
	checkErr(t, err, storage.ErrNotFound, "GetOrganizationByName of a missing name")
	_, err = f.s.GetOrganizationByDomain(f.ctx, "missing.example")
	checkErr(t, err, storage.ErrNotFound, "GetOrganizationByDomain of an unowned domain")
	_, err = f.s.GetOrganizationByDomain(f.ctx, "example")
	checkErr(t, err, storage.ErrNotFound, "GetOrganizationByDomain of a suffix of an owned domain")
	_, err = f.s.UpdateOrganization(f.ctx, "org-missing", func(o storage.Organization) (storage.Organization, error) {
		return o, nil
	})
	checkErr(t, err, storage.ErrNotFound, "UpdateOrganization of a missing id")
	checkErr(t, f.s.DeleteOrganization(f.ctx, "org-missing"), storage.ErrNotFound, "DeleteOrganization of a missing id")
}

func testOrganizationCreateConflicts(t *testing.T, f *fixture) {
	orig := newOrg("org-1", "acme", "acme.example", "acme.test")
	mustOK(t, f.s.CreateOrganization(f.ctx, orig), "CreateOrganization")

	for _, c := range []struct {
		name string
		org  storage.Organization
	}{
		{"same id", newOrg("org-1", "other", "other.example")},
		{"same name", newOrg("org-2", "acme", "other.example")},
		{"a domain of another org", newOrg("org-3", "third", "acme.test", "third.example")},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := f.s.CreateOrganization(f.ctx, c.org)
			checkErr(t, err, storage.ErrConflict, "CreateOrganization with "+c.name)
			if c.org.ID != orig.ID {
				_, err = f.s.GetOrganization(f.ctx, c.org.ID)
				checkErr(t, err, storage.ErrNotFound, "GetOrganization after a failed create (nothing may be written)")
			}
			_, err = f.s.GetOrganizationByDomain(f.ctx, "other.example")
			checkErr(t, err, storage.ErrNotFound, "domain of a failed create")
			_, err = f.s.GetOrganizationByDomain(f.ctx, "third.example")
			checkErr(t, err, storage.ErrNotFound, "domain of a failed create")
			got, err := f.s.GetOrganization(f.ctx, orig.ID)
			if checkOK(t, err, "GetOrganization of the original") {
				checkEqual(t, "original organization after a conflicting create", orig, got)
			}
			for _, d := range orig.Domains {
				got, err := f.s.GetOrganizationByDomain(f.ctx, d)
				if checkOK(t, err, "GetOrganizationByDomain "+d) && got.ID != orig.ID {
					t.Errorf("domain %s moved to %q", d, got.ID)
				}
			}
		})
	}
}

func testOrganizationUpdateReplacesDomains(t *testing.T, f *fixture) {
	o := newOrg("org-1", "acme", "a.example", "b.example")
	mustOK(t, f.s.CreateOrganization(f.ctx, o), "CreateOrganization")

	want := o
	want.DisplayName = "Acme Renamed"
	want.Domains = []string{"b.example", "c.example"}
	want.MFA = storage.MFAPolicy{Required: false}
	maxAge, off := 90*24*time.Hour, false
	want.PasswordPolicy = storage.PasswordPolicy{MinLength: 15, MaxAge: &maxAge, BreachCheck: &off}
	want.Branding = storage.Branding{LogoURL: "https://cdn.acme.example/logo.svg", Accent: "#0f5132"}
	want.UpdatedAt = at(time.Second)
	got, err := f.s.UpdateOrganization(f.ctx, o.ID, func(cur storage.Organization) (storage.Organization, error) {
		checkEqual(t, "row seen by the update function", o, cur)
		cur.DisplayName = want.DisplayName
		cur.Domains = want.Domains
		cur.MFA = want.MFA
		cur.PasswordPolicy = want.PasswordPolicy
		cur.Branding = want.Branding
		cur.UpdatedAt = want.UpdatedAt
		return cur, nil
	})
	mustOK(t, err, "UpdateOrganization")
	checkEqual(t, "UpdateOrganization result", want, got)
	got, err = f.s.GetOrganization(f.ctx, o.ID)
	if checkOK(t, err, "GetOrganization after update") {
		checkEqual(t, "GetOrganization after update", want, got)
	}

	_, err = f.s.GetOrganizationByDomain(f.ctx, "a.example")
	checkErr(t, err, storage.ErrNotFound, "GetOrganizationByDomain of a domain removed by the update")
	for _, d := range want.Domains {
		got, err := f.s.GetOrganizationByDomain(f.ctx, d)
		if checkOK(t, err, "GetOrganizationByDomain "+d) {
			checkEqual(t, "GetOrganizationByDomain "+d, want, got)
		}
	}
	// The removed domain is free for another organization.
	mustOK(t, f.s.CreateOrganization(f.ctx, newOrg("org-2", "other", "a.example")), "CreateOrganization with a freed domain")
	got, err = f.s.GetOrganizationByDomain(f.ctx, "a.example")
	if checkOK(t, err, "GetOrganizationByDomain of the freed domain") && got.ID != "org-2" {
		t.Errorf("freed domain belongs to %q, want org-2", got.ID)
	}

	// Clearing all domains.
	_, err = f.s.UpdateOrganization(f.ctx, o.ID, func(cur storage.Organization) (storage.Organization, error) {
		cur.Domains = nil
		return cur, nil
	})
	mustOK(t, err, "UpdateOrganization clearing domains")
	got, err = f.s.GetOrganization(f.ctx, o.ID)
	if checkOK(t, err, "GetOrganization") && len(got.Domains) != 0 {
		t.Errorf("Domains after clearing = %v, want none", got.Domains)
	}
	_, err = f.s.GetOrganizationByDomain(f.ctx, "c.example")
	checkErr(t, err, storage.ErrNotFound, "GetOrganizationByDomain after clearing domains")
}

func testOrganizationUpdateConflicts(t *testing.T, f *fixture) {
	a := newOrg("org-a", "alpha", "alpha.example")
	b := newOrg("org-b", "beta", "beta.example")
	mustOK(t, f.s.CreateOrganization(f.ctx, a), "CreateOrganization a")
	mustOK(t, f.s.CreateOrganization(f.ctx, b), "CreateOrganization b")

	for _, c := range []struct {
		name   string
		mutate func(*storage.Organization)
	}{
		{"taking another org's domain", func(o *storage.Organization) {
			o.Domains = []string{"alpha.example", "beta.example", "gamma.example"}
		}},
		{"taking another org's name", func(o *storage.Organization) { o.Name = "alpha" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.s.UpdateOrganization(f.ctx, b.ID, func(o storage.Organization) (storage.Organization, error) {
				o.DisplayName = "changed"
				c.mutate(&o)
				return o, nil
			})
			checkErr(t, err, storage.ErrConflict, "UpdateOrganization "+c.name)
			for _, w := range []storage.Organization{a, b} {
				got, err := f.s.GetOrganization(f.ctx, w.ID)
				if checkOK(t, err, "GetOrganization "+w.ID) {
					checkEqual(t, w.ID+" after a conflicting update (nothing may be written)", w, got)
				}
			}
			_, err = f.s.GetOrganizationByDomain(f.ctx, "gamma.example")
			checkErr(t, err, storage.ErrNotFound, "domain of a failed update")
			got, err := f.s.GetOrganizationByDomain(f.ctx, "alpha.example")
			if checkOK(t, err, "GetOrganizationByDomain alpha.example") && got.ID != a.ID {
				t.Errorf("alpha.example belongs to %q, want %q", got.ID, a.ID)
			}
		})
	}
}

func testOrganizationDeleteFrees(t *testing.T, f *fixture) {
	o := newOrg("org-1", "acme", "acme.example", "acme.test")
	mustOK(t, f.s.CreateOrganization(f.ctx, o), "CreateOrganization")
	mustOK(t, f.s.DeleteOrganization(f.ctx, o.ID), "DeleteOrganization")

	_, err := f.s.GetOrganization(f.ctx, o.ID)
	checkErr(t, err, storage.ErrNotFound, "GetOrganization after delete")
	_, err = f.s.GetOrganizationByName(f.ctx, o.Name)
	checkErr(t, err, storage.ErrNotFound, "GetOrganizationByName after delete")
	for _, d := range o.Domains {
		_, err = f.s.GetOrganizationByDomain(f.ctx, d)
		checkErr(t, err, storage.ErrNotFound, "GetOrganizationByDomain "+d+" after delete")
	}
	checkErr(t, f.s.DeleteOrganization(f.ctx, o.ID), storage.ErrNotFound, "second DeleteOrganization")

	again := newOrg("org-2", "acme", "acme.example", "acme.test")
	mustOK(t, f.s.CreateOrganization(f.ctx, again), "CreateOrganization reusing the name and domains of a deleted org")
	got, err := f.s.GetOrganizationByDomain(f.ctx, "acme.test")
	if checkOK(t, err, "GetOrganizationByDomain") {
		checkEqual(t, "organization owning a reused domain", again, got)
	}
}

func testOrganizationDeleteWithUsers(t *testing.T, f *fixture) {
	o := newOrg("org-1", "acme", "acme.example")
	mustOK(t, f.s.CreateOrganization(f.ctx, o), "CreateOrganization")
	u := f.createUser(t, newUser("user-1", o.ID, "alice@acme.example"))

	err := f.s.DeleteOrganization(f.ctx, o.ID)
	if err == nil {
		t.Errorf("DeleteOrganization of an organization with users succeeded, want an error")
	} else if errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteOrganization of an organization with users: err = %v, the organization exists", err)
	}
	if _, err := f.s.GetOrganization(f.ctx, o.ID); err != nil {
		t.Errorf("GetOrganization after a refused delete: %v", err)
	}
	if got, err := f.s.GetUser(f.ctx, u.ID); checkOK(t, err, "GetUser after a refused org delete") {
		checkEqual(t, "user after a refused org delete", u, got)
	}

	mustOK(t, f.s.DeleteUser(f.ctx, u.ID), "DeleteUser")
	checkOK(t, f.s.DeleteOrganization(f.ctx, o.ID), "DeleteOrganization once it has no users")
}
