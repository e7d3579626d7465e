package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Units of work (storage.Units): several calls, one transaction.
var unitTests = []testCase{
	{"Commits", testUnitCommits},
	{"RollsBackOnError", testUnitRollsBack},
	{"ReadsItsOwnWrites", testUnitReadsOwnWrites},
	{"SwallowedFailureRollsBack", testUnitSwallowedFailure},
	{"NestedJoins", testUnitNested},
	{"OtherContextIsOutside", testUnitOtherContext},
	{"ConcurrentUnitsStopAtLimit", testUnitConcurrent},
	{"FederatedLogin", testUnitFederatedLogin},
}

func testUnitCommits(t *testing.T, f *fixture) {
	b := f.base(t)
	err := f.s.Atomically(f.ctx, func(ctx context.Context) error {
		if err := f.s.CreateSession(ctx, newSession(h("u-1"), b.user.ID)); err != nil {
			return err
		}
		_, err := f.s.UpdateUser(ctx, b.user.ID, func(u storage.User) (storage.User, error) {
			u.Name = "In a unit"
			return u, nil
		})
		return err
	})
	mustOK(t, err, "Atomically")
	_, err = f.s.GetSession(f.ctx, h("u-1"))
	checkOK(t, err, "GetSession after the unit")
	if u, err := f.s.GetUser(f.ctx, b.user.ID); checkOK(t, err, "GetUser") && u.Name != "In a unit" {
		t.Errorf("name after the unit = %q", u.Name)
	}
}

var errUnitTest = errors.New("storagetest: the unit's own error")

func testUnitRollsBack(t *testing.T, f *fixture) {
	b := f.base(t)
	err := f.s.Atomically(f.ctx, func(ctx context.Context) error {
		mustOK(t, f.s.CreateSession(ctx, newSession(h("u-1"), b.user.ID)), "CreateSession in the unit")
		mustOK(t, f.s.CreateOrganization(ctx, newOrg("org-2", "beta")), "CreateOrganization in the unit")
		return errUnitTest
	})
	if err != errUnitTest {
		t.Fatalf("Atomically = %v, want fn's error as it is", err)
	}
	_, err = f.s.GetSession(f.ctx, h("u-1"))
	checkErr(t, err, storage.ErrNotFound, "GetSession after a rolled-back unit")
	_, err = f.s.GetOrganization(f.ctx, "org-2")
	checkErr(t, err, storage.ErrNotFound, "GetOrganization after a rolled-back unit")
}

func testUnitReadsOwnWrites(t *testing.T, f *fixture) {
	b := f.base(t)
	err := f.s.Atomically(f.ctx, func(ctx context.Context) error {
		mustOK(t, f.s.CreateSession(ctx, newSession(h("u-1"), b.user.ID)), "CreateSession in the unit")
		if _, err := f.s.GetSession(ctx, h("u-1")); err != nil {
			t.Errorf("GetSession in the unit: %v", err)
		}
		_, err := f.s.UpdateSession(ctx, h("u-1"), func(s storage.Session) (storage.Session, error) {
			s.LastSeenAt = at(time.Minute)
			return s, nil
		})
		return err
	})
	mustOK(t, err, "Atomically")
	if s, err := f.s.GetSession(f.ctx, h("u-1")); checkOK(t, err, "GetSession") && !s.LastSeenAt.Equal(at(time.Minute)) {
		t.Errorf("LastSeenAt = %s", fmtTime(s.LastSeenAt))
	}
}

// A statement that fails inside the unit rolls it back even when fn
// ignores the error: half a unit is never kept.
func testUnitSwallowedFailure(t *testing.T, f *fixture) {
	b := f.base(t)
	err := f.s.Atomically(f.ctx, func(ctx context.Context) error {
		mustOK(t, f.s.CreateSession(ctx, newSession(h("u-1"), b.user.ID)), "CreateSession in the unit")
		err := f.s.CreateUser(ctx, newUser("user-dup", b.org.ID, b.user.Email))
		checkErr(t, err, storage.ErrConflict, "CreateUser with a taken email in the unit")
		return nil
	})
	if err == nil {
		t.Fatal("Atomically = nil after a failed statement")
	}
	_, err = f.s.GetSession(f.ctx, h("u-1"))
	checkErr(t, err, storage.ErrNotFound, "GetSession after a unit with a failed statement")
}

func testUnitNested(t *testing.T, f *fixture) {
	b := f.base(t)
	err := f.s.Atomically(f.ctx, func(ctx context.Context) error {
		mustOK(t, f.s.Atomically(ctx, func(ctx context.Context) error {
			return f.s.CreateSession(ctx, newSession(h("u-1"), b.user.ID))
		}), "nested Atomically")
		return errUnitTest // the outer unit decides
	})
	if err != errUnitTest {
		t.Fatalf("Atomically = %v", err)
	}
	_, err = f.s.GetSession(f.ctx, h("u-1"))
	checkErr(t, err, storage.ErrNotFound, "GetSession after the outer unit rolled back")
}

