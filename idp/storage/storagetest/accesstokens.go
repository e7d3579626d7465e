package storagetest

import (
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var accessTokenTests = []testCase{
	{"RoundTrip", testAccessRoundTrip},
	{"NotFound", testAccessNotFound},
	{"CreateConflict", testAccessCreateConflict},
	{"Revoke", testAccessRevoke},
}

// clientCredentialsToken has no user: UserID is empty.
func clientCredentialsToken(hash, family, clientID string) storage.AccessToken {
	a := newAccessToken(hash, family, clientID, "")
	a.Subject = clientID
	a.Scopes = []string{"api:read"}
	return a
}

func testAccessRoundTrip(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	for _, a := range []storage.AccessToken{
		b.accessTok("at-user", "fam-1"),
		clientCredentialsToken(h("at-cc"), "fam-cc", b.client.ID),
	} {
		f.createAccessToken(t, a)
		got, err := f.s.GetAccessToken(f.ctx, a.Hash)
		if checkOK(t, err, "GetAccessToken") {
			checkEqual(t, "GetAccessToken", a, got)
			if !got.RevokedAt.IsZero() {
				t.Errorf("fresh access token RevokedAt = %s, want zero", fmtTime(got.RevokedAt))
			}
		}
	}
}

func testAccessNotFound(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	f.createAccessToken(t, b.accessTok("at-1", "fam-1"))
	_, err := f.s.GetAccessToken(f.ctx, h("missing"))
	checkErr(t, err, storage.ErrNotFound, "GetAccessToken of an unknown hash")
	checkErr(t, f.s.RevokeAccessToken(f.ctx, h("missing"), at(0)), storage.ErrNotFound, "RevokeAccessToken of an unknown hash")
}

func testAccessCreateConflict(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	a := f.createAccessToken(t, b.accessTok("at-1", "fam-1"))
	dup := b.accessTok("at-1", "fam-attacker")
	dup.Scopes = []string{"admin"}
	checkErr(t, f.s.CreateAccessToken(f.ctx, dup), storage.ErrConflict, "CreateAccessToken with a taken hash")
	checkEqual(t, "token after a conflicting create", a, f.access(t, a.Hash))
}

func testAccessRevoke(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	a := f.createAccessToken(t, b.accessTok("at-1", "fam-1"))
	sibling := f.createAccessToken(t, b.accessTok("at-2", "fam-1"))
	rt := f.createRefreshToken(t, b.refresh("rt-1", "fam-1"))
	now := at(time.Minute)
	mustOK(t, f.s.RevokeAccessToken(f.ctx, a.Hash, now), "RevokeAccessToken")
	want := a
	want.RevokedAt = now
	checkEqual(t, "revoked access token", want, f.access(t, a.Hash))
	// Only that token: not its family.
	checkEqual(t, "another access token of the family", sibling, f.access(t, sibling.Hash))
	checkEqual(t, "refresh token of the family", rt, f.refresh(t, rt.Hash))
}
