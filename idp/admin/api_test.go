package admin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// newAPI serves the admin API with a stub authenticator: "Bearer admin" is
// an admin, "Bearer user" is not, "Bearer org-admin:ID" administers the
// organization ID, anything else fails.
func newAPI(t *testing.T) (*httptest.Server, *Service, *bytes.Buffer) {
	t.Helper()
	s := newService(t)
	if _, err := s.Bootstrap(context.Background(), "default", ""); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	api := &API{
		Service: s,
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
		Authenticate: func(r *http.Request) (Principal, error) {
			h := r.Header.Get("Authorization")
			if id, ok := strings.CutPrefix(h, "Bearer org-admin:"); ok {
				return Principal{Subject: "u-oa-" + id, OrgAdminOf: []string{id}}, nil
			}
			switch h {
			case "Bearer admin":
				return Principal{Subject: "u-admin", Admin: true}, nil
			case "Bearer user":
				return Principal{Subject: "u-user"}, nil
			case "Bearer outage":
				// The token store cannot be reached to check the token.
				return Principal{}, fmt.Errorf("lookup token: %w", storage.ErrUnavailable)
			}
			return Principal{}, errors.New("no token")
		},
	}
	mux := http.NewServeMux()
	api.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, s, &logs
}

type apiResp struct {
	status int
	header http.Header
	body   string
}

func (r apiResp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

func call(t *testing.T, srv *httptest.Server, token, method, path, contentType, body string) apiResp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apiResp{resp.StatusCode, resp.Header, string(b)}
}

const jsonCT = "application/json"

func TestAPIAuth(t *testing.T) {
	srv, _, logs := newAPI(t)
	routes := [][2]string{
		{"GET", "/admin/api/v1/clients"}, {"POST", "/admin/api/v1/clients"}, {"GET", "/admin/api/v1/clients/x"},
		{"DELETE", "/admin/api/v1/clients/x"}, {"POST", "/admin/api/v1/clients/x/rotate-secret"},
		{"GET", "/admin/api/v1/users"}, {"POST", "/admin/api/v1/users/a@b.example/disable"},
		{"GET", "/admin/api/v1/orgs"}, {"POST", "/admin/api/v1/orgs"}, {"GET", "/admin/api/v1/nonexistent"},
		{"GET", "/admin/api/v1/orgs/default/password-policy"}, {"POST", "/admin/api/v1/orgs/default/password-policy"},
	}
	for _, rt := range routes {
		for _, tc := range []struct {
			token  string
			status int
			code   string
		}{{"", 401, "invalid_token"}, {"garbage", 401, "invalid_token"}, {"user", 403, "insufficient_scope"},
			{"outage", 503, "temporarily_unavailable"}} {
			t.Run(rt[0]+" "+rt[1]+" "+tc.token, func(t *testing.T) {
				r := call(t, srv, tc.token, rt[0], rt[1], jsonCT, `{"id":"x","name":"x"}`)
				if r.status != tc.status || r.json(t)["error"] != tc.code {
					t.Fatalf("status %d body %s; want %d %s", r.status, r.body, tc.status, tc.code)
				}
				// An outage is no reason to ask for other credentials.
				if wantChallenge := tc.status != 503; strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") != wantChallenge {
					t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
				}
				if tc.status == 503 && r.header.Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
			})
		}
	}
	if strings.Contains(logs.String(), "Bearer garbage") {
		t.Error("the log holds a bearer token")
	}

	// No authenticator at all fails closed.
	mux := http.NewServeMux()
	(&API{Service: newService(t)}).Mount(mux)
	bare := httptest.NewServer(mux)
	defer bare.Close()
	if r := call(t, bare, "admin", "GET", "/admin/api/v1/clients", "", ""); r.status != 401 {
		t.Fatalf("no authenticator: status %d", r.status)
	}
}

