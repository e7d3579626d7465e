package storagetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var userTests = []testCase{
	{"RoundTrip", testUserRoundTrip},
	{"NotFound", testUserNotFound},
	{"CreateConflicts", testUserCreateConflicts},
	{"UpdateChangesEmail", testUserUpdateChangesEmail},
	{"UpdateEmailConflict", testUserUpdateEmailConflict},
	{"List", testUserList},
	{"ListPagingVisitsEachOnce", testUserListPaging},
	{"ListDefaultLimit", testUserListDefaultLimit},
	{"ListFilters", testUserFilters},
	{"CountBy", testUserCountBy},
	{"Count", testUserCount},
	{"DeleteFreesEmail", testUserDeleteFreesEmail},
	{"DeleteRemovesSessionsAndTokens", testUserDeleteRemovesSessionsAndTokens},
	{"DeleteKeepsAuditEvents", testUserDeleteKeepsAuditEvents},
}

func testUserRoundTrip(t *testing.T, f *fixture) {
	mustOK(t, f.s.CreateOrganization(f.ctx, newOrg("org-1", "acme")), "CreateOrganization")
	// An SSO-only invited user: no password, no roles, zero times, which
	// must come back as zero times (IsZero), not as the Unix epoch.
	minimal := storage.User{
		ID:        "user-min",
		OrgID:     "org-1",
		Email:     "sso.only@acme.example",
		State:     storage.UserInvited,
		CreatedAt: at(0),
		UpdatedAt: at(0),
	}
	disabled := newUser("user-dis", "org-1", "bob+tag@acme.example")
	disabled.State = storage.UserDisabled
	disabled.Roles = []string{"viewer"}

	for _, u := range []storage.User{newUser("user-full", "org-1", "alice@acme.example"), minimal, disabled} {
		mustOK(t, f.s.CreateUser(f.ctx, u), "CreateUser "+u.ID)
		got, err := f.s.GetUser(f.ctx, u.ID)
		if checkOK(t, err, "GetUser "+u.ID) {
			checkEqual(t, "GetUser "+u.ID, u, got)
			for _, tm := range []struct {
				name string
				v    time.Time
			}{{"LockedUntil", got.LockedUntil}, {"PasswordChangedAt", got.PasswordChangedAt}, {"LastLoginAt", got.LastLoginAt}} {
				if u.ID == minimal.ID && !tm.v.IsZero() {
					t.Errorf("%s written as zero time came back as %s, want IsZero", tm.name, fmtTime(tm.v))
				}
			}
		}
		got, err = f.s.GetUserByEmail(f.ctx, u.Email)
		if checkOK(t, err, "GetUserByEmail "+u.Email) {
			checkEqual(t, "GetUserByEmail "+u.Email, u, got)
		}
	}
}

func testUserNotFound(t *testing.T, f *fixture) {
	f.base(t)
	_, err := f.s.GetUser(f.ctx, "user-missing")
	checkErr(t, err, storage.ErrNotFound, "GetUser of a missing id")
	_, err = f.s.GetUserByEmail(f.ctx, "nobody@acme.example")
	checkErr(t, err, storage.ErrNotFound, "GetUserByEmail of a missing email")
	_, err = f.s.UpdateUser(f.ctx, "user-missing", func(u storage.User) (storage.User, error) { return u, nil })
	checkErr(t, err, storage.ErrNotFound, "UpdateUser of a missing id")
	checkErr(t, f.s.DeleteUser(f.ctx, "user-missing"), storage.ErrNotFound, "DeleteUser of a missing id")
}

func testUserCreateConflicts(t *testing.T, f *fixture) {
	b := f.base(t)
	mustOK(t, f.s.CreateOrganization(f.ctx, newOrg("org-2", "other")), "CreateOrganization org-2")
	for _, c := range []struct {
		name string
		user storage.User
	}{
		{"same email, same org", newUser("user-2", b.org.ID, b.user.Email)},
		{"same email, other org", newUser("user-3", "org-2", b.user.Email)},
		{"same id", newUser(b.user.ID, b.org.ID, "other@acme.example")},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkErr(t, f.s.CreateUser(f.ctx, c.user), storage.ErrConflict, "CreateUser with "+c.name)
			if c.user.ID != b.user.ID {
				_, err := f.s.GetUser(f.ctx, c.user.ID)
				checkErr(t, err, storage.ErrNotFound, "GetUser after a failed create")
			}
			got, err := f.s.GetUserByEmail(f.ctx, b.user.Email)
			if checkOK(t, err, "GetUserByEmail of the original") {
				checkEqual(t, "original user after a conflicting create", b.user, got)
			}
		})
	}
	n, err := f.s.CountUsers(f.ctx)
	if checkOK(t, err, "CountUsers") && n != 1 {
		t.Errorf("CountUsers after failed creates = %d, want 1", n)
	}
}

