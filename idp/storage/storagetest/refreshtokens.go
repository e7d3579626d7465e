package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var refreshTokenTests = []testCase{
	{"RoundTrip", testRefreshRoundTrip},
	{"NotFound", testRefreshNotFound},
	{"CreateConflict", testRefreshCreateConflict},
	{"Rotate", testRefreshRotate},
	{"RotateChain", testRefreshRotateChain},
	{"RotateStoresTheLinkGiven", testRefreshRotateLink},
	{"ReuseRevokesFamily", testRefreshReuseRevokesFamily},
	{"RotateExpired", testRefreshRotateExpired},
	{"RotateRevoked", testRefreshRotateRevoked},
	{"RotateUnknown", testRefreshRotateUnknown},
	{"RotateNextHashTaken", testRefreshRotateNextHashTaken},
	{"ConcurrentRotateIsReuse", testRefreshConcurrentRotate},
}

// tokenBase is a base plus a session that tokens reference.
type tokenBase struct {
	base
	session storage.Session
}

func (f *fixture) tokenBase(t *testing.T) tokenBase {
	t.Helper()
	b := f.base(t)
	return tokenBase{base: b, session: f.createSession(t, newSession(h("sess-1"), b.user.ID))}
}

func (b tokenBase) refresh(name, family string) storage.RefreshToken {
	return newRefreshToken(h(name), family, b.client.ID, b.user.ID, b.session.Hash)
}

func (b tokenBase) accessTok(name, family string) storage.AccessToken {
	return newAccessToken(h(name), family, b.client.ID, b.user.ID)
}

// checkNotStored reports unless no refresh token with hash exists.
func (f *fixture) checkNotStored(t *testing.T, hash, what string) {
	t.Helper()
	got, err := f.s.GetRefreshToken(f.ctx, hash)
	if err == nil {
		t.Errorf("%s: the next token was stored (family %q, revoked %s), want nothing stored",
			what, got.FamilyID, fmtTime(got.RevokedAt))
		return
	}
	checkErr(t, err, storage.ErrNotFound, what+": GetRefreshToken of next")
}

func testRefreshRoundTrip(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	offline := b.refresh("rt-offline", "fam-2")
	offline.SessionID = ""
	offline.AMR = nil
	offline.Audience = nil
	for _, r := range []storage.RefreshToken{b.refresh("rt-1", "fam-1"), offline} {
		f.createRefreshToken(t, r)
		got, err := f.s.GetRefreshToken(f.ctx, r.Hash)
		if checkOK(t, err, "GetRefreshToken") {
			checkEqual(t, "GetRefreshToken", r, got)
			if !got.UsedAt.IsZero() || !got.RevokedAt.IsZero() {
				t.Errorf("fresh token has UsedAt %s, RevokedAt %s; want both zero", fmtTime(got.UsedAt), fmtTime(got.RevokedAt))
			}
		}
	}
}

func testRefreshNotFound(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	f.createRefreshToken(t, b.refresh("rt-1", "fam-1"))
	_, err := f.s.GetRefreshToken(f.ctx, h("missing"))
	checkErr(t, err, storage.ErrNotFound, "GetRefreshToken of an unknown hash")
}

func testRefreshCreateConflict(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	r := f.createRefreshToken(t, b.refresh("rt-1", "fam-1"))
	dup := b.refresh("rt-1", "fam-attacker")
	checkErr(t, f.s.CreateRefreshToken(f.ctx, dup), storage.ErrConflict, "CreateRefreshToken with a taken hash")
	checkEqual(t, "token after a conflicting create", r, f.refresh(t, r.Hash))
}

