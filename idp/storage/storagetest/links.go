package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Links (storage.Links): an upstream identity (connector, subject) tied to
// a local user, keyed by the pair, never by email.
var linkTests = []testCase{
	{"RoundTrip", testLinkRoundTrip},
	{"NotFound", testLinkNotFound},
	{"CreateConflicts", testLinkCreateConflicts},
	{"ListUserLinksOldestFirst", testLinkList},
	{"Update", testLinkUpdate},
	{"UpdateKeepsKeyUserAndCreatedAt", testLinkUpdateKeeps},
	{"Delete", testLinkDelete},
	{"DeleteUserCascades", testLinkDeleteUser},
}

// newLink returns a link with every field set.
func newLink(connectorID, subject, userID string) storage.Link {
	return storage.Link{
		ConnectorID: connectorID,
		Subject:     subject,
		UserID:      userID,
		Email:       "Alice.O'Brien+" + subject + "@Acme.example",
		Groups:      []string{"acme:admins", "acme:Ünïcode ✓"},
		CreatedAt:   at(-10 * time.Hour),
		LastLoginAt: at(-time.Hour),
	}
}

func (f *fixture) createLink(t *testing.T, l storage.Link) storage.Link {
	t.Helper()
	mustOK(t, f.s.CreateLink(f.ctx, l), "CreateLink "+l.ConnectorID+"/"+l.Subject)
	return l
}

// checkLink reports unless the link of want's key is stored as want.
func (f *fixture) checkLink(t *testing.T, what string, want storage.Link) {
	t.Helper()
	got, err := f.s.GetLink(f.ctx, want.ConnectorID, want.Subject)
	if checkOK(t, err, what+": GetLink") {
		checkEqual(t, what, want, got)
	}
}

// checkLinks reports unless the user's links are want, in that order.
func (f *fixture) checkLinks(t *testing.T, what, userID string, want ...storage.Link) {
	t.Helper()
	got, err := f.s.ListUserLinks(f.ctx, userID)
	if !checkOK(t, err, what+": ListUserLinks") {
		return
	}
	if len(got) != len(want) {
		t.Errorf("%s: ListUserLinks = %d links %v, want %d", what, len(got), linkKeys(got), len(want))
		return
	}
	for i := range want {
		checkEqual(t, fmt.Sprintf("%s: link %d", what, i), want[i], got[i])
	}
}

func linkKeys(ls []storage.Link) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.ConnectorID + "/" + l.Subject
	}
	return out
}

// linkBase is a base with one connector.
type linkBase struct {
	base
	conn storage.Connector
}

func (f *fixture) linkBase(t *testing.T) linkBase {
	t.Helper()
	b := f.base(t)
	return linkBase{base: b, conn: f.createConnector(t, newConnector("acme-okta", b.org.ID, "sso.acme.example"))}
}

func testLinkRoundTrip(t *testing.T, f *fixture) {
	b := f.linkBase(t)
	minimal := storage.Link{ConnectorID: b.conn.ID, Subject: "00u1", UserID: b.user.ID, CreatedAt: at(0)}
	// Subjects are the upstream's: opaque, case-sensitive, any characters.
	odd := newLink(b.conn.ID, "CN=Alice O'Brien,OU=Ünïcode ✓,DC=acme", b.user.ID)
	for _, l := range []storage.Link{newLink(b.conn.ID, "248289761001", b.user.ID), minimal, odd} {
		f.createLink(t, l)
		f.checkLink(t, "GetLink "+l.Subject, l)
	}
}