func testUserUpdateChangesEmail(t *testing.T, f *fixture) {
	b := f.base(t)
	want := b.user
	want.Email = "alice.new@acme.example"
	want.EmailVerified = false
	want.Roles = []string{"auditor"}
	want.State = storage.UserDisabled
	want.LockedUntil = time.Time{}
	want.PasswordHash = ""
	want.Phone = "" // cleared
	want.LastLoginAt = at(time.Minute)
	want.UpdatedAt = at(time.Minute)
	got, err := f.s.UpdateUser(f.ctx, b.user.ID, func(cur storage.User) (storage.User, error) {
		checkEqual(t, "row seen by the update function", b.user, cur)
		return want, nil
	})
	mustOK(t, err, "UpdateUser")
	checkEqual(t, "UpdateUser result", want, got)
	got, err = f.s.GetUser(f.ctx, want.ID)
	if checkOK(t, err, "GetUser after update") {
		checkEqual(t, "GetUser after update", want, got)
		if !got.LockedUntil.IsZero() {
			t.Errorf("LockedUntil cleared by update came back as %s", fmtTime(got.LockedUntil))
		}
	}
	_, err = f.s.GetUserByEmail(f.ctx, b.user.Email)
	checkErr(t, err, storage.ErrNotFound, "GetUserByEmail of the old email")
	got, err = f.s.GetUserByEmail(f.ctx, want.Email)
	if checkOK(t, err, "GetUserByEmail of the new email") {
		checkEqual(t, "GetUserByEmail of the new email", want, got)
	}
	f.createUser(t, newUser("user-2", b.org.ID, b.user.Email))
}

func testUserUpdateEmailConflict(t *testing.T, f *fixture) {
	b := f.base(t)
	other := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	_, err := f.s.UpdateUser(f.ctx, other.ID, func(u storage.User) (storage.User, error) {
		u.Email = b.user.Email
		u.Name = "changed"
		return u, nil
	})
	checkErr(t, err, storage.ErrConflict, "UpdateUser to a taken email")
	for _, w := range []storage.User{b.user, other} {
		got, err := f.s.GetUser(f.ctx, w.ID)
		if checkOK(t, err, "GetUser "+w.ID) {
			checkEqual(t, w.ID+" after a conflicting update (nothing may be written)", w, got)
		}
	}
}

func testUserList(t *testing.T, f *fixture) {
	mustOK(t, f.s.CreateOrganization(f.ctx, newOrg("org-a", "a")), "CreateOrganization org-a")
	mustOK(t, f.s.CreateOrganization(f.ctx, newOrg("org-b", "b")), "CreateOrganization org-b")
	users := map[string]storage.User{}
	// Created out of order; org-a holds a, c, e and org-b holds b, d.
	for _, c := range []struct{ id, org, email string }{
		{"u-d", "org-b", "d@example.com"},
		{"u-a", "org-a", "a@example.com"},
		{"u-e", "org-a", "e@example.com"},
		{"u-b", "org-b", "b@example.com"},
		{"u-c", "org-a", "c@example.com"},
	} {
		users[c.email] = f.createUser(t, newUser(c.id, c.org, c.email))
	}

	for _, c := range []struct {
		name string
		q    storage.UserQuery
		want []string
	}{
		{"all", storage.UserQuery{}, []string{"a", "b", "c", "d", "e"}},
		{"limit", storage.UserQuery{Limit: 2}, []string{"a", "b"}},
		{"after cursor", storage.UserQuery{AfterEmail: "b@example.com", Limit: 2}, []string{"c", "d"}},
		{"after cursor, no limit", storage.UserQuery{AfterEmail: "b@example.com"}, []string{"c", "d", "e"}},
		{"cursor between emails", storage.UserQuery{AfterEmail: "bz@example.com"}, []string{"c", "d", "e"}},
		{"cursor at the last email", storage.UserQuery{AfterEmail: "e@example.com"}, nil},
		{"limit larger than rows", storage.UserQuery{Limit: 50}, []string{"a", "b", "c", "d", "e"}},
		{"org", storage.UserQuery{OrgID: "org-a"}, []string{"a", "c", "e"}},
		{"org and cursor", storage.UserQuery{OrgID: "org-a", AfterEmail: "a@example.com", Limit: 1}, []string{"c"}},
		{"other org and cursor", storage.UserQuery{OrgID: "org-b", AfterEmail: "b@example.com"}, []string{"d"}},
		{"unknown org", storage.UserQuery{OrgID: "org-missing"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := f.s.ListUsers(f.ctx, c.q)
			if !checkOK(t, err, fmt.Sprintf("ListUsers(%+v)", c.q)) {
				return
			}
			var emails []string
			for _, u := range got {
				emails = append(emails, u.Email)
			}
			var want []string
			for _, w := range c.want {
				want = append(want, w+"@example.com")
			}
			if !slices.Equal(emails, want) {
				t.Errorf("ListUsers(%+v) = %v, want %v", c.q, emails, want)
				return
			}
			for _, u := range got {
				checkEqual(t, "ListUsers row "+u.Email, users[u.Email], u)
			}
		})
	}
}

