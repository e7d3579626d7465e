package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

func TestUsersShow(t *testing.T) {
	dir, cli := migratedDataDir(t)
	if r := cli("a long passphrase\n", "users", "create", "--email", "al@example.com", "--name", "Al", "--password-stdin"); r.code != 0 {
		t.Fatalf("create: %s", r.errOut)
	}
	// A confirmed TOTP, an enrolment never confirmed, two recovery codes
	// of which one is used: what an administrator sees of them.
	st := testenv.SQLiteAt(t, filepath.Join(dir, "gatehouse.db"))
	ctx := context.Background()
	u, err := st.GetUserByEmail(ctx, "al@example.com")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, f := range []storage.Factor{
		{ID: "f-totp", UserID: u.ID, Kind: storage.FactorTOTP, Label: "Phone", Secret: []byte("sealed-secret"), ConfirmedAt: now, CreatedAt: now},
		{ID: "f-pending", UserID: u.ID, Kind: storage.FactorTOTP, Label: "New phone", Secret: []byte("sealed"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
	} {
		if err := st.CreateFactor(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	codes := []storage.Factor{
		{ID: "rc-1", Kind: storage.FactorRecovery, Secret: []byte("h1"), ConfirmedAt: now, CreatedAt: now},
		{ID: "rc-2", Kind: storage.FactorRecovery, Secret: []byte("h2"), ConfirmedAt: now, CreatedAt: now},
	}
	if err := st.ReplaceRecoveryCodes(ctx, u.ID, codes); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsumeRecoveryCode(ctx, u.ID, []byte("h1"), now); err != nil {
		t.Fatal(err)
	}

	r := cli("", "users", "show", "--email", "AL@example.com")
	if r.code != 0 {
		t.Fatalf("users show: %d %s", r.code, r.errOut)
	}
	for _, want := range []string{"al@example.com", "organization  default", "state         active", "lockout       not locked",
		`totp "Phone", added`, "last used never", `totp "New phone"`, "enrolment not confirmed", "recovery codes  1 unused", "last sign-in    never"} {
		if !strings.Contains(strings.Join(strings.Fields(r.out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("users show lacks %q:\n%s", want, r.out)
		}
	}
	for _, secret := range []string{"sealed", "h2", "argon2"} {
		if strings.Contains(r.out, secret) {
			t.Errorf("users show prints secret material %q:\n%s", secret, r.out)
		}
	}
	r = cli("", "users", "show", "--email", "al@example.com", "--json")
	var out map[string]any
	if err := json.Unmarshal([]byte(r.out), &out); err != nil || r.code != 0 {
		t.Fatalf("users show --json: %v\n%s", err, r.out)
	}
	if out["recovery_codes_unused"] != float64(1) || out["locked"] != false || len(out["factors"].([]any)) != 2 {
		t.Errorf("users show --json: %v", out)
	}
	if r := cli("", "users", "show", "--email", "nobody@example.com"); r.code != 1 || !strings.Contains(r.errOut, "no user") {
		t.Errorf("users show of an unknown user: %d %s", r.code, r.errOut)
	}
	if r := cli("", "users", "show"); r.code != 2 {
		t.Errorf("users show without --email: %d", r.code)
	}
}
