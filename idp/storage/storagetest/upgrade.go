package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Upgrades runs checks of migrations on data an older Gatehouse left.
// Each entry's schema is the version before the migration it checks:
// migrateTo(v) must bring the store's schema to version v (not beyond), on
// a fresh, empty database that newStore returns unmigrated. exec runs SQL
// on that database directly, for rows the current store can no longer
// write in the old schema.
func Upgrades(t *testing.T, newStore func(t *testing.T) (s storage.Storage, migrateTo func(version int) error, exec Exec)) {
	for _, u := range []struct {
		name string
		from int
		run  func(t *testing.T, f *fixture, exec Exec, migrate func() error)
	}{
		{"0002ClientCascade", 1, testUpgradeClientCascade},
		{"0003AuthRequestDoors", 2, testUpgradeAuthRequestDoors},
		{"0005Factors", 4, testUpgradeFactors},
		{"0007UserPhone", 6, testUpgradeUserPhone},
		{"0008FactorLookup", 7, testUpgradeFactorLookup},
		{"0009Federation", 8, testUpgradeFederation},
		{"0010SAML", 9, testUpgradeSAML},
		{"0013Branding", 12, testUpgradeBranding},
	} {
		t.Run(u.name, func(t *testing.T) {
			s, migrateTo, exec := newStore(t)
			mustOK(t, migrateTo(u.from), "migrate to the version before")
			// Rows are written in the old schema and read after the whole
			// chain, which is what an operator's upgrade runs: the store
			// reads and writes the newest schema's columns.
			u.run(t, &fixture{s: s, ctx: t.Context(), v1: exec}, exec, func() error { return migrateTo(latest) })
		})
	}
}

// latest is past every migration: migrateTo(latest) applies them all.
const latest = 1 << 30

// Exec runs one statement with $N arguments on the database under test.
type Exec func(ctx context.Context, query string, args ...any) error

// testUpgradeClientCascade: 0002 rebuilds (SQLite) or constrains
// (PostgreSQL) the code and token tables. Rows of existing clients keep
// every field; rows of clients deleted before the upgrade (possible at
// version 1) are dropped, since the new key cannot hold them; afterwards
// deleting a client deletes its rows.
func testUpgradeClientCascade(t *testing.T, f *fixture, _ Exec, migrate func() error) {
	// No auth request row: its version-1 columns are not the store's now.
	g := f.grantFor(t, "code-1", "ar-code-1")
	rt := f.createRefreshToken(t, g.refresh)
	acc := f.createAccessToken(t, g.access)
	cc := f.createAccessToken(t, clientCredentialsToken(h("at-cc"), "fam-cc", g.client.ID))
	const gone = "deleted-before-upgrade"
	f.createAuthCode(t, newAuthCode(h("code-gone"), "ar-code-1", gone, "grant-gone"))
	f.createRefreshToken(t, newRefreshToken(h("rt-gone"), "fam-gone", gone, g.user.ID, ""))
	f.createAccessToken(t, clientCredentialsToken(h("at-gone"), "fam-gone", gone))

	mustOK(t, migrate(), "migrate")

	code, err := f.s.GetAuthCode(f.ctx, g.code.Hash)
	if checkOK(t, err, "GetAuthCode after upgrade") {
		checkEqual(t, "code after upgrade", g.code, code)
	}
	checkEqual(t, "refresh token after upgrade", rt, f.refresh(t, rt.Hash))
	checkEqual(t, "access token after upgrade", acc, f.access(t, acc.Hash))
	checkEqual(t, "client credentials token after upgrade", cc, f.access(t, cc.Hash))
	_, err = f.s.GetAuthCode(f.ctx, h("code-gone"))
	checkErr(t, err, storage.ErrNotFound, "code of a deleted client after upgrade")
	f.checkNotStored(t, h("rt-gone"), "upgrade")
	f.checkNoAccess(t, h("at-gone"), "upgrade")

	// The upgraded tables behave as fresh ones: rotation and redemption
	// work, and the cascade holds.
	next := g.refresh
	next.Hash = h("rt-next")
	_, err = f.s.RotateRefreshToken(f.ctx, rt.Hash, next, nil, at(time.Minute))
	mustOK(t, err, "RotateRefreshToken after upgrade")
	mustOK(t, f.s.DeleteClient(f.ctx, g.client.ID), "DeleteClient after upgrade")
	f.checkNotStored(t, next.Hash, "DeleteClient after upgrade")
	f.checkNoAccess(t, acc.Hash, "DeleteClient after upgrade")
	checkErr(t, f.s.CreateAccessToken(context.Background(), clientCredentialsToken(h("at-late"), "fam", g.client.ID)),
		storage.ErrConflict, "CreateAccessToken for the deleted client after upgrade")
}