func TestAPIClients(t *testing.T) {
	srv, s, _ := newAPI(t)
	const base = "/admin/api/v1/clients"
	create := `{"id":"web","name":"Web app","redirect_uris":["https://app.example.com/cb"],"scopes":["openid"],"access_token_ttl":"30m"}`

	// Create: 201, secret shown once.
	r := call(t, srv, "admin", "POST", base, jsonCT, create)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	got := r.json(t)
	secret, _ := got["secret"].(string)
	if b, err := base64.RawURLEncoding.DecodeString(secret); err != nil || len(b) != 32 {
		t.Fatalf("create returned secret %q", secret)
	}
	if got["id"] != "web" || got["access_token_ttl"] != "30m0s" || got["has_secret"] != true || got["source"] != "api" {
		t.Errorf("create body %v", got)
	}
	if r.header.Get("Location") != base+"/web" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", r.header)
	}
	stored, _ := s.GetClient(context.Background(), "web")
	if !clients.VerifySecret(stored, secret) {
		t.Fatal("returned secret does not verify")
	}
	noSecret := func(t *testing.T, body string) {
		t.Helper()
		if strings.Contains(body, secret) || strings.Contains(body, stored.SecretHash) || strings.Contains(body, `"secret"`) {
			t.Errorf("body shows the secret or its hash: %s", body)
		}
	}

	steps := []struct {
		name, method, path, ct, body string
		status                       int
		want                         string // substring of the body
	}{
		{"get", "GET", base + "/web", "", "", 200, `"redirect_uris":["https://app.example.com/cb"]`},
		{"list", "GET", base, "", "", 200, `"id":"web"`},
		{"get unknown", "GET", base + "/nope", "", "", 404, `"error":"not_found"`},
		{"duplicate", "POST", base, jsonCT, create, 409, `"error":"conflict"`},
		{"invalid redirect", "POST", base, jsonCT, `{"id":"evil","redirect_uris":["javascript:alert(1)"]}`, 400, "javascript: scheme"},
		{"unknown field", "POST", base, jsonCT, `{"id":"typo","redirect_uri":"https://app.example.com/cb"}`, 400, `unknown field \"redirect_uri\"`},
		{"bad duration", "POST", base, jsonCT, `{"id":"d","redirect_uris":["https://a.example/cb"],"access_token_ttl":3600}`, 400, "duration"},
		{"trailing data", "POST", base, jsonCT, `{"id":"t","redirect_uris":["https://a.example/cb"]} {}`, 400, "after the object"},
		{"not JSON", "POST", base, jsonCT, `id=web`, 400, "invalid JSON"},
		{"empty body", "POST", base, jsonCT, ``, 400, "body is required"},
		{"form content type", "POST", base, "application/x-www-form-urlencoded", `{"id":"f","redirect_uris":["https://a.example/cb"]}`, 415, "application/json"},
		{"no content type", "POST", base, "", `{"id":"f","redirect_uris":["https://a.example/cb"]}`, 415, "application/json"},
		{"charset is fine", "POST", base, "application/json; charset=utf-8", `{"id":"spa","public":true,"redirect_uris":["http://localhost:3000/cb"]}`, 201, `"public":true`},
		{"too large", "POST", base, jsonCT, `{"name":"` + strings.Repeat("x", maxAPIBody) + `"}`, 413, "larger than"},
		{"wrong method", "PUT", base + "/web", jsonCT, `{}`, 405, "method_not_allowed"},
		{"rotate public", "POST", base + "/spa/rotate-secret", jsonCT, ``, 400, "public"},
		{"rotate unknown", "POST", base + "/nope/rotate-secret", jsonCT, ``, 404, "not_found"},
		{"rotate short supplied", "POST", base + "/web/rotate-secret", jsonCT, `{"secret":"short"}`, 400, "at least 32"},
		{"rotate unknown field", "POST", base + "/web/rotate-secret", jsonCT, `{"secrett":"x"}`, 400, "unknown field"},
		{"delete unknown", "DELETE", base + "/nope", "", "", 404, "not_found"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := call(t, srv, "admin", st.method, st.path, st.ct, st.body)
			if r.status != st.status || !strings.Contains(r.body, st.want) {
				t.Fatalf("status %d body %s; want %d and %q", r.status, r.body, st.status, st.want)
			}
			if r.header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
			}
			if st.status < 300 || st.status >= 400 {
				r.json(t) // every body is JSON, errors included
			}
			noSecret(t, r.body)
		})
	}

	// Rotate: the new secret is shown once and the old one stops working.
	r = call(t, srv, "admin", "POST", base+"/web/rotate-secret", jsonCT, "")
	if r.status != 200 {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	fresh, _ := r.json(t)["secret"].(string)
	stored, _ = s.GetClient(context.Background(), "web")
	if fresh == "" || fresh == secret || !clients.VerifySecret(stored, fresh) || clients.VerifySecret(stored, secret) {
		t.Fatal("rotation did not replace the secret")
	}
	if r := call(t, srv, "admin", "GET", base+"/web", "", ""); strings.Contains(r.body, fresh) || strings.Contains(r.body, stored.SecretHash) {
		t.Fatal("GET shows the rotated secret")
	}

	// Config clients cannot be changed through the API.
	if err := s.ReconcileConfigClients(context.Background(), []clients.Input{{ID: "cfg", Public: true,
		RedirectURIs: []string{"https://c.example/cb"}}}); err != nil {
		t.Fatal(err)
	}
	if r := call(t, srv, "admin", "DELETE", base+"/cfg", "", ""); r.status != 409 {
		t.Fatalf("delete config client: %d %s", r.status, r.body)
	}

	if r := call(t, srv, "admin", "DELETE", base+"/web", "", ""); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := call(t, srv, "admin", "GET", base+"/web", "", ""); r.status != 404 {
		t.Fatalf("get after delete: %d", r.status)
	}
	evs, _ := backend(t, s).ListAuditEvents(context.Background(), storage.AuditQuery{})
	if len(evs) == 0 || evs[0].Type != "client.deleted" || evs[0].ActorID != "api:u-admin" {
		t.Errorf("latest audit event %+v", evs[0])
	}
}

