package storagetest

import (
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var sessionTests = []testCase{
	{"RoundTrip", testSessionRoundTrip},
	{"NotFound", testSessionNotFound},
	{"CreateConflict", testSessionCreateConflict},
	{"Update", testSessionUpdate},
	{"Delete", testSessionDelete},
	{"DeleteReferencedSession", testSessionDeleteReferenced},
	{"DeleteUserSessions", testSessionDeleteUserSessions},
	{"DeleteOtherUserSessions", testSessionDeleteOtherUserSessions},
	{"ListUserSessions", testSessionListUser},
	{"DeleteUserSession", testSessionDeleteUserSession},
}

func testSessionRoundTrip(t *testing.T, f *fixture) {
	b := f.base(t)
	minimal := storage.Session{
		Hash: h("sess-min"), UserID: b.user.ID, AuthTime: at(0), CreatedAt: at(0), LastSeenAt: at(0),
		IdleExpiresAt: at(time.Hour), ExpiresAt: at(time.Hour),
	}
	for _, s := range []storage.Session{newSession(h("sess-full"), b.user.ID), minimal} {
		f.createSession(t, s)
		got, err := f.s.GetSession(f.ctx, s.Hash)
		if checkOK(t, err, "GetSession") {
			checkEqual(t, "GetSession", s, got)
		}
	}
}

func testSessionNotFound(t *testing.T, f *fixture) {
	b := f.base(t)
	f.createSession(t, newSession(h("sess-1"), b.user.ID))
	_, err := f.s.GetSession(f.ctx, h("missing"))
	checkErr(t, err, storage.ErrNotFound, "GetSession of an unknown hash")
	_, err = f.s.UpdateSession(f.ctx, h("missing"), func(s storage.Session) (storage.Session, error) { return s, nil })
	checkErr(t, err, storage.ErrNotFound, "UpdateSession of an unknown hash")
	checkErr(t, f.s.DeleteSession(f.ctx, h("missing")), storage.ErrNotFound, "DeleteSession of an unknown hash")
}

func testSessionCreateConflict(t *testing.T, f *fixture) {
	b := f.base(t)
	s := f.createSession(t, newSession(h("sess-1"), b.user.ID))
	dup := newSession(h("sess-1"), b.user.ID)
	dup.AMR = []string{"pwd", "otp", "hwk"}
	dup.ExpiresAt = at(1000 * time.Hour)
	checkErr(t, f.s.CreateSession(f.ctx, dup), storage.ErrConflict, "CreateSession with a taken hash")
	got, err := f.s.GetSession(f.ctx, s.Hash)
	if checkOK(t, err, "GetSession") {
		checkEqual(t, "session after a conflicting create", s, got)
	}
}

func testSessionUpdate(t *testing.T, f *fixture) {
	b := f.base(t)
	s := f.createSession(t, newSession(h("sess-1"), b.user.ID))
	other := f.createSession(t, newSession(h("sess-2"), b.user.ID))
	want := s
	want.LastSeenAt = at(time.Minute)
	want.IdleExpiresAt = at(31 * time.Minute)
	want.AMR = []string{"pwd", "otp", "hwk"}
	want.AuthTime = at(time.Minute)
	want.IP = "192.0.2.7"
	got, err := f.s.UpdateSession(f.ctx, s.Hash, func(cur storage.Session) (storage.Session, error) {
		checkEqual(t, "row seen by the update function", s, cur)
		return want, nil
	})
	mustOK(t, err, "UpdateSession")
	checkEqual(t, "UpdateSession result", want, got)
	got, err = f.s.GetSession(f.ctx, s.Hash)
	if checkOK(t, err, "GetSession after update") {
		checkEqual(t, "GetSession after update", want, got)
	}
	got, err = f.s.GetSession(f.ctx, other.Hash)
	if checkOK(t, err, "GetSession of another session") {
		checkEqual(t, "another session", other, got)
	}
}

func testSessionDelete(t *testing.T, f *fixture) {
	b := f.base(t)
	s := f.createSession(t, newSession(h("sess-1"), b.user.ID))
	keep := f.createSession(t, newSession(h("sess-2"), b.user.ID))
	mustOK(t, f.s.DeleteSession(f.ctx, s.Hash), "DeleteSession")
	_, err := f.s.GetSession(f.ctx, s.Hash)
	checkErr(t, err, storage.ErrNotFound, "GetSession after delete")
	checkErr(t, f.s.DeleteSession(f.ctx, s.Hash), storage.ErrNotFound, "second DeleteSession")
	_, err = f.s.GetSession(f.ctx, keep.Hash)
	checkOK(t, err, "GetSession of another session")
}

// testSessionDeleteReferenced: logout must work even when the session is
// named by auth requests and refresh tokens.
func testSessionDeleteReferenced(t *testing.T, f *fixture) {
	b := f.base(t)
	s := f.createSession(t, newSession(h("sess-1"), b.user.ID))
	f.createAuthRequest(t, fullAuthRequest("ar-1", b.client.ID, b.org.ID, b.user.ID, s.Hash))
	f.createRefreshToken(t, newRefreshToken(h("rt-1"), "fam-1", b.client.ID, b.user.ID, s.Hash))
	mustOK(t, f.s.DeleteSession(f.ctx, s.Hash), "DeleteSession of a session that an auth request and a refresh token name")
	_, err := f.s.GetSession(f.ctx, s.Hash)
	checkErr(t, err, storage.ErrNotFound, "GetSession after delete")
}

func testSessionDeleteUserSessions(t *testing.T, f *fixture) {
	b := f.base(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	for _, name := range []string{"a1", "a2", "a3"} {
		f.createSession(t, newSession(h(name), b.user.ID))
	}
	keep := f.createSession(t, newSession(h("b1"), bob.ID))

	n, err := f.s.DeleteUserSessions(f.ctx, b.user.ID)
	mustOK(t, err, "DeleteUserSessions")
	if n != 3 {
		t.Errorf("DeleteUserSessions = %d, want 3", n)
	}
	for _, name := range []string{"a1", "a2", "a3"} {
		_, err := f.s.GetSession(f.ctx, h(name))
		checkErr(t, err, storage.ErrNotFound, "GetSession "+name+" after DeleteUserSessions")
	}
	got, err := f.s.GetSession(f.ctx, keep.Hash)
	if checkOK(t, err, "GetSession of another user's session") {
		checkEqual(t, "another user's session", keep, got)
	}
	n, err = f.s.DeleteUserSessions(f.ctx, b.user.ID)
	if checkOK(t, err, "second DeleteUserSessions") && n != 0 {
		t.Errorf("second DeleteUserSessions = %d, want 0", n)
	}
	n, err = f.s.DeleteUserSessions(f.ctx, "user-missing")
	if checkOK(t, err, "DeleteUserSessions of an unknown user") && n != 0 {
		t.Errorf("DeleteUserSessions of an unknown user = %d, want 0", n)
	}
}

func testSessionDeleteOtherUserSessions(t *testing.T, f *fixture) {
	b := f.base(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	for _, name := range []string{"a1", "a2", "a3"} {
		f.createSession(t, newSession(h(name), b.user.ID))
	}
	other := f.createSession(t, newSession(h("b1"), bob.ID))

	n, err := f.s.DeleteOtherUserSessions(f.ctx, b.user.ID, h("a2"))
	mustOK(t, err, "DeleteOtherUserSessions")
	if n != 2 {
		t.Errorf("DeleteOtherUserSessions = %d, want 2", n)
	}
	for _, name := range []string{"a1", "a3"} {
		_, err := f.s.GetSession(f.ctx, h(name))
		checkErr(t, err, storage.ErrNotFound, "GetSession "+name+" after DeleteOtherUserSessions")
	}
	for _, hash := range []string{h("a2"), other.Hash} {
		_, err := f.s.GetSession(f.ctx, hash)
		checkOK(t, err, "GetSession of a kept session")
	}
	// A hash of another user's session keeps nothing of this user's.
	n, err = f.s.DeleteOtherUserSessions(f.ctx, bob.ID, h("a2"))
	if checkOK(t, err, "DeleteOtherUserSessions with another user's hash") && n != 1 {
		t.Errorf("DeleteOtherUserSessions with another user's hash = %d, want 1", n)
	}
}