func testRefreshRotate(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	old := f.createRefreshToken(t, b.refresh("rt-old", "fam-1"))
	next := b.refresh("rt-next", "fam-other")
	next.Scopes = []string{"openid"}
	next.CreatedAt = at(time.Minute)
	next.ExpiresAt = at(48 * time.Hour)

	now := at(time.Minute)
	got, err := f.s.RotateRefreshToken(f.ctx, old.Hash, next, nil, now)
	mustOK(t, err, "RotateRefreshToken")
	// The old token comes back; whether its UsedAt already shows the
	// rotation is not fixed by the contract.
	if !got.UsedAt.IsZero() && !got.UsedAt.Equal(now) {
		t.Errorf("returned old token UsedAt = %s, want zero or %s", fmtTime(got.UsedAt), fmtTime(now))
	}
	got.UsedAt = time.Time{}
	checkEqual(t, "RotateRefreshToken result (the old token)", old, got)

	wantOld := old
	wantOld.UsedAt = now
	checkEqual(t, "stored old token after rotation", wantOld, f.refresh(t, old.Hash))

	wantNext := next
	wantNext.FamilyID = old.FamilyID
	checkEqual(t, "stored next token (FamilyID overwritten with the old token's)", wantNext, f.refresh(t, next.Hash))
}

// testRefreshRotateLink: the link a token stood on is stored as the caller
// gives it, at creation and at rotation (where the caller carries it over
// from the old token); a local login's token has none.
func testRefreshRotateLink(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	for _, c := range []struct{ name, connector, subject string }{
		{"federated", "acme-saml", "CN=Alice,OU=Ünïcode ✓"},
		{"local", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			old := b.refresh("rt-old-"+c.name, "fam-"+c.name)
			old.ConnectorID, old.UpstreamSubject = c.connector, c.subject
			f.createRefreshToken(t, old)
			checkEqual(t, "stored token", old, f.refresh(t, old.Hash))
			next := b.refresh("rt-next-"+c.name, "")
			next.ConnectorID, next.UpstreamSubject = old.ConnectorID, old.UpstreamSubject
			_, err := f.s.RotateRefreshToken(f.ctx, old.Hash, next, nil, at(time.Minute))
			mustOK(t, err, "RotateRefreshToken")
			want := next
			want.FamilyID = old.FamilyID
			checkEqual(t, "stored next token", want, f.refresh(t, next.Hash))
		})
	}
}

func testRefreshRotateChain(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	prev := f.createRefreshToken(t, b.refresh("rt-0", "fam-1"))
	for i := 1; i <= 3; i++ {
		next := b.refresh(fmt.Sprintf("rt-%d", i), "")
		now := at(time.Duration(i) * time.Minute)
		got, err := f.s.RotateRefreshToken(f.ctx, prev.Hash, next, nil, now)
		mustOK(t, err, fmt.Sprintf("rotation %d", i))
		if got.Hash != prev.Hash {
			t.Errorf("rotation %d returned token %q, want the old one %q", i, got.Hash, prev.Hash)
		}
		stored := f.refresh(t, next.Hash)
		if stored.FamilyID != "fam-1" {
			t.Errorf("rotation %d: next FamilyID = %q, want fam-1 (an empty next.FamilyID is overwritten too)", i, stored.FamilyID)
		}
		checkTime(t, fmt.Sprintf("rotation %d: old UsedAt", i), now, f.refresh(t, prev.Hash).UsedAt)
		prev = stored
	}
	last := f.refresh(t, prev.Hash)
	if !last.UsedAt.IsZero() || !last.RevokedAt.IsZero() {
		t.Errorf("newest token UsedAt %s, RevokedAt %s; want both zero", fmtTime(last.UsedAt), fmtTime(last.RevokedAt))
	}
}