// testUserListPaging pages through users whose emails contain punctuation,
// digits and plus signs. The order of such emails depends on the database's
// collation, which the contract does not fix, so this test checks only that
// paging by AfterEmail returns every user exactly once, in the order the
// backend itself sorts by.
func testUserListPaging(t *testing.T, f *fixture) {
	mustOK(t, f.s.CreateOrganization(f.ctx, newOrg("org-1", "acme")), "CreateOrganization")
	locals := []string{
		"a", "a.b", "ab", "a-b", "a_b", "a+b", "a+tag", "aa", "a0", "a9", "a10", "z", "zz",
		"john.smith", "johnsmith", "john-smith", "john_smith", "0", "00", "1", "9",
		"x.y.z", "xyz", "x+y", "y",
	}
	want := map[string]bool{}
	for i, l := range locals {
		u := newUser(fmt.Sprintf("user-%02d", i), "org-1", l+"@example.com")
		f.createUser(t, u)
		want[u.Email] = true
	}
	seen := map[string]bool{}
	var order []string
	after := ""
	for page := 0; page <= len(locals); page++ {
		got, err := f.s.ListUsers(f.ctx, storage.UserQuery{AfterEmail: after, Limit: 3})
		mustOK(t, err, "ListUsers page")
		if len(got) > 3 {
			t.Fatalf("ListUsers with Limit 3 returned %d rows", len(got))
		}
		if len(got) == 0 {
			break
		}
		for _, u := range got {
			if seen[u.Email] {
				t.Fatalf("paging returned %s twice (order so far %v)", u.Email, order)
			}
			seen[u.Email] = true
			order = append(order, u.Email)
		}
		after = got[len(got)-1].Email
	}
	if len(seen) != len(want) {
		var missing []string
		for e := range want {
			if !seen[e] {
				missing = append(missing, e)
			}
		}
		t.Errorf("paging visited %d of %d users; missing %v", len(seen), len(want), missing)
	}
	all, err := f.s.ListUsers(f.ctx, storage.UserQuery{})
	mustOK(t, err, "ListUsers")
	var allEmails []string
	for _, u := range all {
		allEmails = append(allEmails, u.Email)
	}
	if !slices.Equal(allEmails, order) {
		t.Errorf("one page and paging by 3 disagree on the order:\n  one page %v\n  paged    %v", allEmails, order)
	}
}

func testUserListDefaultLimit(t *testing.T, f *fixture) {
	mustOK(t, f.s.CreateOrganization(f.ctx, newOrg("org-1", "acme")), "CreateOrganization")
	for i := range 101 {
		u := newUser(fmt.Sprintf("user-%03d", i), "org-1", fmt.Sprintf("user%03d@example.com", i))
		f.createUser(t, u)
	}
	got, err := f.s.ListUsers(f.ctx, storage.UserQuery{})
	mustOK(t, err, "ListUsers")
	if len(got) != 100 {
		t.Fatalf("ListUsers with Limit 0 returned %d rows, want the default 100", len(got))
	}
	if got[0].Email != "user000@example.com" || got[99].Email != "user099@example.com" {
		t.Errorf("ListUsers with Limit 0 returned %s .. %s, want user000 .. user099", got[0].Email, got[99].Email)
	}
	rest, err := f.s.ListUsers(f.ctx, storage.UserQuery{AfterEmail: got[99].Email})
	mustOK(t, err, "ListUsers second page")
	if len(rest) != 1 || rest[0].Email != "user100@example.com" {
		t.Errorf("second page = %d rows, want exactly user100@example.com", len(rest))
	}
	n, err := f.s.CountUsers(f.ctx)
	if checkOK(t, err, "CountUsers") && n != 101 {
		t.Errorf("CountUsers = %d, want 101 (the count is not limited)", n)
	}
}

