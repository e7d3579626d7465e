package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var oneTimeTokenTests = []testCase{
	{"RoundTrip", testOTTRoundTrip},
	{"Usable", testOTTUsable},
	{"GetDoesNotConsume", testOTTGetDoesNotConsume},
	{"Consume", testOTTConsume},
	{"SecondConsumeIsAlreadyUsed", testOTTSecondConsume},
	{"Expired", testOTTExpired},
	{"UnknownOrWrongPurpose", testOTTUnknown},
	{"NewerVoidsOlder", testOTTNewerVoidsOlder},
	{"CreateConflict", testOTTCreateConflict},
	{"ConcurrentConsumeOnce", testOTTConcurrentConsume},
}

func testOTTRoundTrip(t *testing.T, f *fixture) {
	b := f.base(t)
	r := f.createAuthRequest(t, newAuthRequest("ar-1", b.client.ID))
	bound := newOneTimeToken(h("email-code"), storage.PurposeEmailVerify, b.user.ID)
	bound.AuthRequestID = r.ID
	for _, o := range []storage.OneTimeToken{
		newOneTimeToken(h("reset"), storage.PurposePasswordReset, b.user.ID),
		newOneTimeToken(h("invite"), storage.PurposeInvite, b.user.ID),
		bound,
	} {
		f.createOneTimeToken(t, o)
		got, err := f.s.GetOneTimeToken(f.ctx, o.Purpose, o.Hash)
		if checkOK(t, err, "GetOneTimeToken "+o.Purpose) {
			checkEqual(t, "GetOneTimeToken "+o.Purpose, o, got)
			if !got.ConsumedAt.IsZero() {
				t.Errorf("fresh token ConsumedAt = %s, want zero", fmtTime(got.ConsumedAt))
			}
		}
	}
}

func testOTTUsable(t *testing.T, f *fixture) {
	b := f.base(t)
	o := f.createOneTimeToken(t, newOneTimeToken(h("reset"), storage.PurposePasswordReset, b.user.ID))
	got, err := f.s.GetOneTimeToken(f.ctx, o.Purpose, o.Hash)
	mustOK(t, err, "GetOneTimeToken")
	for _, c := range []struct {
		name string
		now  time.Time
		want bool
	}{
		{"before expiry", o.ExpiresAt.Add(-time.Microsecond), true},
		{"at expiry", o.ExpiresAt, false},
		{"after expiry", o.ExpiresAt.Add(time.Second), false},
	} {
		if u := got.Usable(c.now); u != c.want {
			t.Errorf("stored token Usable %s = %v, want %v", c.name, u, c.want)
		}
	}
	_, err = f.s.ConsumeOneTimeToken(f.ctx, o.Purpose, o.Hash, at(0))
	mustOK(t, err, "ConsumeOneTimeToken")
	got, err = f.s.GetOneTimeToken(f.ctx, o.Purpose, o.Hash)
	mustOK(t, err, "GetOneTimeToken after consume")
	if got.Usable(at(time.Second)) {
		t.Errorf("consumed token is still Usable (ConsumedAt %s)", fmtTime(got.ConsumedAt))
	}
}

func testOTTGetDoesNotConsume(t *testing.T, f *fixture) {
	b := f.base(t)
	o := f.createOneTimeToken(t, newOneTimeToken(h("reset"), storage.PurposePasswordReset, b.user.ID))
	for i := range 3 {
		got, err := f.s.GetOneTimeToken(f.ctx, o.Purpose, o.Hash)
		if checkOK(t, err, fmt.Sprintf("GetOneTimeToken %d", i+1)) {
			checkEqual(t, "token after opening the link", o, got)
		}
	}
	_, err := f.s.ConsumeOneTimeToken(f.ctx, o.Purpose, o.Hash, at(0))
	checkOK(t, err, "ConsumeOneTimeToken after three Gets")
}

