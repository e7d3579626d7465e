package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

func TestSAMLCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := []string{"--data-dir", dir}
	key, cert := upstreamtest.SPKey(t)
	valid := time.Now().Add(48 * time.Hour)
	file := filepath.Join(t.TempDir(), "hr.xml")
	if err := os.WriteFile(file, upstreamtest.SPMetadata(t, key, cert, "https://hr.example", valid, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	wiki := upstreamtest.SPMetadata(t, key, cert, "https://wiki.example", valid, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(wiki) }))
	defer srv.Close()
	const hr, wk = "https://hr.example/saml/metadata", "https://wiki.example/saml/metadata"
	steps := []struct {
		name string
		args []string
		code int
		want string // substring of stdout (code 0) or stderr
	}{
		{"migrate", []string{"migrate"}, 0, "applied migration"},
		{"no metadata", []string{"saml", "sps", "create"}, 2, "--metadata-url or --metadata-file is required"},
		{"both", []string{"saml", "sps", "create", "--metadata-url", srv.URL, "--metadata-file", file}, 2, "exclude each other"},
		{"bad format", []string{"saml", "sps", "create", "--metadata-file", file, "--nameid-format", "email"}, 1, `nameid_format "email"`},
		{"bad attribute", []string{"saml", "sps", "create", "--metadata-file", file, "--attribute", "email"}, 2, "want SOURCE=NAME"},
		{"create from a file", []string{"saml", "sps", "create", "--metadata-file", file, "--name", "HR", "--nameid-format", "emailAddress",
			"--attribute", "email=Email", "--attribute", "groups=Groups", "--attribute-name-format", "basic", "--allow-idp-initiated"},
			0, "registered SAML service provider " + hr},
		{"create from a URL", []string{"saml", "sps", "create", "--metadata-url", srv.URL, "--entity-id", wk}, 0, "metadata URL"},
		{"duplicate", []string{"saml", "sps", "create", "--metadata-file", file}, 1, "already exists"},
		{"list", []string{"saml", "sps", "list"}, 0, wk},
		{"show", []string{"saml", "sps", "show", "--entity-id", hr}, 0, "email=Email, groups=Groups"},
		{"show unknown", []string{"saml", "sps", "show", "--entity-id", "nope"}, 1, `no SAML service provider with entity id "nope"`},
		{"update nothing", []string{"saml", "sps", "update", "--entity-id", hr}, 2, "at least one setting"},
		{"update", []string{"saml", "sps", "update", "--entity-id", hr, "--require-mfa", "--also-nameid-format", "persistent"}, 0,
			"emailAddress, persistent"},
		{"refresh a file", []string{"saml", "sps", "refresh", "--entity-id", hr}, 1, "no metadata URL"},
		{"refresh", []string{"saml", "sps", "refresh", "--entity-id", wk}, 0, "unchanged"},
		{"delete", []string{"saml", "sps", "delete", "--entity-id", wk}, 0, "deleted SAML service provider " + wk},
		{"metadata", []string{"saml", "metadata"}, 0, "/saml/sso"},
		{"clients with an initiate_login_uri", []string{"clients", "create", "--id", "web", "--redirect-uri", "https://app.example/cb",
			"--initiate-login-uri", "http://app.example/login"}, 1, "initiate_login_uri"},
	}
	for _, s := range steps {
		r := runCLI(t, "", append(s.args, d...)...)
		got := r.out
		if s.code != 0 {
			got = r.errOut
		}
		if r.code != s.code || !strings.Contains(got, s.want) {
			t.Fatalf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", s.name, r.code, s.code, r.out, r.errOut, s.want)
		}
	}
	inst := openTestInstance(t, dir)
	sp, err := inst.Admin.GetServiceProvider(t.Context(), hr)
	if err != nil || !sp.Settings.RequireMFA || !sp.Settings.AllowIdPInitiated || sp.Settings.Attributes[0].NameFormat != "basic" {
		t.Fatalf("stored %+v %v", sp.Settings, err)
	}
}
