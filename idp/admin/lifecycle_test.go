package admin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// lifecycleEnv is a service with the default org, a client, and a user
// with a live session and tokens.
func lifecycleEnv(t *testing.T, in CreateUserInput) (*Service, storage.User) {
	t.Helper()
	ctx := context.Background()
	s := newService(t)
	if _, err := s.Bootstrap(ctx, "default", ""); err != nil {
		t.Fatal(err)
	}
	in.Org = "default"
	u, err := s.CreateUser(ctx, "test", in)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateClient(ctx, "test", clients.Input{ID: "c", Name: "App", RedirectURIs: []string{"https://rp.example/cb"}}); err != nil {
		t.Fatal(err)
	}
	exp := now.Add(time.Hour)
	st := backend(t, s)
	for _, err := range []error{
		st.CreateSession(ctx, storage.Session{Hash: "s1", UserID: u.ID, CreatedAt: now, ExpiresAt: exp, IdleExpiresAt: exp}),
		st.CreateRefreshToken(ctx, storage.RefreshToken{Hash: "r1", FamilyID: "f1", ClientID: "c", UserID: u.ID, CreatedAt: now, ExpiresAt: exp}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return s, u
}

func lastAudit(t *testing.T, s *Service, userID string) string {
	t.Helper()
	types := auditTypes(t, s, userID)
	if len(types) == 0 {
		return ""
	}
	return types[0]
}

func TestSetPassword(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		user      CreateUserInput
		pw        string
		wantErr   bool
		wantState storage.UserState
	}{
		{"active user", CreateUserInput{Email: "bob@example.com", Password: "first password"}, "second password", false, storage.UserActive},
		{"invited user becomes active", CreateUserInput{Email: "bob@example.com"}, "a new password", false, storage.UserActive},
		{"too short for the policy", CreateUserInput{Email: "bob@example.com", Password: "first password"}, "short", true, storage.UserActive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, u := lifecycleEnv(t, tc.user)
			got, err := s.SetPassword(ctx, "test", "BOB@example.com", tc.pw)
			var ie *InputError
			if tc.wantErr {
				if !errors.As(err, &ie) {
					t.Fatalf("SetPassword = %v; want an InputError", err)
				}
				if cur, _ := s.Store.GetUser(ctx, u.ID); cur.PasswordHash != u.PasswordHash {
					t.Fatal("a refused password changed the hash")
				}
				return
			}
			if err != nil || got.State != tc.wantState || !got.PasswordChangedAt.Equal(now) {
				t.Fatalf("SetPassword = %+v, %v", got, err)
			}
			if ok, _, _ := s.Hasher.Verify(ctx, got.PasswordHash, tc.pw); !ok {
				t.Fatal("the new password does not verify")
			}
			if _, err := backend(t, s).GetSession(ctx, "s1"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("session survived a password set by an admin: %v", err)
			}
			if rt, _ := backend(t, s).GetRefreshToken(ctx, "r1"); rt.RevokedAt.IsZero() {
				t.Error("refresh token not revoked")
			}
			if a := lastAudit(t, s, u.ID); a != audit.UserPasswordSet {
				t.Fatalf("last audit event %q", a)
			}
		})
	}
	t.Run("unknown user", func(t *testing.T) {
		s, _ := lifecycleEnv(t, CreateUserInput{Email: "bob@example.com"})
		var ie *InputError
		if _, err := s.SetPassword(ctx, "test", "nobody@example.com", "a new password"); !errors.As(err, &ie) {
			t.Fatalf("SetPassword of an unknown user = %v", err)
		}
	})
}

func TestEnableUser(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		user CreateUserInput
		prep func(*storage.User)
		want storage.UserState
	}{
		{"disabled with a password", CreateUserInput{Email: "bob@example.com", Password: "first password"},
			func(u *storage.User) { u.State = storage.UserDisabled }, storage.UserActive},
		{"disabled, never set a password", CreateUserInput{Email: "bob@example.com"},
			func(u *storage.User) { u.State = storage.UserDisabled }, storage.UserInvited},
		{"locked: the lock is lifted", CreateUserInput{Email: "bob@example.com", Password: "first password"},
			func(u *storage.User) { u.LockedUntil = now.Add(10 * time.Minute) }, storage.UserActive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, u := lifecycleEnv(t, tc.user)
			if _, err := s.Store.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) { tc.prep(&u); return u, nil }); err != nil {
				t.Fatal(err)
			}
			got, err := s.EnableUser(ctx, "test", "bob@example.com")
			if err != nil || got.State != tc.want || !got.LockedUntil.IsZero() || !got.MaySignIn(now) != (tc.want != storage.UserActive) {
				t.Fatalf("EnableUser = %+v, %v", got, err)
			}
			if a := lastAudit(t, s, u.ID); a != audit.UserEnabled {
				t.Fatalf("last audit event %q", a)
			}
		})
	}
}

func TestDeleteUserAndOrg(t *testing.T) {
	ctx := context.Background()
	s, u := lifecycleEnv(t, CreateUserInput{Email: "bob@example.com", Password: "first password"})
	var ie *InputError
	if _, err := s.DeleteOrg(ctx, "test", "default"); !errors.As(err, &ie) || !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("DeleteOrg with users = %v; want a conflict", err)
	}
	if _, err := s.DeleteUser(ctx, "test", "Bob@Example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.GetUser(ctx, u.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("user after delete: %v", err)
	}
	if _, err := backend(t, s).GetSession(ctx, "s1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("session survived the user: %v", err)
	}
	if a := lastAudit(t, s, u.ID); a != audit.UserDeleted {
		t.Fatalf("last audit event %q; the trail must survive the user", a)
	}
	if _, err := s.DeleteUser(ctx, "test", "bob@example.com"); !errors.As(err, &ie) {
		t.Fatalf("second DeleteUser = %v; want an InputError", err)
	}
	o, err := s.DeleteOrg(ctx, "test", "default")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.GetOrganization(ctx, o.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("organization after delete: %v", err)
	}
	evs, err := backend(t, s).ListAuditEvents(ctx, storage.AuditQuery{Type: audit.OrgDeleted})
	if err != nil || len(evs) != 1 || evs[0].Details["name"] != "default" {
		t.Fatalf("org.deleted events %+v, %v", evs, err)
	}
	if _, err := s.DeleteOrg(ctx, "test", "default"); !errors.As(err, &ie) {
		t.Fatalf("second DeleteOrg = %v; want an InputError", err)
	}
}