func testLinkNotFound(t *testing.T, f *fixture) {
	b := f.linkBase(t)
	other := f.createConnector(t, newConnector("acme-2", b.org.ID))
	l := f.createLink(t, newLink(b.conn.ID, "sub-1", b.user.ID))
	for _, c := range []struct{ name, conn, sub string }{
		{"unknown subject", l.ConnectorID, "sub-2"},
		{"subject of another connector", other.ID, l.Subject},
		{"subject in another case", l.ConnectorID, "SUB-1"},
		{"unknown connector", "missing", l.Subject},
	} {
		_, err := f.s.GetLink(f.ctx, c.conn, c.sub)
		checkErr(t, err, storage.ErrNotFound, "GetLink of "+c.name)
		_, err = f.s.UpdateLink(f.ctx, c.conn, c.sub, func(l storage.Link) (storage.Link, error) { return l, nil })
		checkErr(t, err, storage.ErrNotFound, "UpdateLink of "+c.name)
		checkErr(t, f.s.DeleteLink(f.ctx, c.conn, c.sub), storage.ErrNotFound, "DeleteLink of "+c.name)
	}
	f.checkLink(t, "the link after lookups of others", l)
	f.checkLinks(t, "ListUserLinks of an unknown user", "user-missing")
}

func testLinkCreateConflicts(t *testing.T, f *fixture) {
	b := f.linkBase(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	orig := f.createLink(t, newLink(b.conn.ID, "sub-1", b.user.ID))
	for _, c := range []struct {
		name string
		link storage.Link
	}{
		{"the same key for another user", newLink(b.conn.ID, "sub-1", bob.ID)},
		{"the same key for the same user", newLink(b.conn.ID, "sub-1", b.user.ID)},
		{"an unknown connector", newLink("missing", "sub-2", b.user.ID)},
		{"an unknown user", newLink(b.conn.ID, "sub-3", "user-missing")},
		{"no user", newLink(b.conn.ID, "sub-4", "")},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkErr(t, f.s.CreateLink(f.ctx, c.link), storage.ErrConflict, "CreateLink with "+c.name)
			if c.link.Subject != orig.Subject {
				_, err := f.s.GetLink(f.ctx, c.link.ConnectorID, c.link.Subject)
				checkErr(t, err, storage.ErrNotFound, "GetLink after a failed create (nothing may be written)")
			}
			f.checkLink(t, "the original link after a conflicting create", orig)
		})
	}
	f.checkLinks(t, "bob's links after the conflicts", bob.ID)
	// The same subject at another connector, and a second link of one
	// user, are other keys.
	other := f.createConnector(t, newConnector("acme-2", b.org.ID))
	f.createLink(t, newLink(other.ID, "sub-1", bob.ID))
	f.createLink(t, newLink(b.conn.ID, "sub-5", b.user.ID))
}

