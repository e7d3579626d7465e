package main

import (
	"context"
	"encoding/json"
	"fmt"
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
		// A security key a login flagged as cloned, and a sound one.
		{ID: "f-key", UserID: u.ID, Kind: "webauthn", Label: "Blue key", ConfirmedAt: now, CreatedAt: now,
			Data: []byte(`{"rpId":"localhost","id":"AQID","publicKey":"BAUG","signCount":7,"cloneWarning":true}`)},
		{ID: "f-key2", UserID: u.ID, Kind: "webauthn", Label: "Laptop", ConfirmedAt: now, CreatedAt: now,
			Data: []byte(`{"rpId":"localhost","id":"BwgJ","publicKey":"BAUG","signCount":3}`)},
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
	// A skip, an enrolment an administrator's reset asks for, and both
	// kinds of role.
	skipped := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := st.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
		u.MFASkipped, u.MFASkippedAt, u.MFAEnrollRequired, u.MFAEnrolMethod = true, skipped, true, "totp"
		u.Roles = []string{storage.RoleAdmin, storage.OrgAdminRole(u.OrgID)}
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}

	r := cli("", "users", "show", "--email", "AL@example.com")
	if r.code != 0 {
		t.Fatalf("users show: %d %s", r.code, r.errOut)
	}
	for _, want := range []string{"al@example.com", "organization  default", "state         active", "lockout       not locked",
		`totp "Phone", added`, "confirmed " + now.Format(time.RFC3339) + ", last used never", `totp "New phone"`, "enrolment not confirmed",
		"recovery codes 1 of 2 left", "last sign-in never", "mfa skipped yes, 2030-01-02T03:04:05Z",
		"enrolment required yes, at the next sign-in, method totp", "roles admin, org-admin of default",
		`webauthn "Blue key"`, "FLAGGED: its signature counter went backwards"} {
		if !strings.Contains(strings.Join(strings.Fields(r.out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("users show lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Count(r.out, "FLAGGED") != 1 {
		t.Errorf("users show flags %d keys; want 1 (Blue key):\n%s", strings.Count(r.out, "FLAGGED"), r.out)
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
	if out["recovery_codes_unused"] != float64(1) || out["recovery_codes_total"] != float64(2) || out["locked"] != false ||
		len(out["factors"].([]any)) != 4 || flaggedOf(out)["f-key"] != true || flaggedOf(out)["f-key2"] != false ||
		flaggedOf(out)["f-totp"] != false || out["mfa_skipped_at"] != "2030-01-02T03:04:05Z" || out["mfa_enrol_method"] != "totp" ||
		out["mfa_enroll_required"] != true {
		t.Errorf("users show --json: %v", out)
	}
	if r := cli("", "users", "show", "--email", "nobody@example.com"); r.code != 1 || !strings.Contains(r.errOut, "no user") {
		t.Errorf("users show of an unknown user: %d %s", r.code, r.errOut)
	}
	if r := cli("", "users", "show"); r.code != 2 {
		t.Errorf("users show without --email: %d", r.code)
	}
}

// flaggedOf is each factor's "flagged" in users show --json, by id.
func flaggedOf(out map[string]any) map[string]any {
	m := map[string]any{}
	fs, _ := out["factors"].([]any)
	for _, f := range fs {
		if f, ok := f.(map[string]any); ok {
			m[fmt.Sprint(f["id"])] = f["flagged"]
		}
	}
	return m
}