// TestUpdateClient: an edit passes the rules of a new client, keeps the
// id, kind and secret, writes (and audits) only a real change, and never
// touches a client the config file owns.
func TestUpdateClient(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	c, secret, err := s.CreateClient(ctx, "test", clients.Input{ID: "web", RedirectURIs: []string{"https://rp.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	updates := func() int {
		evs, err := backend(t, s).ListAuditEvents(ctx, storage.AuditQuery{Type: audit.ClientUpdated})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	got, err := s.UpdateClient(ctx, "test", "web", func(in *clients.Input) {
		in.Name, in.RedirectURIs, in.ID, in.Public = "Wiki", []string{"https://wiki.example/cb"}, "other", true
	})
	if err != nil || got.ID != "web" || got.Public || got.Name != "Wiki" || got.RedirectURIs[0] != "https://wiki.example/cb" ||
		!clients.VerifySecret(got, secret) || !got.CreatedAt.Equal(c.CreatedAt) || updates() != 1 {
		t.Fatalf("UpdateClient = %+v, %v (%d update events)", got, err, updates())
	}
	if _, err := s.UpdateClient(ctx, "test", "web", func(in *clients.Input) { in.Name = "Wiki" }); err != nil || updates() != 1 {
		t.Fatalf("an edit that changes nothing: %v, %d update events", err, updates())
	}
	var ie *InputError
	if _, err := s.UpdateClient(ctx, "test", "web", func(in *clients.Input) { in.RedirectURIs = []string{"http://evil.example/cb"} }); !errors.As(err, &ie) {
		t.Fatalf("a bad redirect URI = %v; want an InputError", err)
	}
	if _, err := s.UpdateClient(ctx, "test", "nope", func(in *clients.Input) { in.Name = "x" }); !errors.As(err, &ie) || !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("an unknown client = %v", err)
	}
	if err := s.ReconcileConfigClients(ctx, []clients.Input{{ID: "cfg", Secret: strings.Repeat("s", 40), RedirectURIs: []string{"https://cfg.example/cb"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateClient(ctx, "test", "cfg", func(in *clients.Input) { in.Name = "x" }); !errors.As(err, &ie) {
		t.Fatalf("a config client = %v; want an InputError", err)
	}
}

// TestImportUsers: a file of users from another IdP is checked whole
// before anything is created; a good one keeps every hash, so the users
// sign in with their old passwords.
func TestImportUsers(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	if _, err := s.Bootstrap(ctx, "default", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "test", CreateUserInput{Email: "taken@example.com", Org: "default"}); err != nil {
		t.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("old bcrypt password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	argon, err := s.Hasher.Hash(ctx, "old argon2 password")
	if err != nil {
		t.Fatal(err)
	}

	bad := []ImportUser{
		{Email: "ok@example.com", PasswordHash: string(bc)},
		{Email: "not an email"},
		{Email: "OK@example.com"},
		{Email: "taken@example.com"},
		{Email: "lost@example.com", Org: "nowhere"},
		{Email: "md5@example.com", PasswordHash: "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"},
		{Email: "long@example.com", Name: strings.Repeat("n", MaxUserName+1)},
	}
	_, err = s.ImportUsers(ctx, "test", "default", bad)
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("ImportUsers of a bad file = %v; want an InputError", err)
	}
	for _, want := range []string{"nothing was imported", "entry 2: ", "entry 3: ok@example.com is already entry 1", "entry 4: a user with email",
		`entry 5: organization "nowhere"`, "entry 6: password_hash", "entry 7: "} {
		if !strings.Contains(ie.Msg, want) {
			t.Errorf("report lacks %q:\n%s", want, ie.Msg)
		}
	}
	if _, err := s.Store.GetUserByEmail(ctx, "ok@example.com"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a bad file created the good entry: %v", err)
	}

	good := []ImportUser{
		{Email: "Bob@Example.com", Name: "Bob", EmailVerified: true, PasswordHash: "$2y$" + string(bc)[4:]},
		{Email: "carol@example.com", PasswordHash: argon},
		{Email: "dave@example.com"},
	}
	got, err := s.ImportUsers(ctx, "test", "default", good)
	if err != nil || len(got) != 3 {
		t.Fatalf("ImportUsers = %d users, %v", len(got), err)
	}
	for _, tc := range []struct {
		email, pw string
		state     storage.UserState
	}{
		{"bob@example.com", "old bcrypt password", storage.UserActive},
		{"carol@example.com", "old argon2 password", storage.UserActive},
		{"dave@example.com", "", storage.UserInvited},
	} {
		u, err := s.Store.GetUserByEmail(ctx, tc.email)
		if err != nil || u.State != tc.state {
			t.Fatalf("%s: %+v, %v", tc.email, u, err)
		}
		if tc.pw == "" {
			continue
		}
		if ok, _, err := s.Hasher.Verify(ctx, u.PasswordHash, tc.pw); !ok || err != nil {
			t.Fatalf("%s: the imported hash does not verify the old password: %v, %v", tc.email, ok, err)
		}
	}
}
