package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Connectors (storage.Connectors): an organization's upstream identity
// providers, their email domains (one connector per domain, as for
// organizations) and what goes with a connector when it is deleted. As in
// the organization tests, domains are written sorted: the contract does
// not say whether a backend keeps their order.
var connectorTests = []testCase{
	{"RoundTrip", testConnectorRoundTrip},
	{"List", testConnectorList},
	{"NotFound", testConnectorNotFound},
	{"CreateConflicts", testConnectorCreateConflicts},
	{"UpdateReplacesDomains", testConnectorUpdate},
	{"UpdateKeepsIDOrgAndCreatedAt", testConnectorUpdateKeeps},
	{"UpdateConflicts", testConnectorUpdateConflicts},
	{"DeleteCascades", testConnectorDeleteCascades},
	{"DeleteOrganizationCascades", testConnectorDeleteOrganization},
}

// newConnector returns an OIDC connector with every field set.
func newConnector(id, orgID string, domains ...string) storage.Connector {
	return storage.Connector{
		ID:           id,
		OrgID:        orgID,
		Type:         storage.ConnectorOIDC,
		Name:         "Acme SSO – Ünïcode ✓ " + id,
		Domains:      domains,
		Enabled:      true,
		TrustEmail:   true,
		TrustMFA:     true,
		JIT:          true,
		RequireSSO:   true,
		Config:       []byte(`{"issuer":"https://idp.acme.example/","client_id":"gatehouse-` + id + `","groups_prefix":"acme:"}`),
		SecretSealed: []byte("sealed-secret-" + id + "\x00\xff\x01"),
		Source:       "api",
		CreatedAt:    at(-40 * time.Hour),
		UpdatedAt:    at(-39 * time.Hour),
	}
}

func (f *fixture) createConnector(t *testing.T, c storage.Connector) storage.Connector {
	t.Helper()
	mustOK(t, f.s.CreateConnector(f.ctx, c), "CreateConnector "+c.ID)
	return c
}

// checkConnector reports unless connector id is stored as want.
func (f *fixture) checkConnector(t *testing.T, what string, want storage.Connector) {
	t.Helper()
	got, err := f.s.GetConnector(f.ctx, want.ID)
	if checkOK(t, err, what+": GetConnector "+want.ID) {
		checkEqual(t, what, want, got)
	}
}

// checkDomainOwner reports unless domain belongs to connector id ("" for
// none).
func (f *fixture) checkDomainOwner(t *testing.T, what, domain, id string) {
	t.Helper()
	got, err := f.s.GetConnectorByDomain(f.ctx, domain)
	if id == "" {
		checkErr(t, err, storage.ErrNotFound, what+": GetConnectorByDomain "+domain)
		return
	}
	if checkOK(t, err, what+": GetConnectorByDomain "+domain) && got.ID != id {
		t.Errorf("%s: %s belongs to connector %q, want %q", what, domain, got.ID, id)
	}
}

func testConnectorRoundTrip(t *testing.T, f *fixture) {
	b := f.base(t)
	saml := newConnector("acme-saml", b.org.ID, "acme.example", "eu.acme.example")
	saml.Type, saml.Config, saml.SecretSealed = storage.ConnectorSAML, []byte(`<md:EntityDescriptor entityID="x"/>`), nil
	saml.Enabled, saml.TrustEmail, saml.TrustMFA, saml.JIT, saml.RequireSSO = false, false, false, false, false
	minimal := storage.Connector{ID: "min", OrgID: b.org.ID, Type: storage.ConnectorOIDC, CreatedAt: at(0), UpdatedAt: at(0)}
	for _, c := range []storage.Connector{newConnector("acme-okta", b.org.ID, "a.acme.example", "b.acme.example"), saml, minimal} {
		f.createConnector(t, c)
		f.checkConnector(t, "GetConnector "+c.ID, c)
		for _, d := range c.Domains {
			got, err := f.s.GetConnectorByDomain(f.ctx, d)
			if checkOK(t, err, "GetConnectorByDomain "+d) {
				checkEqual(t, "GetConnectorByDomain "+d, c, got)
			}
		}
	}
	// A disabled connector is found by its domains too.
	f.checkDomainOwner(t, "disabled connector", "eu.acme.example", saml.ID)
}

