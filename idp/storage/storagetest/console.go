package storagetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The queries of the admin console (issue 14): filtered user lists,
// counts by state and MFA status, a user's live sessions, audit events by
// time and counted in buckets.

// consoleUsers makes two organizations' users that differ in every field
// the filters read, and returns them by local part.
func (f *fixture) consoleUsers(t *testing.T) map[string]storage.User {
	t.Helper()
	mustOK(t, f.s.CreateOrganization(f.ctx, newOrg("org-a", "a")), "CreateOrganization org-a")
	mustOK(t, f.s.CreateOrganization(f.ctx, newOrg("org-b", "b")), "CreateOrganization org-b")
	out := map[string]storage.User{}
	for _, c := range []struct {
		local, org, name string
		state            storage.UserState
		locked, skipped  bool
		lastLogin        time.Duration // before t0; 0: never
		factor           string        // kind of a confirmed factor
	}{
		{"ann", "org-a", "Ann Müller", storage.UserActive, false, false, time.Hour, storage.FactorTOTP},
		{"bob", "org-a", "Bob 50%_Off", storage.UserActive, true, true, 48 * time.Hour, ""},
		{"cat", "org-a", "Cat Annson", storage.UserInvited, false, false, 0, storage.FactorRecovery},
		{"dan", "org-b", "Dan", storage.UserDisabled, false, true, 30 * 24 * time.Hour, storage.FactorEmail},
		{"eve", "org-b", "EVE ANNA", storage.UserActive, false, false, 10 * time.Minute, ""},
	} {
		u := newUser("u-"+c.local, c.org, c.local+"@example.com")
		u.Name, u.State, u.MFASkipped = c.name, c.state, c.skipped
		u.LockedUntil, u.LastLoginAt, u.MFASkippedAt = time.Time{}, time.Time{}, time.Time{}
		if c.locked {
			u.LockedUntil = at(10 * time.Minute)
		}
		if c.skipped {
			u.MFASkippedAt = at(-time.Hour)
		}
		if c.lastLogin != 0 {
			u.LastLoginAt = at(-c.lastLogin)
		}
		out[c.local] = f.createUser(t, u)
		if c.factor != "" {
			fa := newFactor("f-"+c.local, u.ID)
			fa.Kind = c.factor
			f.createFactor(t, fa)
		}
	}
	// A factor not confirmed yet makes nobody enrolled.
	f.createFactor(t, pendingFactor("f-eve-pending", out["eve"].ID))
	return out
}

func emailsOf(us []storage.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Email)
	}
	return out
}

func localEmails(locals ...string) []string {
	var out []string
	for _, l := range locals {
		out = append(out, l+"@example.com")
	}
	return out
}

func testUserFilters(t *testing.T, f *fixture) {
	f.consoleUsers(t)
	for _, c := range []struct {
		name string
		q    storage.UserQuery
		want []string
	}{
		{"search email", storage.UserQuery{Search: "BO"}, localEmails("bob")},
		{"search name, any case", storage.UserQuery{Search: "ann"}, localEmails("ann", "cat", "eve")},
		{"search non-ASCII name", storage.UserQuery{Search: "Müller"}, localEmails("ann")},
		{"search wildcards are literal", storage.UserQuery{Search: "%_"}, localEmails("bob")},
		{"search underscore is literal", storage.UserQuery{Search: "n_"}, nil},
		{"search domain", storage.UserQuery{Search: "@example.com"}, localEmails("ann", "bob", "cat", "dan", "eve")},
		{"search and org", storage.UserQuery{Search: "ann", OrgID: "org-b"}, localEmails("eve")},
		{"state", storage.UserQuery{State: storage.UserActive}, localEmails("ann", "bob", "eve")},
		{"invited", storage.UserQuery{State: storage.UserInvited}, localEmails("cat")},
		{"locked now", storage.UserQuery{LockedAt: at(0)}, localEmails("bob")},
		{"locked later", storage.UserQuery{LockedAt: at(time.Hour)}, nil},
		{"enrolled", storage.UserQuery{MFA: storage.MFAStatusEnrolled}, localEmails("ann", "dan")},
		{"skipped", storage.UserQuery{MFA: storage.MFAStatusSkipped}, localEmails("bob")},
		{"none", storage.UserQuery{MFA: storage.MFAStatusNone}, localEmails("cat", "eve")},
		{"unknown status", storage.UserQuery{MFA: "maybe"}, nil},
		{"signed in lately", storage.UserQuery{LastLoginAfter: at(-24 * time.Hour)}, localEmails("ann", "eve")},
		{"not signed in lately", storage.UserQuery{LastLoginBefore: at(-24 * time.Hour)}, localEmails("bob", "cat", "dan")},
		{"never signed in", storage.UserQuery{LastLoginBefore: time.Unix(0, 1000)}, localEmails("cat")},
		{"all filters", storage.UserQuery{OrgID: "org-a", State: storage.UserActive, MFA: storage.MFAStatusSkipped,
			LockedAt: at(0), Search: "b", LastLoginBefore: at(-time.Hour)}, localEmails("bob")},
		{"filter and cursor", storage.UserQuery{State: storage.UserActive, AfterEmail: "ann@example.com", Limit: 1}, localEmails("bob")},
		{"before cursor", storage.UserQuery{BeforeEmail: "eve@example.com", Limit: 2}, localEmails("cat", "dan")},
		{"before cursor and filter", storage.UserQuery{BeforeEmail: "eve@example.com", State: storage.UserActive}, localEmails("ann", "bob")},
		{"before the first", storage.UserQuery{BeforeEmail: "ann@example.com"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := f.s.ListUsers(f.ctx, c.q)
			if checkOK(t, err, fmt.Sprintf("ListUsers(%+v)", c.q)) && !slices.Equal(emailsOf(got), c.want) {
				t.Errorf("ListUsers(%+v) = %v, want %v", c.q, emailsOf(got), c.want)
			}
		})
	}
	_, err := f.s.ListUsers(f.ctx, storage.UserQuery{AfterEmail: "a", BeforeEmail: "z"})
	checkErr(t, err, storage.ErrInvalid, "ListUsers with both cursors")
}

