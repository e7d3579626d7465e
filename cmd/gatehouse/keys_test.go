package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// keyRows parses `keys list` into kid -> [alg, state, created, signs from,
// retires, unpublished].
func keyRows(t *testing.T, out string) map[string][]string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || strings.Join(strings.Fields(lines[0]), " ") != "KID ALG STATE CREATED SIGNS FROM RETIRES UNPUBLISHED" {
		t.Fatalf("keys list header: %q", out)
	}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 7 {
			t.Fatalf("keys list row %q: want 7 columns", l)
		}
		rows[f[0]] = f[1:]
	}
	return rows
}

func TestKeysCommands(t *testing.T) {
	d := []string{"--data-dir", filepath.Join(t.TempDir(), "data")}
	cli := func(args ...string) result {
		t.Helper()
		return runCLI(t, "", append(args, d...)...)
	}

	if r := cli("migrate"); r.code != 0 {
		t.Fatalf("migrate: %d %s", r.code, r.errOut)
	}
	r := cli("keys", "list")
	if r.code != 0 || len(keyRows(t, r.out)) != 0 {
		t.Fatalf("keys list on a fresh install: exit %d\n%s%s", r.code, r.out, r.errOut)
	}

	for _, bad := range []string{"HS256", "none", "es256"} {
		r = cli("keys", "rotate", "--alg", bad)
		if r.code != 2 || !strings.Contains(r.errOut, "want one of RS256, ES256, EdDSA") {
			t.Errorf("keys rotate --alg %s: exit %d, stderr %q; want usage error", bad, r.code, r.errOut)
		}
	}

	// No key yet: the first one signs at once.
	r = cli("keys", "rotate", "--alg", "ES256")
	first := regexp.MustCompile(`^ES256: key (\S+) signs now`).FindStringSubmatch(r.out)
	if r.code != 0 || first == nil || strings.Contains(r.out, "RS256") {
		t.Fatalf("first keys rotate --alg ES256: exit %d\n%s%s", r.code, r.out, r.errOut)
	}

	// Then a rotation publishes ahead and names the key it replaces.
	r = cli("keys", "rotate", "--alg", "ES256")
	next := regexp.MustCompile(`ES256: published key (\S+); it signs from \S+ \(in 10m0s\)`).FindStringSubmatch(r.out)
	if r.code != 0 || next == nil || !strings.Contains(r.out, "ES256: key "+first[1]+" stops signing then; it stays published until") {
		t.Fatalf("second keys rotate --alg ES256: exit %d\n%s%s", r.code, r.out, r.errOut)
	}

	r = cli("keys", "list")
	rows := keyRows(t, r.out)
	if r.code != 0 || len(rows) != 2 {
		t.Fatalf("keys list: exit %d, %d rows\n%s", r.code, len(rows), r.out)
	}
	if got := rows[first[1]]; got[0] != "ES256" || got[1] != "active" || got[4] == "-" || got[5] == "-" {
		t.Errorf("first key: %v; want ES256 active, with a retire and unpublish time", got)
	}
	if got := rows[next[1]]; got[0] != "ES256" || got[1] != "next" || got[4] != "-" || got[3] == got[2] {
		t.Errorf("next key: %v; want ES256 next, signing later than created, no end", got)
	}
	if rows[first[1]][4] != rows[next[1]][3] {
		t.Errorf("the first key retires at %s, the next one signs from %s; want the same instant", rows[first[1]][4], rows[next[1]][3])
	}

	// Without --alg every algorithm is rotated.
	r = cli("keys", "rotate")
	for _, want := range []string{"RS256: key ", "ES256: published key ", "EdDSA: key "} {
		if r.code != 0 || !strings.Contains(r.out, want) {
			t.Fatalf("keys rotate: exit %d, want %q\n%s%s", r.code, want, r.out, r.errOut)
		}
	}
	r = cli("keys", "list")
	states := map[string]int{}
	for _, row := range keyRows(t, r.out) {
		states[row[0]+" "+row[1]]++
	}
	for _, want := range []string{"RS256 active", "EdDSA active", "ES256 active"} {
		if states[want] != 1 {
			t.Errorf("keys list: %d %q keys, want 1 (%v)", states[want], want, states)
		}
	}

	r = runCLI(t, "", "help")
	if !strings.Contains(r.out, "keys rotate") || !strings.Contains(r.out, "keys list") {
		t.Errorf("help does not list the keys commands:\n%s", r.out)
	}
}
