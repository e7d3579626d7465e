package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Tests of the one-transaction token responses: RedeemAuthCode (a code for
// its tokens), RotateRefreshToken with the access token issued beside the
// new refresh token, and the rows that die with their client.

var redeemTests = []testCase{
	{"GetDoesNotConsume", testAuthCodeGet},
	{"RedeemStoresTokens", testRedeemStoresTokens},
	{"RedeemWithoutRefresh", testRedeemWithoutRefresh},
	{"RedeemReplayRevokesGrant", testRedeemReplay},
	{"RedeemExpiredStoresNothing", testRedeemExpired},
	{"RedeemUnknown", testRedeemUnknown},
	{"RedeemConflictStoresNothing", testRedeemConflict},
	{"RotateStoresAccess", testRotateStoresAccess},
	{"FailedRotateStoresNoAccess", testFailedRotateStoresNoAccess},
}

var clientCascadeTests = []testCase{
	{"DeleteClientDeletesCodesAndTokens", testDeleteClientCascades},
	{"RowsNeedAClient", testRowsNeedAClient},
}

// grant is a code ready to redeem plus the tokens a redemption stores.
type grant struct {
	tokenBase
	code    storage.AuthCode
	access  storage.AccessToken
	refresh storage.RefreshToken
}

func (f *fixture) grant(t *testing.T, name string) grant {
	t.Helper()
	b := f.tokenBase(t)
	r := f.createAuthRequest(t, newAuthRequest("ar-"+name, b.client.ID))
	return f.grantOf(t, b, name, r.ID)
}

// grantFor is grant for a code whose auth request row is not stored.
func (f *fixture) grantFor(t *testing.T, name, authRequestID string) grant {
	t.Helper()
	return f.grantOf(t, f.tokenBase(t), name, authRequestID)
}

func (f *fixture) grantOf(t *testing.T, b tokenBase, name, authRequestID string) grant {
	t.Helper()
	g := grant{tokenBase: b, code: f.createAuthCode(t, newAuthCode(h(name), authRequestID, b.client.ID, "grant-"+name))}
	// Family ids the store must overwrite with the code's grant.
	g.access = b.accessTok("at-"+name, "wrong-family")
	g.refresh = b.refresh("rt-"+name, "wrong-family")
	return g
}

// checkNoAccess reports unless no access token with hash exists.
func (f *fixture) checkNoAccess(t *testing.T, hash, what string) {
	t.Helper()
	_, err := f.s.GetAccessToken(f.ctx, hash)
	checkErr(t, err, storage.ErrNotFound, what+": GetAccessToken")
}

func testAuthCodeGet(t *testing.T, f *fixture) {
	g := f.grant(t, "code-1")
	for range 2 {
		got, err := f.s.GetAuthCode(f.ctx, g.code.Hash)
		if checkOK(t, err, "GetAuthCode") {
			checkEqual(t, "GetAuthCode", g.code, got)
		}
	}
	_, err := f.s.GetAuthCode(f.ctx, h("no-such-code"))
	checkErr(t, err, storage.ErrNotFound, "GetAuthCode of an unknown hash")
	now := at(5 * time.Second)
	_, err = f.s.ConsumeAuthCode(f.ctx, g.code.Hash, now)
	mustOK(t, err, "ConsumeAuthCode after GetAuthCode")
	got, err := f.s.GetAuthCode(f.ctx, g.code.Hash)
	if checkOK(t, err, "GetAuthCode of a consumed code") && !got.ConsumedAt.Equal(now) {
		t.Errorf("GetAuthCode of a consumed code: ConsumedAt = %s, want %s", fmtTime(got.ConsumedAt), fmtTime(now))
	}
}

func testRedeemStoresTokens(t *testing.T, f *fixture) {
	g := f.grant(t, "code-1")
	now := at(5 * time.Second)
	got, err := f.s.RedeemAuthCode(f.ctx, g.code.Hash, g.access, &g.refresh, now)
	mustOK(t, err, "RedeemAuthCode")
	want := g.code
	want.ConsumedAt = now
	checkEqual(t, "RedeemAuthCode result (the code, marked used at now)", want, got)
	wantAT, wantRT := g.access, g.refresh
	wantAT.FamilyID, wantRT.FamilyID = g.code.GrantID, g.code.GrantID
	checkEqual(t, "access token stored by RedeemAuthCode", wantAT, f.access(t, g.access.Hash))
	checkEqual(t, "refresh token stored by RedeemAuthCode", wantRT, f.refresh(t, g.refresh.Hash))
	_, err = f.s.ConsumeAuthCode(f.ctx, g.code.Hash, now)
	checkErr(t, err, storage.ErrAlreadyUsed, "ConsumeAuthCode of a redeemed code")
}

func testRedeemWithoutRefresh(t *testing.T, f *fixture) {
	g := f.grant(t, "code-1")
	_, err := f.s.RedeemAuthCode(f.ctx, g.code.Hash, g.access, nil, at(5*time.Second))
	mustOK(t, err, "RedeemAuthCode without a refresh token")
	if got := f.access(t, g.access.Hash); got.FamilyID != g.code.GrantID {
		t.Errorf("access token family = %q, want the code's grant %q", got.FamilyID, g.code.GrantID)
	}
	f.checkNotStored(t, g.refresh.Hash, "RedeemAuthCode without a refresh token")
}

func testRedeemReplay(t *testing.T, f *fixture) {
	g := f.grant(t, "code-1")
	first := at(5 * time.Second)
	_, err := f.s.RedeemAuthCode(f.ctx, g.code.Hash, g.access, &g.refresh, first)
	mustOK(t, err, "first RedeemAuthCode")
	// A token of another grant of the same user and client stays live.
	otherAT := f.createAccessToken(t, g.accessTok("at-other", "fam-other"))

	replayAT, replayRT := g.accessTok("at-replay", ""), g.refresh
	replayRT.Hash = h("rt-replay")
	replay := at(8 * time.Second)
	got, err := f.s.RedeemAuthCode(f.ctx, g.code.Hash, replayAT, &replayRT, replay)
	if checkErr(t, err, storage.ErrAlreadyUsed, "second RedeemAuthCode") {
		want := g.code
		want.ConsumedAt = first
		checkEqual(t, "code returned with ErrAlreadyUsed", want, got)
	}
	f.checkNoAccess(t, replayAT.Hash, "replayed RedeemAuthCode")
	f.checkNotStored(t, replayRT.Hash, "replayed RedeemAuthCode")
	if rt := f.refresh(t, g.refresh.Hash); !rt.RevokedAt.Equal(replay) {
		t.Errorf("refresh token of the first redemption: RevokedAt = %s, want the replay's time %s", fmtTime(rt.RevokedAt), fmtTime(replay))
	}
	if a := f.access(t, g.access.Hash); !a.RevokedAt.Equal(replay) {
		t.Errorf("access token of the first redemption: RevokedAt = %s, want the replay's time %s", fmtTime(a.RevokedAt), fmtTime(replay))
	}
	if a := f.access(t, otherAT.Hash); !a.RevokedAt.IsZero() {
		t.Errorf("a replayed code revoked another grant's token (RevokedAt %s)", fmtTime(a.RevokedAt))
	}
}

func testRedeemExpired(t *testing.T, f *fixture) {
	g := f.grant(t, "code-1")
	for _, now := range []time.Time{g.code.ExpiresAt, g.code.ExpiresAt.Add(time.Hour)} {
		_, err := f.s.RedeemAuthCode(f.ctx, g.code.Hash, g.access, &g.refresh, now)
		checkErr(t, err, storage.ErrExpired, "RedeemAuthCode at or after ExpiresAt")
	}
	f.checkNoAccess(t, g.access.Hash, "expired RedeemAuthCode")
	f.checkNotStored(t, g.refresh.Hash, "expired RedeemAuthCode")
	if got, err := f.s.GetAuthCode(f.ctx, g.code.Hash); checkOK(t, err, "GetAuthCode") && !got.ConsumedAt.IsZero() {
		t.Errorf("an expired redemption consumed the code")
	}
}

func testRedeemUnknown(t *testing.T, f *fixture) {
	g := f.grant(t, "code-1")
	_, err := f.s.RedeemAuthCode(f.ctx, h("no-such-code"), g.access, &g.refresh, at(0))
	checkErr(t, err, storage.ErrNotFound, "RedeemAuthCode of an unknown hash")
	f.checkNoAccess(t, g.access.Hash, "RedeemAuthCode of an unknown hash")
	f.checkNotStored(t, g.refresh.Hash, "RedeemAuthCode of an unknown hash")
}

// A write that fails inside the redemption (here a taken refresh token
// hash) rolls back the whole of it: the code stays unconsumed.
func testRedeemConflict(t *testing.T, f *fixture) {
	g := f.grant(t, "code-1")
	f.createRefreshToken(t, g.refresh)
	_, err := f.s.RedeemAuthCode(f.ctx, g.code.Hash, g.access, &g.refresh, at(5*time.Second))
	checkErr(t, err, storage.ErrConflict, "RedeemAuthCode with a taken refresh token hash")
	f.checkNoAccess(t, g.access.Hash, "RedeemAuthCode that failed")
	if got, err := f.s.GetAuthCode(f.ctx, g.code.Hash); checkOK(t, err, "GetAuthCode") && !got.ConsumedAt.IsZero() {
		t.Errorf("a failed redemption consumed the code")
	}
}

func testRotateStoresAccess(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	old := f.createRefreshToken(t, b.refresh("rt-old", "fam-1"))
	next := b.refresh("rt-next", "wrong-family")
	acc := b.accessTok("at-next", "wrong-family")
	_, err := f.s.RotateRefreshToken(f.ctx, old.Hash, next, &acc, at(time.Minute))
	mustOK(t, err, "RotateRefreshToken with an access token")
	want := acc
	want.FamilyID = "fam-1"
	checkEqual(t, "access token stored by the rotation", want, f.access(t, acc.Hash))
}

func testFailedRotateStoresNoAccess(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	used := f.createRefreshToken(t, b.refresh("rt-used", "fam-1"))
	_, err := f.s.RotateRefreshToken(f.ctx, used.Hash, b.refresh("rt-2", ""), nil, at(time.Minute))
	mustOK(t, err, "first rotation")
	revoked := f.createRefreshToken(t, b.refresh("rt-revoked", "fam-2"))
	_, err = f.s.RevokeFamily(f.ctx, "fam-2", at(time.Minute))
	mustOK(t, err, "RevokeFamily")
	expired := f.createRefreshToken(t, b.refresh("rt-expired", "fam-3"))
	for _, c := range []struct {
		name string
		old  storage.RefreshToken
		now  time.Time
		want error
	}{
		{"reused", used, at(2 * time.Minute), storage.ErrAlreadyUsed},
		{"revoked", revoked, at(2 * time.Minute), storage.ErrRevoked},
		{"expired", expired, expired.ExpiresAt, storage.ErrExpired},
	} {
		acc := b.accessTok("at-"+c.name, "")
		_, err := f.s.RotateRefreshToken(f.ctx, c.old.Hash, b.refresh("rt-next-"+c.name, ""), &acc, c.now)
		checkErr(t, err, c.want, "RotateRefreshToken of a "+c.name+" token")
		f.checkNoAccess(t, acc.Hash, "RotateRefreshToken of a "+c.name+" token")
	}
}

func testDeleteClientCascades(t *testing.T, f *fixture) {
	g := f.grant(t, "code-1")
	other := newClient("client-2", g.org.ID)
	mustOK(t, f.s.CreateClient(f.ctx, other), "CreateClient")
	rt := f.createRefreshToken(t, g.refresh)
	acc := f.createAccessToken(t, g.access)
	cc := f.createAccessToken(t, clientCredentialsToken(h("at-cc"), "fam-cc", g.client.ID))
	keepAR := f.createAuthRequest(t, newAuthRequest("ar-keep", other.ID))
	keepCode := f.createAuthCode(t, newAuthCode(h("code-keep"), keepAR.ID, other.ID, "grant-keep"))
	keepRT := f.createRefreshToken(t, newRefreshToken(h("rt-keep"), "fam-keep", other.ID, g.user.ID, g.session.Hash))
	keepAT := f.createAccessToken(t, newAccessToken(h("at-keep"), "fam-keep", other.ID, g.user.ID))

	mustOK(t, f.s.DeleteClient(f.ctx, g.client.ID), "DeleteClient")

	_, err := f.s.GetAuthCode(f.ctx, g.code.Hash)
	checkErr(t, err, storage.ErrNotFound, "GetAuthCode of the deleted client's code")
	f.checkNotStored(t, rt.Hash, "DeleteClient")
	f.checkNoAccess(t, acc.Hash, "DeleteClient (user token)")
	f.checkNoAccess(t, cc.Hash, "DeleteClient (client credentials token)")
	_, err = f.s.GetAuthCode(f.ctx, keepCode.Hash)
	checkOK(t, err, "GetAuthCode of another client's code")
	f.refresh(t, keepRT.Hash)
	f.access(t, keepAT.Hash)
	_, err = f.s.GetUser(f.ctx, g.user.ID)
	checkOK(t, err, "GetUser after DeleteClient")
}

func testRowsNeedAClient(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	r := f.createAuthRequest(t, newAuthRequest("ar-1", b.client.ID))
	const gone = "no-such-client"
	checkErr(t, f.s.CreateAuthCode(f.ctx, newAuthCode(h("code"), r.ID, gone, "grant")), storage.ErrConflict,
		"CreateAuthCode for an unknown client")
	checkErr(t, f.s.CreateRefreshToken(f.ctx, newRefreshToken(h("rt"), "fam", gone, b.user.ID, "")), storage.ErrConflict,
		"CreateRefreshToken for an unknown client")
	checkErr(t, f.s.CreateAccessToken(f.ctx, clientCredentialsToken(h("at"), "fam", gone)), storage.ErrConflict,
		"CreateAccessToken for an unknown client")
	code := f.createAuthCode(t, newAuthCode(h("code-ok"), r.ID, b.client.ID, "grant"))
	acc := newAccessToken(h("at-2"), "", gone, b.user.ID)
	_, err := f.s.RedeemAuthCode(f.ctx, code.Hash, acc, nil, at(time.Second))
	checkErr(t, err, storage.ErrConflict, "RedeemAuthCode storing a token for an unknown client")
	if got, err := f.s.GetAuthCode(f.ctx, code.Hash); checkOK(t, err, "GetAuthCode") && !got.ConsumedAt.IsZero() {
		t.Errorf("a failed redemption consumed the code")
	}
}

// testRaceRedeemOnce: many redemptions of one code at once, as a replay
// racing the real exchange. One wins; every other one revokes the grant;
// so nothing the winner stored is left live, whatever the order.
func testRaceRedeemOnce(t *testing.T, f *fixture) {
	g := f.grant(t, "code-1")
	errs := make([]error, concurrency)
	race(concurrency, func(i int) {
		acc := g.accessTok(fmt.Sprintf("at-%02d", i), "")
		rt := g.refresh
		rt.Hash = h(fmt.Sprintf("rt-%02d", i))
		_, errs[i] = f.s.RedeemAuthCode(f.ctx, g.code.Hash, acc, &rt, at(5*time.Second))
	})
	o := tally(errs)
	if o.ok != 1 || o.alreadyUsed != concurrency-1 {
		t.Fatalf("%d concurrent RedeemAuthCode: %s; want 1 ok and %d ErrAlreadyUsed", concurrency, o, concurrency-1)
	}
	for i, err := range errs {
		if err != nil {
			continue
		}
		if a := f.access(t, h(fmt.Sprintf("at-%02d", i))); a.RevokedAt.IsZero() {
			t.Error("the winner's access token is live after concurrent replays")
		}
		if r := f.refresh(t, h(fmt.Sprintf("rt-%02d", i))); r.RevokedAt.IsZero() {
			t.Error("the winner's refresh token is live after concurrent replays")
		}
	}
}

// testRaceDeleteClientVersusTokens: tokens issued while the client is
// deleted either fail or are deleted with it; none survives the client.
func testRaceDeleteClientVersusTokens(t *testing.T, f *fixture) {
	b := f.base(t)
	for r := range rounds {
		id := fmt.Sprintf("client-%02d", r)
		mustOK(t, f.s.CreateClient(f.ctx, newClient(id, b.org.ID)), "CreateClient")
		errs := make([]error, concurrency)
		race(concurrency, func(i int) {
			if i == 0 {
				errs[i] = f.s.DeleteClient(f.ctx, id)
				return
			}
			errs[i] = f.s.CreateAccessToken(f.ctx, clientCredentialsToken(h(fmt.Sprintf("at-%s-%02d", id, i)), "fam", id))
		})
		mustOK(t, errs[0], "DeleteClient")
		for i := 1; i < concurrency; i++ {
			if errs[i] != nil {
				checkErr(t, errs[i], storage.ErrConflict, fmt.Sprintf("round %d: CreateAccessToken racing DeleteClient", r))
			}
			f.checkNoAccess(t, h(fmt.Sprintf("at-%s-%02d", id, i)), fmt.Sprintf("round %d: token created while its client was deleted", r))
		}
	}
}
