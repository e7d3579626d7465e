package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The replay cache of upstream SAML assertions (storage.Assertions): an
// assertion id is accepted once per connector while its record is live,
// by every instance sharing the database.
var assertionTests = []testCase{
	{"OnceThenReplay", testAssertionOnce},
	{"PerConnector", testAssertionPerConnector},
	{"ExpiredRecordCountsAsNone", testAssertionExpiry},
	{"ReplayDoesNotExtend", testAssertionReplayKeepsExpiry},
	{"UnknownConnectorIsConflict", testAssertionUnknownConnector},
	{"ConcurrentUsesOneWins", testAssertionConcurrent},
	{"ConcurrentUsesOfAnExpiredRecordOneWins", testAssertionConcurrentExpired},
	{"RolledBackUnitRecordsNothing", testAssertionUnit},
	{"DeleteExpired", testAssertionDeleteExpired},
}

// assertionBase is a base with one SAML connector.
func (f *fixture) assertionBase(t *testing.T) storage.Connector {
	t.Helper()
	b := f.base(t)
	c := newConnector("acme-saml", b.org.ID, "sso.acme.example")
	c.Type = storage.ConnectorSAML
	return f.createConnector(t, c)
}

func testAssertionOnce(t *testing.T, f *fixture) {
	c := f.assertionBase(t)
	const id = "_8e8dc5f69a98cc4c1ff3427e5ce34606fd672f91e6"
	exp := at(5 * time.Minute)
	mustOK(t, f.s.UseAssertionID(f.ctx, c.ID, id, exp, at(0)), "first UseAssertionID")
	for _, now := range []time.Time{at(0), at(time.Second), exp.Add(-time.Microsecond)} {
		checkErr(t, f.s.UseAssertionID(f.ctx, c.ID, id, exp, now), storage.ErrAlreadyUsed,
			"UseAssertionID replayed at "+fmtTime(now))
	}
	// Ids are compared exactly.
	for _, other := range []string{"_8E8DC5F69A98CC4C1FF3427E5CE34606FD672F91E6", id + " ", "_other"} {
		checkOK(t, f.s.UseAssertionID(f.ctx, c.ID, other, exp, at(time.Second)), "UseAssertionID of another id "+other)
	}
}

func testAssertionPerConnector(t *testing.T, f *fixture) {
	c := f.assertionBase(t)
	other := f.createConnector(t, newConnector("acme-2", c.OrgID))
	exp := at(5 * time.Minute)
	mustOK(t, f.s.UseAssertionID(f.ctx, c.ID, "_a1", exp, at(0)), "UseAssertionID")
	checkOK(t, f.s.UseAssertionID(f.ctx, other.ID, "_a1", exp, at(0)), "UseAssertionID of the same id at another connector")
	checkErr(t, f.s.UseAssertionID(f.ctx, other.ID, "_a1", exp, at(time.Second)), storage.ErrAlreadyUsed,
		"UseAssertionID replayed at the other connector")
}

// testAssertionExpiry: a record whose expiry is at or before now counts as
// none; the use that takes it over records the new expiry.
func testAssertionExpiry(t *testing.T, f *fixture) {
	c := f.assertionBase(t)
	first, second := at(time.Minute), at(10*time.Minute)
	mustOK(t, f.s.UseAssertionID(f.ctx, c.ID, "_a1", first, at(0)), "UseAssertionID")
	checkErr(t, f.s.UseAssertionID(f.ctx, c.ID, "_a1", second, first.Add(-time.Microsecond)), storage.ErrAlreadyUsed,
		"UseAssertionID a microsecond before the record's expiry")
	checkOK(t, f.s.UseAssertionID(f.ctx, c.ID, "_a1", second, first), "UseAssertionID at the record's expiry")
	checkErr(t, f.s.UseAssertionID(f.ctx, c.ID, "_a1", second, first.Add(time.Minute)), storage.ErrAlreadyUsed,
		"UseAssertionID before the new record's expiry")
	checkOK(t, f.s.UseAssertionID(f.ctx, c.ID, "_a1", at(time.Hour), second.Add(time.Second)),
		"UseAssertionID after the new record's expiry")
}

// testAssertionReplayKeepsExpiry: a refused replay writes nothing, so it
// cannot keep a record alive past the expiry of the use that made it.
func testAssertionReplayKeepsExpiry(t *testing.T, f *fixture) {
	c := f.assertionBase(t)
	exp := at(time.Minute)
	mustOK(t, f.s.UseAssertionID(f.ctx, c.ID, "_a1", exp, at(0)), "UseAssertionID")
	checkErr(t, f.s.UseAssertionID(f.ctx, c.ID, "_a1", at(time.Hour), at(time.Second)), storage.ErrAlreadyUsed,
		"UseAssertionID replayed with a later expiry")
	checkOK(t, f.s.UseAssertionID(f.ctx, c.ID, "_a1", at(2*time.Hour), exp), "UseAssertionID at the first use's expiry")
}

