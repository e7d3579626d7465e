package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

func TestUsersPhone(t *testing.T) {
	dir, cli := migratedDataDir(t)
	steps := []struct {
		name         string
		args         []string
		code         int
		out, errOut  string
		phone, uname string // what is stored afterwards
	}{
		{"create with a phone", []string{"users", "create", "--email", "ph@example.com", "--name", "Ph", "--phone", "+41 79 123 45 67"},
			0, "created user ph@example.com", "", "+41791234567", "Ph"},
		{"create with a national number", []string{"users", "create", "--email", "nat@example.com", "--phone", "079 123 45 67"},
			1, "", "gatehouse users create: phone: include the country code, like +41 79 123 45 67", "+41791234567", "Ph"},
		{"change the phone only", []string{"users", "update", "--email", "PH@example.com", "--phone", "0044 20 7946 0958"},
			0, "updated user ph@example.com: phone +442079460958\n", "", "+442079460958", "Ph"},
		{"change the name only", []string{"users", "update", "--email", "ph@example.com", "--name", "Phil"},
			0, "updated user ph@example.com: name Phil\n", "", "+442079460958", "Phil"},
		{"a bad phone changes nothing", []string{"users", "update", "--email", "ph@example.com", "--name", "X", "--phone", "+44 20 7946 09xx"},
			1, "", "phone: a phone number may hold only digits", "+442079460958", "Phil"},
		{"clear the phone", []string{"users", "update", "--email", "ph@example.com", "--phone", ""},
			0, "updated user ph@example.com: phone none\n", "", "", "Phil"},
		{"nothing to change", []string{"users", "update", "--email", "ph@example.com"},
			2, "", "give --name or --phone", "", "Phil"},
		{"no email", []string{"users", "update", "--phone", "+41791234567"},
			2, "", "--email is required", "", "Phil"},
		{"unknown user", []string{"users", "update", "--email", "nobody@example.com", "--phone", "+41791234567"},
			1, "", `no user with email "nobody@example.com"`, "", "Phil"},
	}
	st := testenv.SQLiteAt(t, filepath.Join(dir, "gatehouse.db"))
	for _, s := range steps {
		r := cli("", s.args...)
		if r.code != s.code || !strings.Contains(r.out, s.out) || !strings.Contains(r.errOut, s.errOut) {
			t.Fatalf("%s: %d\nout: %s\nerr: %s\nwant %d, %q, %q", s.name, r.code, r.out, r.errOut, s.code, s.out, s.errOut)
		}
		u, err := st.GetUserByEmail(context.Background(), "ph@example.com")
		if err != nil || u.Phone != s.phone || u.Name != s.uname {
			t.Fatalf("%s: stored %q %q, %v; want %q %q", s.name, u.Phone, u.Name, err, s.phone, s.uname)
		}
	}
	if _, err := st.GetUserByEmail(context.Background(), "nat@example.com"); err == nil {
		t.Error("a user with a refused phone was created")
	}

	// users show prints the number, in words and in JSON.
	if r := cli("", "users", "update", "--email", "ph@example.com", "--phone", "+1 (415) 555-2671"); r.code != 0 {
		t.Fatalf("users update: %s", r.errOut)
	}
	if r := cli("", "users", "show", "--email", "ph@example.com"); r.code != 0 || !strings.Contains(strings.Join(strings.Fields(r.out), " "), "phone +14155552671") {
		t.Errorf("users show: %d %s", r.code, r.out)
	}
	r := cli("", "users", "show", "--email", "ph@example.com", "--json")
	var out map[string]any
	if err := json.Unmarshal([]byte(r.out), &out); err != nil || out["phone"] != "+14155552671" {
		t.Errorf("users show --json: %v %s", err, r.out)
	}
	if r := cli("", "users", "list", "--json"); r.code != 0 || !strings.Contains(r.out, `"phone":"+14155552671"`) {
		t.Errorf("users list --json: %d %s", r.code, r.out)
	}
	if r := cli("", "users", "create", "--email", "none@example.com"); r.code != 0 {
		t.Fatalf("create without a phone: %s", r.errOut)
	}
	if r := cli("", "users", "show", "--email", "none@example.com"); !strings.Contains(strings.Join(strings.Fields(r.out), " "), "phone none") {
		t.Errorf("users show of a user with no phone: %s", r.out)
	}
}
