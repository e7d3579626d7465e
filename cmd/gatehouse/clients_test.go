package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var secretLineRE = regexp.MustCompile(`(?m)^client_secret: (\S+)$`)

// openTestInstance opens the CLI's dev database directly, to check what the
// commands stored.
func openTestInstance(t *testing.T, dataDir string) *instance.Instance {
	t.Helper()
	cfg := config.DevDefault()
	cfg.DataDir = dataDir
	inst, err := instance.Open(context.Background(), cfg, instance.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst
}

func TestClientsCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := []string{"--data-dir", dir}
	supplied := strings.Repeat("s3cret-", 6)
	steps := []struct {
		name    string
		stdin   string
		args    []string
		code    int
		want    string // substring of stdout (code 0) or stderr
		notWant string
	}{
		{"migrate", "", []string{"migrate"}, 0, "applied migration", ""},
		{"missing id", "", []string{"clients", "create", "--redirect-uri", "https://a.example/cb"}, 2, "--id is required", ""},
		{"create confidential", "", []string{"clients", "create", "--id", "web", "--name", "Web app",
			"--redirect-uri", "https://app.example.com/cb", "--redirect-uri", "http://localhost:8000/cb",
			"--post-logout-redirect-uri", "https://app.example.com/", "--scope", "openid", "--scope", "api",
			"--id-token-alg", "ES256", "--access-token-format", "jwt", "--require-mfa", "--access-token-ttl", "15m"},
			0, "client_secret: ", ""},
		{"duplicate", "", []string{"clients", "create", "--id", "web", "--redirect-uri", "https://a.example/cb"}, 1, "already exists", ""},
		{"javascript redirect", "", []string{"clients", "create", "--id", "evil", "--redirect-uri", "javascript:alert(1)"}, 1, "javascript: scheme", ""},
		{"http non-loopback", "", []string{"clients", "create", "--id", "evil", "--redirect-uri", "http://app.example.com/cb"}, 1, "http is allowed only", ""},
		{"no redirect uri", "", []string{"clients", "create", "--id", "x"}, 1, "at least one redirect URI", ""},
		{"public with client_credentials", "", []string{"clients", "create", "--id", "x", "--public", "--grant", "client_credentials"}, 1, "public client cannot use client_credentials", ""},
		{"public with --secret-stdin", supplied + "\n", []string{"clients", "create", "--id", "x", "--public", "--secret-stdin", "--redirect-uri", "https://a.example/cb"}, 2, "exclude each other", ""},
		{"short supplied secret", "short\n", []string{"clients", "create", "--id", "x", "--secret-stdin", "--redirect-uri", "https://a.example/cb"}, 1, "at least 32 characters", "short\n"},
		{"empty stdin", "", []string{"clients", "create", "--id", "x", "--secret-stdin", "--redirect-uri", "https://a.example/cb"}, 1, "held no secret", ""},
		{"supplied secret is not echoed", supplied + "\n", []string{"clients", "create", "--id", "svc", "--secret-stdin", "--grant", "client_credentials"}, 0, "created confidential client svc", supplied},
		{"public client has no secret", "", []string{"clients", "create", "--id", "spa", "--public", "--redirect-uri", "http://127.0.0.1:3000/cb"}, 0, "created public client spa", "client_secret"},
		{"list", "", []string{"clients", "list"}, 0, "https://app.example.com/cb", ""},
		{"update nothing", "", []string{"clients", "update", "--id", "svc"}, 2, "at least one setting", ""},
		{"update unknown", "", []string{"clients", "update", "--id", "nope", "--name", "X"}, 1, `no client with id "nope"`, ""},
		{"update to a bad redirect", "", []string{"clients", "update", "--id", "svc", "--redirect-uri", "javascript:alert(1)"}, 1, "javascript: scheme", ""},
		{"update to a grant its settings lack", "", []string{"clients", "update", "--id", "svc", "--grant", "authorization_code"}, 1, "at least one redirect URI", ""},
		{"update", "", []string{"clients", "update", "--id", "svc", "--grant", "authorization_code", "--grant", "client_credentials",
			"--redirect-uri", "https://svc.example/cb", "--name", "Renamed"}, 0, "grants: authorization_code, client_credentials; redirect URIs: https://svc.example/cb", ""},
		{"update shows in the list", "", []string{"clients", "list"}, 0, "Renamed", ""},
		{"public cannot be switched by update", "", []string{"clients", "update", "--id", "svc", "--public"}, 2, "flag provided but not defined: -public", ""},
		{"rotate public", "", []string{"clients", "rotate-secret", "--id", "spa"}, 1, "public", ""},
		{"rotate unknown", "", []string{"clients", "rotate-secret", "--id", "nope"}, 1, `no client with id "nope"`, ""},
		{"rotate without id", "", []string{"clients", "rotate-secret"}, 2, "--id is required", ""},
		{"delete unknown", "", []string{"clients", "delete", "--id", "nope"}, 1, `no client with id "nope"`, ""},
		{"delete", "", []string{"clients", "delete", "--id", "spa"}, 0, "deleted client spa", ""},
		{"help", "", []string{"clients", "create", "--help"}, 0, "", ""},
	}
	var firstSecret string
	for _, s := range steps {
		r := runCLI(t, s.stdin, append(s.args, d...)...)
		got := r.out
		if s.code != 0 {
			got = r.errOut
		}
		if r.code != s.code || !strings.Contains(got, s.want) || (s.notWant != "" && strings.Contains(r.out+r.errOut, s.notWant)) {
			t.Fatalf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q, not %q", s.name, r.code, s.code, r.out, r.errOut, s.want, s.notWant)
		}
		if s.name == "create confidential" {
			m := secretLineRE.FindStringSubmatch(r.out)
			if m == nil {
				t.Fatalf("no secret line in %q", r.out)
			}
			firstSecret = m[1]
			if b, err := base64.RawURLEncoding.DecodeString(firstSecret); err != nil || len(b) != 32 {
				t.Fatalf("printed secret decodes to %d bytes, %v", len(b), err)
			}
			if strings.Count(r.out, firstSecret) != 1 || !strings.Contains(r.out, "shown only once") {
				t.Errorf("secret not printed exactly once with a warning:\n%s", r.out)
			}
		}
	}

	// Rotation prints a new secret once; the old one stops working.
	r := runCLI(t, "", append([]string{"clients", "rotate-secret", "--id", "web"}, d...)...)
	m := secretLineRE.FindStringSubmatch(r.out)
	if r.code != 0 || m == nil || m[1] == firstSecret {
		t.Fatalf("rotate-secret: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	newSecret := m[1]
	rotSupplied := strings.Repeat("rotated-", 5)
	if r := runCLI(t, rotSupplied+"\n", append([]string{"clients", "rotate-secret", "--id", "svc", "--secret-stdin"}, d...)...); r.code != 0 ||
		strings.Contains(r.out, rotSupplied) || strings.Contains(r.out, "client_secret") {
		t.Fatalf("rotate with --secret-stdin: exit %d\n%s%s", r.code, r.out, r.errOut)
	}

	// The JSON listing never shows a secret or its hash.
	r = runCLI(t, "", append([]string{"clients", "list", "--json"}, d...)...)
	if r.code != 0 {
		t.Fatalf("clients list --json: %d %s", r.code, r.errOut)
	}
	views := map[string]admin.ClientView{}
	for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
		var v admin.ClientView
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		views[v.ID] = v
	}
	web := views["web"]
	if len(views) != 2 || web.Name != "Web app" || !web.RequireMFA || web.IDTokenSignedResponseAlg != "ES256" ||
		web.AccessTokenFormat != "jwt" || web.AccessTokenTTL != "15m0s" || !slices.Equal(web.Scopes, []string{"openid", "api"}) ||
		!slices.Equal(web.RedirectURIs, []string{"https://app.example.com/cb", "http://localhost:8000/cb"}) || web.Source != "api" {
		t.Errorf("views %+v", views)
	}

	inst := openTestInstance(t, dir)
	stored, err := inst.Store.GetClient(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if !clients.VerifySecret(stored, newSecret) || clients.VerifySecret(stored, firstSecret) {
		t.Error("the stored hash does not match the printed secret")
	}
	svc, _ := inst.Store.GetClient(context.Background(), "svc")
	if !clients.VerifySecret(svc, rotSupplied) {
		t.Error("the supplied secret was not stored")
	}
	for _, secret := range []string{firstSecret, newSecret, supplied, rotSupplied, stored.SecretHash, svc.SecretHash} {
		if strings.Contains(r.out, secret) {
			t.Errorf("clients list --json shows a secret or hash")
		}
	}
	evs, _ := inst.Store.ListAuditEvents(context.Background(), storage.AuditQuery{})
	if len(evs) == 0 || !strings.HasPrefix(evs[0].ActorID, "cli:") {
		t.Errorf("audit actor %+v", evs)
	}
}

func TestClientInputsFromConfig(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(secretFile, []byte(strings.Repeat("z", 40)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := `dev: true
clients:
  - id: web
    name: Web
    secret_file: ` + secretFile + `
    redirect_uris: [https://app.example.com/cb]
    post_logout_redirect_uris: [https://app.example.com/]
    grant_types: [authorization_code]
    scopes: [openid]
    id_token_signed_response_alg: EdDSA
    access_token_format: jwt
    access_token_ttl: 10m
    id_token_ttl: 20m
    refresh_token_ttl: 48h
    require_mfa: true
  - id: spa
    public: true
    redirect_uris: [http://localhost:3000/cb]
`
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := instance.ClientInputs(cfg)
	want := []clients.Input{
		{ID: "web", Name: "Web", Secret: strings.Repeat("z", 40), RedirectURIs: []string{"https://app.example.com/cb"},
			PostLogoutRedirectURIs: []string{"https://app.example.com/"}, GrantTypes: []string{"authorization_code"},
			Scopes: []string{"openid"}, IDTokenSignedResponseAlg: "EdDSA", AccessTokenFormat: "jwt",
			AccessTokenTTL: 10 * time.Minute, IDTokenTTL: 20 * time.Minute, RefreshTokenTTL: 48 * time.Hour, RequireMFA: true},
		{ID: "spa", Public: true, RedirectURIs: []string{"http://localhost:3000/cb"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d inputs", len(got))
	}
	for i := range want {
		// GoString redacts the secret, so compare it separately.
		if got[i].Secret != want[i].Secret || got[i].GoString() != want[i].GoString() {
			t.Errorf("input %d:\n got %#v\nwant %#v", i, got[i], want[i])
		}
	}

	// And the converted inputs reconcile.
	cfg.DataDir = t.TempDir()
	inst, err := instance.Open(context.Background(), cfg, instance.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	if err := inst.Admin.ReconcileConfigClients(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "", "clients", "list", "--data-dir", cfg.DataDir); r.code != 0 || !strings.Contains(r.out, "config") {
		t.Errorf("list after reconcile: %d\n%s%s", r.code, r.out, r.errOut)
	}
	if r := runCLI(t, "", "clients", "delete", "--id", "web", "--data-dir", cfg.DataDir); r.code != 1 || !strings.Contains(r.errOut, "config file") {
		t.Errorf("deleting a config client: %d\n%s", r.code, r.errOut)
	}
}