func testLinkList(t *testing.T, f *fixture) {
	b := f.linkBase(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	other := f.createConnector(t, newConnector("acme-2", b.org.ID))
	mk := func(conn, sub, user string, created time.Duration) storage.Link {
		l := newLink(conn, sub, user)
		l.CreatedAt = at(created)
		return l
	}
	// Created out of order, and in an order the keys do not sort in.
	third := f.createLink(t, mk(b.conn.ID, "a", b.user.ID, -time.Hour))
	first := f.createLink(t, mk(other.ID, "z", b.user.ID, -3*time.Hour))
	f.createLink(t, mk(b.conn.ID, "b", bob.ID, -4*time.Hour))
	second := f.createLink(t, mk(b.conn.ID, "y", b.user.ID, -2*time.Hour))
	f.checkLinks(t, "alice's links", b.user.ID, first, second, third)
	if got, err := f.s.ListUserLinks(f.ctx, bob.ID); checkOK(t, err, "ListUserLinks bob") && len(got) != 1 {
		t.Errorf("bob's links = %v, want one", linkKeys(got))
	}
}

// testLinkUpdate: an upstream login refreshes Email, Groups and
// LastLoginAt.
func testLinkUpdate(t *testing.T, f *fixture) {
	b := f.linkBase(t)
	l := f.createLink(t, newLink(b.conn.ID, "sub-1", b.user.ID))
	keep := f.createLink(t, newLink(b.conn.ID, "sub-2", b.user.ID))
	for i, change := range []func(*storage.Link){
		func(l *storage.Link) { l.Email, l.LastLoginAt = "alice@new.acme.example", at(time.Minute) },
		func(l *storage.Link) { l.Groups = []string{"acme:users"} },
		func(l *storage.Link) { l.Email, l.Groups = "", nil },
		func(*storage.Link) {}, // an update that changes nothing
	} {
		want := l
		change(&want)
		got, err := f.s.UpdateLink(f.ctx, l.ConnectorID, l.Subject, func(cur storage.Link) (storage.Link, error) {
			checkEqual(t, "row seen by the update function", l, cur)
			change(&cur)
			return cur, nil
		})
		mustOK(t, err, fmt.Sprintf("UpdateLink %d", i))
		checkEqual(t, fmt.Sprintf("UpdateLink %d result", i), want, got)
		f.checkLink(t, fmt.Sprintf("link after update %d", i), want)
		l = want
	}
	f.checkLink(t, "another link", keep)
}

// testLinkUpdateKeeps: an update function cannot move a link to another
// key or account, nor change when it was made.
func testLinkUpdateKeeps(t *testing.T, f *fixture) {
	b := f.linkBase(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	other := f.createConnector(t, newConnector("acme-2", b.org.ID))
	l := f.createLink(t, newLink(b.conn.ID, "sub-1", b.user.ID))
	want := l
	want.Email = "changed@acme.example"
	got, err := f.s.UpdateLink(f.ctx, l.ConnectorID, l.Subject, func(cur storage.Link) (storage.Link, error) {
		cur.ConnectorID, cur.Subject, cur.UserID, cur.CreatedAt = other.ID, "sub-moved", bob.ID, at(time.Hour)
		cur.Email = want.Email
		return cur, nil
	})
	mustOK(t, err, "UpdateLink changing the key, the user and CreatedAt")
	checkEqual(t, "UpdateLink result", want, got)
	f.checkLink(t, "link after update", want)
	_, err = f.s.GetLink(f.ctx, other.ID, "sub-moved")
	checkErr(t, err, storage.ErrNotFound, "GetLink of the key an update function chose")
	f.checkLinks(t, "bob's links after an update tried to move one to him", bob.ID)
}

func testLinkDelete(t *testing.T, f *fixture) {
	b := f.linkBase(t)
	l := f.createLink(t, newLink(b.conn.ID, "sub-1", b.user.ID))
	keep := f.createLink(t, newLink(b.conn.ID, "sub-2", b.user.ID))
	mustOK(t, f.s.DeleteLink(f.ctx, l.ConnectorID, l.Subject), "DeleteLink")
	_, err := f.s.GetLink(f.ctx, l.ConnectorID, l.Subject)
	checkErr(t, err, storage.ErrNotFound, "GetLink after delete")
	checkErr(t, f.s.DeleteLink(f.ctx, l.ConnectorID, l.Subject), storage.ErrNotFound, "second DeleteLink")
	f.checkLinks(t, "links after delete", b.user.ID, keep)
	// The identity can be linked again, to anyone.
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	f.createLink(t, newLink(l.ConnectorID, l.Subject, bob.ID))
}

func testLinkDeleteUser(t *testing.T, f *fixture) {
	b := f.linkBase(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	other := f.createConnector(t, newConnector("acme-2", b.org.ID))
	f.createLink(t, newLink(b.conn.ID, "sub-alice", b.user.ID))
	f.createLink(t, newLink(other.ID, "sub-alice", b.user.ID))
	kept := f.createLink(t, newLink(b.conn.ID, "sub-bob", bob.ID))
	mustOK(t, f.s.DeleteUser(f.ctx, b.user.ID), "DeleteUser")
	for _, conn := range []string{b.conn.ID, other.ID} {
		_, err := f.s.GetLink(f.ctx, conn, "sub-alice")
		checkErr(t, err, storage.ErrNotFound, "GetLink of a deleted user's link at "+conn)
	}
	f.checkLinks(t, "a deleted user's links", b.user.ID)
	f.checkLink(t, "another user's link", kept)
	f.checkConnector(t, "the connector of a deleted user's link", b.conn)
}
