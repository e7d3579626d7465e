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
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

// Federation through a real upstream: zitadel/oidc's OpenID Provider on
// loopback (internal/upstreamtest), an organization "acme" whose domain
// acme.test it serves, and a relying party of Gatehouse's that never
// learns an upstream was involved, except from amr.

const (
	acmeDomain = "acme.test"
	upstreamPW = "upstream password 1"
)

// fed is a harness with an organization, its OIDC connector and the
// upstream behind it.
type fed struct {
	*harness
	up        *upstreamtest.OIDC
	connector string
	org       storage.Organization
	// secret is the relying party "app"'s client secret.
	secret string
}

// eachFed runs fn per backend with a fresh federation harness.
func eachFed(t *testing.T, o connectorOpts, fn func(t *testing.T, f *fed)) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) { fn(t, newFed(t, b, o)) })
	}
}

// connectorOpts are the connector's trust settings for a test.
type connectorOpts struct {
	trustEmail, trustMFA, jit, requireSSO bool
	groupsPrefix                          string
}

func newFed(t *testing.T, backend string, o connectorOpts) *fed {
	t.Helper()
	return newFedOn(t, newHarness(t, backend), o)
}

// newFedOn adds the organization, its connector and its upstream to h.
func newFedOn(t *testing.T, h *harness, o connectorOpts) *fed {
	t.Helper()
	const id = "acme-sso"
	up := upstreamtest.NewOIDC(t, federation.URLsFor(h.issuer, id).Callback)
	org, err := h.inst.Admin.CreateOrg(h.ctx, "test", admin.CreateOrgInput{Name: "acme", DisplayName: "Acme", Domains: []string{acmeDomain}})
	if err != nil {
		t.Fatal(err)
	}
	settings, _ := json.Marshal(federation.OIDCSettings{Issuer: up.Issuer, ClientID: up.ClientID, GroupsPrefix: o.groupsPrefix})
	sealed, err := h.inst.SealConnectorSecret([]byte(up.ClientSecret), id)
	if err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now()
	if err := h.inst.Store.CreateConnector(h.ctx, storage.Connector{ID: id, OrgID: org.ID, Type: storage.ConnectorOIDC,
		Name: "Acme SSO", Domains: []string{acmeDomain}, Enabled: true, TrustEmail: o.trustEmail, TrustMFA: o.trustMFA,
		JIT: o.jit, RequireSSO: o.requireSSO, Config: settings, SecretSealed: sealed, Source: "api",
		CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	secret := h.client("app", func(in *clients.Input) { in.Scopes = append(in.Scopes, "groups") })
	return &fed{harness: h, up: up, connector: id, org: org, secret: secret}
}

// localUser creates an account in acme.
func (f *fed) localUser(email, pw string, verified bool) storage.User {
	f.t.Helper()
	u, err := f.inst.Admin.CreateUser(f.ctx, "test", admin.CreateUserInput{Email: email, Name: "Local " + email,
		Org: "acme", Password: pw, EmailVerified: verified})
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

var continueLink = regexp.MustCompile(`id="continue" href="([^"]+)"`)

// toUpstream sends b's login for the app to the upstream by typing email
// alone, and returns the upstream URL the continue page leads to.
func (f *fed) toUpstream(b *browser, email string, extra url.Values) (string, loginResult) {
	f.t.Helper()
	q, verifier := withPKCE(extra)
	q.Set("scope", "openid email profile groups offline_access")
	p := b.get(f.authURL("app", q))
	form := p.hidden()
	form.Set("email", email)
	form.Set("password", "")
	next := b.post(f.issuer+"/login", form)
	return f.upstreamURL(next), loginResult{b: b, id: form.Get("id"), verifier: verifier}
}

// upstreamURL is where a continue-to-upstream page leads.
func (f *fed) upstreamURL(p page) string {
	f.t.Helper()
	m := continueLink.FindStringSubmatch(p.body)
	if p.resp.StatusCode != http.StatusOK || m == nil {
		f.t.Fatalf("expected the continue-to-upstream page, got %d\n%s", p.resp.StatusCode, p.body)
	}
	target := html.UnescapeString(m[1])
	if refresh := p.resp.Header.Get("Refresh"); refresh != "0; url="+target {
		f.t.Fatalf("Refresh %q does not lead to %q", refresh, target)
	}
	return target
}

// signInUpstream signs in at the upstream as username and follows the
// callback back through Gatehouse: the page where the login goes on.
func (f *fed) signInUpstream(b *browser, upstreamURL, username string) page {
	f.t.Helper()
	cb, err := f.up.SignIn(f.ctx, b.client, upstreamURL, username, upstreamPW)
	if err != nil {
		f.t.Fatal(err)
	}
	if !strings.HasPrefix(cb.String(), federation.URLsFor(f.issuer, f.connector).Callback+"?") {
		f.t.Fatalf("the upstream came back to %s", cb)
	}
	return b.get(cb.String())
}

// person adds someone at the upstream.
func (f *fed) person(id, email string, verified bool, mod func(*upstreamtest.Person)) upstreamtest.Person {
	p := upstreamtest.Person{ID: id, Username: id, Password: upstreamPW, Email: email, EmailVerified: verified, Name: "Up " + id}
	if mod != nil {
		mod(&p)
	}
	f.up.Add(p)
	return p
}

// federatedLogin is the whole login of username through the upstream, to
// the relying party's callback.
func (f *fed) federatedLogin(b *browser, email, username string) loginResult {
	f.t.Helper()
	target, l := f.toUpstream(b, email, nil)
	l.q = f.signInUpstream(b, target, username).callback(f.t)
	return l
}

func (f *fed) link(subject string) (storage.Link, bool) {
	l, err := f.inst.Store.GetLink(f.ctx, f.connector, subject)
	return l, err == nil
}

func TestFederationOIDC(t *testing.T) {
	eachFed(t, connectorOpts{trustEmail: true, groupsPrefix: "acme:"}, func(t *testing.T, f *fed) {
		local := f.localUser("ann@"+acmeDomain, alicePW, true)
		f.person("up-ann", "ann@"+acmeDomain, true, func(p *upstreamtest.Person) { p.Groups = []string{"eng", "ops"} })

		// Relying party → Gatehouse → the upstream's login page → back,
		// and the ID token names the local user.
		b := f.browser()
		l := f.federatedLogin(b, "ann@"+acmeDomain, "up-ann")
		tok := f.mustExchange("app", f.secret, l)
		c := jwtClaims(t, jsonStr(tok, "id_token"))
		if c["sub"] != local.ID || c["email"] != "ann@"+acmeDomain {
			t.Fatalf("id token %v; want the local user %s", c, local.ID)
		}
		if amr := claimList(c["amr"]); !slices.Equal(amr, []string{"fed"}) {
			t.Fatalf("amr %v; want [fed]", amr)
		}
		if g := claimList(c["groups"]); !slices.Equal(g, []string{"acme:eng", "acme:ops"}) {
			t.Fatalf("groups %v", g)
		}
		if _, ok := f.link("up-ann"); !ok {
			t.Fatal("no link after an automatic link")
		}
	})
}

func claimList(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
