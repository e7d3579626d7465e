package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Races between different operations on the same rows. Each promise here
// is what a serial execution would give; a backend must give the same under
// concurrency, across goroutines and processes.

var raceTests = []testCase{
	{"CreateUserSameEmail", testRaceCreateUserSameEmail},
	{"CreateOrganizationSameDomain", testRaceCreateOrganizationSameDomain},
	{"RotateVersusRevokeFamily", testRaceRotateVersusRevokeFamily},
	{"RotateVersusRevokeUserTokens", testRaceRotateVersusRevokeUserTokens},
	{"CreateOneTimeTokenLeavesOne", testRaceCreateOneTimeToken},
	{"RedeemOnce", testRaceRedeemOnce},
	{"DeleteClientVersusTokens", testRaceDeleteClientVersusTokens},
	{"CreateConnectorSameDomain", testRaceCreateConnectorSameDomain},
	{"CreateLinkSameIdentity", testRaceCreateLinkSameIdentity},
	{"DeleteConnectorVersusLinksAndAssertions", testRaceDeleteConnector},
}

func testRaceCreateUserSameEmail(t *testing.T, f *fixture) {
	mustOK(t, f.s.CreateOrganization(f.ctx, newOrg("org-1", "acme")), "CreateOrganization")
	errs := make([]error, concurrency)
	race(concurrency, func(i int) {
		errs[i] = f.s.CreateUser(f.ctx, newUser(fmt.Sprintf("user-%02d", i), "org-1", "same@acme.example"))
	})
	ok, conflict := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errorIs(err, storage.ErrConflict):
			conflict++
		default:
			t.Errorf("concurrent CreateUser: unexpected error %v", err)
		}
	}
	if ok != 1 || conflict != concurrency-1 {
		t.Errorf("%d concurrent CreateUser with one email: %d ok, %d ErrConflict; want 1 and %d", concurrency, ok, conflict, concurrency-1)
	}
	n, err := f.s.CountUsers(f.ctx)
	if checkOK(t, err, "CountUsers") && n != 1 {
		t.Errorf("CountUsers = %d, want 1", n)
	}
}

func testRaceCreateOrganizationSameDomain(t *testing.T, f *fixture) {
	errs := make([]error, concurrency)
	race(concurrency, func(i int) {
		errs[i] = f.s.CreateOrganization(f.ctx, newOrg(fmt.Sprintf("org-%02d", i), fmt.Sprintf("name-%02d", i),
			fmt.Sprintf("own-%02d.example", i), "shared.example"))
	})
	ok, conflict := 0, 0
	winner := ""
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			winner = fmt.Sprintf("org-%02d", i)
		case errorIs(err, storage.ErrConflict):
			conflict++
		default:
			t.Errorf("concurrent CreateOrganization: unexpected error %v", err)
		}
	}
	if ok != 1 || conflict != concurrency-1 {
		t.Fatalf("%d concurrent CreateOrganization with one shared domain: %d ok, %d ErrConflict; want 1 and %d", concurrency, ok, conflict, concurrency-1)
	}
	got, err := f.s.GetOrganizationByDomain(f.ctx, "shared.example")
	if checkOK(t, err, "GetOrganizationByDomain") && got.ID != winner {
		t.Errorf("shared.example belongs to %q, want the winner %q", got.ID, winner)
	}
	list, err := f.s.ListOrganizations(f.ctx)
	if checkOK(t, err, "ListOrganizations") && len(list) != 1 {
		t.Errorf("ListOrganizations = %d rows, want 1 (losers leave nothing)", len(list))
	}
}

// rounds is how many times a two-party race is repeated; each round is
// cheap, and a lost race shows up in a few rounds.
const rounds = 25

// revokers is how many revocations race one rotation.
const revokers = 4

// testRaceRotateVersusRevokeFamily: a replayed code revokes its family
// while the client rotates a refresh token of it.
func testRaceRotateVersusRevokeFamily(t *testing.T, f *fixture) {
	f.rotateVersus(t, "RevokeFamily", func(fam string) error {
		_, err := f.s.RevokeFamily(f.ctx, fam, at(time.Minute))
		return err
	})
}

