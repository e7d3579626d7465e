package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// cheapArgon keeps password hashing fast in tests; the production
// parameters are tested in idp/password.
var cheapArgon = []string{
	"GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB=1024",
	"GATEHOUSE_PASSWORD_ARGON2_ITERATIONS=1",
}

func TestMain(m *testing.M) {
	// Re-executed as the gatehouse binary by the process tests, so they
	// exercise real signals and exit codes without a separate build.
	if os.Getenv("GATEHOUSE_TEST_EXEC_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

type result struct {
	code        int
	out, errOut string
}

func runCLI(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, stdio{in: strings.NewReader(stdin), out: &out, err: &errOut}, cheapArgon)
	return result{code, out.String(), errOut.String()}
}

func TestHelpAndUsage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		code    int
		wantOut string // in stdout or stderr
	}{
		{"no args", nil, 2, "gatehouse <noun> <verb>"},
		{"help", []string{"help"}, 0, "users create"},
		{"--help", []string{"--help"}, 0, "orgs list"},
		{"help for a command", []string{"help", "users", "create"}, 0, "--password-stdin"},
		{"command --help", []string{"users", "create", "--help"}, 0, "read the password from standard input"},
		{"serve --help", []string{"serve", "--help"}, 0, "-addr string"},
		{"unknown noun", []string{"frobnicate"}, 2, "unknown command"},
		{"unknown verb lists the noun's verbs", []string{"users", "explode"}, 2, "gatehouse users disable"},
		{"password as argument is refused", []string{"users", "create", "--email", "a@b.example", "--password", "x"}, 2, "flag provided but not defined: -password"},
		{"missing email", []string{"users", "create"}, 2, "--email is required"},
		{"stray argument", []string{"orgs", "list", "extra"}, 2, "unexpected argument"},
		{"serve without config or --dev", []string{"serve"}, 2, "--dev"},
		{"version", []string{"version"}, 0, "gatehouse "},
		{"help promises only what is served", []string{"help"}, 0, "OpenID Connect identity provider."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", tt.args...)
			if r.code != tt.code || !strings.Contains(r.out+r.errOut, tt.wantOut) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", r.code, tt.code, r.out, r.errOut, tt.wantOut)
			}
		})
	}
}

func TestManagementCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := []string{"--data-dir", dir}
	steps := []struct {
		name    string
		stdin   string
		args    []string
		code    int
		want    string // substring of stdout (code 0) or stderr
		notWant string
	}{
		{"no database yet", "", []string{"orgs", "list"}, 1, "no Gatehouse database at " + filepath.Join(dir, "gatehouse.db"), ""},
		{"migrate creates it", "", []string{"migrate"}, 0, "applied migration 0001", ""},
		{"create org", "", []string{"orgs", "create", "--name", "acme", "--display-name", "Acme Inc", "--domain", "Acme.example"}, 0, "created organization acme", ""},
		{"duplicate org", "", []string{"orgs", "create", "--name", "acme"}, 1, "already exists", ""},
		{"domain taken", "", []string{"orgs", "create", "--name", "other", "--domain", "acme.example"}, 1, "already exists", ""},
		{"bad org name", "", []string{"orgs", "create", "--name", "Bad Name"}, 1, "lower-case", ""},
		{"bad domain", "", []string{"orgs", "create", "--name", "x", "--domain", "not a domain"}, 1, "not a valid DNS name", ""},
		{"list orgs", "", []string{"orgs", "list"}, 0, "acme.example", ""},
		{"create user with password", "correct-horse-battery\n", []string{"users", "create", "--email", " Alice@Acme.example ", "--org", "acme", "--admin", "--password-stdin"}, 0, "created user alice@acme.example", "invited"},
		{"duplicate email, other case", "another-password\n", []string{"users", "create", "--email", "ALICE@acme.example", "--password-stdin"}, 1, "already exists", ""},
		{"short password", "short\n", []string{"users", "create", "--email", "bob@acme.example", "--password-stdin"}, 1, "at least 8", ""},
		{"empty stdin", "", []string{"users", "create", "--email", "bob@acme.example", "--password-stdin"}, 1, "held no password", ""},
		{"bad email", "", []string{"users", "create", "--email", "Bob <bob@acme.example>"}, 1, "not a valid email", ""},
		{"unknown org", "", []string{"users", "create", "--email", "bob@acme.example", "--org", "nope"}, 1, "does not exist", ""},
		{"invited user in default org", "", []string{"users", "create", "--email", "carol@example.com"}, 0, "state invited", ""},
		{"list users", "", []string{"users", "list"}, 0, "alice@acme.example", ""},
		{"list users of one org", "", []string{"users", "list", "--org", "acme"}, 0, "admin", "carol@example.com"},
		{"disable", "", []string{"users", "disable", "--email", "alice@acme.example"}, 0, "disabled user alice@acme.example", ""},
		{"disable unknown", "", []string{"users", "disable", "--email", "nobody@acme.example"}, 1, "no user", ""},
		{"migrate again", "", []string{"migrate"}, 0, "up to date", ""},
	}
	for _, s := range steps {
		r := runCLI(t, s.stdin, append(s.args, d...)...)
		got := r.out
		if s.code != 0 {
			got = r.errOut
		}
		if r.code != s.code || !strings.Contains(got, s.want) || (s.notWant != "" && strings.Contains(got, s.notWant)) {
			t.Fatalf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q, not %q", s.name, r.code, s.code, r.out, r.errOut, s.want, s.notWant)
		}
	}

	// The JSON listing is for scripts: check the disabled state and that
	// no password material leaks into it.
	r := runCLI(t, "", append([]string{"users", "list", "--json"}, d...)...)
	if r.code != 0 {
		t.Fatalf("users list --json: %d %s", r.code, r.errOut)
	}
	states := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
		var u map[string]any
		if err := json.Unmarshal([]byte(line), &u); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		states[u["email"].(string)] = u["state"].(string)
	}
	want := map[string]string{"alice@acme.example": "disabled", "carol@example.com": "invited"}
	for email, st := range want {
		if states[email] != st {
			t.Errorf("%s state %q; want %q (all: %v)", email, states[email], st, states)
		}
	}
	if strings.Contains(r.out, "argon2") || strings.Contains(r.out, "correct-horse") {
		t.Fatal("users list leaks password material")
	}
}

