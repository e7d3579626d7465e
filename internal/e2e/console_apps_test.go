package e2e

// The console's applications section: an OIDC client added, its secret
// shown once and working at the token endpoint, edited, rotated and
// deleted; a SAML service provider added by uploading its metadata file
// (crewjam/saml's samlsp), whose users then sign in to it; organization
// admins refused.

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

var shownSecretRE = regexp.MustCompile(`<pre class="copy" id="client-secret">([^<]+)</pre>`)

func shownSecret(t *testing.T, p page) string {
	t.Helper()
	m := shownSecretRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no secret shown:\n%s", p.body)
	}
	return m[1]
}

// postMultipart submits a multipart form as a browser does, with one file.
func (b *browser) postMultipart(u string, fields url.Values, fileField, fileName string, file []byte) page {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	fw, err := mw.CreateFormFile(fileField, fileName)
	if err != nil {
		b.t.Fatal(err)
	}
	_, _ = fw.Write(file)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, u, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.h.issuer)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

func TestConsoleApplications(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.setAdmin(h.user(aliceEmail, alicePW), true)
		b := h.browser()
		h.consoleSignIn(t, b, aliceEmail)
		apps := b.get(h.issuer + "/admin/apps")
		wantPage(t, "the applications", apps, http.StatusOK, h.issuer+"/.well-known/openid-configuration")

		// A client with a redirect URI that is not one: refused, kept.
		form := consoleForm(t, apps, "/admin/apps/oidc")
		form.Set("id", "reports")
		form.Set("name", "Reports")
		form.Set("redirect_uris", "ftp://reports.example/cb")
		form["grant"] = []string{"authorization_code", "client_credentials"}
		bad := b.post(h.issuer+"/admin/apps/oidc", form)
		wantPage(t, "a bad redirect URI", bad, http.StatusUnprocessableEntity, "redirect")
		if !strings.Contains(bad.body, "ftp://reports.example/cb") {
			t.Error("the form lost the URI typed")
		}
		form.Set("redirect_uris", "https://reports.example/cb")
		created := b.post(h.issuer+"/admin/apps/oidc", form)
		wantPage(t, "the new client", created, http.StatusOK, "shown once")
		secret := shownSecret(t, created)
		cl, err := h.inst.Store.GetClient(h.ctx, "reports")
		if err != nil || cl.SecretHash != storage.HashSecret(secret) {
			t.Fatalf("stored client %+v, %v", cl, err)
		}
		// The secret works: a client-credentials token with it.
		cc := clientcredentials.Config{ClientID: "reports", ClientSecret: secret, TokenURL: h.issuer + "/oauth/token"}
		if _, err := cc.Token(context.Background()); err != nil {
			t.Fatalf("a token with the shown secret: %v", err)
		}
		page := b.get(h.issuer + "/admin/apps/oidc/reports")
		if strings.Contains(page.body, secret) || !strings.Contains(page.body, "https://reports.example/cb") {
			t.Fatal("the client's page shows the secret again, or not its URI")
		}

		// Edit: require MFA and JWT access tokens.
		edit := consoleForm(t, page, "/admin/apps/oidc/reports")
		edit.Set("name", "Reports")
		edit.Set("redirect_uris", "https://reports.example/cb\nhttps://reports.example/cb2")
		edit["grant"] = []string{"authorization_code", "client_credentials"}
		edit.Set("require_mfa", "on")
		edit.Set("access_token_format", "jwt")
		edit.Set("id_token_alg", "ES256")
		saved := b.post(h.issuer+"/admin/apps/oidc/reports", edit)
		wantPage(t, "the saved client", saved, http.StatusOK, "settings are saved")
		if cl, _ := h.inst.Store.GetClient(h.ctx, "reports"); !cl.RequireMFA || cl.AccessTokenFormat != "jwt" || len(cl.RedirectURIs) != 2 ||
			cl.IDTokenSignedResponseAlg != "ES256" {
			t.Fatalf("after the edit %+v", cl)
		}

		// Rotate: a new secret shown once, the old one dead.
		rotated := b.post(h.issuer+"/admin/apps/oidc/reports/rotate", consoleForm(t, saved, "/admin/apps/oidc/reports/rotate"))
		fresh := shownSecret(t, rotated)
		if fresh == secret {
			t.Fatal("the same secret after a rotation")
		}
		if _, err := cc.Token(context.Background()); err == nil {
			t.Fatal("the old secret still works")
		}
		cc.ClientSecret = fresh
		if _, err := cc.Token(context.Background()); err != nil {
			t.Fatalf("the new secret: %v", err)
		}

		// Delete: the id typed to confirm.
		del := consoleForm(t, rotated, "/admin/apps/oidc/reports/delete")
		del.Set("confirm", "report")
		wantPage(t, "a delete without the id", b.post(h.issuer+"/admin/apps/oidc/reports/delete", del), http.StatusUnprocessableEntity, "type its client ID")
		del.Set("confirm", "reports")
		gone := b.post(h.issuer+"/admin/apps/oidc/reports/delete", del)
		wantPage(t, "after the delete", gone, http.StatusOK, "The application is deleted")
		if _, err := h.inst.Store.GetClient(h.ctx, "reports"); err == nil {
			t.Fatal("the client is still stored")
		}
		for _, typ := range []string{audit.ClientCreated, audit.ClientUpdated, audit.ClientSecretRotated, audit.ClientDeleted} {
			evs, _ := h.inst.Store.ListAuditEvents(h.ctx, storage.AuditQuery{Type: typ})
			if len(evs) != 1 || !strings.HasPrefix(evs[0].ActorID, "console:") {
				t.Errorf("%s events %+v", typ, evs)
			}
		}

		// A SAML service provider from its metadata file; its users sign in.
		sp := upstreamtest.NewSAMLSP(t, h.idpMetadata(t), upstreamtest.SAMLSPOptions{Now: h.clock.Now})
		fields := url.Values{"csrf_token": {form.Get("csrf_token")}, "name": {"Wiki"}, "nameid_format": {"emailAddress"},
			"attributes": {"email=mail\nname=displayName"}, "attribute_format": {"basic"}}
		added := b.postMultipart(h.issuer+"/admin/apps/saml", fields, "metadata_file", "sp.xml", sp.Metadata(t))
		wantPage(t, "the new service provider", added, http.StatusOK, "The service provider is added")
		if !strings.Contains(added.body, h.issuer+"/saml/metadata") {
			t.Error("the integration panel lacks the IdP metadata URL")
		}
		stored, err := h.inst.Store.GetServiceProvider(h.ctx, sp.EntityID)
		if err != nil || stored.Name != "Wiki" || len(stored.Settings.Attributes) != 2 || stored.Settings.Attributes[0].NameFormat != "basic" {
			t.Fatalf("stored %+v, %v", stored, err)
		}
		ann := h.browser()
		h.user("ann@example.com", alicePW)
		s, _ := ann.samlSignIn(t, sp, "/", "ann@example.com")
		if s.NameID != "ann@example.com" {
			t.Fatalf("the application got NameID %q", s.NameID)
		}
		// The same metadata again: a conflict, said on the form.
		again := b.postMultipart(h.issuer+"/admin/apps/saml", fields, "metadata_file", "sp.xml", sp.Metadata(t))
		wantPage(t, "the same provider again", again, http.StatusUnprocessableEntity, "already")
		// Settings, then delete with its confirmation.
		spPage := b.get(h.issuer + "/admin/apps/saml/sp?entity=" + url.QueryEscape(sp.EntityID))
		save := consoleForm(t, spPage, "/admin/apps/saml/sp/save")
		save.Set("name", "Team wiki")
		save.Set("nameid_format", "persistent")
		save.Set("attributes", "mail=email")
		wantPage(t, "a bad attribute", b.post(h.issuer+"/admin/apps/saml/sp/save", save), http.StatusUnprocessableEntity, "source")
		save.Set("attributes", "email=mail")
		wantPage(t, "saved settings", b.post(h.issuer+"/admin/apps/saml/sp/save", save), http.StatusOK, "The settings are saved")
		if got, _ := h.inst.Store.GetServiceProvider(h.ctx, sp.EntityID); got.Name != "Team wiki" {
			t.Fatalf("name %q", got.Name)
		}
		del = consoleForm(t, spPage, "/admin/apps/saml/sp/delete")
		wantPage(t, "a delete not confirmed", b.post(h.issuer+"/admin/apps/saml/sp/delete", del), http.StatusUnprocessableEntity, "tick the box")
		del.Set("confirm", "on")
		b.post(h.issuer+"/admin/apps/saml/sp/delete", del)
		if _, err := h.inst.Store.GetServiceProvider(h.ctx, sp.EntityID); err == nil {
			t.Fatal("the service provider is still stored")
		}
	})
}