func testUserCountBy(t *testing.T, f *fixture) {
	f.consoleUsers(t)
	got, err := f.s.CountUsersBy(f.ctx, at(0))
	mustOK(t, err, "CountUsersBy")
	want := []storage.UserCount{
		{OrgID: "org-a", State: storage.UserActive, Locked: false, MFA: storage.MFAStatusEnrolled, Count: 1},
		{OrgID: "org-a", State: storage.UserActive, Locked: true, MFA: storage.MFAStatusSkipped, Count: 1},
		{OrgID: "org-a", State: storage.UserInvited, Locked: false, MFA: storage.MFAStatusNone, Count: 1},
		{OrgID: "org-b", State: storage.UserActive, Locked: false, MFA: storage.MFAStatusNone, Count: 1},
		{OrgID: "org-b", State: storage.UserDisabled, Locked: false, MFA: storage.MFAStatusEnrolled, Count: 1},
	}
	// The order of rows is the backend's; compare as sets.
	key := func(c storage.UserCount) string { return fmt.Sprintf("%+v", c) }
	var g, w []string
	for _, c := range got {
		g = append(g, key(c))
	}
	for _, c := range want {
		w = append(w, key(c))
	}
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("CountUsersBy =\n  %v\nwant\n  %v", g, w)
	}
	// Later, bob's lock has ended.
	got, err = f.s.CountUsersBy(f.ctx, at(time.Hour))
	mustOK(t, err, "CountUsersBy later")
	for _, c := range got {
		if c.Locked {
			t.Errorf("CountUsersBy after the lock ended has a locked group %+v", c)
		}
	}
}

