package storagetest

import (
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var deleteExpiredTests = []testCase{
	{"EmptyStore", testDeleteExpiredEmpty},
	{"RemovesExactlyExpired", testDeleteExpiredExactly},
	{"KeepsUsedAndRevokedUntilExpiry", testDeleteExpiredKeepsUsed},
	{"KeepsLiveTokensOfExpiredSession", testDeleteExpiredKeepsLiveTokensOfExpiredSession},
}

func testDeleteExpiredEmpty(t *testing.T, f *fixture) {
	n, err := f.s.DeleteExpired(f.ctx, at(0))
	if checkOK(t, err, "DeleteExpired on an empty store") && n != 0 {
		t.Errorf("DeleteExpired on an empty store = %d, want 0", n)
	}
}

// testDeleteExpiredExactly: every kind with a lifetime has one expired and
// one live row; sessions expire by ExpiresAt or by IdleExpiresAt. Rows
// without a lifetime (organizations, users, clients, keys without an end,
// audit events) stay.
func testDeleteExpiredExactly(t *testing.T, f *fixture) {
	b := f.tokenBase(t) // sess-1 is live until at(25m) idle, at(12h) absolute
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	now := at(time.Hour)
	past, future := at(30*time.Minute), at(90*time.Minute)

	live := b.session
	live.IdleExpiresAt = future
	_, err := f.s.UpdateSession(f.ctx, live.Hash, func(storage.Session) (storage.Session, error) { return live, nil })
	mustOK(t, err, "UpdateSession")

	arLive := newAuthRequest("ar-live", b.client.ID)
	arLive.ExpiresAt = future
	arExp := newAuthRequest("ar-exp", b.client.ID)
	arExp.ExpiresAt = past
	f.createAuthRequest(t, arLive)
	f.createAuthRequest(t, arExp)

	codeLive := newAuthCode(h("code-live"), arLive.ID, b.client.ID, "grant-live")
	codeLive.ExpiresAt = future
	codeExp := newAuthCode(h("code-exp"), arLive.ID, b.client.ID, "grant-exp")
	codeExp.ExpiresAt = past
	f.createAuthCode(t, codeLive)
	f.createAuthCode(t, codeExp)

	rtLive := b.refresh("rt-live", "fam-1")
	rtLive.ExpiresAt = future
	rtExp := b.refresh("rt-exp", "fam-1")
	rtExp.ExpiresAt = past
	f.createRefreshToken(t, rtLive)
	f.createRefreshToken(t, rtExp)

	atLive := b.accessTok("at-live", "fam-1")
	atLive.ExpiresAt = future
	atExp := b.accessTok("at-exp", "fam-1")
	atExp.ExpiresAt = past
	f.createAccessToken(t, atLive)
	f.createAccessToken(t, atExp)

	sessAbs := newSession(h("sess-abs"), b.user.ID)
	sessAbs.ExpiresAt, sessAbs.IdleExpiresAt = past, future
	sessIdle := newSession(h("sess-idle"), b.user.ID)
	sessIdle.ExpiresAt, sessIdle.IdleExpiresAt = future, past
	f.createSession(t, sessAbs)
	f.createSession(t, sessIdle)

	ottLive := newOneTimeToken(h("ott-live"), storage.PurposePasswordReset, b.user.ID)
	ottLive.ExpiresAt = future
	ottExp := newOneTimeToken(h("ott-exp"), storage.PurposeInvite, bob.ID)
	ottExp.ExpiresAt = past
	f.createOneTimeToken(t, ottLive)
	f.createOneTimeToken(t, ottExp)

	conn := f.createConnector(t, newConnector("acme-saml", b.org.ID))
	mustOK(t, f.s.UseAssertionID(f.ctx, conn.ID, "_live", future, at(0)), "UseAssertionID live")
	mustOK(t, f.s.UseAssertionID(f.ctx, conn.ID, "_expired", past, at(0)), "UseAssertionID expired")
	link := f.createLink(t, newLink(conn.ID, "sub-1", b.user.ID)) // no lifetime

	key := newSigningKey("k-1", storage.KeyUseOIDC, at(-1000*time.Hour)) // RetireAt, ExpiresAt zero: no end
	mustOK(t, f.s.CreateSigningKey(f.ctx, key), "CreateSigningKey")
	mustOK(t, f.s.AppendAuditEvent(f.ctx, auditEvent(-100000, "login.success", b.org.ID, b.user.ID)), "AppendAuditEvent")

	n, err := f.s.DeleteExpired(f.ctx, now)
	mustOK(t, err, "DeleteExpired")
	if n != 8 {
		t.Errorf("DeleteExpired = %d, want 8 (one auth request, code, refresh token, access token, one-time token and assertion record, two sessions)", n)
	}

	// Gone.
	_, err = f.s.GetAuthRequest(f.ctx, arExp.ID)
	checkErr(t, err, storage.ErrNotFound, "expired auth request")
	_, err = f.s.ConsumeAuthCode(f.ctx, codeExp.Hash, past.Add(-time.Minute))
	checkErr(t, err, storage.ErrNotFound, "expired auth code")
	_, err = f.s.GetRefreshToken(f.ctx, rtExp.Hash)
	checkErr(t, err, storage.ErrNotFound, "expired refresh token")
	_, err = f.s.GetAccessToken(f.ctx, atExp.Hash)
	checkErr(t, err, storage.ErrNotFound, "expired access token")
	_, err = f.s.GetSession(f.ctx, sessAbs.Hash)
	checkErr(t, err, storage.ErrNotFound, "session past its absolute expiry")
	_, err = f.s.GetSession(f.ctx, sessIdle.Hash)
	checkErr(t, err, storage.ErrNotFound, "session past its idle expiry")
	_, err = f.s.GetOneTimeToken(f.ctx, ottExp.Purpose, ottExp.Hash)
	checkErr(t, err, storage.ErrNotFound, "expired one-time token")
	checkOK(t, f.s.UseAssertionID(f.ctx, conn.ID, "_expired", future, now), "UseAssertionID of a purged record")

	// Kept, unchanged.
	if got, err := f.s.GetAuthRequest(f.ctx, arLive.ID); checkOK(t, err, "live auth request") {
		checkEqual(t, "live auth request", arLive, got)
	}
	if got, err := f.s.ConsumeAuthCode(f.ctx, codeLive.Hash, now); checkOK(t, err, "live auth code") && got.GrantID != codeLive.GrantID {
		t.Errorf("live auth code GrantID = %q, want %q", got.GrantID, codeLive.GrantID)
	}
	checkEqual(t, "live refresh token", rtLive, f.refresh(t, rtLive.Hash))
	checkEqual(t, "live access token", atLive, f.access(t, atLive.Hash))
	if got, err := f.s.GetSession(f.ctx, live.Hash); checkOK(t, err, "live session") {
		checkEqual(t, "live session", live, got)
	}
	if got, err := f.s.GetOneTimeToken(f.ctx, ottLive.Purpose, ottLive.Hash); checkOK(t, err, "live one-time token") {
		checkEqual(t, "live one-time token", ottLive, got)
	}
	checkErr(t, f.s.UseAssertionID(f.ctx, conn.ID, "_live", future, now), storage.ErrAlreadyUsed, "UseAssertionID of a live record")
	f.checkConnector(t, "connector after DeleteExpired", conn)
	f.checkLink(t, "link after DeleteExpired", link)
	if keys := f.listKeys(t, storage.KeyUseOIDC); len(keys) != 1 {
		t.Errorf("signing keys without an end after DeleteExpired = %d, want 1", len(keys))
	}
	if events := f.listAudit(t, storage.AuditQuery{}); len(events) != 1 {
		t.Errorf("audit events after DeleteExpired = %d, want 1 (audit events are kept)", len(events))
	}
	for _, id := range []string{b.user.ID, bob.ID} {
		_, err := f.s.GetUser(f.ctx, id)
		checkOK(t, err, "user after DeleteExpired")
	}
	_, err = f.s.GetOrganization(f.ctx, b.org.ID)
	checkOK(t, err, "organization after DeleteExpired")
	_, err = f.s.GetClient(f.ctx, b.client.ID)
	checkOK(t, err, "client after DeleteExpired")

	n, err = f.s.DeleteExpired(f.ctx, now)
	if checkOK(t, err, "second DeleteExpired") && n != 0 {
		t.Errorf("second DeleteExpired = %d, want 0", n)
	}
}

// testDeleteExpiredKeepsUsed: used, consumed and revoked artefacts must
// outlive their use until they expire, or a replay would look like an
// unknown token (ErrNotFound) instead of reuse (ErrAlreadyUsed), and the
// family would not be revoked.
func testDeleteExpiredKeepsUsed(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	r := f.createAuthRequest(t, newAuthRequest("ar-1", b.client.ID))
	code := f.createAuthCode(t, newAuthCode(h("code"), r.ID, b.client.ID, "fam-1"))
	_, err := f.s.ConsumeAuthCode(f.ctx, code.Hash, at(0))
	mustOK(t, err, "ConsumeAuthCode")

	old := f.createRefreshToken(t, b.refresh("rt-old", "fam-1"))
	_, err = f.s.RotateRefreshToken(f.ctx, old.Hash, b.refresh("rt-new", ""), nil, at(time.Second))
	mustOK(t, err, "RotateRefreshToken")

	revokedAT := f.createAccessToken(t, b.accessTok("at-revoked", "fam-2"))
	mustOK(t, f.s.RevokeAccessToken(f.ctx, revokedAT.Hash, at(time.Second)), "RevokeAccessToken")
	revokedRT := f.createRefreshToken(t, b.refresh("rt-revoked", "fam-2"))
	_, err = f.s.RevokeFamily(f.ctx, "fam-2", at(time.Second))
	mustOK(t, err, "RevokeFamily")

	ott := f.createOneTimeToken(t, newOneTimeToken(h("ott"), storage.PurposePasswordReset, b.user.ID))
	_, err = f.s.ConsumeOneTimeToken(f.ctx, ott.Purpose, ott.Hash, at(time.Second))
	mustOK(t, err, "ConsumeOneTimeToken")

	// Everything is used but none is expired at now (codes live 50 s).
	now := at(20 * time.Second)
	n, err := f.s.DeleteExpired(f.ctx, now)
	if checkOK(t, err, "DeleteExpired") && n != 0 {
		t.Errorf("DeleteExpired with only used, unexpired rows = %d, want 0", n)
	}

	got, err := f.s.ConsumeAuthCode(f.ctx, code.Hash, now)
	if checkErr(t, err, storage.ErrAlreadyUsed, "replayed code after DeleteExpired") && got.GrantID != code.GrantID {
		t.Errorf("replayed code GrantID = %q, want %q", got.GrantID, code.GrantID)
	}
	_, err = f.s.RotateRefreshToken(f.ctx, old.Hash, b.refresh("rt-thief", ""), nil, now)
	checkErr(t, err, storage.ErrAlreadyUsed, "reused refresh token after DeleteExpired")
	_, err = f.s.RotateRefreshToken(f.ctx, revokedRT.Hash, b.refresh("rt-thief-2", ""), nil, now)
	checkErr(t, err, storage.ErrRevoked, "revoked refresh token after DeleteExpired")
	if got, err := f.s.GetAccessToken(f.ctx, revokedAT.Hash); checkOK(t, err, "revoked access token after DeleteExpired") && got.RevokedAt.IsZero() {
		t.Errorf("revoked access token came back unrevoked")
	}
	_, err = f.s.ConsumeOneTimeToken(f.ctx, ott.Purpose, ott.Hash, now)
	checkErr(t, err, storage.ErrAlreadyUsed, "consumed one-time token after DeleteExpired")
}

// testDeleteExpiredKeepsLiveTokensOfExpiredSession: a refresh token can
// outlive the browser session it was issued in (offline access); its own
// ExpiresAt decides.
func testDeleteExpiredKeepsLiveTokensOfExpiredSession(t *testing.T, f *fixture) {
	b := f.base(t)
	sess := newSession(h("sess-1"), b.user.ID)
	sess.IdleExpiresAt, sess.ExpiresAt = at(time.Hour), at(time.Hour)
	f.createSession(t, sess)
	rt := f.createRefreshToken(t, newRefreshToken(h("rt-1"), "fam-1", b.client.ID, b.user.ID, sess.Hash))
	acc := newAccessToken(h("at-1"), "fam-1", b.client.ID, b.user.ID)
	acc.ExpiresAt = at(3 * time.Hour)
	f.createAccessToken(t, acc)

	n, err := f.s.DeleteExpired(f.ctx, at(2*time.Hour))
	if checkOK(t, err, "DeleteExpired") && n != 1 {
		t.Errorf("DeleteExpired = %d, want 1 (the session only)", n)
	}
	_, err = f.s.GetSession(f.ctx, sess.Hash)
	checkErr(t, err, storage.ErrNotFound, "expired session")
	if got, err := f.s.GetRefreshToken(f.ctx, rt.Hash); checkOK(t, err, "live refresh token of an expired session") {
		checkEqual(t, "live refresh token of an expired session", rt, got)
	}
	if got, err := f.s.GetAccessToken(f.ctx, acc.Hash); checkOK(t, err, "live access token") {
		checkEqual(t, "live access token", acc, got)
	}
}