func testOTTConsume(t *testing.T, f *fixture) {
	b := f.base(t)
	o := f.createOneTimeToken(t, newOneTimeToken(h("reset"), storage.PurposePasswordReset, b.user.ID))
	other := f.createOneTimeToken(t, newOneTimeToken(h("invite"), storage.PurposeInvite, b.user.ID))
	now := at(time.Minute)
	got, err := f.s.ConsumeOneTimeToken(f.ctx, o.Purpose, o.Hash, now)
	mustOK(t, err, "ConsumeOneTimeToken")
	want := o
	want.ConsumedAt = now
	checkEqual(t, "ConsumeOneTimeToken result (the token, marked used at now)", want, got)
	got, err = f.s.GetOneTimeToken(f.ctx, o.Purpose, o.Hash)
	if checkOK(t, err, "GetOneTimeToken of a consumed token") {
		checkEqual(t, "stored token after consume", want, got)
	}
	got, err = f.s.GetOneTimeToken(f.ctx, other.Purpose, other.Hash)
	if checkOK(t, err, "GetOneTimeToken of another token") {
		checkEqual(t, "another token of the same user", other, got)
	}
}

func testOTTSecondConsume(t *testing.T, f *fixture) {
	b := f.base(t)
	o := f.createOneTimeToken(t, newOneTimeToken(h("reset"), storage.PurposePasswordReset, b.user.ID))
	first := at(time.Minute)
	_, err := f.s.ConsumeOneTimeToken(f.ctx, o.Purpose, o.Hash, first)
	mustOK(t, err, "first ConsumeOneTimeToken")
	_, err = f.s.ConsumeOneTimeToken(f.ctx, o.Purpose, o.Hash, at(2*time.Minute))
	checkErr(t, err, storage.ErrAlreadyUsed, "second ConsumeOneTimeToken")
	got, err := f.s.GetOneTimeToken(f.ctx, o.Purpose, o.Hash)
	if checkOK(t, err, "GetOneTimeToken") {
		checkTime(t, "ConsumedAt after a refused second consume", first, got.ConsumedAt)
	}
}

func testOTTExpired(t *testing.T, f *fixture) {
	b := f.base(t)
	for _, c := range []struct {
		name string
		now  func(storage.OneTimeToken) time.Time
	}{
		// Usable defines the boundary: at ExpiresAt the token is no
		// longer usable.
		{"at ExpiresAt", func(o storage.OneTimeToken) time.Time { return o.ExpiresAt }},
		{"after ExpiresAt", func(o storage.OneTimeToken) time.Time { return o.ExpiresAt.Add(time.Second) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := f.createOneTimeToken(t, newOneTimeToken(h("token-"+c.name), storage.PurposeInvite, b.user.ID))
			_, err := f.s.ConsumeOneTimeToken(f.ctx, o.Purpose, o.Hash, c.now(o))
			checkErr(t, err, storage.ErrExpired, "ConsumeOneTimeToken "+c.name)
			got, err := f.s.GetOneTimeToken(f.ctx, o.Purpose, o.Hash)
			if checkOK(t, err, "GetOneTimeToken of an expired token") && !got.ConsumedAt.IsZero() {
				t.Errorf("a refused (expired) consume marked the token consumed at %s", fmtTime(got.ConsumedAt))
			}
		})
	}
}

func testOTTUnknown(t *testing.T, f *fixture) {
	b := f.base(t)
	o := f.createOneTimeToken(t, newOneTimeToken(h("reset"), storage.PurposePasswordReset, b.user.ID))
	_, err := f.s.GetOneTimeToken(f.ctx, o.Purpose, h("missing"))
	checkErr(t, err, storage.ErrNotFound, "GetOneTimeToken of an unknown hash")
	_, err = f.s.ConsumeOneTimeToken(f.ctx, o.Purpose, h("missing"), at(0))
	checkErr(t, err, storage.ErrNotFound, "ConsumeOneTimeToken of an unknown hash")
	// A reset token is not an invite token.
	_, err = f.s.GetOneTimeToken(f.ctx, storage.PurposeInvite, o.Hash)
	checkErr(t, err, storage.ErrNotFound, "GetOneTimeToken with another purpose")
	_, err = f.s.ConsumeOneTimeToken(f.ctx, storage.PurposeInvite, o.Hash, at(0))
	checkErr(t, err, storage.ErrNotFound, "ConsumeOneTimeToken with another purpose")
	got, err := f.s.GetOneTimeToken(f.ctx, o.Purpose, o.Hash)
	if checkOK(t, err, "GetOneTimeToken with the right purpose") {
		checkEqual(t, "token after attempts with another purpose", o, got)
	}
}