// TestManagementCommandsNeverCreateADatabase: run from a directory without
// one, a management command says where it looked and how to point at the
// right data, and leaves nothing behind; only migrate (and serve) create.
func TestManagementCommandsNeverCreateADatabase(t *testing.T) {
	for _, args := range [][]string{
		{"users", "list"}, {"orgs", "create", "--name", "acme"}, {"clients", "list"}, {"keys", "list"},
		{"users", "create", "--email", "a@b.example"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "gatehouse-data")
			r := runCLI(t, "", append(args, "--data-dir", dir)...)
			if r.code != 1 || !strings.Contains(r.errOut, "no Gatehouse database at "+filepath.Join(dir, "gatehouse.db")) ||
				!strings.Contains(r.errOut, "--data-dir") {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.out, r.errOut)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("the command created %s (stat: %v)", dir, err)
			}
		})
	}
}

func TestVersionFromBuild(t *testing.T) {
	setting := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "devel"},
		{"go install at a version", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"built in a checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: setting("vcs.revision", "1a2b3c4d5e6f7a8b9c0d", "vcs.modified", "false")}, "devel+1a2b3c4d5e6f"},
		{"built with local changes", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: setting("vcs.revision", "1a2b3c4d5e6f7a8b9c0d", "vcs.modified", "true")}, "devel+1a2b3c4d5e6f-dirty"},
		{"go run, no VCS", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionFromBuild(tc.bi); got != tc.want {
				t.Fatalf("versionFromBuild = %q; want %q", got, tc.want)
			}
		})
	}
}