func testUserCount(t *testing.T, f *fixture) {
	n, err := f.s.CountUsers(f.ctx)
	if checkOK(t, err, "CountUsers on an empty store") && n != 0 {
		t.Errorf("CountUsers on an empty store = %d, want 0", n)
	}
	mustOK(t, f.s.CreateOrganization(f.ctx, newOrg("org-a", "a")), "CreateOrganization")
	mustOK(t, f.s.CreateOrganization(f.ctx, newOrg("org-b", "b")), "CreateOrganization")
	f.createUser(t, newUser("u1", "org-a", "u1@example.com"))
	f.createUser(t, newUser("u2", "org-b", "u2@example.com"))
	f.createUser(t, newUser("u3", "org-b", "u3@example.com"))
	n, err = f.s.CountUsers(f.ctx)
	if checkOK(t, err, "CountUsers") && n != 3 {
		t.Errorf("CountUsers over two organizations = %d, want 3", n)
	}
	mustOK(t, f.s.DeleteUser(f.ctx, "u2"), "DeleteUser")
	n, err = f.s.CountUsers(f.ctx)
	if checkOK(t, err, "CountUsers after delete") && n != 2 {
		t.Errorf("CountUsers after delete = %d, want 2", n)
	}
}

func testUserDeleteFreesEmail(t *testing.T, f *fixture) {
	b := f.base(t)
	mustOK(t, f.s.DeleteUser(f.ctx, b.user.ID), "DeleteUser")
	_, err := f.s.GetUser(f.ctx, b.user.ID)
	checkErr(t, err, storage.ErrNotFound, "GetUser after delete")
	_, err = f.s.GetUserByEmail(f.ctx, b.user.Email)
	checkErr(t, err, storage.ErrNotFound, "GetUserByEmail after delete")
	checkErr(t, f.s.DeleteUser(f.ctx, b.user.ID), storage.ErrNotFound, "second DeleteUser")
	again := f.createUser(t, newUser("user-2", b.org.ID, b.user.Email))
	got, err := f.s.GetUserByEmail(f.ctx, b.user.Email)
	if checkOK(t, err, "GetUserByEmail of a reused email") {
		checkEqual(t, "user with a reused email", again, got)
	}
}

// testUserDeleteRemovesSessionsAndTokens: a deleted user leaves nothing a
// browser or client could still use: sessions, refresh and access tokens and
// one-time tokens go with the account. Another user's rows stay.
func testUserDeleteRemovesSessionsAndTokens(t *testing.T, f *fixture) {
	b := f.base(t)
	other := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	for _, u := range []storage.User{b.user, other} {
		f.createSession(t, newSession(h("sess-"+u.ID), u.ID))
		f.createRefreshToken(t, newRefreshToken(h("rt-"+u.ID), "fam-"+u.ID, b.client.ID, u.ID, h("sess-"+u.ID)))
		f.createAccessToken(t, newAccessToken(h("at-"+u.ID), "fam-"+u.ID, b.client.ID, u.ID))
		f.createOneTimeToken(t, newOneTimeToken(h("ott-"+u.ID), storage.PurposePasswordReset, u.ID))
	}

	mustOK(t, f.s.DeleteUser(f.ctx, b.user.ID), "DeleteUser")

	check := func(u string, gone bool) {
		t.Helper()
		_, errS := f.s.GetSession(f.ctx, h("sess-"+u))
		_, errR := f.s.GetRefreshToken(f.ctx, h("rt-"+u))
		_, errA := f.s.GetAccessToken(f.ctx, h("at-"+u))
		_, errO := f.s.GetOneTimeToken(f.ctx, storage.PurposePasswordReset, h("ott-"+u))
		for _, c := range []struct {
			what string
			err  error
		}{{"session", errS}, {"refresh token", errR}, {"access token", errA}, {"one-time token", errO}} {
			if gone {
				checkErr(t, c.err, storage.ErrNotFound, c.what+" of the deleted user")
			} else {
				checkOK(t, c.err, c.what+" of another user")
			}
		}
	}
	check(b.user.ID, true)
	check(other.ID, false)
}

// testUserDeleteKeepsAuditEvents: audit events are append-only, so deleting
// the user they name must neither fail nor remove them.
func testUserDeleteKeepsAuditEvents(t *testing.T, f *fixture) {
	b := f.base(t)
	mustOK(t, f.s.AppendAuditEvent(f.ctx, storage.AuditEvent{
		Time: at(0), Type: "login.success", OrgID: b.org.ID, ActorID: b.user.ID, UserID: b.user.ID, ClientID: b.client.ID,
	}), "AppendAuditEvent")
	mustOK(t, f.s.DeleteUser(f.ctx, b.user.ID), "DeleteUser of a user named by audit events")
	got, err := f.s.ListAuditEvents(f.ctx, storage.AuditQuery{UserID: b.user.ID})
	mustOK(t, err, "ListAuditEvents")
	if len(got) != 1 {
		t.Errorf("audit events of a deleted user = %d, want 1 (audit events are kept)", len(got))
	}
}