func testConnectorList(t *testing.T, f *fixture) {
	b := f.base(t)
	got, err := f.s.ListConnectors(f.ctx, "")
	if checkOK(t, err, "ListConnectors on an empty store") && len(got) != 0 {
		t.Errorf("ListConnectors on an empty store = %d rows, want 0", len(got))
	}
	other := newOrg("org-2", "beta", "beta.example")
	mustOK(t, f.s.CreateOrganization(f.ctx, other), "CreateOrganization")
	// Created out of order; ids differ in case and punctuation, so that
	// "by id" must be byte order on every backend.
	all := map[string]storage.Connector{}
	for _, c := range []storage.Connector{
		newConnector("b-okta", b.org.ID, "b.acme.example"),
		newConnector("a-entra", other.ID, "beta.example"),
		newConnector("B-saml", b.org.ID),
		newConnector("a.azure", b.org.ID, "a.acme.example", "c.acme.example"),
	} {
		all[c.ID] = f.createConnector(t, c)
	}
	for _, c := range []struct {
		org  string
		want []string
	}{
		{"", []string{"B-saml", "a-entra", "a.azure", "b-okta"}},
		{b.org.ID, []string{"B-saml", "a.azure", "b-okta"}},
		{other.ID, []string{"a-entra"}},
		{"org-missing", nil},
	} {
		got, err := f.s.ListConnectors(f.ctx, c.org)
		if !checkOK(t, err, "ListConnectors "+c.org) {
			continue
		}
		ids := make([]string, len(got))
		for i, g := range got {
			ids[i] = g.ID
			checkEqual(t, "ListConnectors row "+g.ID, all[g.ID], g)
		}
		if fmt.Sprint(ids) != fmt.Sprint(c.want) {
			t.Errorf("ListConnectors(%q) = %v, want %v (by id)", c.org, ids, c.want)
		}
	}
}

func testConnectorNotFound(t *testing.T, f *fixture) {
	b := f.base(t)
	f.createConnector(t, newConnector("acme-okta", b.org.ID, "sso.acme.example"))
	_, err := f.s.GetConnector(f.ctx, "missing")
	checkErr(t, err, storage.ErrNotFound, "GetConnector of a missing id")
	for _, d := range []string{"missing.example", "acme.example", "example", b.org.Domains[0]} {
		// The organization's own domain is not a connector's.
		_, err = f.s.GetConnectorByDomain(f.ctx, d)
		checkErr(t, err, storage.ErrNotFound, "GetConnectorByDomain of "+d)
	}
	_, err = f.s.UpdateConnector(f.ctx, "missing", func(c storage.Connector) (storage.Connector, error) { return c, nil })
	checkErr(t, err, storage.ErrNotFound, "UpdateConnector of a missing id")
	checkErr(t, f.s.DeleteConnector(f.ctx, "missing"), storage.ErrNotFound, "DeleteConnector of a missing id")
}

func testConnectorCreateConflicts(t *testing.T, f *fixture) {
	b := f.base(t)
	orig := f.createConnector(t, newConnector("acme-okta", b.org.ID, "a.acme.example", "b.acme.example"))
	for _, c := range []struct {
		name string
		conn storage.Connector
	}{
		{"same id", newConnector("acme-okta", b.org.ID, "other.example")},
		{"a domain of another connector", newConnector("acme-2", b.org.ID, "b.acme.example", "other.example")},
		{"a domain twice", newConnector("acme-3", b.org.ID, "other.example", "other.example")},
		{"an unknown organization", newConnector("acme-4", "org-missing", "other.example")},
		{"no organization", newConnector("acme-5", "", "other.example")},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkErr(t, f.s.CreateConnector(f.ctx, c.conn), storage.ErrConflict, "CreateConnector with "+c.name)
			if c.conn.ID != orig.ID {
				_, err := f.s.GetConnector(f.ctx, c.conn.ID)
				checkErr(t, err, storage.ErrNotFound, "GetConnector after a failed create (nothing may be written)")
			}
			f.checkDomainOwner(t, "a failed create", "other.example", "")
			f.checkConnector(t, "original connector after a conflicting create", orig)
			for _, d := range orig.Domains {
				f.checkDomainOwner(t, "a failed create", d, orig.ID)
			}
		})
	}
}

