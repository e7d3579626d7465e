package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
	"github.com/gatehouse-idp/gatehouse/idp/lockout"
)

// TestUsersUnlockCommand: after failed sign-ins lock an account, `users
// unlock` lifts the lock, says what it reset, and refuses an unknown email.
func TestUsersUnlockCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := []string{"--data-dir", dir}
	for _, args := range [][]string{{"migrate"}, {"users", "create", "--email", "alice@example.com"}} {
		if r := runCLI(t, "", append(args, d...)...); r.code != 0 {
			t.Fatalf("%v: %s", args, r.errOut)
		}
	}

	// The failures a login would count, through the instance's own Limiter.
	ctx := context.Background()
	cfg := config.DevDefault()
	cfg.DataDir = dir
	inst, err := instance.Open(ctx, cfg, instance.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	u, err := inst.Store.GetUserByEmail(ctx, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for range cfg.Lockout.MaxFailures {
		a, err := inst.Lockout.Reserve(ctx, u.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		a.Failed(ctx)
	}
	if _, err := inst.Lockout.Reserve(ctx, u.ID, ""); !errors.Is(err, lockout.ErrLocked) {
		t.Fatalf("not locked after %d failures: %v", cfg.Lockout.MaxFailures, err)
	}
	inst.Close()

	for _, s := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"listed as locked", []string{"users", "list"}, 0, "(locked)"},
		{"needs --email", []string{"users", "unlock"}, 2, "--email is required"},
		{"unknown email", []string{"users", "unlock", "--email", "nobody@example.com"}, 1, `no user with email "nobody@example.com"`},
		{"unlock", []string{"users", "unlock", "--email", "ALICE@example.com"}, 0, "unlocked user alice@example.com"},
		{"no longer locked", []string{"users", "list"}, 0, "alice@example.com"},
		{"again", []string{"users", "unlock", "--email", "alice@example.com"}, 0, "was not locked; 0 failed sign-ins forgotten"},
	} {
		r := runCLI(t, "", append(s.args, d...)...)
		got := r.out
		if s.code != 0 {
			got = r.errOut
		}
		if r.code != s.code || !strings.Contains(got, s.want) {
			t.Fatalf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", s.name, r.code, s.code, r.out, r.errOut, s.want)
		}
		if s.name == "unlock" && (!strings.Contains(r.out, "was locked until") || !strings.Contains(r.out, "10 failed sign-ins forgotten")) {
			t.Fatalf("unlock says %q; want when the lock would have ended and the count reset", r.out)
		}
		if s.name == "no longer locked" && strings.Contains(r.out, "(locked)") {
			t.Fatalf("still listed as locked:\n%s", r.out)
		}
	}
}
