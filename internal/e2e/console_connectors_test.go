package e2e

// The console's connectors section, as an organization admin uses it: the
// URLs for the upstream (zitadel/oidc's OP) shown before anything is
// saved, the connector added, "Test connection" against the real upstream,
// turned off and on, edited and deleted; another organization's connector
// out of reach.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

func TestConsoleConnectors(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		const id = "acme-okta"
		callback := federation.URLsFor(h.issuer, id).Callback
		up := upstreamtest.NewOIDC(t, callback)
		acme, err := h.inst.Admin.CreateOrg(h.ctx, "test", admin.CreateOrgInput{Name: "acme", DisplayName: "Acme", Domains: []string{"acme.test"}})
		if err != nil {
			t.Fatal(err)
		}
		beta, err := h.inst.Admin.CreateOrg(h.ctx, "test", admin.CreateOrgInput{Name: "beta", Domains: []string{"beta.test"}})
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := json.Marshal(federation.OIDCSettings{Issuer: "https://idp.beta.test", ClientID: "x"})
		now := h.clock.Now()
		if err := h.inst.Store.CreateConnector(h.ctx, storage.Connector{ID: "beta-sso", OrgID: beta.ID, Type: storage.ConnectorOIDC,
			Name: "Beta SSO", Domains: []string{"beta.test"}, Enabled: true, Config: cfg, Source: "api", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		h.orgAdmin("it@acme.test", "acme")
		b := h.browser()
		h.consoleSignIn(t, b, "it@acme.test")
		list := b.get(h.issuer + "/admin/connectors")
		wantPage(t, "the connectors", list, http.StatusOK, "No connector yet.")
		if strings.Contains(list.body, "beta-sso") || strings.Contains(list.body, `value="beta"`) {
			t.Fatal("the org admin sees another organization's connector or organization")
		}

		// Step one: the URLs, before anything is stored.
		bad := b.get(h.issuer + "/admin/connectors/new?org=acme&type=oidc&id=Acme+Okta")
		wantPage(t, "a bad id", bad, http.StatusUnprocessableEntity, "lower-case letters")
		if p := b.get(h.issuer + "/admin/connectors/new?org=beta&type=oidc&id=x"); p.resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("another organization's new connector: %d", p.resp.StatusCode)
		}
		step := b.get(h.issuer + "/admin/connectors/new?org=acme&type=oidc&id=" + id)
		wantPage(t, "the URLs", step, http.StatusOK, `<code id="redirect-uri">`+callback+`</code>`)
		if _, err := h.inst.Store.GetConnector(h.ctx, id); err == nil {
			t.Fatal("showing the URLs stored a connector")
		}
		form := consoleForm(t, step, "/admin/connectors")
		form.Set("org", "acme")
		form.Set("name", "Acme Okta")
		form.Set("domains", "acme.test")
		form.Set("issuer", up.Issuer)
		form.Set("client_id", up.ClientID)
		form.Set("trust_email", "on")
		noSecret := b.post(h.issuer+"/admin/connectors", form)
		wantPage(t, "no client secret", noSecret, http.StatusUnprocessableEntity, "secret")
		form.Set("client_secret", up.ClientSecret)
		added := b.post(h.issuer+"/admin/connectors", form)
		wantPage(t, "the added connector", added, http.StatusOK, "The connector is added")
		c, err := h.inst.Store.GetConnector(h.ctx, id)
		if err != nil || c.OrgID != acme.ID || !c.Enabled || !c.TrustEmail || len(c.SecretSealed) == 0 {
			t.Fatalf("stored %+v, %v", c, err)
		}
		if strings.Contains(added.body, up.ClientSecret) {
			t.Fatal("the page shows the upstream's client secret")
		}

		// Test connection: the upstream answers.
		tested := b.post(h.issuer+"/admin/connectors/"+id+"/test", consoleForm(t, added, "/admin/connectors/"+id+"/test"))
		wantPage(t, "the test", tested, http.StatusOK, `id="test-ok"`)

		// Off, then on.
		off := b.post(h.issuer+"/admin/connectors/"+id+"/enabled", consoleForm(t, tested, "/admin/connectors/"+id+"/enabled"))
		wantPage(t, "turned off", off, http.StatusOK, "The connector is off")
		if c, _ := h.inst.Store.GetConnector(h.ctx, id); c.Enabled {
			t.Fatal("still enabled")
		}
		on := b.post(h.issuer+"/admin/connectors/"+id+"/enabled", consoleForm(t, off, "/admin/connectors/"+id+"/enabled"))
		wantPage(t, "turned on", on, http.StatusOK, "The connector is on")

		// Edit: another organization's domain is refused; a name is saved
		// and the secret kept.
		edit := consoleForm(t, on, "/admin/connectors/"+id)
		edit.Set("name", "Acme sign-in")
		edit.Set("domains", "acme.test\nbeta.test")
		edit.Set("issuer", up.Issuer)
		edit.Set("client_id", up.ClientID)
		wantPage(t, "another organization's domain", b.post(h.issuer+"/admin/connectors/"+id, edit), http.StatusUnprocessableEntity, "beta.test")
		edit.Set("domains", "acme.test")
		saved := b.post(h.issuer+"/admin/connectors/"+id, edit)
		wantPage(t, "the saved connector", saved, http.StatusOK, "The settings are saved")
		if c2, _ := h.inst.Store.GetConnector(h.ctx, id); c2.Name != "Acme sign-in" || string(c2.SecretSealed) != string(c.SecretSealed) {
			t.Fatalf("after the edit %q, secret kept %v", c2.Name, string(c2.SecretSealed) == string(c.SecretSealed))
		}

		// Another organization's connector: as if it did not exist.
		tok := edit.Get("csrf_token")
		if p := b.get(h.issuer + "/admin/connectors/beta-sso"); p.resp.StatusCode != http.StatusNotFound {
			t.Errorf("another organization's connector page: %d", p.resp.StatusCode)
		}
		for _, path := range []string{"/admin/connectors/beta-sso/enabled", "/admin/connectors/beta-sso/delete", "/admin/connectors/beta-sso"} {
			if p := b.post(h.issuer+path, url.Values{"csrf_token": {tok}, "confirm": {"beta-sso"}, "type": {"oidc"}}); p.resp.StatusCode != http.StatusNotFound {
				t.Errorf("POST %s: %d, want 404", path, p.resp.StatusCode)
			}
		}
		if c, err := h.inst.Store.GetConnector(h.ctx, "beta-sso"); err != nil || !c.Enabled {
			t.Fatal("the org admin changed another organization's connector")
		}

		// Delete, with the id typed.
		del := consoleForm(t, saved, "/admin/connectors/"+id+"/delete")
		del.Set("confirm", id)
		gone := b.post(h.issuer+"/admin/connectors/"+id+"/delete", del)
		wantPage(t, "after the delete", gone, http.StatusOK, "The connector is deleted")
		if _, err := h.inst.Store.GetConnector(h.ctx, id); err == nil {
			t.Fatal("still stored")
		}
	})
}