func testRefreshReuseRevokesFamily(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	old := f.createRefreshToken(t, b.refresh("rt-old", "fam-1"))
	at1 := f.createAccessToken(t, b.accessTok("at-1", "fam-1"))
	n1 := b.refresh("rt-n1", "fam-1")
	_, err := f.s.RotateRefreshToken(f.ctx, old.Hash, n1, nil, at(time.Minute))
	mustOK(t, err, "first RotateRefreshToken")
	at2 := f.createAccessToken(t, b.accessTok("at-2", "fam-1"))

	// Another family of the same user and client must stay untouched.
	otherRT := f.createRefreshToken(t, b.refresh("rt-other", "fam-2"))
	otherAT := f.createAccessToken(t, b.accessTok("at-other", "fam-2"))

	reuse := at(2 * time.Minute)
	n2 := b.refresh("rt-n2", "fam-1")
	_, err = f.s.RotateRefreshToken(f.ctx, old.Hash, n2, nil, reuse)
	checkErr(t, err, storage.ErrAlreadyUsed, "RotateRefreshToken of a used token (reuse)")

	if got, err := f.s.GetRefreshToken(f.ctx, n2.Hash); err == nil && got.RevokedAt.IsZero() {
		t.Errorf("reuse stored a live token for the thief (family %q)", got.FamilyID)
	}
	for _, hash := range []string{old.Hash, n1.Hash} {
		checkTime(t, "family refresh token RevokedAt after reuse", reuse, f.refresh(t, hash).RevokedAt)
	}
	for _, a := range []storage.AccessToken{at1, at2} {
		checkTime(t, "family access token "+a.Hash[:6]+" RevokedAt after reuse", reuse, f.access(t, a.Hash).RevokedAt)
	}
	checkEqual(t, "refresh token of another family", otherRT, f.refresh(t, otherRT.Hash))
	checkEqual(t, "access token of another family", otherAT, f.access(t, otherAT.Hash))

	// The legitimate holder of n1 is now locked out too.
	n3 := b.refresh("rt-n3", "fam-1")
	_, err = f.s.RotateRefreshToken(f.ctx, n1.Hash, n3, nil, at(3*time.Minute))
	checkErr(t, err, storage.ErrRevoked, "RotateRefreshToken of a token in a revoked family")
	f.checkNotStored(t, n3.Hash, "rotation of a revoked token")
}

func testRefreshRotateExpired(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	old := f.createRefreshToken(t, b.refresh("rt-old", "fam-1"))
	next := b.refresh("rt-next", "fam-1")
	_, err := f.s.RotateRefreshToken(f.ctx, old.Hash, next, nil, old.ExpiresAt.Add(time.Second))
	checkErr(t, err, storage.ErrExpired, "RotateRefreshToken after ExpiresAt")
	f.checkNotStored(t, next.Hash, "rotation of an expired token")
	checkEqual(t, "expired token after a refused rotation (nothing may be written)", old, f.refresh(t, old.Hash))
}

func testRefreshRotateRevoked(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	for _, c := range []struct {
		name   string
		revoke func(t *testing.T, r storage.RefreshToken)
	}{
		{"by RevokeFamily", func(t *testing.T, r storage.RefreshToken) {
			_, err := f.s.RevokeFamily(f.ctx, r.FamilyID, at(0))
			mustOK(t, err, "RevokeFamily")
		}},
		{"by RevokeUserTokens", func(t *testing.T, r storage.RefreshToken) {
			_, err := f.s.RevokeUserTokens(f.ctx, r.UserID, at(0))
			mustOK(t, err, "RevokeUserTokens")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			old := f.createRefreshToken(t, b.refresh("rt-old-"+c.name, "fam-"+c.name))
			c.revoke(t, old)
			want := f.refresh(t, old.Hash)
			if want.RevokedAt.IsZero() {
				t.Fatalf("token not revoked %s", c.name)
			}
			next := b.refresh("rt-next-"+c.name, "fam-"+c.name)
			_, err := f.s.RotateRefreshToken(f.ctx, old.Hash, next, nil, at(time.Minute))
			checkErr(t, err, storage.ErrRevoked, "RotateRefreshToken of a revoked token")
			f.checkNotStored(t, next.Hash, "rotation of a revoked token")
			checkEqual(t, "revoked token after a refused rotation", want, f.refresh(t, old.Hash))
		})
	}
}