func testSessionListUser(t *testing.T, f *fixture) {
	b := f.base(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	old := newSession(h("old"), b.user.ID)
	old.LastSeenAt = at(-20 * time.Minute)
	recent := newSession(h("recent"), b.user.ID)
	recent.LastSeenAt = at(-time.Minute)
	idle := newSession(h("idle"), b.user.ID)
	idle.IdleExpiresAt = at(-time.Second)
	ended := newSession(h("ended"), b.user.ID)
	ended.ExpiresAt, ended.IdleExpiresAt = at(-time.Second), time.Time{}
	noIdle := newSession(h("no-idle"), b.user.ID)
	noIdle.IdleExpiresAt, noIdle.LastSeenAt = time.Time{}, at(-40*time.Minute)
	for _, s := range []storage.Session{old, recent, idle, ended, noIdle, newSession(h("bob's"), bob.ID)} {
		f.createSession(t, s)
	}
	got, err := f.s.ListUserSessions(f.ctx, b.user.ID, at(0))
	mustOK(t, err, "ListUserSessions")
	var hashes []string
	for _, s := range got {
		hashes = append(hashes, s.Hash)
	}
	if want := []string{recent.Hash, old.Hash, noIdle.Hash}; !slices.Equal(hashes, want) {
		t.Errorf("ListUserSessions = %v, want the live ones, latest seen first: %v", hashes, want)
	}
	if len(got) > 0 {
		checkEqual(t, "ListUserSessions row", recent, got[0])
	}
	if got, err := f.s.ListUserSessions(f.ctx, "no-such-user", at(0)); checkOK(t, err, "ListUserSessions of nobody") && len(got) != 0 {
		t.Errorf("ListUserSessions of nobody = %d sessions", len(got))
	}
}

func testSessionDeleteUserSession(t *testing.T, f *fixture) {
	b := f.base(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	mine := f.createSession(t, newSession(h("mine"), b.user.ID))
	his := f.createSession(t, newSession(h("his"), bob.ID))
	checkErr(t, f.s.DeleteUserSession(f.ctx, b.user.ID, his.Hash), storage.ErrNotFound, "DeleteUserSession of another user's session")
	_, err := f.s.GetSession(f.ctx, his.Hash)
	checkOK(t, err, "GetSession of the session another user named")
	mustOK(t, f.s.DeleteUserSession(f.ctx, b.user.ID, mine.Hash), "DeleteUserSession")
	_, err = f.s.GetSession(f.ctx, mine.Hash)
	checkErr(t, err, storage.ErrNotFound, "GetSession after DeleteUserSession")
	checkErr(t, f.s.DeleteUserSession(f.ctx, b.user.ID, mine.Hash), storage.ErrNotFound, "DeleteUserSession again")
}

func testAuditTimeWindow(t *testing.T, f *fixture) {
	for i := range 6 {
		mustOK(t, f.s.AppendAuditEvent(f.ctx, auditEvent(i, "login.succeeded", "org-1", "user-1")), "AppendAuditEvent")
	}
	got := f.listAudit(t, storage.AuditQuery{Since: at(2 * time.Second), Until: at(5 * time.Second)})
	if want := []string{"req-004", "req-003", "req-002"}; !slices.Equal(requestIDs(got), want) {
		t.Errorf("events in [2s, 5s) = %v, want %v", requestIDs(got), want)
	}
	got = f.listAudit(t, storage.AuditQuery{Since: at(4 * time.Second)})
	if want := []string{"req-005", "req-004"}; !slices.Equal(requestIDs(got), want) {
		t.Errorf("events since 4s = %v, want %v", requestIDs(got), want)
	}
}

func testAuditCounts(t *testing.T, f *fixture) {
	for _, e := range []struct {
		at       time.Duration
		typ, org string
	}{
		{-time.Second, "login.succeeded", "org-1"}, // before the window
		{0, "login.succeeded", "org-1"},
		{59 * time.Minute, "login.succeeded", "org-2"},
		{time.Hour, "login.failed", "org-1"},
		{time.Hour + time.Second, "login.failed", "org-1"},
		{3 * time.Hour, "login.succeeded", "org-1"},
		{3 * time.Hour, "logout", "org-1"}, // a type not asked for
	} {
		ev := auditEvent(0, e.typ, e.org, "user-1")
		ev.Time = at(e.at)
		mustOK(t, f.s.AppendAuditEvent(f.ctx, ev), "AppendAuditEvent")
	}
	q := storage.AuditCountQuery{Types: []string{"login.succeeded", "login.failed"}, Since: at(0), Bucket: time.Hour}
	got, err := f.s.CountAuditEvents(f.ctx, q)
	mustOK(t, err, "CountAuditEvents")
	want := []storage.AuditCount{
		{Type: "login.succeeded", Start: at(0), Count: 2},
		{Type: "login.failed", Start: at(time.Hour), Count: 2},
		{Type: "login.succeeded", Start: at(3 * time.Hour), Count: 1},
	}
	checkEqual(t, "CountAuditEvents", want, got)
	q.OrgID = "org-2"
	got, err = f.s.CountAuditEvents(f.ctx, q)
	mustOK(t, err, "CountAuditEvents of one organization")
	checkEqual(t, "CountAuditEvents of one organization", []storage.AuditCount{{Type: "login.succeeded", Start: at(0), Count: 1}}, got)
	_, err = f.s.CountAuditEvents(f.ctx, storage.AuditCountQuery{Types: q.Types, Since: at(0)})
	checkErr(t, err, storage.ErrInvalid, "CountAuditEvents without a bucket")
}
