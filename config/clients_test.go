package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/clients"
)

// Client secrets used by these tests; they must never appear in output.
const (
	testClientSecret      = "client-secret-0123456789-abcdefghijkl"
	testShortClientSecret = "short-client-S3CRET"
)

func TestLoadClients(t *testing.T) {
	secretFile := writeFile(t, "web-secret", testClientSecret+"\n")
	yamlText := minimal + `clients:
  - id: web
    name: Web app
    secret_file: ` + secretFile + `
    redirect_uris: [https://app.example.com/cb]
    post_logout_redirect_uris: [https://app.example.com/]
    grant_types: [authorization_code, refresh_token, client_credentials]
    scopes: [openid, api]
    id_token_signed_response_alg: ES256
    access_token_format: jwt
    access_token_ttl: 30m
    id_token_ttl: 10m
    refresh_token_ttl: 720h
    require_mfa: true
  - id: spa
    public: true
    redirect_uris: [http://localhost:3000/cb]
`
	c, err := loadYAML(t, yamlText)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Clients) != 2 {
		t.Fatalf("clients = %+v", c.Clients)
	}
	web := c.Clients[0]
	if web.Secret.Reveal() != testClientSecret || web.SecretFile != "" {
		t.Error("secret not read from secret_file")
	}
	if web.ID != "web" || web.Name != "Web app" || !web.RequireMFA || web.AccessTokenTTL != 30*time.Minute ||
		web.IDTokenTTL != 10*time.Minute || web.RefreshTokenTTL != 720*time.Hour || web.AccessTokenFormat != "jwt" ||
		web.IDTokenSignedResponseAlg != "ES256" || !slices.Equal(web.Scopes, []string{"openid", "api"}) ||
		len(web.GrantTypes) != 3 || web.PostLogoutRedirectURIs[0] != "https://app.example.com/" {
		t.Errorf("web = %+v", web)
	}
	if spa := c.Clients[1]; !spa.Public || spa.Secret != "" || spa.RedirectURIs[0] != "http://localhost:3000/cb" {
		t.Errorf("spa = %+v", spa)
	}

	// The client secret is redacted like every other secret.
	var text bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "config", c)
	js, _ := json.Marshal(c)
	for what, out := range map[string]string{"slog": text.String(), "json": string(js), "%+v": fmt.Sprintf("%+v", c)} {
		if strings.Contains(out, testClientSecret) {
			t.Errorf("%s leaks the client secret:\n%s", what, out)
		}
	}
	if !strings.Contains(text.String(), "config.clients.0.secret="+Redacted) {
		t.Errorf("slog does not show the redacted secret:\n%s", text.String())
	}
}

func TestValidateClients(t *testing.T) {
	ok := Client{ID: "web", Secret: testClientSecret, RedirectURIs: []string{"https://app.example.com/cb"}}
	tests := []struct {
		name    string
		clients []Client
		want    []string // empty: valid
	}{
		{"confidential with secret", []Client{ok}, nil},
		{"confidential with unread secret_file", []Client{{ID: "web", SecretFile: "/run/secrets/web"}}, nil},
		{"public without secret", []Client{{ID: "spa", Public: true}}, nil},
		{"missing id", []Client{ok, {Public: true}}, []string{"clients[1].id: required"}},
		{"malformed id", []Client{{ID: "web app", Public: true}}, []string{`clients[0].id: "web app" is not valid`}},
		{"duplicate ids", []Client{ok, {ID: "spa", Public: true}, {ID: "web", Public: true}},
			[]string{`clients[2].id: "web" is already the id of clients[0]`}},
		{"confidential without secret", []Client{{ID: "web"}}, []string{"clients[0].secret: required for a confidential client"}},
		{"public with secret", []Client{{ID: "spa", Public: true, Secret: testClientSecret}}, []string{"clients[0].secret: a public client has no secret"}},
		{"public with secret_file", []Client{{ID: "spa", Public: true, SecretFile: "/x"}}, []string{"clients[0].secret: a public client has no secret"}},
		{"short secret", []Client{ok, {ID: "b", Secret: testShortClientSecret}}, []string{"clients[1].secret: must be at least 32 characters, got 19"}},
		{"secret inline and by file", []Client{{ID: "web", Secret: testClientSecret, SecretFile: "/x"}},
			[]string{"clients[0].secret: clients[0].secret and clients[0].secret_file are both set"}},
		{"several problems together", []Client{{ID: "a"}, {ID: "a", Public: true, Secret: testShortClientSecret}},
			[]string{"clients[0].secret: required", "clients[1].id:", "clients[1].secret: a public client"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fullConfig()
			c.Clients = tt.clients
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if n := len(flatten(err)); n != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", n, len(tt.want), err)
			}
			for _, s := range []string{testClientSecret, testShortClientSecret} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error quotes a secret: %v", err)
				}
			}
		})
	}
}

func TestLoadClientsRejects(t *testing.T) {
	short := writeFile(t, "short", testShortClientSecret+"\n")
	tests := []struct {
		name, yaml string
		want       string
	}{
		{"unknown key names the list and suggests", minimal + "clients:\n  - id: web\n    public: true\n    redirect_uri: [https://a.example/cb]\n",
			`gatehouse.yaml:6: unknown key "clients[].redirect_uri" (did you mean "clients[].redirect_uris"?)`},
		{"short secret from a file", minimal + "clients:\n  - id: web\n    secret_file: " + short + "\n",
			"clients[0].secret: must be at least 32 characters"},
		{"ttl without unit", minimal + "clients:\n  - id: spa\n    public: true\n    access_token_ttl: 3600\n", "needs a unit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadYAML(t, tt.yaml)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v; want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), testShortClientSecret) {
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
}

// TestClientInput: Input carries every field idp/clients knows, so a field
// added there cannot be silently dropped between the file and storage.
func TestClientInput(t *testing.T) {
	cl := Client{ID: "web", Name: "Web", Secret: testClientSecret, SecretFile: "", Public: true,
		RedirectURIs: []string{"https://a.example/cb"}, PostLogoutRedirectURIs: []string{"https://a.example/"},
		GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"}, IDTokenSignedResponseAlg: "ES256",
		AccessTokenFormat: "jwt", AccessTokenTTL: time.Minute, IDTokenTTL: 2 * time.Minute,
		RefreshTokenTTL: 3 * time.Minute, RequireMFA: true}
	want := clients.Input{ID: "web", Name: "Web", Secret: testClientSecret, Public: true,
		RedirectURIs: []string{"https://a.example/cb"}, PostLogoutRedirectURIs: []string{"https://a.example/"},
		GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"}, IDTokenSignedResponseAlg: "ES256",
		AccessTokenFormat: "jwt", AccessTokenTTL: time.Minute, IDTokenTTL: 2 * time.Minute,
		RefreshTokenTTL: 3 * time.Minute, RequireMFA: true}
	if got := cl.Input(); got.Secret != want.Secret || got.GoString() != want.GoString() {
		t.Errorf("Input\n got %#v\nwant %#v", got, want)
	}
	file, in := reflect.TypeFor[Client](), reflect.TypeFor[clients.Input]()
	for i := range in.NumField() {
		if _, ok := file.FieldByName(in.Field(i).Name); !ok {
			t.Errorf("Client has no field %s", in.Field(i).Name)
		}
	}
	// The file's only extra is secret_file, which Load folds into Secret.
	if file.NumField() != in.NumField()+1 {
		t.Errorf("Client has %d fields, clients.Input %d (+1 for secret_file)", file.NumField(), in.NumField())
	}
}