// testConnectorUpdate: an update rewrites every field but the kept ones,
// replaces the domains, and frees a removed domain for another connector.
func testConnectorUpdate(t *testing.T, f *fixture) {
	b := f.base(t)
	c := f.createConnector(t, newConnector("acme-okta", b.org.ID, "a.acme.example", "b.acme.example"))
	want := c
	want.Type = storage.ConnectorSAML
	want.Name = "Acme SAML"
	want.Domains = []string{"b.acme.example", "c.acme.example"}
	want.Enabled, want.TrustEmail, want.TrustMFA, want.JIT, want.RequireSSO = false, false, false, false, false
	want.Config = []byte(`{"metadata_url":"https://idp.acme.example/metadata"}`)
	want.SecretSealed = nil
	want.Source = "config"
	want.UpdatedAt = at(time.Second)
	got, err := f.s.UpdateConnector(f.ctx, c.ID, func(cur storage.Connector) (storage.Connector, error) {
		checkEqual(t, "row seen by the update function", c, cur)
		return want, nil
	})
	mustOK(t, err, "UpdateConnector")
	checkEqual(t, "UpdateConnector result", want, got)
	f.checkConnector(t, "connector after update", want)
	f.checkDomainOwner(t, "after update", "a.acme.example", "")
	for _, d := range want.Domains {
		got, err := f.s.GetConnectorByDomain(f.ctx, d)
		if checkOK(t, err, "GetConnectorByDomain "+d) {
			checkEqual(t, "GetConnectorByDomain "+d+" after update", want, got)
		}
	}

	// The removed domain is free for another connector.
	f.createConnector(t, newConnector("acme-2", b.org.ID, "a.acme.example"))
	f.checkDomainOwner(t, "a freed domain", "a.acme.example", "acme-2")

	_, err = f.s.UpdateConnector(f.ctx, c.ID, func(cur storage.Connector) (storage.Connector, error) {
		cur.Domains = nil
		return cur, nil
	})
	mustOK(t, err, "UpdateConnector clearing domains")
	if got, err := f.s.GetConnector(f.ctx, c.ID); checkOK(t, err, "GetConnector") && len(got.Domains) != 0 {
		t.Errorf("Domains after clearing = %v, want none", got.Domains)
	}
	f.checkDomainOwner(t, "after clearing", "c.acme.example", "")
}

// testConnectorUpdateKeeps: an update function cannot move a connector to
// another id or organization, nor change when it was created.
func testConnectorUpdateKeeps(t *testing.T, f *fixture) {
	b := f.base(t)
	mustOK(t, f.s.CreateOrganization(f.ctx, newOrg("org-2", "beta")), "CreateOrganization")
	c := f.createConnector(t, newConnector("acme-okta", b.org.ID, "sso.acme.example"))
	want := c
	want.Name = "Renamed"
	got, err := f.s.UpdateConnector(f.ctx, c.ID, func(cur storage.Connector) (storage.Connector, error) {
		cur.ID, cur.OrgID, cur.CreatedAt = "moved", "org-2", at(time.Hour)
		cur.Name = want.Name
		return cur, nil
	})
	mustOK(t, err, "UpdateConnector changing ID, OrgID and CreatedAt")
	checkEqual(t, "UpdateConnector result", want, got)
	f.checkConnector(t, "connector after update", want)
	_, err = f.s.GetConnector(f.ctx, "moved")
	checkErr(t, err, storage.ErrNotFound, "GetConnector of the id an update function chose")
	if list := f.listConnectors(t, "org-2"); len(list) != 0 {
		t.Errorf("ListConnectors(org-2) = %d connectors after an update tried to move one there, want 0", len(list))
	}
}

func testConnectorUpdateConflicts(t *testing.T, f *fixture) {
	b := f.base(t)
	a := f.createConnector(t, newConnector("acme-a", b.org.ID, "a.acme.example"))
	c := f.createConnector(t, newConnector("acme-b", b.org.ID, "b.acme.example"))
	_, err := f.s.UpdateConnector(f.ctx, c.ID, func(cur storage.Connector) (storage.Connector, error) {
		cur.Name = "changed"
		cur.Domains = []string{"a.acme.example", "b.acme.example", "c.acme.example"}
		return cur, nil
	})
	checkErr(t, err, storage.ErrConflict, "UpdateConnector taking another connector's domain")
	f.checkConnector(t, "the taker after a conflicting update (nothing may be written)", c)
	f.checkConnector(t, "the owner after a conflicting update", a)
	f.checkDomainOwner(t, "a failed update", "a.acme.example", a.ID)
	f.checkDomainOwner(t, "a failed update", "c.acme.example", "")
}