// testRaceRotateVersusRevokeUserTokens: the same for a password reset or
// disable (RevokeUserTokens) racing a refresh.
func testRaceRotateVersusRevokeUserTokens(t *testing.T, f *fixture) {
	f.rotateVersus(t, "RevokeUserTokens", func(string) error {
		_, err := f.s.RevokeUserTokens(f.ctx, "user-1", at(time.Minute))
		return err
	})
}

// rotateVersus races, round after round, one rotation (which also stores
// an access token) against revokers calls of revoke for the rotated
// family. Whatever the order, no token may be left live: either the
// rotation fails and stores nothing, or the refresh and access tokens it
// stored end revoked.
//
// The revocations are staggered by reads, not sleeps: released together, a
// revocation always beat the rotation to its lock (the rotation reads
// first), so the order where the rotation wins and a revocation waits for
// it was never tried. Some rounds must see the rotation win.
func (f *fixture) rotateVersus(t *testing.T, what string, revoke func(family string) error) {
	b := f.tokenBase(t)
	won := 0
	for r := range rounds {
		fam := fmt.Sprintf("fam-%02d", r)
		old := f.createRefreshToken(t, b.refresh("rt-old-"+fam, fam))
		next := b.refresh("rt-next-"+fam, fam)
		acc := b.accessTok("at-next-"+fam, fam)
		var rotErr error
		revErrs := make([]error, revokers)
		started := make(chan struct{})
		race(1+revokers, func(i int) {
			if i == 0 {
				close(started)
				_, rotErr = f.s.RotateRefreshToken(f.ctx, old.Hash, next, &acc, at(time.Minute))
				return
			}
			// Even rounds: all at once. Odd rounds: once the rotation
			// has started, spread over its run.
			if r%2 == 1 {
				<-started
				for range i * (1 + r%12) {
					_, _ = f.s.GetRefreshToken(f.ctx, old.Hash)
				}
			}
			revErrs[i-1] = revoke(fam)
		})
		for _, err := range revErrs {
			mustOK(t, err, what)
		}
		round := fmt.Sprintf("round %d: rotation concurrent with %s", r, what)
		if rotErr != nil {
			checkErr(t, rotErr, storage.ErrRevoked, round)
			f.checkNotStored(t, next.Hash, round)
			f.checkNoAccess(t, acc.Hash, round)
			continue
		}
		won++
		if got := f.refresh(t, next.Hash); got.RevokedAt.IsZero() {
			t.Errorf("%s: the refresh token it stored is live", round)
		}
		if got := f.access(t, acc.Hash); got.RevokedAt.IsZero() {
			t.Errorf("%s: the access token it stored is live", round)
		}
	}
	t.Logf("the rotation won %d of %d rounds", won, rounds)
	if won == 0 {
		t.Errorf("the rotation never won against %s: the order where a revocation waits for it went untested", what)
	}
}

// testRaceCreateOneTimeTokenLeavesOne: a newer link voids the older ones,
// so however many are requested at once, one usable token remains.
func testRaceCreateOneTimeToken(t *testing.T, f *fixture) {
	b := f.base(t)
	errs := make([]error, concurrency)
	race(concurrency, func(i int) {
		errs[i] = f.s.CreateOneTimeToken(f.ctx, newOneTimeToken(h(fmt.Sprintf("reset-%02d", i)), storage.PurposePasswordReset, b.user.ID))
	})
	checkAllOK(t, "concurrent CreateOneTimeToken", errs)
	var live []int
	for i := range concurrency {
		_, err := f.s.GetOneTimeToken(f.ctx, storage.PurposePasswordReset, h(fmt.Sprintf("reset-%02d", i)))
		switch {
		case err == nil:
			live = append(live, i)
		case !errorIs(err, storage.ErrNotFound):
			t.Errorf("GetOneTimeToken %d: %v", i, err)
		}
	}
	if len(live) != 1 {
		t.Errorf("%d concurrent CreateOneTimeToken for one user and purpose left %d unconsumed tokens %v, want 1 (a newer link voids the older ones)",
			concurrency, len(live), live)
	}
}