// TestUserLifecycleCommands: an administrator can set a password (the
// bootstrap admin's first task), enable, and delete users, and delete an
// empty organization; each refuses bad input with a clear message.
func TestUserLifecycleCommands(t *testing.T) {
	d := []string{"--data-dir", filepath.Join(t.TempDir(), "data")}
	for _, s := range []struct {
		name, stdin string
		args        []string
		code        int
		want        string
	}{
		{"migrate", "", []string{"migrate"}, 0, "applied migration"},
		{"create org", "", []string{"orgs", "create", "--name", "acme"}, 0, "created organization acme"},
		{"create invited user", "", []string{"users", "create", "--email", "alice@acme.example", "--org", "acme"}, 0, "state invited"},
		{"set-password needs --password-stdin", "", []string{"users", "set-password", "--email", "alice@acme.example"}, 2, "--password-stdin is required"},
		{"set-password needs --email", "x\n", []string{"users", "set-password", "--password-stdin"}, 2, "--email is required"},
		{"set-password too short", "short\n", []string{"users", "set-password", "--email", "alice@acme.example", "--password-stdin"}, 1, "at least 8"},
		{"set-password", "a long new password\n", []string{"users", "set-password", "--email", "ALICE@acme.example", "--password-stdin"}, 0, "set the password of alice@acme.example"},
		{"now active", "", []string{"users", "list"}, 0, "active"},
		{"disable", "", []string{"users", "disable", "--email", "alice@acme.example"}, 0, "disabled user alice@acme.example"},
		{"enable", "", []string{"users", "enable", "--email", "alice@acme.example"}, 0, "state active"},
		{"enable unknown", "", []string{"users", "enable", "--email", "nobody@acme.example"}, 1, "no user"},
		{"org with users", "", []string{"orgs", "delete", "--name", "acme"}, 1, "still has users"},
		{"delete user", "", []string{"users", "delete", "--email", "alice@acme.example"}, 0, "deleted user alice@acme.example"},
		{"delete user again", "", []string{"users", "delete", "--email", "alice@acme.example"}, 1, "no user"},
		{"delete org", "", []string{"orgs", "delete", "--name", "acme"}, 0, "deleted organization acme"},
		{"delete unknown org", "", []string{"orgs", "delete", "--name", "acme"}, 1, "does not exist"},
	} {
		r := runCLI(t, s.stdin, append(s.args, d...)...)
		got := r.out
		if s.code != 0 {
			got = r.errOut
		}
		if r.code != s.code || !strings.Contains(got, s.want) {
			t.Fatalf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", s.name, r.code, s.code, r.out, r.errOut, s.want)
		}
	}
}

func TestUsersImportCommand(t *testing.T) {
	dir := t.TempDir()
	d := []string{"--data-dir", filepath.Join(dir, "data")}
	if r := runCLI(t, "", append([]string{"migrate"}, d...)...); r.code != 0 {
		t.Fatalf("migrate: %s", r.errOut)
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const bc = "$2y$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
	for _, s := range []struct {
		name, file, stdin string
		code              int
		want              string
	}{
		{"no --file", "", "", 2, "--file is required"},
		{"missing file", filepath.Join(dir, "nope.jsonl"), "", 1, "no such file"},
		{"not JSON", write("a.jsonl", "{\"email\":\"a@b.example\"}\nnot json\n"), "", 1, "line 2"},
		{"unknown field", write("b.jsonl", `{"email":"a@b.example","password":"plain"}`+"\n"), "", 1, `unknown field "password"`},
		{"empty line in the middle", write("c.jsonl", "{\"email\":\"a@b.example\"}\n\n{\"email\":\"c@b.example\"}\n"), "", 1, "line 2 is empty"},
		{"a bad entry imports nothing", write("d.jsonl", `{"email":"a@b.example"}`+"\n"+`{"email":"x@b.example","password_hash":"plain"}`+"\n"), "", 1, "entry 2: password_hash"},
		{"nothing was imported", "", "", 0, ""},
		{"import", write("e.jsonl", `{"email":"Alice@B.example","name":"Alice","email_verified":true,"password_hash":"`+bc+`"}`+"\r\n"+`{"email":"bob@b.example"}`+"\n"), "", 0, "imported 2 users"},
		{"from standard input", "-", `{"email":"carol@b.example"}` + "\n", 0, "imported 1 users"},
	} {
		if s.name == "nothing was imported" {
			if r := runCLI(t, "", append([]string{"users", "list"}, d...)...); strings.Contains(r.out, "a@b.example") {
				t.Fatalf("a refused file created users:\n%s", r.out)
			}
			continue
		}
		args := []string{"users", "import"}
		if s.file != "" {
			args = append(args, "--file", s.file)
		}
		r := runCLI(t, s.stdin, append(args, d...)...)
		got := r.out
		if s.code != 0 {
			got = r.errOut
		}
		if r.code != s.code || !strings.Contains(got, s.want) {
			t.Fatalf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", s.name, r.code, s.code, r.out, r.errOut, s.want)
		}
	}
	r := runCLI(t, "", append([]string{"users", "list"}, d...)...)
	for _, want := range []string{"alice@b.example", "bob@b.example", "carol@b.example"} {
		if !strings.Contains(r.out, want) {
			t.Fatalf("users list lacks %s:\n%s", want, r.out)
		}
	}
}
