package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// keyRows parses `keys list` into kid -> [use, alg, state, created, signs
// from, retires, unpublished].
func keyRows(t *testing.T, out string) map[string][]string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || strings.Join(strings.Fields(lines[0]), " ") != "KID USE ALG STATE CREATED SIGNS FROM RETIRES UNPUBLISHED" {
		t.Fatalf("keys list header: %q", out)
	}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 8 {
			t.Fatalf("keys list row %q: want 8 columns", l)
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
	if got := rows[first[1]]; got[0] != "oidc" || got[1] != "ES256" || got[2] != "active" || got[5] == "-" || got[6] == "-" {
		t.Errorf("first key: %v; want oidc ES256 active, with a retire and unpublish time", got)
	}
	if got := rows[next[1]]; got[0] != "oidc" || got[1] != "ES256" || got[2] != "next" || got[5] != "-" || got[4] == got[3] {
		t.Errorf("next key: %v; want oidc ES256 next, signing later than created, no end", got)
	}
	if rows[first[1]][5] != rows[next[1]][4] {
		t.Errorf("the first key retires at %s, the next one signs from %s; want the same instant", rows[first[1]][5], rows[next[1]][4])
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
		states[row[0]+" "+row[1]+" "+row[2]]++
	}
	for _, want := range []string{"oidc RS256 active", "oidc EdDSA active", "oidc ES256 active"} {
		if states[want] != 1 {
			t.Errorf("keys list: %d %q keys, want 1 (%v)", states[want], want, states)
		}
	}

	if states["saml RS256 active"] != 0 {
		t.Errorf("keys rotate without --use rotated SAML keys: %v", states)
	}

	testKeysSAML(t, cli)

	r = runCLI(t, "", "help")
	if !strings.Contains(r.out, "keys rotate") || !strings.Contains(r.out, "keys list") {
		t.Errorf("help does not list the keys commands:\n%s", r.out)
	}
}

// testKeysSAML: `keys rotate --use saml` rotates the one SAML chain, with
// its week-long publish-ahead, and `keys list` shows SAML keys beside the
// OIDC ones.
func testKeysSAML(t *testing.T, cli func(args ...string) result) {
	t.Helper()
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--use", "jwt"}, `--use "jwt": want one of oidc, saml`},
		{[]string{"--use", "SAML"}, `--use "SAML": want one of oidc, saml`},
		{[]string{"--use", "saml", "--alg", "ES256"}, `--alg "ES256": SAML keys are RS256`},
	} {
		r := cli(append([]string{"keys", "rotate"}, bad.args...)...)
		if r.code != 2 || !strings.Contains(r.errOut, bad.want) {
			t.Errorf("keys rotate %v: exit %d, stderr %q; want usage error %q", bad.args, r.code, r.errOut, bad.want)
		}
	}
	r := cli("keys", "rotate", "--use", "saml")
	first := regexp.MustCompile(`^SAML: key (\S+) signs now \(no SAML key was signing\)`).FindStringSubmatch(r.out)
	if r.code != 0 || first == nil || strings.Contains(r.out, "ES256") {
		t.Fatalf("first keys rotate --use saml: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	r = cli("keys", "rotate", "--use", "saml", "--alg", "RS256")
	next := regexp.MustCompile(`SAML: published key (\S+); it signs from \S+ \(in 168h0m0s\)`).FindStringSubmatch(r.out)
	if r.code != 0 || next == nil || !strings.Contains(r.out, "SAML: key "+first[1]+" stops signing then; it stays published until") {
		t.Fatalf("second keys rotate --use saml: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	r = cli("keys", "list")
	rows := keyRows(t, r.out)
	if got := rows[first[1]]; len(got) == 0 || got[0] != "saml" || got[1] != "RS256" || got[2] != "active" {
		t.Errorf("first SAML key: %v; want saml RS256 active", got)
	}
	if got := rows[next[1]]; len(got) == 0 || got[0] != "saml" || got[1] != "RS256" || got[2] != "next" {
		t.Errorf("next SAML key: %v; want saml RS256 next", got)
	}
	oidc := 0
	for _, row := range rows {
		if row[0] == "oidc" {
			oidc++
		}
	}
	if r.code != 0 || oidc == 0 || len(rows) != oidc+2 {
		t.Errorf("keys list: exit %d, %d OIDC and %d other rows; want the OIDC keys and 2 SAML\n%s", r.code, oidc, len(rows)-oidc, r.out)
	}
}
