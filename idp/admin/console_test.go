package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// consoleEnv has two organizations: acme with ten users (u00..u09, u03
// an admin) and other with one.
func consoleEnv(t *testing.T) (*Service, storage.Organization, storage.Organization, []storage.User) {
	t.Helper()
	ctx := context.Background()
	s := newService(t)
	acme, err := s.CreateOrg(ctx, "test", CreateOrgInput{Name: "acme", DisplayName: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateOrg(ctx, "test", CreateOrgInput{Name: "other", DisplayName: "Other"})
	if err != nil {
		t.Fatal(err)
	}
	var users []storage.User
	for i := range 10 {
		in := CreateUserInput{Org: "acme", Email: fmt.Sprintf("u%02d@acme.example", i), Name: fmt.Sprintf("User %02d", i),
			Password: "long enough pw"}
		if i == 3 {
			in.Admin = true
		}
		u, err := s.CreateUser(ctx, "test", in)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	if _, err := s.CreateUser(ctx, "test", CreateUserInput{Org: "other", Email: "x@other.example", Password: "long enough pw"}); err != nil {
		t.Fatal(err)
	}
	return s, acme, other, users
}

func rowEmails(p UserPage) []string {
	var out []string
	for _, r := range p.Rows {
		out = append(out, r.User.Email)
	}
	return out
}

func TestSearchUsersPaging(t *testing.T) {
	ctx := context.Background()
	s, acme, other, _ := consoleEnv(t)
	oa := OrgsReach([]string{acme.ID})
	p, err := s.SearchUsers(ctx, oa, UserFilter{Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := rowEmails(p); !slices.Equal(got, []string{"u00@acme.example", "u01@acme.example", "u02@acme.example", "u03@acme.example"}) ||
		p.Prev != "" || p.Next != "u03@acme.example" || p.OrgID != acme.ID || p.Rows[0].Org != "Acme" {
		t.Fatalf("first page = %v prev %q next %q org %q", got, p.Prev, p.Next, p.OrgID)
	}
	p, _ = s.SearchUsers(ctx, oa, UserFilter{Limit: 4, After: p.Next})
	p, _ = s.SearchUsers(ctx, oa, UserFilter{Limit: 4, After: p.Next})
	if got := rowEmails(p); !slices.Equal(got, []string{"u08@acme.example", "u09@acme.example"}) || p.Next != "" || p.Prev != "u08@acme.example" {
		t.Fatalf("last page = %v prev %q next %q", got, p.Prev, p.Next)
	}
	p, _ = s.SearchUsers(ctx, oa, UserFilter{Limit: 4, Before: p.Prev})
	if got := rowEmails(p); !slices.Equal(got, []string{"u04@acme.example", "u05@acme.example", "u06@acme.example", "u07@acme.example"}) ||
		p.Prev != "u04@acme.example" || p.Next != "u07@acme.example" {
		t.Fatalf("page before the last = %v prev %q next %q", got, p.Prev, p.Next)
	}
	p, _ = s.SearchUsers(ctx, oa, UserFilter{Limit: 4, Before: p.Prev})
	if got := rowEmails(p); len(got) != 4 || p.Prev != "" || p.Next != "u03@acme.example" {
		t.Fatalf("back at the first page = %v prev %q next %q", got, p.Prev, p.Next)
	}
	// Another organization's ID is no organization; an admin sees both.
	if _, err := s.SearchUsers(ctx, oa, UserFilter{OrgID: other.ID}); !isInput(err) {
		t.Errorf("org-admin asking for another org: %v, want an InputError", err)
	}
	if p, err := s.SearchUsers(ctx, Everyone, UserFilter{Search: "x@"}); err != nil || !slices.Equal(rowEmails(p), []string{"x@other.example"}) {
		t.Errorf("admin search = %v, %v", rowEmails(p), err)
	}
	for _, f := range []UserFilter{{State: "gone"}, {MFA: "x"}, {LastLogin: "1y"}, {After: "a", Before: "b"}, {Search: "a\x00"}} {
		if _, err := s.SearchUsers(ctx, Everyone, f); !isInput(err) {
			t.Errorf("SearchUsers(%+v) = %v, want an InputError", f, err)
		}
	}
	if _, err := s.SearchUsers(ctx, Reach{}, UserFilter{}); !isInput(err) {
		t.Errorf("the zero reach searched: %v", err)
	}
}

func isInput(err error) bool {
	var in *InputError
	return errors.As(err, &in)
}

func TestBulkWritesOneEventPerUserWithTheReason(t *testing.T) {
	ctx := context.Background()
	s, acme, other, users := consoleEnv(t)
	l := withLockout(t, s)
	lock(t, l, users[1].ID)
	oa := OrgsReach([]string{acme.ID})
	foreign, err := s.Store.GetUserByEmail(ctx, "x@other.example")
	if err != nil {
		t.Fatal(err)
	}
	_ = other
	ids := []string{users[0].ID, users[1].ID, users[3].ID, foreign.ID, "nobody"}
	res, err := s.Bulk(ctx, "console:oa", oa, BulkInput{Action: BulkUnlock, IDs: ids, Reason: "ticket 42"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"", "", "outranked", "unknown", "unknown"}
	for i, r := range res {
		got := ""
		switch {
		case errors.Is(r.Err, ErrOutranked):
			got = "outranked"
		case errors.Is(r.Err, storage.ErrNotFound):
			got = "unknown"
		case r.Err != nil:
			got = r.Err.Error()
		}
		if got != want[i] {
			t.Errorf("result %d (%s) = %q, want %q", i, r.Ref, got, want[i])
		}
	}
	if res[0].Note != "was not locked" || res[1].Note != "" || !res[1].User.LockedUntil.IsZero() {
		t.Errorf("notes %q %q, user 1 locked until %v", res[0].Note, res[1].Note, res[1].User.LockedUntil)
	}
	evs, _ := backend(t, s).ListAuditEvents(ctx, storage.AuditQuery{Type: audit.UserUnlocked})
	if len(evs) != 2 {
		t.Fatalf("%d unlock events, want 2 (one per user unlocked)", len(evs))
	}
	for _, e := range evs {
		if e.Details[audit.DetailAdminReason] != "ticket 42" || e.ActorID != "console:oa" {
			t.Errorf("event %+v lacks the reason or the actor", e)
		}
	}

	// Disable: never oneself, and each disabled user's sessions end.
	res, err = s.Bulk(ctx, "console:a", Everyone, BulkInput{Action: BulkDisable, IDs: []string{users[3].ID, users[4].ID}, Reason: "left", Self: users[3].ID})
	if err != nil || !isInput(res[0].Err) || res[1].Err != nil || res[1].User.State != storage.UserDisabled {
		t.Fatalf("disable = %+v, %v", res, err)
	}
	// Reset MFA goes through ResetMFA: one user.mfa_reset each, with the reason.
	res, err = s.Bulk(ctx, "console:a", Everyone, BulkInput{Action: BulkResetMFA, IDs: []string{users[5].ID, users[6].ID}, Reason: "lost phones"})
	if err != nil || res[0].Err != nil || res[1].Err != nil || !res[0].User.MFAEnrollRequired {
		t.Fatalf("reset = %+v, %v", res, err)
	}
	evs, _ = backend(t, s).ListAuditEvents(ctx, storage.AuditQuery{Type: audit.UserMFAReset})
	if len(evs) != 2 || evs[0].Details[audit.DetailAdminReason] != "lost phones" || evs[1].Details[audit.DetailAdminReason] != "lost phones" {
		t.Fatalf("reset events %+v", evs)
	}
	// Resend invite without mail configured fails per user, not the call.
	res, err = s.Bulk(ctx, "console:a", Everyone, BulkInput{Action: BulkResendInvite, IDs: []string{users[7].ID}, Reason: "r"})
	if err != nil || !errors.Is(res[0].Err, ErrNoMail) {
		t.Fatalf("resend without mail = %+v, %v", res, err)
	}
	for _, in := range []BulkInput{
		{Action: "delete", IDs: ids, Reason: "r"},
		{Action: BulkUnlock, Reason: "r"},
		{Action: BulkUnlock, IDs: ids},
		{Action: BulkUnlock, IDs: ids, Reason: "   "},
		{Action: BulkUnlock, IDs: make([]string, MaxResetTargets+1), Reason: "r"},
		{Action: BulkResetMFA, IDs: ids, Reason: "r", Method: "carrier-pigeon"},
	} {
		if _, err := s.Bulk(ctx, "console:a", Everyone, in); !isInput(err) {
			t.Errorf("Bulk(%s, %d ids, %q) = %v, want an InputError", in.Action, len(in.IDs), in.Reason, err)
		}
	}
}

func TestUsersByID(t *testing.T) {
	ctx := context.Background()
	s, acme, _, users := consoleEnv(t)
	foreign, _ := s.Store.GetUserByEmail(ctx, "x@other.example")
	got, missing, err := s.UsersByID(ctx, OrgsReach([]string{acme.ID}), []string{users[2].ID, foreign.ID, users[2].ID, users[0].ID})
	if err != nil || missing != 2 || len(got) != 2 || got[0].ID != users[2].ID || got[1].ID != users[0].ID {
		t.Fatalf("UsersByID = %v, %d missing, %v", got, missing, err)
	}
}

func TestUserDetailAndRevokeSession(t *testing.T) {
	ctx := context.Background()
	s, acme, _, users := consoleEnv(t)
	st := backend(t, s)
	u := users[2]
	for i, seen := range []time.Duration{time.Minute, time.Hour} {
		if err := st.CreateSession(ctx, storage.Session{Hash: fmt.Sprintf("hash-%d-long", i), UserID: u.ID, CreatedAt: now.Add(-seen),
			LastSeenAt: now.Add(-seen), ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	oa := OrgsReach([]string{acme.ID})
	d, err := s.GetUserDetail(ctx, oa, u.ID, 0)
	if err != nil || len(d.Sessions) != 2 || d.Sessions[0].Hash != "hash-0-long" || d.Org != "acme" || len(d.Events) == 0 {
		t.Fatalf("detail = %+v, %v", d, err)
	}
	// An org admin may look at their org's admin, not act on them.
	if _, err := s.GetUserDetail(ctx, oa, users[3].ID, 0); err != nil {
		t.Errorf("org admin viewing their org's admin: %v", err)
	}
	if err := s.RevokeSession(ctx, "console:oa", oa, users[3].ID, "x"); !errors.Is(err, ErrOutranked) {
		t.Errorf("org admin revoking an admin's session: %v", err)
	}
	foreign, _ := s.Store.GetUserByEmail(ctx, "x@other.example")
	if _, err := s.GetUserDetail(ctx, oa, foreign.ID, 0); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("org admin viewing another org's user: %v", err)
	}
	if err := s.RevokeSession(ctx, "console:oa", oa, u.ID, "hash-1-long"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, "console:oa", oa, u.ID, "hash-1-long"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("revoking it again: %v", err)
	}
	// A session of another user, named with this user's id, is not theirs.
	if err := s.RevokeSession(ctx, "console:oa", oa, users[4].ID, "hash-0-long"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("revoking another user's session: %v", err)
	}
	evs, _ := st.ListAuditEvents(ctx, storage.AuditQuery{Type: audit.SessionRevoked})
	if len(evs) != 1 || evs[0].UserID != u.ID || evs[0].Details["session"] != "hash-1-l" {
		t.Fatalf("revoke events %+v", evs)
	}
}

func TestOverview(t *testing.T) {
	ctx := context.Background()
	s, acme, other, users := consoleEnv(t)
	st := backend(t, s)
	l := withLockout(t, s)
	lock(t, l, users[1].ID)
	for i, e := range []struct {
		typ, org string
		ago      time.Duration
	}{
		{audit.LoginSucceeded, acme.ID, time.Minute},
		{audit.LoginSucceeded, acme.ID, 2 * time.Minute},
		{audit.LoginFailed, acme.ID, 3 * time.Hour},
		{audit.LoginSucceeded, other.ID, 5 * 24 * time.Hour},
		{audit.LoginSucceeded, acme.ID, 40 * 24 * time.Hour}, // out of both windows
	} {
		if err := st.AppendAuditEvent(ctx, storage.AuditEvent{Type: e.typ, OrgID: e.org, Time: now.Add(-e.ago), RequestID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ov, err := s.GetOverview(ctx, Everyone)
	if err != nil {
		t.Fatal(err)
	}
	if len(ov.Hours) != 24 || len(ov.Days) != 30 {
		t.Fatalf("%d hours, %d days", len(ov.Hours), len(ov.Days))
	}
	sum := func(b []SignIns) (ok, failed int) {
		for _, x := range b {
			ok, failed = ok+x.OK, failed+x.Failed
		}
		return
	}
	// lock() failed three guesses through the Limiter, which records no
	// login.failed (authflow does), so the counts are the events above.
	if ok, failed := sum(ov.Hours); ok != 2 || failed != 1 || ov.Hours[23].OK != 2 {
		t.Errorf("last 24 hours: %d ok, %d failed; last hour %+v", ok, failed, ov.Hours[23])
	}
	if ok, failed := sum(ov.Days); ok != 3 || failed != 1 {
		t.Errorf("last 30 days: %d ok, %d failed", ok, failed)
	}
	if len(ov.Orgs) < 2 || len(ov.Locked) != 1 || ov.Locked[0].ID != users[1].ID {
		t.Fatalf("orgs %+v locked %v", ov.Orgs, ov.Locked)
	}
	var a OrgStats
	for _, o := range ov.Orgs {
		if o.OrgID == acme.ID {
			a = o
		}
	}
	if a.Active != 10 || a.Locked != 1 || a.NoMFA != 10 || a.EnrolledPercent() != 0 {
		t.Errorf("acme stats %+v", a)
	}
	// An org admin's overview is of their organization only.
	ov, err = s.GetOverview(ctx, OrgsReach([]string{other.ID}))
	if err != nil || len(ov.Orgs) != 1 || len(ov.Locked) != 0 {
		t.Fatalf("org admin overview %+v, %v", ov, err)
	}
	if ok, failed := sum(ov.Days); ok != 1 || failed != 0 {
		t.Errorf("org admin's 30 days: %d ok, %d failed", ok, failed)
	}
}