// testUpgradeAuthRequestDoors: 0003 moves the id_token_hint subject out of
// the string map "extra" into subject_hint, renames extra to door_data
// (emptied: no door wrote it before) and renames the OIDC door's private
// step code_issued to the flow's issued. Every other field is kept.
func testUpgradeAuthRequestDoors(t *testing.T, f *fixture, exec Exec, migrate func() error) {
	const insert = `INSERT INTO auth_requests (id, protocol, client_id, redirect_uri, state, nonce, scopes,
		response_type, response_mode, code_challenge, code_challenge_method, prompt, max_age, login_hint,
		acr_values, ui_locales, extra, step, org_id, user_id, session_id, auth_time, amr, attempts,
		created_at, expires_at)
		VALUES ($1, 'oidc', 'rp', 'https://rp.example/cb', 'st', 'n', '["openid"]', 'code', 'query',
		'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', 'S256', $2, 60, 'alice@acme.example', '[]', '["de"]',
		$3, $4, 'org-1', $5, 'sess-1', $6, $7, 1, $8, $9)`
	authTime, created, expires := at(-10*time.Second), at(-time.Minute), at(29*time.Minute)
	rows := []struct {
		id, prompt, extra, step, userID, amr string
		want                                 storage.AuthRequest
	}{
		{"ar-hinted", `["none"]`, `{"id_token_hint_sub":"user-1"}`, "code_issued", "user-1", `["pwd"]`,
			storage.AuthRequest{Prompt: []string{"none"}, SubjectHint: "user-1", Step: "issued", UserID: "user-1", AMR: []string{"pwd"}}},
		{"ar-plain", `[]`, `null`, "login", "", `[]`,
			storage.AuthRequest{Step: "login"}},
		{"ar-other-extra", `[]`, `{"k":"v"}`, "done", "user-2", `["pwd","mfa"]`,
			storage.AuthRequest{Step: "done", UserID: "user-2", AMR: []string{"pwd", "mfa"}}},
	}
	for _, r := range rows {
		mustOK(t, exec(f.ctx, insert, r.id, r.prompt, r.extra, r.step, r.userID, micros(authTime), r.amr,
			micros(created), micros(expires)), "insert a version-2 auth request")
	}

	mustOK(t, migrate(), "migrate")

	for _, r := range rows {
		want := r.want
		want.ID, want.Protocol, want.ClientID = r.id, "oidc", "rp"
		want.OIDC = &storage.OIDCParams{RedirectURI: "https://rp.example/cb", State: "st", Nonce: "n", Scopes: []string{"openid"},
			ResponseType: "code", ResponseMode: "query", CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256"}
		want.MaxAge = ptr(int64(60))
		want.LoginHint = "alice@acme.example"
		want.UILocales = []string{"de"}
		want.OrgID, want.SessionID, want.AuthTime, want.Attempts = "org-1", "sess-1", authTime, 1
		want.CreatedAt, want.ExpiresAt = created, expires
		got, err := f.s.GetAuthRequest(f.ctx, r.id)
		if checkOK(t, err, "GetAuthRequest after upgrade") {
			checkEqual(t, r.id+" after upgrade", want, got)
		}
	}
	// The upgraded table takes the new columns.
	n := newAuthRequest("ar-new", "rp")
	n.SubjectHint, n.DoorData = "user-3", []byte(`{"a":1}`)
	f.createAuthRequest(t, n)
}

// testUpgradeFactors: 0005 adds the factors table to a database with
// users; their factors then round-trip and die with them.
func testUpgradeFactors(t *testing.T, f *fixture, _ Exec, migrate func() error) {
	b := f.base(t)
	mustOK(t, migrate(), "migrate")
	v := f.createFactor(t, newFactor("f-1", b.user.ID))
	checkEqual(t, "factor after upgrade", v, f.factor(t, v.ID))
	mustOK(t, f.s.DeleteUser(f.ctx, b.user.ID), "DeleteUser after upgrade")
	_, err := f.s.GetFactor(f.ctx, v.ID)
	checkErr(t, err, storage.ErrNotFound, "GetFactor of a deleted user's factor after upgrade")
}

// testUpgradeUserPhone: 0007 adds users.phone. A user written before it
// keeps every field and has no phone; afterwards a phone round-trips.
func testUpgradeUserPhone(t *testing.T, f *fixture, _ Exec, migrate func() error) {
	b := f.base(t)
	mustOK(t, migrate(), "migrate")
	got, err := f.s.GetUser(f.ctx, b.user.ID)
	if checkOK(t, err, "GetUser after upgrade") {
		checkEqual(t, "user after upgrade", b.user, got)
	}
	want := b.user
	want.Phone = "+14155552671"
	_, err = f.s.UpdateUser(f.ctx, b.user.ID, func(u storage.User) (storage.User, error) {
		u.Phone = want.Phone
		return u, nil
	})
	mustOK(t, err, "UpdateUser with a phone after upgrade")
	got, err = f.s.GetUserByEmail(f.ctx, b.user.Email)
	if checkOK(t, err, "GetUserByEmail after upgrade") {
		checkEqual(t, "user with a phone after upgrade", want, got)
	}
}

// testUpgradeFactorLookup: 0008 adds factors.lookup. A factor written
// before it keeps every field and has no lookup; afterwards lookups are
// set, found and unique.
func testUpgradeFactorLookup(t *testing.T, f *fixture, exec Exec, migrate func() error) {
	b := f.base(t)
	v := newFactor("f-1", b.user.ID)
	const insert = `INSERT INTO factors (id, user_id, kind, label, secret, address, data, confirmed_at, last_step, last_used_at, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0)`
	mustOK(t, exec(f.ctx, insert, v.ID, v.UserID, v.Kind, v.Label, v.Secret, v.Address, string(v.Data),
		micros(v.ConfirmedAt), v.LastStep, micros(v.LastUsedAt), micros(v.CreatedAt)), "insert a version-7 factor")
	mustOK(t, migrate(), "migrate")
	checkEqual(t, "factor after upgrade", v, f.factor(t, v.ID))
	mustOK(t, f.s.SetFactorLookup(f.ctx, v.ID, "cred-1", at(0)), "SetFactorLookup after upgrade")
	w := newFactor("f-2", b.user.ID)
	f.createFactor(t, w)
	checkErr(t, f.s.SetFactorLookup(f.ctx, w.ID, "cred-1", at(0)), storage.ErrConflict, "SetFactorLookup of a taken lookup after upgrade")
	got, err := f.s.FindFactor(f.ctx, v.Kind, "cred-1")
	if checkOK(t, err, "FindFactor after upgrade") && got.ID != v.ID {
		t.Errorf("FindFactor after upgrade = %s, want %s", got.ID, v.ID)
	}
}

// testUpgradeFederation: 0009 adds the federation tables and the upstream
// of auth requests and the link of sessions and refresh tokens. Rows
// written before it keep every field and read as local logins (no
// upstream, no link); afterwards connectors, links and assertion records
// work on the upgraded database, and the new columns take values.
func testUpgradeFederation(t *testing.T, f *fixture, exec Exec, migrate func() error) {
	b := f.base(t)
	sess := f.createSession(t, newSession(h("sess-1"), b.user.ID)) // the fixture writes the old columns
	rt := f.createRefreshToken(t, newRefreshToken(h("rt-1"), "fam-1", b.client.ID, b.user.ID, sess.Hash))
	r := fullAuthRequest("ar-1", b.client.ID, b.org.ID, b.user.ID, sess.Hash)
	r.Upstream = nil
	const insert = `INSERT INTO auth_requests (id, protocol, client_id, redirect_uri, state, nonce, scopes, response_type,
		response_mode, code_challenge, code_challenge_method, prompt, max_age, login_hint, acr_values, ui_locales,
		door_data, step, org_id, user_id, session_id, auth_time, amr, attempts, created_at, expires_at, subject_hint, flow_data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23,
		$24, $25, $26, $27, $28)`
	o := r.OIDC
	mustOK(t, exec(f.ctx, insert, r.ID, r.Protocol, r.ClientID, o.RedirectURI, o.State, o.Nonce, jsonList(o.Scopes),
		o.ResponseType, o.ResponseMode, o.CodeChallenge, o.CodeChallengeMethod, jsonList(r.Prompt), *r.MaxAge, r.LoginHint,
		jsonList(r.ACRValues), jsonList(r.UILocales), string(r.DoorData), r.Step, r.OrgID, r.UserID, r.SessionID,
		micros0(r.AuthTime), jsonList(r.AMR), int64(r.Attempts), micros0(r.CreatedAt), micros0(r.ExpiresAt), r.SubjectHint,
		string(r.FlowData)), "insert a version-8 auth request")

	mustOK(t, migrate(), "migrate")

	if got, err := f.s.GetSession(f.ctx, sess.Hash); checkOK(t, err, "GetSession after upgrade") {
		checkEqual(t, "session after upgrade", sess, got)
	}
	checkEqual(t, "refresh token after upgrade", rt, f.refresh(t, rt.Hash))
	if got, err := f.s.GetAuthRequest(f.ctx, r.ID); checkOK(t, err, "GetAuthRequest after upgrade") {
		checkEqual(t, "auth request after upgrade", r, got)
	}

	conn := f.createConnector(t, newConnector("acme-okta", b.org.ID, "sso.acme.example"))
	f.checkConnector(t, "connector after upgrade", conn)
	link := f.createLink(t, newLink(conn.ID, "sub-1", b.user.ID))
	f.checkLinks(t, "links after upgrade", b.user.ID, link)
	mustOK(t, f.s.UseAssertionID(f.ctx, conn.ID, "_a1", at(time.Hour), at(0)), "UseAssertionID after upgrade")
	checkErr(t, f.s.UseAssertionID(f.ctx, conn.ID, "_a1", at(time.Hour), at(0)), storage.ErrAlreadyUsed, "replay after upgrade")

	wantSess := sess
	wantSess.ConnectorID, wantSess.UpstreamSubject = link.ConnectorID, link.Subject
	_, err := f.s.UpdateSession(f.ctx, sess.Hash, func(storage.Session) (storage.Session, error) { return wantSess, nil })
	mustOK(t, err, "UpdateSession with a link after upgrade")
	if got, err := f.s.GetSession(f.ctx, sess.Hash); checkOK(t, err, "GetSession") {
		checkEqual(t, "session with a link after upgrade", wantSess, got)
	}
	wantReq := r
	wantReq.Upstream = newUpstream()
	_, err = f.s.UpdateAuthRequest(f.ctx, r.ID, func(cur storage.AuthRequest) (storage.AuthRequest, error) {
		cur.Upstream = newUpstream()
		return cur, nil
	})
	mustOK(t, err, "UpdateAuthRequest with an upstream after upgrade")
	if got, err := f.s.GetAuthRequest(f.ctx, r.ID); checkOK(t, err, "GetAuthRequest") {
		checkEqual(t, "auth request with an upstream after upgrade", wantReq, got)
	}
	next := newRefreshToken(h("rt-2"), "", b.client.ID, b.user.ID, sess.Hash)
	next.ConnectorID, next.UpstreamSubject = link.ConnectorID, link.Subject
	_, err = f.s.RotateRefreshToken(f.ctx, rt.Hash, next, nil, at(time.Minute))
	mustOK(t, err, "RotateRefreshToken after upgrade")
	wantNext := next
	wantNext.FamilyID = rt.FamilyID
	checkEqual(t, "rotated refresh token with a link after upgrade", wantNext, f.refresh(t, next.Hash))

	mustOK(t, f.s.DeleteUser(f.ctx, b.user.ID), "DeleteUser after upgrade")
	f.checkLinks(t, "links of a deleted user after upgrade", b.user.ID)
	f.checkConnector(t, "connector after DeleteUser", conn)
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// testUpgradeSAML: 0010 adds the SAML tables and clients' initiate_login_uri.
// A client written before it keeps every field and has none; afterwards the
// column takes a value and the SAML rows work.
func testUpgradeSAML(t *testing.T, f *fixture, _ Exec, migrate func() error) {
	b := f.base(t)
	mustOK(t, migrate(), "migrate")
	got, err := f.s.GetClient(f.ctx, b.client.ID)
	if checkOK(t, err, "GetClient after upgrade") {
		checkEqual(t, "client after upgrade", b.client, got)
	}
	up, err := f.s.UpdateClient(f.ctx, b.client.ID, func(c storage.Client) (storage.Client, error) {
		c.InitiateLoginURI = "https://rp.example/start"
		return c, nil
	})
	if checkOK(t, err, "UpdateClient after upgrade") && up.InitiateLoginURI != "https://rp.example/start" {
		t.Errorf("InitiateLoginURI after update = %q", up.InitiateLoginURI)
	}
	f.createSP(t, newSP(spA))
	checkOK(t, f.s.UseSAMLRequestID(f.ctx, spA, "id-1", at(time.Hour), at(0)), "UseSAMLRequestID after upgrade")
	if _, err := f.s.PersistentNameID(f.ctx, spA, b.user.ID, "n-1"); !checkOK(t, err, "PersistentNameID after upgrade") {
		return
	}
}

// testUpgradeBranding: 0013 adds organizations.branding. An organization
// written before it keeps every field and has no branding; afterwards
// branding round-trips.
func testUpgradeBranding(t *testing.T, f *fixture, _ Exec, migrate func() error) {
	b := f.base(t)
	mustOK(t, migrate(), "migrate")
	got, err := f.s.GetOrganization(f.ctx, b.org.ID)
	if checkOK(t, err, "GetOrganization after upgrade") {
		checkEqual(t, "organization after upgrade", b.org, got)
	}
	want := b.org
	want.Branding = storage.Branding{LogoURL: "https://acme.example/logo.png", Accent: "#123456"}
	got, err = f.s.UpdateOrganization(f.ctx, b.org.ID, func(o storage.Organization) (storage.Organization, error) {
		o.Branding = want.Branding
		return o, nil
	})
	if checkOK(t, err, "UpdateOrganization after upgrade") {
		checkEqual(t, "branded organization", want, got)
	}
}
