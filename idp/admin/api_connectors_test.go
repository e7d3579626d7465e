package admin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func TestAPIConnectors(t *testing.T) {
	srv, s, _ := newAPI(t)
	f := withFederation(t, s)
	ctx := context.Background()
	acme, err := s.CreateOrg(ctx, "test", CreateOrgInput{Name: "acme", Domains: []string{"acme.example"}})
	if err != nil {
		t.Fatal(err)
	}
	beta, err := s.CreateOrg(ctx, "test", CreateOrgInput{Name: "beta"})
	if err != nil {
		t.Fatal(err)
	}
	ann, err := s.CreateUser(ctx, "test", CreateUserInput{Email: "ann@acme.example", Org: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	const base = "/admin/api/v1/connectors"
	oidc := `{"id":"okta","org":"acme","type":"oidc","domains":["ACME.example"],"trust_email":true,"client_secret":"upstream-secret",` +
		`"oidc":{"issuer":"https://login.acme.example","client_id":"gatehouse","scopes":["email","groups"]}}`
	saml := `{"id":"adfs","org":"acme","type":"saml","enabled":false,"saml":{"metadata":` + jsonString(testMetadata) + `,"email_verified":true}}`
	oa, ob := "org-admin:"+acme.ID, "org-admin:"+beta.ID
	steps := []struct {
		name, token, method, path, body string
		status                          int
		want                            string // substring of the body
	}{
		{"create oidc", "admin", "POST", base, oidc, 201,
			`"redirect_uri":"https://id.example.com/federation/okta/callback"},"source":"api"`},
		{"create saml", oa, "POST", base, saml, 201, `"urls":{"metadata":"https://id.example.com/federation/adfs/metadata","acs":"https://id.example.com/federation/adfs/acs"}`},
		{"unknown setting", "admin", "POST", base, `{"id":"x","org":"acme","type":"oidc","oidc":{"issuer":"https://a.example","client_idd":"g"}}`, 400, `unknown field \"client_idd\"`},
		{"sp certificate given", "admin", "POST", base, `{"id":"x","org":"acme","type":"saml","saml":{"metadata_url":"https://a.example/md","sp_certificate":"x"}}`, 400, "Gatehouse's own"},
		{"http upstream", "admin", "POST", base, `{"id":"x","org":"acme","type":"saml","saml":{"metadata_url":"http://a.example/md"}}`, 400, "must be https"},
		{"duplicate", "admin", "POST", base, oidc, 409, `a connector with id \"okta\" already exists`},
		{"org admin claims a domain", oa, "POST", base, `{"id":"x","org":"acme","type":"saml","domains":["new.example"],"saml":{"metadata_url":"https://a.example/md"}}`, 400, "only an admin can add a domain"},
		{"list", "admin", "GET", base, "", 200, `"id":"adfs"`},
		{"list of beta", "admin", "GET", base + "?org=beta", "", 200, `{"connectors":[]}`},
		{"show", oa, "GET", base + "/okta", "", 200, `"oidc":{"issuer":"https://login.acme.example","client_id":"gatehouse","scopes":["email","groups"]}`},
		{"show saml", oa, "GET", base + "/adfs", "", 200, `"metadata_inline":true`},
		{"beta's admin sees nothing", ob, "GET", base + "/okta", "", 404, `no connector with id \"okta\"`},
		{"beta's admin lists nothing", ob, "GET", base, "", 200, `{"connectors":[]}`},
		{"disable", oa, "PATCH", base + "/okta", `{"enabled":false}`, 200, `"enabled":false`},
		{"edit a setting", "admin", "PATCH", base + "/okta", `{"oidc":{"groups_claim":"roles"},"name":"Okta"}`, 200,
			`"oidc":{"issuer":"https://login.acme.example","client_id":"gatehouse","scopes":["email","groups"],"groups_claim":"roles"}`},
		{"new secret", "admin", "PATCH", base + "/okta", `{"client_secret":"rotated"}`, 200, `"has_secret":true`},
		{"switch metadata source", "admin", "PATCH", base + "/adfs", `{"saml":{"metadata_url":"https://idp.acme.example/md"}}`, 200,
			`"metadata_url":"https://idp.acme.example/md","metadata_inline":false`},
		{"empty patch", "admin", "PATCH", base + "/okta", `{}`, 400, "at least one setting"},
		{"unknown patch setting", "admin", "PATCH", base + "/okta", `{"oidc":{"issuerr":"x"}}`, 400, `unknown field \"issuerr\"`},
		{"sp certificate patched", "admin", "PATCH", base + "/adfs", `{"saml":{"sp_certificate":"x"}}`, 400, "Gatehouse's own"},
		{"saml settings on oidc", "admin", "PATCH", base + "/okta", `{"saml":{"metadata_url":"https://a.example/md"}}`, 400, "do not apply"},
		{"bad patched issuer", "admin", "PATCH", base + "/okta", `{"oidc":{"issuer":"http://x.example"}}`, 400, "must be https"},
		{"patch unknown", "admin", "PATCH", base + "/nope", `{"enabled":true}`, 404, "no connector"},
		{"test", oa, "POST", base + "/okta/test", "", 200, `{"ok":true,"problems":[]}`},
		{"links", oa, "GET", "/admin/api/v1/users/ann@acme.example/links", "", 200, `"subject":"ann/1","email":"ann@corp.example"`},
		{"beta's admin: no such user", ob, "GET", "/admin/api/v1/users/ann@acme.example/links", "", 404, "no user"},
		{"remove a link", oa, "DELETE", "/admin/api/v1/users/ann@acme.example/links/okta/ann%2F1", "", 204, ""},
		{"remove it again", oa, "DELETE", "/admin/api/v1/users/ann@acme.example/links/okta/ann%2F1", "", 404, "no link"},
		{"delete", oa, "DELETE", base + "/adfs", "", 204, ""},
		{"deleted", "admin", "GET", base + "/adfs", "", 404, "not_found"},
		{"wrong method", "admin", "PUT", base + "/okta", `{}`, 405, "method_not_allowed"},
	}
	for _, st := range steps {
		if st.name == "links" {
			if err := backend(t, s).CreateLink(ctx, storage.Link{ConnectorID: "okta", Subject: "ann/1", UserID: ann.ID,
				Email: "ann@corp.example", CreatedAt: now, LastLoginAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		r := call(t, srv, st.token, st.method, st.path, jsonCT, st.body)
		if r.status != st.status || !strings.Contains(r.body, st.want) {
			t.Fatalf("%s: status %d body %s; want %d and %q", st.name, r.status, r.body, st.status, st.want)
		}
		for _, leak := range []string{"upstream-secret", "rotated", "sp-key-der", "EntityDescriptor", "secret_sealed"} {
			if strings.Contains(r.body, leak) {
				t.Fatalf("%s: the answer holds %q: %s", st.name, leak, r.body)
			}
		}
	}
	if pt, _ := UnsealConnectorSecret(f.key)(mustConnector(t, s, "okta").SecretSealed, "okta"); string(pt) != "rotated" {
		t.Errorf("secret after the patch: %q", pt)
	}

	// A test that finds problems says so, in the upstream's words.
	f.problems = []federation.Problem{{Code: "issuer_mismatch", Message: "The discovery document names another issuer."}}
	r := call(t, srv, "admin", "POST", base+"/okta/test", jsonCT, "")
	var body struct {
		OK       bool
		Problems []problemView
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.OK || len(body.Problems) != 1 || body.Problems[0].Code != "issuer_mismatch" {
		t.Errorf("test with a problem: %s", r.body)
	}
	// The API's actor is in the trail.
	trail := connectorAudit(t, s, acme.ID)
	if len(trail) == 0 || !strings.HasSuffix(trail[0], "api:u-admin") {
		t.Errorf("audit %v", trail)
	}
}

func mustConnector(t *testing.T, s *Service, id string) storage.Connector {
	t.Helper()
	c, err := s.Store.GetConnector(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