func testOTTNewerVoidsOlder(t *testing.T, f *fixture) {
	b := f.base(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	alice := b.user.ID
	reset := storage.PurposePasswordReset

	// A consumed token of the same user and purpose stays: it is history,
	// not a live link.
	consumed := f.createOneTimeToken(t, newOneTimeToken(h("old-consumed"), reset, alice))
	_, err := f.s.ConsumeOneTimeToken(f.ctx, reset, consumed.Hash, at(0))
	mustOK(t, err, "ConsumeOneTimeToken")
	consumed.ConsumedAt = at(0)
	older := f.createOneTimeToken(t, newOneTimeToken(h("old"), reset, alice))
	got, err := f.s.GetOneTimeToken(f.ctx, reset, consumed.Hash)
	if checkOK(t, err, "consumed token after creating another") {
		checkEqual(t, "consumed token after creating another", consumed, got)
	}
	invite := f.createOneTimeToken(t, newOneTimeToken(h("invite"), storage.PurposeInvite, alice))
	bobs := f.createOneTimeToken(t, newOneTimeToken(h("bob-reset"), reset, bob.ID))
	if _, err := f.s.GetOneTimeToken(f.ctx, reset, older.Hash); err != nil {
		t.Fatalf("older token gone before the newer one was created: %v", err)
	}

	newer := newOneTimeToken(h("new"), reset, alice)
	newer.CreatedAt = at(time.Minute)
	f.createOneTimeToken(t, newer)

	for _, c := range []struct {
		name string
		tok  storage.OneTimeToken
		kept bool
	}{
		{"older unconsumed token of the same user and purpose", older, false},
		{"consumed token of the same user and purpose", consumed, true},
		{"token of the same user with another purpose", invite, true},
		{"token of another user with the same purpose", bobs, true},
		{"the newer token", newer, true},
	} {
		got, err := f.s.GetOneTimeToken(f.ctx, c.tok.Purpose, c.tok.Hash)
		if !c.kept {
			checkErr(t, err, storage.ErrNotFound, c.name+" (voided)")
			_, err = f.s.ConsumeOneTimeToken(f.ctx, c.tok.Purpose, c.tok.Hash, at(2*time.Minute))
			checkErr(t, err, storage.ErrNotFound, "consuming the "+c.name)
			continue
		}
		if checkOK(t, err, c.name+" (kept)") {
			checkEqual(t, c.name, c.tok, got)
		}
	}
	_, err = f.s.ConsumeOneTimeToken(f.ctx, reset, newer.Hash, at(2*time.Minute))
	checkOK(t, err, "consuming the newer token")
}

func testOTTCreateConflict(t *testing.T, f *fixture) {
	b := f.base(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	o := f.createOneTimeToken(t, newOneTimeToken(h("reset"), storage.PurposePasswordReset, b.user.ID))
	dup := newOneTimeToken(h("reset"), storage.PurposePasswordReset, bob.ID)
	checkErr(t, f.s.CreateOneTimeToken(f.ctx, dup), storage.ErrConflict, "CreateOneTimeToken with a taken hash (other user)")
	got, err := f.s.GetOneTimeToken(f.ctx, o.Purpose, o.Hash)
	if checkOK(t, err, "GetOneTimeToken") {
		checkEqual(t, "token after a conflicting create", o, got)
	}
}

func testOTTConcurrentConsume(t *testing.T, f *fixture) {
	b := f.base(t)
	o := f.createOneTimeToken(t, newOneTimeToken(h("reset"), storage.PurposePasswordReset, b.user.ID))
	errs := make([]error, concurrency)
	race(concurrency, func(i int) {
		_, errs[i] = f.s.ConsumeOneTimeToken(f.ctx, o.Purpose, o.Hash, at(time.Second))
	})
	if r := tally(errs); r.ok != 1 || r.alreadyUsed != concurrency-1 {
		t.Fatalf("%d concurrent ConsumeOneTimeToken: %v; want exactly 1 ok and %d ErrAlreadyUsed", concurrency, r, concurrency-1)
	}
	got, err := f.s.GetOneTimeToken(f.ctx, o.Purpose, o.Hash)
	if checkOK(t, err, "GetOneTimeToken") {
		checkTime(t, "ConsumedAt", at(time.Second), got.ConsumedAt)
	}
}