// testRaceCreateConnectorSameDomain: two administrators (or two instances
// reconciling the config) give one domain to different connectors at once;
// one gets it, and the others leave nothing behind.
func testRaceCreateConnectorSameDomain(t *testing.T, f *fixture) {
	b := f.base(t)
	errs := make([]error, concurrency)
	race(concurrency, func(i int) {
		errs[i] = f.s.CreateConnector(f.ctx, newConnector(fmt.Sprintf("conn-%02d", i), b.org.ID,
			fmt.Sprintf("own-%02d.example", i), "shared.example"))
	})
	ok, winner := 0, ""
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			winner = fmt.Sprintf("conn-%02d", i)
		case !errorIs(err, storage.ErrConflict):
			t.Errorf("concurrent CreateConnector: unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent CreateConnector with one shared domain: %d ok, want 1", concurrency, ok)
	}
	f.checkDomainOwner(t, "the shared domain", "shared.example", winner)
	if list := f.listConnectors(t, ""); len(list) != 1 {
		t.Errorf("ListConnectors = %d rows, want 1 (losers leave nothing)", len(list))
	}
	for i := range concurrency {
		if id := fmt.Sprintf("conn-%02d", i); id != winner {
			f.checkDomainOwner(t, "a loser's own domain", fmt.Sprintf("own-%02d.example", i), "")
		}
	}
}

// testRaceCreateLinkSameIdentity: two first logins of one upstream
// identity, each about to link it to a different account; one link wins.
func testRaceCreateLinkSameIdentity(t *testing.T, f *fixture) {
	b := f.linkBase(t)
	users := make([]string, concurrency)
	for i := range concurrency {
		users[i] = f.createUser(t, newUser(fmt.Sprintf("user-%02d", i+2), b.org.ID, fmt.Sprintf("u%02d@acme.example", i))).ID
	}
	errs := make([]error, concurrency)
	race(concurrency, func(i int) {
		errs[i] = f.s.CreateLink(f.ctx, newLink(b.conn.ID, "sub-1", users[i]))
	})
	ok, winner := 0, ""
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			winner = users[i]
		case !errorIs(err, storage.ErrConflict):
			t.Errorf("concurrent CreateLink: unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent CreateLink of one identity: %d ok, want 1", concurrency, ok)
	}
	got, err := f.s.GetLink(f.ctx, b.conn.ID, "sub-1")
	if checkOK(t, err, "GetLink") && got.UserID != winner {
		t.Errorf("the identity is linked to %q, want the winner %q", got.UserID, winner)
	}
}

// testRaceDeleteConnector: links made and assertions recorded while their
// connector is deleted either fail (ErrConflict) or go with it; none is
// left behind for a connector created again under the id.
func testRaceDeleteConnector(t *testing.T, f *fixture) {
	b := f.base(t)
	for r := range rounds {
		id := fmt.Sprintf("conn-%02d", r)
		f.createConnector(t, newConnector(id, b.org.ID))
		errs := make([]error, concurrency)
		race(concurrency, func(i int) {
			switch {
			case i == 0:
				errs[i] = f.s.DeleteConnector(f.ctx, id)
			case i%2 == 0:
				errs[i] = f.s.CreateLink(f.ctx, newLink(id, fmt.Sprintf("sub-%02d", i), b.user.ID))
			default:
				errs[i] = f.s.UseAssertionID(f.ctx, id, fmt.Sprintf("_a-%02d", i), at(time.Hour), at(0))
			}
		})
		round := fmt.Sprintf("round %d", r)
		mustOK(t, errs[0], round+": DeleteConnector")
		for i := 1; i < concurrency; i++ {
			if errs[i] != nil {
				checkErr(t, errs[i], storage.ErrConflict, fmt.Sprintf("%s: a write racing DeleteConnector", round))
			}
		}
		f.createConnector(t, newConnector(id, b.org.ID))
		for i := 1; i < concurrency; i++ {
			if i%2 == 0 {
				_, err := f.s.GetLink(f.ctx, id, fmt.Sprintf("sub-%02d", i))
				checkErr(t, err, storage.ErrNotFound, round+": a link made while its connector was deleted")
				continue
			}
			checkOK(t, f.s.UseAssertionID(f.ctx, id, fmt.Sprintf("_a-%02d", i), at(time.Hour), at(0)),
				round+": an assertion recorded while its connector was deleted, used at the connector created again")
		}
	}
	f.checkLinks(t, "links after the rounds", b.user.ID)
}
