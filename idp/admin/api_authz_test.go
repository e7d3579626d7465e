package admin

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// TestAPIAuthorizationMatrix calls every route of the admin API as each
// kind of caller: an admin, the organization admin of org alpha, the
// organization admin of org beta, a user with neither role, and no token.
// Routes for organization admins serve alpha's admin on alpha's user;
// everything else is for admins alone (403 insufficient_scope); and
// beta's admin, naming alpha's user, gets exactly the answer for a user
// who does not exist.
func TestAPIAuthorizationMatrix(t *testing.T) {
	srv, s, _ := newAPI(t)
	ctx := context.Background()
	s.Links, s.Mail = &links{}, &mailbox{}
	withLockout(t, s)
	alpha, err := s.CreateOrg(ctx, "test", CreateOrgInput{Name: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	beta, err := s.CreateOrg(ctx, "test", CreateOrgInput{Name: "beta"})
	if err != nil {
		t.Fatal(err)
	}
	const target, nobody = "a1@alpha.example", "nobody@alpha.example"
	a1, err := s.CreateUser(ctx, "test", CreateUserInput{Email: target, Org: "alpha", Password: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "test", CreateUserInput{Email: "b1@beta.example", Org: "beta", Password: "long enough pw"}); err != nil {
		t.Fatal(err)
	}
	oa, ob := "org-admin:"+alpha.ID, "org-admin:"+beta.ID
	withFederation(t, s)
	sso := oidcInput("alpha-sso", "alpha.example")
	sso.Org = "alpha"
	if _, err := s.CreateConnector(ctx, Everyone, "test", sso); err != nil {
		t.Fatal(err)
	}
	if err := backend(t, s).CreateLink(ctx, storage.Link{ConnectorID: "alpha-sso", Subject: "sub/1", UserID: a1.ID, CreatedAt: now, LastLoginAt: now}); err != nil {
		t.Fatal(err)
	}
	const newSSO = `{"id":"new-sso","org":"alpha","type":"oidc","client_secret":"s","oidc":{"issuer":"https://login.alpha.example","client_id":"g"}}`

	// unknown turns a request about alpha's user (or alpha) into the same
	// request about nobody (or no organization).
	unknown := func(s string) string {
		s = strings.ReplaceAll(s, target, nobody)
		s = strings.ReplaceAll(s, a1.ID, "no-such-id")
		s = strings.ReplaceAll(s, "alpha-sso", "nope-sso")
		for _, org := range [][2]string{{`"org":"alpha"`, `"org":"nope"`}, {"org=alpha", "org=nope"}, {`organization \"alpha\"`, `organization \"nope\"`}} {
			s = strings.ReplaceAll(s, org[0], org[1])
		}
		return s
	}
	const u = "/admin/api/v1/"
	rows := []struct {
		method, pattern, path, body string
		// org: organization admins may call it; aboutAlpha: it names
		// alpha's user or alpha itself.
		org, aboutAlpha bool
	}{
		{"GET", "clients", u + "clients", "", false, false},
		{"POST", "clients", u + "clients", `{"id":"x","name":"x"}`, false, false},
		{"GET", "clients/{id}", u + "clients/x", "", false, false},
		{"DELETE", "clients/{id}", u + "clients/x", "", false, false},
		{"POST", "clients/{id}/rotate-secret", u + "clients/x/rotate-secret", "", false, false},
		{"GET", "users", u + "users", "", true, false},
		{"GET", "users", u + "users?org=alpha", "", true, true},
		{"POST", "users", u + "users", `{"email":"new@alpha.example","org":"alpha"}`, false, false},
		{"POST", "users/reset-mfa", u + "users/reset-mfa", `{"emails":["` + target + `"],"method":"totp"}`, true, true},
		{"POST", "users/reset-mfa", u + "users/reset-mfa", `{"user_ids":["` + a1.ID + `"]}`, true, true},
		{"POST", "users/reset-mfa", u + "users/reset-mfa", `{"org":"alpha","all":true}`, true, true},
		{"POST", "users/{email}/disable", u + "users/" + target + "/disable", "{}", true, true},
		{"POST", "users/{email}/resend-invite", u + "users/" + target + "/resend-invite", "{}", true, true},
		{"POST", "users/{email}/send-reset", u + "users/" + target + "/send-reset", "{}", false, true},
		{"POST", "users/{email}/unlock", u + "users/" + target + "/unlock", "{}", true, true},
		{"PUT", "users/{email}/phone", u + "users/" + target + "/phone", `{"phone":"+41 79 123 45 67"}`, true, true},
		{"GET", "orgs", u + "orgs", "", false, false},
		{"POST", "orgs", u + "orgs", `{"name":"x"}`, false, false},
		{"GET", "orgs/{name}/password-policy", u + "orgs/alpha/password-policy", "", false, true},
		{"POST", "orgs/{name}/password-policy", u + "orgs/alpha/password-policy", `{"min_length":12}`, false, true},
		{"GET", "orgs/{name}/mfa", u + "orgs/alpha/mfa", "", false, true},
		{"PUT", "orgs/{name}/mfa", u + "orgs/alpha/mfa", `{"required":true,"methods":["totp"]}`, false, true},
		{"GET", "connectors", u + "connectors", "", true, false},
		{"GET", "connectors", u + "connectors?org=alpha", "", true, true},
		{"POST", "connectors", u + "connectors", newSSO, true, true},
		{"GET", "connectors/{id}", u + "connectors/alpha-sso", "", true, true},
		{"PATCH", "connectors/{id}", u + "connectors/alpha-sso", `{"trust_email":true}`, true, true},
		{"POST", "connectors/{id}/test", u + "connectors/alpha-sso/test", "", true, true},
		{"GET", "users/{email}/links", u + "users/" + target + "/links", "", true, true},
		{"DELETE", "users/{email}/links/{connector}/{subject}", u + "users/" + target + "/links/alpha-sso/sub%2F1", "", true, true},
		{"GET", "saml/service-providers", u + "saml/service-providers", "", false, false},
		{"POST", "saml/service-providers", u + "saml/service-providers", `{"name":"x"}`, false, false},
		{"PATCH", "saml/service-providers", u + "saml/service-providers?entity_id=x", `{"name":"x"}`, false, false},
		{"DELETE", "saml/service-providers", u + "saml/service-providers?entity_id=x", "", false, false},
		{"POST", "saml/service-providers/refresh", u + "saml/service-providers/refresh?entity_id=x", "", false, false},
		// Last: the rows above need the connector.
		{"DELETE", "connectors/{id}", u + "connectors/alpha-sso", "", true, true},
	}
	covered := map[string]bool{}
	for _, r := range rows {
		covered[r.method+" "+r.pattern] = true
	}
	for _, rt := range (&API{Service: s}).routes() {
		if !covered[rt.method+" "+rt.path] {
			t.Errorf("route %s %s is not in the matrix", rt.method, rt.path)
		}
		delete(covered, rt.method+" "+rt.path)
	}
	for r := range covered {
		t.Errorf("the matrix has %s, which is no route", r)
	}

	// Callers who change nothing come first, so that what the others do
	// (a disable, a reset) cannot hide a refusal.
	principals := []struct{ name, token string }{
		{"no token", ""}, {"plain user", "user"}, {"org admin of beta", ob}, {"org admin of alpha", oa}, {"admin", "admin"},
	}
	for _, row := range rows {
		for _, p := range principals {
			t.Run(p.name+" "+row.method+" "+row.path+" "+row.body, func(t *testing.T) {
				r := call(t, srv, p.token, row.method, row.path, jsonCT, row.body)
				var code string
				if r.status != http.StatusNoContent {
					code, _ = r.json(t)["error"].(string)
				}
				switch {
				case p.token == "":
					if r.status != http.StatusUnauthorized || code != "invalid_token" {
						t.Fatalf("%d %s; want 401 invalid_token", r.status, r.body)
					}
				case p.token == "user", p.token != "admin" && !row.org:
					if r.status != http.StatusForbidden || code != "insufficient_scope" {
						t.Fatalf("%d %s; want 403 insufficient_scope", r.status, r.body)
					}
				case p.token == ob && row.aboutAlpha:
					// Exactly what a request about nobody gets.
					want := call(t, srv, p.token, row.method, unknown(row.path), jsonCT, unknown(row.body))
					if r.status != want.status || unknown(r.body) != want.body {
						t.Fatalf("about alpha's user: %d %s\nabout nobody: %d %s", r.status, r.body, want.status, want.body)
					}
					if r.status == http.StatusOK && !strings.Contains(r.body, `"ok":false`) {
						t.Fatalf("beta's admin reached alpha: %s", r.body)
					}
				default:
					if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden || strings.Contains(r.body, "no user") ||
						strings.Contains(r.body, `"ok":false`) || strings.Contains(r.body, "does not exist") {
						t.Fatalf("%d %s; want the route served", r.status, r.body)
					}
				}
			})
		}
	}

	// An admin's account in alpha is beyond alpha's admin: 403 on its
	// own routes, a failed result in a reset, and nothing changes.
	boss, err := s.CreateUser(ctx, "test", CreateUserInput{Email: "boss@alpha.example", Org: "alpha", Password: "long enough pw", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ method, path, body, want string }{
		{"POST", u + "users/boss@alpha.example/disable", "{}", `"error":"insufficient_scope","error_description":"boss@alpha.example holds the admin role`},
		{"POST", u + "users/boss@alpha.example/unlock", "{}", `"error":"insufficient_scope"`},
		{"PUT", u + "users/boss@alpha.example/phone", `{"phone":"+41 79 123 45 67"}`, `"error":"insufficient_scope"`},
		{"POST", u + "users/reset-mfa", `{"emails":["boss@alpha.example"]}`, `{"email":"boss@alpha.example","ok":false,"error":"boss@alpha.example holds the admin role`},
		{"POST", u + "users/reset-mfa", `{"user_ids":["` + boss.ID + `"]}`, `"ok":false,"error":"boss@alpha.example holds the admin role`},
		{"POST", u + "users/reset-mfa", `{"org":"alpha","all":true}`, `{"email":"boss@alpha.example","ok":false,"error":"boss@alpha.example holds the admin role`},
	} {
		if r := call(t, srv, oa, tc.method, tc.path, jsonCT, tc.body); !strings.Contains(r.body, tc.want) {
			t.Errorf("alpha's admin: %s %s: %d %s; want %s", tc.method, tc.path, r.status, r.body, tc.want)
		}
	}
	if got, _ := s.Store.GetUser(ctx, boss.ID); got.State != "active" || got.MFAEnrollRequired || got.Phone != "" {
		t.Errorf("an organization admin changed an admin's account: %+v", got)
	}
	if r := call(t, srv, "admin", "POST", u+"users/reset-mfa", jsonCT, `{"emails":["boss@alpha.example"]}`); !strings.Contains(r.body, `"ok":true`) {
		t.Errorf("an admin resetting an admin: %s", r.body)
	}

	// What each organization admin's user list holds.
	for _, tc := range []struct{ token, has, hasNot string }{
		{oa, target, "b1@beta.example"}, {ob, "b1@beta.example", target}, {"admin", "b1@beta.example", "nobody"},
	} {
		r := call(t, srv, tc.token, "GET", u+"users", "", "")
		if r.status != 200 || !strings.Contains(r.body, tc.has) || strings.Contains(r.body, tc.hasNot) {
			t.Errorf("%s lists %d %s; want %s and not %s", tc.token, r.status, r.body, tc.has, tc.hasNot)
		}
	}
	// An organization admin of several organizations names one.
	s2 := OrgsReach([]string{alpha.ID, beta.ID})
	if _, err := s.ListUsersInReach(ctx, s2, "", "", 10); err == nil || !strings.Contains(err.Error(), "name one") {
		t.Errorf("list users of two organizations without a name: %v", err)
	}
	if us, err := s.ListUsersInReach(ctx, s2, "beta", "", 10); err != nil || len(us) != 1 {
		t.Errorf("list users of beta of two organizations: %v %v", us, err)
	}
}
