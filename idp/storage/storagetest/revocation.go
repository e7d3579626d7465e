package storagetest

import (
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var revocationTests = []testCase{
	{"RevokeFamily", testRevokeFamily},
	{"RevokeFamilyTwice", testRevokeFamilyTwice},
	{"RevokeFamilySkipsRevoked", testRevokeFamilySkipsRevoked},
	{"RevokeFamilyUnknown", testRevokeFamilyUnknown},
	{"RevokeUserTokens", testRevokeUserTokens},
	{"RevokeUserTokensTwice", testRevokeUserTokensTwice},
	{"RevokeSessionTokens", testRevokeSessionTokens},
}

// familyRows is the rows of one test: tokens by name, with the names that
// the revocation under test must hit.
type familyRows struct {
	refresh map[string]storage.RefreshToken
	access  map[string]storage.AccessToken
}

// checkRevoked reports, for every row, whether its RevokedAt is as expected:
// names in hit revoked at when, every other row exactly as created.
func (f *fixture) checkRevoked(t *testing.T, rows familyRows, hit map[string]time.Time) {
	t.Helper()
	for name, r := range rows.refresh {
		got := f.refresh(t, r.Hash)
		if when, ok := hit[name]; ok {
			checkTime(t, "RevokedAt of refresh token "+name, when, got.RevokedAt)
			got.RevokedAt = r.RevokedAt
		}
		checkEqual(t, "refresh token "+name, r, got)
	}
	for name, a := range rows.access {
		got := f.access(t, a.Hash)
		if when, ok := hit[name]; ok {
			checkTime(t, "RevokedAt of access token "+name, when, got.RevokedAt)
			got.RevokedAt = a.RevokedAt
		}
		checkEqual(t, "access token "+name, a, got)
	}
}

// twoFamilies creates fam-1 (two refresh, two access tokens) and fam-2 (one
// of each) for one user, plus a client-credentials token.
func (f *fixture) twoFamilies(t *testing.T) (tokenBase, familyRows) {
	t.Helper()
	b := f.tokenBase(t)
	rows := familyRows{refresh: map[string]storage.RefreshToken{}, access: map[string]storage.AccessToken{}}
	for _, n := range []struct{ name, fam string }{{"rt-1a", "fam-1"}, {"rt-1b", "fam-1"}, {"rt-2", "fam-2"}} {
		rows.refresh[n.name] = f.createRefreshToken(t, b.refresh(n.name, n.fam))
	}
	for _, n := range []struct{ name, fam string }{{"at-1a", "fam-1"}, {"at-1b", "fam-1"}, {"at-2", "fam-2"}} {
		rows.access[n.name] = f.createAccessToken(t, b.accessTok(n.name, n.fam))
	}
	rows.access["at-cc"] = f.createAccessToken(t, clientCredentialsToken(h("at-cc"), "fam-cc", b.client.ID))
	return b, rows
}

func testRevokeFamily(t *testing.T, f *fixture) {
	_, rows := f.twoFamilies(t)
	now := at(time.Minute)
	n, err := f.s.RevokeFamily(f.ctx, "fam-1", now)
	mustOK(t, err, "RevokeFamily")
	if n != 4 {
		t.Errorf("RevokeFamily = %d, want 4 (2 refresh + 2 access tokens)", n)
	}
	f.checkRevoked(t, rows, map[string]time.Time{"rt-1a": now, "rt-1b": now, "at-1a": now, "at-1b": now})
}

func testRevokeFamilyTwice(t *testing.T, f *fixture) {
	_, rows := f.twoFamilies(t)
	first := at(time.Minute)
	_, err := f.s.RevokeFamily(f.ctx, "fam-1", first)
	mustOK(t, err, "first RevokeFamily")
	n, err := f.s.RevokeFamily(f.ctx, "fam-1", at(2*time.Minute))
	mustOK(t, err, "second RevokeFamily")
	if n != 0 {
		t.Errorf("second RevokeFamily = %d, want 0 (already revoked tokens are not counted again)", n)
	}
	// The revocation time is the first one.
	f.checkRevoked(t, rows, map[string]time.Time{"rt-1a": first, "rt-1b": first, "at-1a": first, "at-1b": first})
}

func testRevokeFamilySkipsRevoked(t *testing.T, f *fixture) {
	_, rows := f.twoFamilies(t)
	early := at(time.Minute)
	mustOK(t, f.s.RevokeAccessToken(f.ctx, rows.access["at-1a"].Hash, early), "RevokeAccessToken")
	now := at(2 * time.Minute)
	n, err := f.s.RevokeFamily(f.ctx, "fam-1", now)
	mustOK(t, err, "RevokeFamily")
	if n != 3 {
		t.Errorf("RevokeFamily with one token already revoked = %d, want 3", n)
	}
	f.checkRevoked(t, rows, map[string]time.Time{"rt-1a": now, "rt-1b": now, "at-1a": early, "at-1b": now})
}

// testRevokeFamilyUnknown: a replayed code whose grant issued no tokens yet
// revokes nothing, and that is not an error.
func testRevokeFamilyUnknown(t *testing.T, f *fixture) {
	_, rows := f.twoFamilies(t)
	n, err := f.s.RevokeFamily(f.ctx, "fam-missing", at(0))
	if checkOK(t, err, "RevokeFamily of a family without tokens") && n != 0 {
		t.Errorf("RevokeFamily of a family without tokens = %d, want 0", n)
	}
	f.checkRevoked(t, rows, nil)
}

func testRevokeUserTokens(t *testing.T, f *fixture) {
	b, rows := f.twoFamilies(t)
	// A second user with a family of their own.
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	rows.refresh["rt-bob"] = f.createRefreshToken(t, newRefreshToken(h("rt-bob"), "fam-bob", b.client.ID, bob.ID, ""))
	rows.access["at-bob"] = f.createAccessToken(t, newAccessToken(h("at-bob"), "fam-bob", b.client.ID, bob.ID))

	now := at(time.Minute)
	n, err := f.s.RevokeUserTokens(f.ctx, b.user.ID, now)
	mustOK(t, err, "RevokeUserTokens")
	if n != 6 {
		t.Errorf("RevokeUserTokens = %d, want 6 (3 refresh + 3 access tokens over two families)", n)
	}
	f.checkRevoked(t, rows, map[string]time.Time{
		"rt-1a": now, "rt-1b": now, "rt-2": now, "at-1a": now, "at-1b": now, "at-2": now,
	})

	n, err = f.s.RevokeUserTokens(f.ctx, "user-missing", now)
	if checkOK(t, err, "RevokeUserTokens of an unknown user") && n != 0 {
		t.Errorf("RevokeUserTokens of an unknown user = %d, want 0", n)
	}
}

func testRevokeUserTokensTwice(t *testing.T, f *fixture) {
	b, rows := f.twoFamilies(t)
	early := at(time.Minute)
	mustOK(t, f.s.RevokeAccessToken(f.ctx, rows.access["at-2"].Hash, early), "RevokeAccessToken")
	_, err := f.s.RevokeFamily(f.ctx, "fam-2", early)
	mustOK(t, err, "RevokeFamily fam-2")

	now := at(2 * time.Minute)
	n, err := f.s.RevokeUserTokens(f.ctx, b.user.ID, now)
	mustOK(t, err, "RevokeUserTokens")
	if n != 4 {
		t.Errorf("RevokeUserTokens with fam-2 already revoked = %d, want 4", n)
	}
	n, err = f.s.RevokeUserTokens(f.ctx, b.user.ID, at(3*time.Minute))
	mustOK(t, err, "second RevokeUserTokens")
	if n != 0 {
		t.Errorf("second RevokeUserTokens = %d, want 0", n)
	}
	f.checkRevoked(t, rows, map[string]time.Time{
		"rt-1a": now, "rt-1b": now, "at-1a": now, "at-1b": now, "rt-2": early, "at-2": early,
	})
}

// testRevokeSessionTokens: the families issued from one session are
// revoked whole (their access tokens too); a family of another session
// (here, none) and client-credentials tokens are not.
func testRevokeSessionTokens(t *testing.T, f *fixture) {
	b, rows := f.twoFamilies(t)
	rows.refresh["rt-3"] = f.createRefreshToken(t, newRefreshToken(h("rt-3"), "fam-3", b.client.ID, b.user.ID, ""))
	rows.access["at-3"] = f.createAccessToken(t, b.accessTok("at-3", "fam-3"))
	now := at(time.Minute)
	n, err := f.s.RevokeSessionTokens(f.ctx, b.session.Hash, now)
	mustOK(t, err, "RevokeSessionTokens")
	if n != 6 {
		t.Errorf("RevokeSessionTokens = %d, want 6 (fam-1 and fam-2: 3 refresh + 3 access tokens)", n)
	}
	f.checkRevoked(t, rows, map[string]time.Time{
		"rt-1a": now, "rt-1b": now, "rt-2": now, "at-1a": now, "at-1b": now, "at-2": now,
	})
	for _, id := range []string{"", h("no-such-session")} {
		if n, err := f.s.RevokeSessionTokens(f.ctx, id, now); checkOK(t, err, "RevokeSessionTokens of no session") && n != 0 {
			t.Errorf("RevokeSessionTokens(%q) = %d, want 0", id, n)
		}
	}
}
