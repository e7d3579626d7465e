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
// a fresh, empty database that newStore returns unmigrated.
func Upgrades(t *testing.T, newStore func(t *testing.T) (s storage.Storage, migrateTo func(version int) error)) {
	for _, u := range []struct {
		name string
		from int
		run  func(t *testing.T, f *fixture, migrate func() error)
	}{
		{"0002ClientCascade", 1, testUpgradeClientCascade},
	} {
		t.Run(u.name, func(t *testing.T) {
			s, migrateTo := newStore(t)
			mustOK(t, migrateTo(u.from), "migrate to the version before")
			u.run(t, &fixture{s: s, ctx: t.Context()}, func() error { return migrateTo(u.from + 1) })
		})
	}
}

// testUpgradeClientCascade: 0002 rebuilds (SQLite) or constrains
// (PostgreSQL) the code and token tables. Rows of existing clients keep
// every field; rows of clients deleted before the upgrade (possible at
// version 1) are dropped, since the new key cannot hold them; afterwards
// deleting a client deletes its rows.
func testUpgradeClientCascade(t *testing.T, f *fixture, migrate func() error) {
	g := f.grant(t, "code-1")
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