func testAssertionUnknownConnector(t *testing.T, f *fixture) {
	c := f.assertionBase(t)
	exp := at(time.Minute)
	checkErr(t, f.s.UseAssertionID(f.ctx, "missing", "_a1", exp, at(0)), storage.ErrConflict, "UseAssertionID of an unknown connector")
	checkErr(t, f.s.UseAssertionID(f.ctx, "", "_a1", exp, at(0)), storage.ErrConflict, "UseAssertionID without a connector")
	// Nothing was recorded for the id.
	checkOK(t, f.s.UseAssertionID(f.ctx, c.ID, "_a1", exp, at(0)), "UseAssertionID of the id at a real connector")
}

// testAssertionConcurrent: one assertion posted to many instances at once
// is accepted by exactly one.
func testAssertionConcurrent(t *testing.T, f *fixture) {
	f.raceAssertion(t, false)
}

// testAssertionConcurrentExpired: the same when the id's record has
// expired and every caller would take it over.
func testAssertionConcurrentExpired(t *testing.T, f *fixture) {
	f.raceAssertion(t, true)
}

// raceAssertion races concurrency uses of one id, round after round, each
// round with an id of its own: new, or with a record expired at now.
func (f *fixture) raceAssertion(t *testing.T, expired bool) {
	t.Helper()
	c := f.assertionBase(t)
	now := at(0)
	if expired {
		now = at(2 * time.Minute)
	}
	for r := range rounds {
		id := fmt.Sprintf("_a-%02d", r)
		if expired {
			mustOK(t, f.s.UseAssertionID(f.ctx, c.ID, id, at(time.Minute), at(0)), "UseAssertionID before the race")
		}
		errs := make([]error, concurrency)
		race(concurrency, func(i int) {
			errs[i] = f.s.UseAssertionID(f.ctx, c.ID, id, at(time.Hour), now)
		})
		if o := tally(errs); o.ok != 1 || o.alreadyUsed != concurrency-1 {
			t.Fatalf("round %d: %d concurrent UseAssertionID of one id (record expired: %v): %v; want 1 ok and %d ErrAlreadyUsed",
				r, concurrency, expired, o, concurrency-1)
		}
	}
}

// testAssertionUnit: a login that records the assertion in a unit which
// then fails has recorded nothing, so the user can post it again.
func testAssertionUnit(t *testing.T, f *fixture) {
	c := f.assertionBase(t)
	exp := at(time.Minute)
	err := f.s.Atomically(f.ctx, func(ctx context.Context) error {
		mustOK(t, f.s.UseAssertionID(ctx, c.ID, "_a1", exp, at(0)), "UseAssertionID in the unit")
		checkErr(t, f.s.UseAssertionID(ctx, c.ID, "_a1", exp, at(0)), storage.ErrAlreadyUsed, "UseAssertionID replayed in the unit")
		return errUnitTest
	})
	if err != errUnitTest {
		t.Fatalf("Atomically = %v, want fn's error as it is", err)
	}
	checkOK(t, f.s.UseAssertionID(f.ctx, c.ID, "_a1", exp, at(0)), "UseAssertionID after the unit rolled back")
	err = f.s.Atomically(f.ctx, func(ctx context.Context) error {
		return f.s.UseAssertionID(ctx, c.ID, "_a1", exp, at(time.Second))
	})
	checkErr(t, err, storage.ErrAlreadyUsed, "UseAssertionID replayed in a unit")
}

// testAssertionDeleteExpired: expired records are purged and counted; live
// ones stay and still refuse a replay.
func testAssertionDeleteExpired(t *testing.T, f *fixture) {
	c := f.assertionBase(t)
	now := at(time.Hour)
	for _, r := range []struct {
		id  string
		exp time.Time
	}{{"_old-1", at(time.Minute)}, {"_old-2", at(59 * time.Minute)}, {"_live", at(2 * time.Hour)}} {
		mustOK(t, f.s.UseAssertionID(f.ctx, c.ID, r.id, r.exp, at(0)), "UseAssertionID "+r.id)
	}
	n, err := f.s.DeleteExpired(f.ctx, now)
	if checkOK(t, err, "DeleteExpired") && n != 2 {
		t.Errorf("DeleteExpired = %d, want 2 (the expired assertion records)", n)
	}
	checkErr(t, f.s.UseAssertionID(f.ctx, c.ID, "_live", at(3*time.Hour), now), storage.ErrAlreadyUsed,
		"UseAssertionID of a live record after DeleteExpired")
	checkOK(t, f.s.UseAssertionID(f.ctx, c.ID, "_old-1", at(2*time.Hour), now), "UseAssertionID of a purged record")
	n, err = f.s.DeleteExpired(f.ctx, now)
	if checkOK(t, err, "second DeleteExpired") && n != 0 {
		t.Errorf("second DeleteExpired = %d, want 0", n)
	}
}
