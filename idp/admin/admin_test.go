package admin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/internal/testenv"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newService(t *testing.T) *Service {
	t.Helper()
	st := testenv.SQLite(t)
	clock := func() time.Time { return now }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &Service{
		Store:  st,
		Hasher: password.NewHasher(password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 0),
		Audit:  &audit.Recorder{Store: st, Logger: logger, Now: clock},
		Now:    clock,
		Policy: password.Policy{MinLength: 8},
	}
}

// backend is the whole store behind s, for the rows that the Service
// reaches through no method of Store (sessions, tokens) or never reads
// (audit events).
func backend(t *testing.T, s *Service) storage.Storage {
	t.Helper()
	st, ok := s.Store.(storage.Storage)
	if !ok {
		t.Fatalf("Store is a %T, not a whole storage.Storage", s.Store)
	}
	return st
}

func auditTypes(t *testing.T, s *Service, userID string) []string {
	t.Helper()
	evs, err := backend(t, s).ListAuditEvents(context.Background(), storage.AuditQuery{UserID: userID})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	return types
}

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	res, err := s.Bootstrap(ctx, "default", "admin@localhost")
	if err != nil || !res.OrgCreated || res.AdminEmail != "admin@localhost" || len(res.AdminPassword) != 24 {
		t.Fatalf("first Bootstrap = %+v, %v", res, err)
	}
	u, err := s.Store.GetUserByEmail(ctx, "admin@localhost")
	if err != nil || !u.HasRole(storage.RoleAdmin) || u.State != storage.UserActive || !u.EmailVerified {
		t.Fatalf("admin = %+v, %v", u, err)
	}
	if ok, _, err := s.Hasher.Verify(ctx, u.PasswordHash, res.AdminPassword); !ok || err != nil {
		t.Fatalf("printed password does not verify: %v %v", ok, err)
	}
	again, err := s.Bootstrap(ctx, "default", "admin@localhost")
	if err != nil || again.OrgCreated || again.AdminPassword != "" {
		t.Fatalf("second Bootstrap = %+v, %v; want nothing done", again, err)
	}
	if got := auditTypes(t, s, u.ID); len(got) != 2 || got[0] != audit.BootstrapAdminCreated || got[1] != audit.UserCreated {
		t.Fatalf("audit events %v", got)
	}
}

func TestBootstrapWithoutAdmin(t *testing.T) {
	s := newService(t)
	res, err := s.Bootstrap(context.Background(), "default", "")
	if err != nil || !res.OrgCreated || !res.NoUsers || res.AdminPassword != "" {
		t.Fatalf("Bootstrap without admin email = %+v, %v", res, err)
	}
}

func TestBootstrapRejectsBadOrgName(t *testing.T) {
	s := newService(t)
	if _, err := s.Bootstrap(context.Background(), "Not Valid", "admin@localhost"); err == nil {
		t.Fatal("Bootstrap accepted an invalid organization name")
	}
}

// Several instances start at once on one database: exactly one admin.
func TestBootstrapConcurrent(t *testing.T) {
	s := newService(t)
	var wg sync.WaitGroup
	results := make([]BootstrapResult, 8)
	errs := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.Bootstrap(context.Background(), "default", "admin@localhost")
		}()
	}
	wg.Wait()
	created := 0
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("Bootstrap %d: %v", i, errs[i])
		}
		if r.AdminPassword != "" {
			created++
		}
	}
	if n, _ := s.Store.CountUsers(context.Background()); created != 1 || n != 1 {
		t.Fatalf("%d admins reported, %d users stored; want 1 and 1", created, n)
	}
}

func TestDisableUserEndsEverything(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	if _, err := s.Bootstrap(ctx, "default", ""); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, "test", CreateUserInput{Email: "Bob@Example.com", Org: "default", Password: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	exp := now.Add(time.Hour)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.CreateClient(ctx, "test", clients.Input{ID: "c", Name: "App", RedirectURIs: []string{"https://rp.example/cb"}}); err != nil {
		t.Fatal(err)
	}
	must(backend(t, s).CreateSession(ctx, storage.Session{Hash: "s1", UserID: u.ID, CreatedAt: now, ExpiresAt: exp, IdleExpiresAt: exp}))
	must(backend(t, s).CreateRefreshToken(ctx, storage.RefreshToken{Hash: "r1", FamilyID: "f1", ClientID: "c", UserID: u.ID, CreatedAt: now, ExpiresAt: exp}))
	must(backend(t, s).CreateAccessToken(ctx, storage.AccessToken{Hash: "a1", FamilyID: "f1", ClientID: "c", UserID: u.ID, CreatedAt: now, ExpiresAt: exp}))

	d, err := s.DisableUser(ctx, "test", "BOB@example.com")
	if err != nil || d.State != storage.UserDisabled {
		t.Fatalf("DisableUser = %+v, %v", d, err)
	}
	if _, err := backend(t, s).GetSession(ctx, "s1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("session survived disable: %v", err)
	}
	if rt, _ := backend(t, s).GetRefreshToken(ctx, "r1"); rt.RevokedAt.IsZero() {
		t.Error("refresh token not revoked")
	}
	if at, _ := backend(t, s).GetAccessToken(ctx, "a1"); at.RevokedAt.IsZero() {
		t.Error("access token not revoked")
	}
	if got := auditTypes(t, s, u.ID); len(got) == 0 || got[0] != audit.UserDisabled {
		t.Fatalf("audit events %v", got)
	}
}

func TestCreateUserInputErrors(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	if _, err := s.Bootstrap(ctx, "default", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPasswordPolicy(ctx, "test", "default", PasswordPolicyChange{MinLength: ptr(12)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		in        CreateUserInput
		conflict  bool
		wantInput bool
	}{
		{"bad email", CreateUserInput{Email: "nope", Org: "default"}, false, true},
		{"display name form", CreateUserInput{Email: "A <a@example.com>", Org: "default"}, false, true},
		{"unknown org", CreateUserInput{Email: "a@example.com", Org: "missing"}, false, true},
		{"org policy raises the floor", CreateUserInput{Email: "a@example.com", Org: "default", Password: "elevenchars"}, false, true},
		{"common password", CreateUserInput{Email: "a@example.com", Org: "default", Password: "password1234"}, false, true},
		{"ok", CreateUserInput{Email: "a@example.com", Org: "default", Password: "twelve chars"}, false, false},
		{"duplicate", CreateUserInput{Email: "A@EXAMPLE.COM", Org: "default"}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateUser(ctx, "test", tt.in)
			var ie *InputError
			if errors.As(err, &ie) != tt.wantInput || errors.Is(err, storage.ErrConflict) != tt.conflict {
				t.Fatalf("CreateUser err = %v; want input error %v, conflict %v", err, tt.wantInput, tt.conflict)
			}
		})
	}
}