// A call made with a context from outside the unit is its own
// transaction. (It must not write what the unit writes: on SQLite it
// would wait for the unit's writer; here it only reads.)
func testUnitOtherContext(t *testing.T, f *fixture) {
	b := f.base(t)
	err := f.s.Atomically(f.ctx, func(ctx context.Context) error {
		mustOK(t, f.s.CreateSession(ctx, newSession(h("u-1"), b.user.ID)), "CreateSession in the unit")
		_, err := f.s.GetSession(f.ctx, h("u-1"))
		checkErr(t, err, storage.ErrNotFound, "GetSession from outside the unit before it commits")
		return nil
	})
	mustOK(t, err, "Atomically")
}

// Units that each reserve an attempt and write a row run one after the
// other where they touch the same counter: 20 of them against a limit of
// 5 reserve 5, and each reservation's row is there.
func testUnitConcurrent(t *testing.T, f *fixture) {
	b := f.base(t)
	const n, limit = 20, 5
	errs := make([]error, n)
	race(n, func(i int) {
		errs[i] = f.s.Atomically(f.ctx, func(ctx context.Context) error {
			if _, err := f.s.ReserveAttempt(ctx, "user:unit", limit, time.Hour, at(0)); err != nil {
				return err
			}
			return f.s.CreateSession(ctx, newSession(h("race-"+string(rune('a'+i))), b.user.ID))
		})
	})
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			_, gerr := f.s.GetSession(f.ctx, h("race-"+string(rune('a'+i))))
			checkOK(t, gerr, "the session of a committed unit")
		case errors.Is(err, storage.ErrLimited):
		default:
			t.Errorf("unit %d: %v", i, err)
		}
	}
	if ok != limit {
		t.Errorf("%d units committed, want %d", ok, limit)
	}
}

// testUnitFederatedLogin: the writes of a federated login's callback
// (the assertion recorded, the link made and refreshed, the request and
// the session naming it, the connector touched) are one unit: rolled back
// together, committed together.
func testUnitFederatedLogin(t *testing.T, f *fixture) {
	b := f.base(t)
	conn := f.createConnector(t, newConnector("acme-okta", b.org.ID, "sso.acme.example"))
	r := f.createAuthRequest(t, newAuthRequest("ar-1", b.client.ID))
	link := newLink(conn.ID, "sub-1", b.user.ID)
	sess := newSession(h("sess-fed"), b.user.ID)
	sess.ConnectorID, sess.UpstreamSubject = link.ConnectorID, link.Subject
	login := func(ctx context.Context) error {
		if err := f.s.UseAssertionID(ctx, conn.ID, "_a1", at(time.Minute), at(0)); err != nil {
			return err
		}
		if err := f.s.CreateLink(ctx, link); err != nil {
			return err
		}
		if _, err := f.s.UpdateLink(ctx, link.ConnectorID, link.Subject, func(l storage.Link) (storage.Link, error) {
			l.LastLoginAt = at(0)
			return l, nil
		}); err != nil {
			return err
		}
		if _, err := f.s.UpdateAuthRequest(ctx, r.ID, func(r storage.AuthRequest) (storage.AuthRequest, error) {
			r.Upstream, r.UserID = newUpstream(), b.user.ID
			return r, nil
		}); err != nil {
			return err
		}
		if _, err := f.s.UpdateConnector(ctx, conn.ID, func(c storage.Connector) (storage.Connector, error) {
			c.UpdatedAt = at(0)
			return c, nil
		}); err != nil {
			return err
		}
		return f.s.CreateSession(ctx, sess)
	}

	err := f.s.Atomically(f.ctx, func(ctx context.Context) error {
		mustOK(t, login(ctx), "the login in the unit")
		return errUnitTest
	})
	if err != errUnitTest {
		t.Fatalf("Atomically = %v, want fn's error as it is", err)
	}
	_, err = f.s.GetLink(f.ctx, link.ConnectorID, link.Subject)
	checkErr(t, err, storage.ErrNotFound, "GetLink after a rolled-back unit")
	_, err = f.s.GetSession(f.ctx, sess.Hash)
	checkErr(t, err, storage.ErrNotFound, "GetSession after a rolled-back unit")
	if got, err := f.s.GetAuthRequest(f.ctx, r.ID); checkOK(t, err, "GetAuthRequest") {
		checkEqual(t, "auth request after a rolled-back unit", r, got)
	}
	f.checkConnector(t, "connector after a rolled-back unit", conn)

	mustOK(t, f.s.Atomically(f.ctx, login), "the login in a unit, again")
	want := link
	want.LastLoginAt = at(0)
	f.checkLink(t, "link after the unit", want)
	if got, err := f.s.GetSession(f.ctx, sess.Hash); checkOK(t, err, "GetSession after the unit") {
		checkEqual(t, "session after the unit", sess, got)
	}
	if got, err := f.s.GetAuthRequest(f.ctx, r.ID); checkOK(t, err, "GetAuthRequest after the unit") {
		checkEqual(t, "upstream after the unit", newUpstream(), got.Upstream)
	}
	checkErr(t, f.s.UseAssertionID(f.ctx, conn.ID, "_a1", at(time.Minute), at(time.Second)), storage.ErrAlreadyUsed,
		"UseAssertionID replayed after the unit")
}
