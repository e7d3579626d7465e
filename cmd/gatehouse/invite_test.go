package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/internal/smtptest"
)

// migratedDataDir is a fresh, migrated data directory and a runner of
// commands against it.
func migratedDataDir(t *testing.T) (string, func(stdin string, args ...string) result) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	cli := func(stdin string, args ...string) result {
		t.Helper()
		return runCLI(t, stdin, append(args, "--data-dir", dir)...)
	}
	if r := cli("", "migrate"); r.code != 0 {
		t.Fatalf("migrate: %s", r.errOut)
	}
	return dir, cli
}

// sinkMail is the mail the dev mail sink of data directory dir holds.
func sinkMail(t *testing.T, dir string) []smtptest.Captured {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "mail", "*.eml"))
	var out []smtptest.Captured
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, smtptest.Parse(raw))
	}
	return out
}

// TestInviteCommands: users create --invite, resend-invite and send-reset
// mail their links (here to the dev mail sink in <data_dir>/mail) and say
// what they did; each refuses what it cannot do, in plain words.
func TestInviteCommands(t *testing.T) {
	dir, cli := migratedDataDir(t)
	links := func() []string {
		t.Helper()
		var out []string
		for _, m := range sinkMail(t, dir) {
			if l, ok := smtptest.FirstLink(m.Text, "http://localhost:8080/"); ok {
				out = append(out, l)
			}
		}
		return out
	}
	for _, s := range []struct {
		name, stdin string
		args        []string
		code        int
		want        string
		links       int
	}{
		{"invite and password exclude each other", "pw", []string{"users", "create", "--email", "x@example.com", "--invite", "--password-stdin"}, 2, "exclude each other", 0},
		{"create --invite", "", []string{"users", "create", "--email", "ivy@example.com", "--invite"}, 0, "sent a welcome email to ivy@example.com", 1},
		{"resend-invite", "", []string{"users", "resend-invite", "--email", "ivy@example.com"}, 0, "older links no longer work", 2},
		{"send-reset to an invited user sends the invite", "", []string{"users", "send-reset", "--email", "ivy@example.com"}, 0, "welcome email instead", 3},
		{"resend-invite to an unknown user", "", []string{"users", "resend-invite", "--email", "nobody@example.com"}, 1, "no user", 3},
		{"create an active user", "a long passphrase\n", []string{"users", "create", "--email", "al@example.com", "--password-stdin"}, 0, "state active", 3},
		{"resend-invite to an active user", "", []string{"users", "resend-invite", "--email", "al@example.com"}, 1, "users send-reset", 3},
		{"send-reset", "", []string{"users", "send-reset", "--email", "al@example.com"}, 0, "password-reset link", 4},
		{"send-reset without --email", "", []string{"users", "send-reset"}, 2, "--email is required", 4},
	} {
		r := cli(s.stdin, s.args...)
		if r.code != s.code || !strings.Contains(r.out+r.errOut, s.want) {
			t.Fatalf("%s: exit %d, want %d with %q\n%s%s", s.name, r.code, s.code, s.want, r.out, r.errOut)
		}
		if got := links(); len(got) != s.links {
			t.Fatalf("%s: %d mailed links, want %d: %v", s.name, len(got), s.links, got)
		}
	}
	for _, l := range links() {
		if !strings.Contains(l, "/invite?token=") && !strings.Contains(l, "/password/reset?token=") {
			t.Errorf("unexpected link %s", l)
		}
	}
}