func testRefreshRotateUnknown(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	f.createRefreshToken(t, b.refresh("rt-1", "fam-1"))
	next := b.refresh("rt-next", "fam-1")
	_, err := f.s.RotateRefreshToken(f.ctx, h("no-such-token"), next, nil, at(0))
	checkErr(t, err, storage.ErrNotFound, "RotateRefreshToken of an unknown hash")
	f.checkNotStored(t, next.Hash, "rotation of an unknown token")
}

// testRefreshRotateNextHashTaken: rotation is atomic. When next cannot be
// stored, the old token is not marked used, so the client can retry.
func testRefreshRotateNextHashTaken(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	old := f.createRefreshToken(t, b.refresh("rt-old", "fam-1"))
	taken := f.createRefreshToken(t, b.refresh("rt-taken", "fam-2"))
	next := b.refresh("rt-taken", "fam-1")
	_, err := f.s.RotateRefreshToken(f.ctx, old.Hash, next, nil, at(time.Minute))
	checkErr(t, err, storage.ErrConflict, "RotateRefreshToken with a next hash that is taken")
	checkEqual(t, "old token after a failed rotation (must not be marked used)", old, f.refresh(t, old.Hash))
	checkEqual(t, "token owning the taken hash", taken, f.refresh(t, taken.Hash))

	_, err = f.s.RotateRefreshToken(f.ctx, old.Hash, b.refresh("rt-fresh", "fam-1"), nil, at(2*time.Minute))
	checkOK(t, err, "retrying the rotation with a fresh hash")
}

// testRefreshConcurrentRotate: many concurrent rotations of one token are
// reuse. Exactly one wins; the others see the token used (or, once the
// family is revoked, revoked); the family ends revoked, including the
// winner's new token; no loser's token is left usable.
func testRefreshConcurrentRotate(t *testing.T, f *fixture) {
	b := f.tokenBase(t)
	old := f.createRefreshToken(t, b.refresh("rt-old", "fam-1"))
	acc := f.createAccessToken(t, b.accessTok("at-1", "fam-1"))
	other := f.createRefreshToken(t, b.refresh("rt-other", "fam-2"))
	now := at(time.Minute)

	errs := make([]error, concurrency)
	race(concurrency, func(i int) {
		_, errs[i] = f.s.RotateRefreshToken(f.ctx, old.Hash, b.refresh(fmt.Sprintf("rt-next-%d", i), ""), nil, now)
	})
	o := tally(errs)
	if o.ok != 1 || o.alreadyUsed < 1 || o.alreadyUsed+o.revoked != concurrency-1 {
		t.Fatalf("%d concurrent rotations: %v; want exactly 1 ok and the rest ErrAlreadyUsed (or ErrRevoked), at least one ErrAlreadyUsed",
			concurrency, o)
	}
	for i, err := range errs {
		hash := h(fmt.Sprintf("rt-next-%d", i))
		got, gerr := f.s.GetRefreshToken(f.ctx, hash)
		switch {
		case err == nil:
			if !checkOK(t, gerr, "GetRefreshToken of the winner's next token") {
				continue
			}
			if got.RevokedAt.IsZero() {
				t.Errorf("the winner's next token is still live after concurrent reuse; the family must end revoked")
			}
		case gerr == nil && got.RevokedAt.IsZero():
			t.Errorf("loser %d (err %v) left a live next token", i, err)
		case gerr != nil:
			checkErr(t, gerr, storage.ErrNotFound, fmt.Sprintf("GetRefreshToken of loser %d's next token", i))
		}
	}
	if f.refresh(t, old.Hash).RevokedAt.IsZero() {
		t.Errorf("the reused token is not revoked")
	}
	if f.access(t, acc.Hash).RevokedAt.IsZero() {
		t.Errorf("the family's access token is not revoked")
	}
	checkEqual(t, "refresh token of another family", other, f.refresh(t, other.Hash))
}
