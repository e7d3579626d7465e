package e2e

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/federation"
	fedsaml "github.com/gatehouse-idp/gatehouse/federation/saml"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

// Federation through a real SAML IdP: crewjam/saml's IdentityProvider on
// loopback, which reads Gatehouse's SP metadata from its endpoint,
// encrypts to the SP's certificate and posts the signed response to the
// ACS, as a corporate IdP does.

const samlConnector = "acme-saml"

type samlFed struct {
	*harness
	idp    *upstreamtest.SAML
	secret string
	org    storage.Organization
}

func newSAMLFed(t *testing.T, backend string, trustEmail bool) *samlFed {
	t.Helper()
	h := newHarness(t, backend)
	urls := federation.URLsFor(h.issuer, samlConnector)
	idp := upstreamtest.NewSAML(t, urls.Metadata)
	org, err := h.inst.Admin.CreateOrg(h.ctx, "test", admin.CreateOrgInput{Name: "acme", Domains: []string{acmeDomain}})
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyDER, err := fedsaml.NewSPKey(h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := h.inst.SealConnectorSecret(keyDER, samlConnector)
	if err != nil {
		t.Fatal(err)
	}
	settings, _ := json.Marshal(federation.SAMLSettings{MetadataURL: idp.MetadataURL, SPCertificate: certPEM,
		EmailVerified: true, GroupsPrefix: "acme:"})
	now := h.clock.Now()
	if err := h.inst.Store.CreateConnector(h.ctx, storage.Connector{ID: samlConnector, OrgID: org.ID, Type: storage.ConnectorSAML,
		Name: "Acme SAML", Domains: []string{acmeDomain}, Enabled: true, TrustEmail: trustEmail, Config: settings,
		SecretSealed: sealed, Source: "api", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	secret := h.client("app", nil)
	return &samlFed{harness: h, idp: idp, secret: secret, org: org}
}

var (
	formAction = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	formInput  = regexp.MustCompile(`<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"`)
)

// autoPost reads an auto-submitting form: its action and fields.
func autoPost(t *testing.T, p page) (string, url.Values) {
	t.Helper()
	action, v := autoPostOf(p.body)
	if action == "" {
		t.Fatalf("no form in %d\n%s", p.resp.StatusCode, p.body)
	}
	return action, v
}

// autoPostOf is the form's action and fields ("" when body has none).
func autoPostOf(body string) (string, url.Values) {
	m := formAction.FindStringSubmatch(body)
	if m == nil {
		return "", nil
	}
	v := url.Values{}
	for _, f := range formInput.FindAllStringSubmatch(body, -1) {
		v.Set(html.UnescapeString(f[1]), html.UnescapeString(f[2]))
	}
	return html.UnescapeString(m[1]), v
}

// samlLogin runs b's login for the app to the IdP and back to the point
// where the IdP's page posts its response: the ACS URL and the fields.
func (s *samlFed) toACS(b *browser, email string) (string, url.Values, loginResult) {
	s.t.Helper()
	q, verifier := withPKCE(nil)
	p := b.get(s.authURL("app", q))
	form := p.hidden()
	form.Set("email", email)
	form.Set("password", "")
	next := b.post(s.issuer+"/login", form)
	m := continueLink.FindStringSubmatch(next.body)
	if m == nil {
		s.t.Fatalf("expected the continue-to-IdP page, got %d\n%s", next.resp.StatusCode, next.body)
	}
	idpPage := b.get(html.UnescapeString(m[1]))
	action, fields := autoPost(s.t, idpPage)
	return action, fields, loginResult{b: b, id: form.Get("id"), verifier: verifier}
}

func TestFederationSAML(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			s := newSAMLFed(t, backend, true)
			ann, err := s.inst.Admin.CreateUser(s.ctx, "test", admin.CreateUserInput{Email: "ann@" + acmeDomain, Name: "Ann",
				Org: "acme", Password: alicePW, EmailVerified: true})
			if err != nil {
				t.Fatal(err)
			}
			s.idp.SignInAs(&upstreamtest.Person{ID: "saml-ann", Username: "ann", Email: ann.Email, Name: "Ann Upstream",
				Groups: []string{"finance"}})

			// The SP metadata the IT team is given.
			md := s.browser().get(federation.URLsFor(s.issuer, samlConnector).Metadata)
			if md.resp.StatusCode != http.StatusOK || !strings.Contains(md.body, federation.URLsFor(s.issuer, samlConnector).ACS) {
				t.Fatalf("SP metadata: %d\n%s", md.resp.StatusCode, md.body)
			}

			b := s.browser()
			action, fields, l := s.toACS(b, ann.Email)
			if action != federation.URLsFor(s.issuer, samlConnector).ACS {
				t.Fatalf("the IdP posts to %s", action)
			}
			// The response is a cross-site POST: a browser sends it
			// without our SameSite=Lax cookie. Gatehouse answers with a
			// page that posts it again from its own origin.
			bare := &browser{t: t, h: s.harness, client: &http.Client{CheckRedirect: b.client.CheckRedirect}}
			bounce := bare.post(action, fields)
			again, refields := autoPost(t, bounce)
			if !strings.HasPrefix(again, action+"?") || refields.Get("SAMLResponse") != fields.Get("SAMLResponse") {
				t.Fatalf("bounce page posts %s %v", again, refields)
			}
			done := b.post(again, refields)
			l.q = done.callback(t)
			tok := s.mustExchange("app", s.secret, l)
			c := jwtClaims(t, jsonStr(tok, "id_token"))
			if c["sub"] != ann.ID || !slices.Equal(claimList(c["amr"]), []string{"fed"}) {
				t.Fatalf("claims %v; want ann, amr [fed]", c)
			}
			if link, err := s.inst.Store.GetLink(s.ctx, samlConnector, "saml-ann"); err != nil || link.UserID != ann.ID ||
				!slices.Equal(link.Groups, []string{"acme:finance"}) {
				t.Fatalf("link %+v %v", link, err)
			}

			// A replayed response is refused: the assertion was used.
			replay := b.post(again, refields)
			wantRefused(t, "replayed SAML response", replay)
			// So is one for another login: InResponseTo names the first.
			b2 := s.browser()
			action2, _, _ := s.toACS(b2, ann.Email)
			other := b2.post(action2+"?bounced=1", refields)
			wantRefused(t, "another login's SAML response", other)
			if !strings.Contains(other.body, "did not complete") && other.resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("another login's response: %d\n%s", other.resp.StatusCode, other.body)
			}
		})
	}
}