// testConnectorDeleteCascades: deleting a connector deletes its domains,
// links and replay records, and nothing of another connector's.
func testConnectorDeleteCascades(t *testing.T, f *fixture) {
	b := f.base(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	c := f.createConnector(t, newConnector("acme-okta", b.org.ID, "a.acme.example", "b.acme.example"))
	keep := f.createConnector(t, newConnector("acme-keep", b.org.ID, "k.acme.example"))
	f.createLink(t, newLink(c.ID, "sub-alice", b.user.ID))
	f.createLink(t, newLink(c.ID, "sub-bob", bob.ID))
	kept := f.createLink(t, newLink(keep.ID, "sub-alice", b.user.ID))
	exp := at(time.Hour)
	mustOK(t, f.s.UseAssertionID(f.ctx, c.ID, "_assertion-1", exp, at(0)), "UseAssertionID")
	mustOK(t, f.s.UseAssertionID(f.ctx, keep.ID, "_assertion-1", exp, at(0)), "UseAssertionID of the kept connector")

	mustOK(t, f.s.DeleteConnector(f.ctx, c.ID), "DeleteConnector")
	_, err := f.s.GetConnector(f.ctx, c.ID)
	checkErr(t, err, storage.ErrNotFound, "GetConnector after delete")
	for _, d := range c.Domains {
		f.checkDomainOwner(t, "after DeleteConnector", d, "")
	}
	for _, sub := range []string{"sub-alice", "sub-bob"} {
		_, err := f.s.GetLink(f.ctx, c.ID, sub)
		checkErr(t, err, storage.ErrNotFound, "GetLink "+sub+" of a deleted connector")
	}
	f.checkLinks(t, "alice's links after DeleteConnector", b.user.ID, kept)
	f.checkLinks(t, "bob's links after DeleteConnector", bob.ID)
	checkErr(t, f.s.DeleteConnector(f.ctx, c.ID), storage.ErrNotFound, "second DeleteConnector")

	// A connector created again under the id starts afresh: its domains
	// are free, it has no links, and its old replay records are gone.
	again := f.createConnector(t, newConnector(c.ID, b.org.ID, "b.acme.example"))
	f.checkDomainOwner(t, "a re-created connector", "b.acme.example", again.ID)
	checkOK(t, f.s.UseAssertionID(f.ctx, again.ID, "_assertion-1", exp, at(time.Minute)),
		"UseAssertionID of a deleted connector's assertion, under a re-created connector")
	checkErr(t, f.s.UseAssertionID(f.ctx, keep.ID, "_assertion-1", exp, at(time.Minute)), storage.ErrAlreadyUsed,
		"UseAssertionID of the kept connector's record")
	f.checkConnector(t, "the other connector", keep)
	f.checkDomainOwner(t, "the other connector", "k.acme.example", keep.ID)
}

// testConnectorDeleteOrganization: an organization's connectors go with
// it (with their domains), once no user blocks its deletion.
func testConnectorDeleteOrganization(t *testing.T, f *fixture) {
	o := newOrg("org-1", "acme", "acme.example")
	mustOK(t, f.s.CreateOrganization(f.ctx, o), "CreateOrganization")
	other := newOrg("org-2", "beta")
	mustOK(t, f.s.CreateOrganization(f.ctx, other), "CreateOrganization")
	c := f.createConnector(t, newConnector("acme-okta", o.ID, "sso.acme.example"))
	keep := f.createConnector(t, newConnector("beta-okta", other.ID, "sso.beta.example"))

	mustOK(t, f.s.DeleteOrganization(f.ctx, o.ID), "DeleteOrganization with a connector and no users")
	_, err := f.s.GetConnector(f.ctx, c.ID)
	checkErr(t, err, storage.ErrNotFound, "GetConnector of a deleted organization's connector")
	f.checkDomainOwner(t, "after DeleteOrganization", "sso.acme.example", "")
	f.checkConnector(t, "another organization's connector", keep)
	if list := f.listConnectors(t, ""); len(list) != 1 {
		t.Errorf("ListConnectors after DeleteOrganization = %d, want 1", len(list))
	}
}

func (f *fixture) listConnectors(t *testing.T, orgID string) []storage.Connector {
	t.Helper()
	list, err := f.s.ListConnectors(f.ctx, orgID)
	mustOK(t, err, "ListConnectors "+orgID)
	return list
}