func TestAPIUsersAndOrgs(t *testing.T) {
	srv, s, _ := newAPI(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "test", CreateUserInput{Email: "bob@example.com", Org: "default", Password: "long enough pw"}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name, method, path, ct, body string
		status                       int
		want                         string
	}{
		{"create org", "POST", "/admin/api/v1/orgs", jsonCT, `{"name":"acme","domains":["Acme.example"]}`, 201, `"domains":["acme.example"]`},
		{"duplicate org", "POST", "/admin/api/v1/orgs", jsonCT, `{"name":"acme"}`, 409, "already exists"},
		{"bad org name", "POST", "/admin/api/v1/orgs", jsonCT, `{"name":"Bad Name"}`, 400, "lower-case"},
		{"org unknown field", "POST", "/admin/api/v1/orgs", jsonCT, `{"name":"x","domain":"x.example"}`, 400, "unknown field"},
		{"org wrong content type", "POST", "/admin/api/v1/orgs", "text/plain", `{"name":"x"}`, 415, "application/json"},
		{"list orgs", "GET", "/admin/api/v1/orgs", "", "", 200, `"name":"acme"`},
		{"list users", "GET", "/admin/api/v1/users?org=default", "", "", 200, `"email":"bob@example.com"`},
		{"list users, bad limit", "GET", "/admin/api/v1/users?limit=0", "", "", 400, "limit"},
		{"list users, unknown org", "GET", "/admin/api/v1/users?org=nope", "", "", 400, "does not exist"},
		{"list users, paged", "GET", "/admin/api/v1/users?limit=1", "", "", 200, `"next_after":"bob@example.com"`},
		{"disable unknown", "POST", "/admin/api/v1/users/nobody@example.com/disable", jsonCT, "", 404, "no user"},
		{"disable without content type", "POST", "/admin/api/v1/users/bob@example.com/disable", "", "", 415, "application/json"},
		{"disable", "POST", "/admin/api/v1/users/BOB@example.com/disable", jsonCT, "{}", 200, `"state":"disabled"`},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := call(t, srv, "admin", st.method, st.path, st.ct, st.body)
			if r.status != st.status || !strings.Contains(r.body, st.want) {
				t.Fatalf("status %d body %s; want %d and %q", r.status, r.body, st.status, st.want)
			}
			if strings.Contains(r.body, "argon2") || strings.Contains(r.body, "password_hash") {
				t.Errorf("body shows password material: %s", r.body)
			}
		})
	}
}

