package e2e

// The console's authorization matrix: every console route and form, for
// five callers (anonymous, a user without a role, an organization admin of
// another organization, the organization's own admin, an admin), with the
// answer each must get; then every form without a token, with a wrong one
// and from another site (403), and every page's framing defence.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// login is the matrix's "the login form" answer.
const login = -1

func TestConsoleAuthorizationMatrix(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		def := h.org("default")
		beta, err := h.inst.Admin.CreateOrg(h.ctx, "test", admin.CreateOrgInput{Name: "beta"})
		if err != nil {
			t.Fatal(err)
		}
		h.setAdmin(h.user(aliceEmail, alicePW), true)
		h.user("plain@example.com", alicePW)
		dave := h.user("dave@example.com", alicePW)
		if _, _, err := h.inst.Admin.CreateClient(h.ctx, "test", clients.Input{ID: "mx", RedirectURIs: []string{"https://mx.example/cb"}}); err != nil {
			t.Fatal(err)
		}
		// A connector of the default organization, at an upstream that
		// refuses connections at once (its test finds it unreachable).
		cfg, _ := json.Marshal(federation.OIDCSettings{Issuer: "https://127.0.0.1:1", ClientID: "x"})
		if err := h.inst.Store.CreateConnector(h.ctx, storage.Connector{ID: "def-sso", OrgID: def.ID, Type: storage.ConnectorOIDC, Name: "SSO",
			Enabled: true, Config: cfg, Source: "api", CreatedAt: h.clock.Now(), UpdatedAt: h.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		h.orgAdmin("oa@beta.example", beta.Name)
		h.orgAdmin("oa@example.com", def.Name)

		// The callers, each with a browser and a console form token when
		// the console gives them one.
		type who struct {
			name  string
			b     *browser
			token string
		}
		var callers []who
		callers = append(callers, who{name: "anonymous", b: h.browser()})
		plain := h.browser()
		if p := plain.login(plain.get(h.issuer+"/admin"), "plain@example.com", alicePW); p.resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a user without a role: %d", p.resp.StatusCode)
		}
		callers = append(callers, who{name: "user", b: plain})
		for _, c := range []struct{ name, email string }{{"org-admin of another org", "oa@beta.example"},
			{"org-admin", "oa@example.com"}, {"admin", aliceEmail}} {
			b := h.browser()
			list := h.consoleSignIn(t, b, c.email)
			callers = append(callers, who{name: c.name, b: b, token: consoleForm(t, list, "/admin/users/bulk").Get("csrf_token")})
		}

		defID := url.QueryEscape(def.ID)
		// The answers of anonymous, user, org-admin of another org,
		// org-admin, admin. A POST of the first two carries no token (the
		// console gives them none): 403 before anything else.
		routes := []struct {
			method, path string
			form         url.Values
			want         [5]int
		}{
			{"GET", "/admin", nil, [5]int{login, 403, 200, 200, 200}},
			{"GET", "/admin/users", nil, [5]int{login, 403, 200, 200, 200}},
			{"GET", "/admin/users?org=" + defID, nil, [5]int{login, 403, 422, 200, 200}},
			{"GET", "/admin/users/" + dave, nil, [5]int{login, 403, 404, 200, 200}},
			{"GET", "/admin/users/bulk?action=unlock&id=" + dave, nil, [5]int{login, 403, 404, 200, 200}},
			{"GET", "/admin/orgs", nil, [5]int{login, 403, 403, 403, 200}},
			{"GET", "/admin/orgs/default", nil, [5]int{login, 403, 403, 403, 200}},
			{"GET", "/admin/orgs/beta", nil, [5]int{login, 403, 403, 403, 200}},
			{"GET", "/admin/audit", nil, [5]int{login, 403, 200, 200, 200}},
			{"GET", "/admin/audit?org=" + defID, nil, [5]int{login, 403, 422, 200, 200}},
			{"GET", "/admin/audit?user=dave@example.com", nil, [5]int{login, 403, 404, 200, 200}},
			{"GET", "/admin/audit.csv?org=" + defID, nil, [5]int{login, 403, 422, 200, 200}},
			{"GET", "/admin/nothing-here", nil, [5]int{404, 404, 404, 404, 404}},
			{"POST", "/admin/users/bulk", url.Values{"action": {"unlock"}, "id": {dave}}, [5]int{403, 403, 404, 200, 200}},
			{"POST", "/admin/users/bulk/run", url.Values{"action": {"unlock"}, "id": {dave}, "reason": {"matrix"}}, [5]int{403, 403, 200, 200, 200}},
			{"POST", "/admin/users/" + dave + "/sessions/revoke", url.Values{"session": {"none"}}, [5]int{403, 403, 404, 404, 404}},
			{"POST", "/admin/users/" + dave + "/links/remove", url.Values{"connector": {"none"}, "subject": {"x"}}, [5]int{403, 403, 404, 404, 404}},
			{"POST", "/admin/users/" + dave + "/profile", url.Values{"name": {"Dave"}, "phone": {""}}, [5]int{403, 403, 404, 200, 200}},
			{"POST", "/admin/users/" + dave + "/roles", url.Values{"op": {"grant"}, "role": {"org-admin"}, "org": {"beta"}}, [5]int{403, 403, 403, 403, 200}},
			{"POST", "/admin/orgs", url.Values{"name": {"zeta"}}, [5]int{403, 403, 403, 403, 200}},
			{"POST", "/admin/orgs/default/details", url.Values{"display_name": {"Renamed"}}, [5]int{403, 403, 403, 403, 200}},
			{"POST", "/admin/orgs/default/mfa", url.Values{"required": {"on"}, "method": {"totp"}}, [5]int{403, 403, 403, 403, 200}},
			{"POST", "/admin/orgs/default/password", url.Values{"min_length": {"14"}}, [5]int{403, 403, 403, 403, 200}},
			{"POST", "/admin/orgs/default/branding", url.Values{"accent": {"#0f5132"}}, [5]int{403, 403, 403, 403, 200}},
			{"GET", "/admin/connectors", nil, [5]int{login, 403, 200, 200, 200}},
			{"GET", "/admin/connectors/new?org=default&type=oidc&id=new-sso", nil, [5]int{login, 403, 422, 200, 200}},
			{"GET", "/admin/connectors/def-sso", nil, [5]int{login, 403, 404, 200, 200}},
			{"POST", "/admin/connectors", url.Values{"org": {"default"}, "type": {"oidc"}, "id": {"new-sso"}}, [5]int{403, 403, 422, 422, 422}},
			{"POST", "/admin/connectors/def-sso", url.Values{"type": {"oidc"}, "name": {"Renamed SSO"}, "issuer": {"https://127.0.0.1:1"}, "client_id": {"x"}},
				[5]int{403, 403, 404, 200, 200}},
			{"POST", "/admin/connectors/def-sso/test", nil, [5]int{403, 403, 404, 200, 200}},
			{"POST", "/admin/connectors/def-sso/enabled", url.Values{"enabled": {"on"}}, [5]int{403, 403, 404, 200, 200}},
			{"POST", "/admin/connectors/def-sso/delete", url.Values{"confirm": {"wrong"}}, [5]int{403, 403, 404, 422, 422}},
			{"GET", "/admin/keys", nil, [5]int{login, 403, 403, 403, 200}},
			{"POST", "/admin/keys/rotate", url.Values{"chain": {"saml/"}}, [5]int{403, 403, 403, 403, 200}},
			{"GET", "/admin/apps", nil, [5]int{login, 403, 403, 403, 200}},
			{"GET", "/admin/apps/oidc/mx", nil, [5]int{login, 403, 403, 403, 200}},
			{"GET", "/admin/apps/oidc/nope", nil, [5]int{login, 403, 403, 403, 404}},
			{"GET", "/admin/apps/saml/sp?entity=https://nope.example", nil, [5]int{login, 403, 403, 403, 404}},
			{"POST", "/admin/apps/oidc", url.Values{"id": {"made"}, "redirect_uris": {"https://made.example/cb"}, "grant": {"authorization_code"}},
				[5]int{403, 403, 403, 403, 200}},
			{"POST", "/admin/apps/oidc/mx", url.Values{"name": {"MX"}, "redirect_uris": {"https://mx.example/cb"}, "grant": {"authorization_code"}},
				[5]int{403, 403, 403, 403, 200}},
			{"POST", "/admin/apps/oidc/mx/rotate", nil, [5]int{403, 403, 403, 403, 200}},
			{"POST", "/admin/apps/oidc/mx/delete", url.Values{"confirm": {"mx"}}, [5]int{403, 403, 403, 403, 200}},
			{"POST", "/admin/apps/saml", url.Values{"metadata": {"<x/>"}}, [5]int{403, 403, 403, 403, 422}},
			{"POST", "/admin/apps/saml/sp/save", url.Values{"entity": {"https://nope.example"}}, [5]int{403, 403, 403, 403, 404}},
			{"POST", "/admin/apps/saml/sp/refresh", url.Values{"entity": {"https://nope.example"}}, [5]int{403, 403, 403, 403, 404}},
			{"POST", "/admin/apps/saml/sp/delete", url.Values{"entity": {"https://nope.example"}, "confirm": {"on"}}, [5]int{403, 403, 403, 403, 404}},
		}
		for _, rt := range routes {
			for i, c := range callers {
				var p page
				if rt.method == "GET" {
					p = c.b.get(h.issuer + rt.path)
				} else {
					form := url.Values{}
					for k, v := range rt.form {
						form[k] = v
					}
					if c.token != "" {
						form.Set("csrf_token", c.token)
					}
					p = c.b.post(h.issuer+rt.path, form)
				}
				got := p.resp.StatusCode
				if p.isLoginForm() {
					got = login
				}
				if got != rt.want[i] {
					t.Errorf("%s %s as %s: %d, want %d", rt.method, rt.path, c.name, got, rt.want[i])
				}
				if got == http.StatusForbidden && strings.Contains(p.body, "dave@example.com") {
					t.Errorf("%s %s as %s: the refusal shows a user", rt.method, rt.path, c.name)
				}
				if ct := p.resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") && p.resp.Request.URL.Path == strings.SplitN(rt.path, "?", 2)[0] {
					if csp := p.resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") ||
						p.resp.Header.Get("X-Frame-Options") != "DENY" {
						t.Errorf("%s %s as %s: CSP %q, X-Frame-Options %q", rt.method, rt.path, c.name, csp, p.resp.Header.Get("X-Frame-Options"))
					}
				}
			}
		}
		// Only the admin's forms changed anything.
		if o := h.org("default"); o.DisplayName != "Renamed" || !o.MFA.Required || o.PasswordPolicy.MinLength != 14 || o.Branding.Accent != "#0f5132" {
			t.Errorf("the admin's changes: %+v", o)
		}
		if orgs, _ := h.inst.Store.ListOrganizations(h.ctx); len(orgs) != 3 {
			t.Errorf("%d organizations, want 3", len(orgs))
		}
		if cs, _ := h.inst.Store.ListClients(h.ctx); len(cs) != 1 || cs[0].ID != "made" {
			t.Errorf("clients after the matrix: %v (want only the admin's \"made\")", cs)
		}

		// Every form: no token, a wrong token, another site: 403, and the
		// admin's changes above stay as they are.
		adm := callers[4]
		for _, rt := range routes {
			if rt.method != "POST" {
				continue
			}
			for _, c := range []struct{ name, token, origin, site string }{
				{"no token", "", h.issuer, "same-origin"},
				{"wrong token", strings.Repeat("A", 43), h.issuer, "same-origin"},
				{"cross-site", adm.token, "https://evil.example", "cross-site"},
			} {
				form := url.Values{"display_name": {"Hijacked"}, "name": {"evil"}, "min_length": {"40"}}
				for k, v := range rt.form {
					form[k] = v
				}
				if c.token != "" {
					form.Set("csrf_token", c.token)
				}
				p := adm.b.postWith(h.issuer+rt.path, form, map[string]string{"Origin": c.origin, "Sec-Fetch-Site": c.site})
				if p.resp.StatusCode != http.StatusForbidden {
					t.Errorf("POST %s with %s: %d, want 403", rt.path, c.name, p.resp.StatusCode)
				}
			}
		}
		if o := h.org("default"); o.DisplayName != "Renamed" || o.PasswordPolicy.MinLength != 14 {
			t.Errorf("a refused form changed the organization: %+v", o)
		}
		if _, err := h.inst.Store.GetOrganizationByName(h.ctx, "evil"); err == nil {
			t.Error("a refused form created an organization")
		}
	})
}