// failingStore breaks ListClients to check that internal errors do not
// reach the caller.
type failingStore struct{ Store }

func (failingStore) ListClients(context.Context) ([]storage.Client, error) {
	return nil, errors.New("pq: relation \"clients\" does not exist at db.internal:5432")
}

func TestAPIInternalErrorIsGeneric(t *testing.T) {
	s := newService(t)
	s.Store = failingStore{s.Store}
	var logs bytes.Buffer
	api := &API{Service: s, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Authenticate: func(*http.Request) (Principal, error) { return Principal{Subject: "a", Admin: true}, nil }}
	mux := http.NewServeMux()
	api.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	r := call(t, srv, "", "GET", "/admin/api/v1/clients", "", "")
	if r.status != 500 || strings.Contains(r.body, "db.internal") || r.json(t)["error"] != "server_error" {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
	if !strings.Contains(logs.String(), "db.internal") {
		t.Error("the detail is not logged")
	}
}

// TestClientRequestInput: the wire type carries every field of
// clients.Input and input converts each one, so a field added to the
// client cannot be silently dropped by the API.
func TestClientRequestInput(t *testing.T) {
	body := `{"id":"web","name":"Web","secret":"` + strings.Repeat("s", 32) + `","public":false,
		"redirect_uris":["https://a.example/cb"],"post_logout_redirect_uris":["https://a.example/"],
		"grant_types":["authorization_code"],"scopes":["openid"],"id_token_signed_response_alg":"ES256",
		"access_token_format":"jwt","access_token_ttl":"10m","id_token_ttl":"20m","refresh_token_ttl":"48h",
		"require_mfa":true}`
	var req clientRequest
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		t.Fatal(err)
	}
	want := clients.Input{ID: "web", Name: "Web", Secret: strings.Repeat("s", 32),
		RedirectURIs: []string{"https://a.example/cb"}, PostLogoutRedirectURIs: []string{"https://a.example/"},
		GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"}, IDTokenSignedResponseAlg: "ES256",
		AccessTokenFormat: "jwt", AccessTokenTTL: 10 * time.Minute, IDTokenTTL: 20 * time.Minute,
		RefreshTokenTTL: 48 * time.Hour, RequireMFA: true}
	got := req.input()
	if got.Secret != want.Secret || got.GoString() != want.GoString() {
		t.Errorf("input\n got %#v\nwant %#v", got, want)
	}
	wire, in := reflect.TypeFor[clientRequest](), reflect.TypeFor[clients.Input]()
	for i := range in.NumField() {
		if _, ok := wire.FieldByName(in.Field(i).Name); !ok {
			t.Errorf("clientRequest has no field %s", in.Field(i).Name)
		}
	}
	if wire.NumField() != in.NumField() {
		t.Errorf("clientRequest has %d fields, clients.Input %d", wire.NumField(), in.NumField())
	}
	// Public is false above: set it to see that it is carried too.
	req.Public = true
	if !req.input().Public {
		t.Error("public is dropped")
	}
}
