package storagetest

import (
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var authCodeTests = []testCase{
	{"ConsumeReturnsCode", testAuthCodeConsume},
	{"SecondConsumeIsAlreadyUsed", testAuthCodeSecondConsume},
	{"Expired", testAuthCodeExpired},
	{"Unknown", testAuthCodeUnknown},
	{"CreateConflict", testAuthCodeCreateConflict},
	{"ConcurrentConsumeOnce", testAuthCodeConcurrentConsume},
}

// codeFixture creates the rows a code references and returns a code that is
// not yet created.
func (f *fixture) codeFixture(t *testing.T, name string) storage.AuthCode {
	t.Helper()
	b := f.base(t)
	r := f.createAuthRequest(t, newAuthRequest("ar-1", b.client.ID))
	return newAuthCode(h(name), r.ID, b.client.ID, "grant-"+name)
}

func testAuthCodeConsume(t *testing.T, f *fixture) {
	c := f.createAuthCode(t, f.codeFixture(t, "code-1"))
	other := f.createAuthCode(t, newAuthCode(h("code-2"), c.AuthRequestID, c.ClientID, "grant-2"))

	now := at(5 * time.Second)
	got, err := f.s.ConsumeAuthCode(f.ctx, c.Hash, now)
	mustOK(t, err, "ConsumeAuthCode")
	want := c
	want.ConsumedAt = now
	checkEqual(t, "ConsumeAuthCode result (the code, marked used at now)", want, got)

	// Consuming one code leaves another alone.
	got, err = f.s.ConsumeAuthCode(f.ctx, other.Hash, now)
	if checkOK(t, err, "ConsumeAuthCode of a second code") && got.GrantID != other.GrantID {
		t.Errorf("second code GrantID = %q, want %q", got.GrantID, other.GrantID)
	}
}

func testAuthCodeSecondConsume(t *testing.T, f *fixture) {
	c := f.createAuthCode(t, f.codeFixture(t, "code-1"))
	first := at(5 * time.Second)
	_, err := f.s.ConsumeAuthCode(f.ctx, c.Hash, first)
	mustOK(t, err, "first ConsumeAuthCode")

	for i, now := range []time.Time{at(6 * time.Second), at(7 * time.Second)} {
		got, err := f.s.ConsumeAuthCode(f.ctx, c.Hash, now)
		if !checkErr(t, err, storage.ErrAlreadyUsed, "repeated ConsumeAuthCode") {
			continue
		}
		// The caller revokes got.GrantID: the stored code must come back.
		want := c
		want.ConsumedAt = first
		if d := diff(want, got); len(d) > 0 {
			t.Errorf("consume %d: code returned with ErrAlreadyUsed differs from the stored code:\n  %s", i+2, joinLines(d))
		}
	}
}

func testAuthCodeExpired(t *testing.T, f *fixture) {
	c := f.createAuthCode(t, f.codeFixture(t, "code-1"))
	_, err := f.s.ConsumeAuthCode(f.ctx, c.Hash, c.ExpiresAt.Add(time.Second))
	checkErr(t, err, storage.ErrExpired, "ConsumeAuthCode after ExpiresAt")
	_, err = f.s.ConsumeAuthCode(f.ctx, c.Hash, c.ExpiresAt.Add(time.Hour))
	checkErr(t, err, storage.ErrExpired, "ConsumeAuthCode long after ExpiresAt")
}

func testAuthCodeUnknown(t *testing.T, f *fixture) {
	f.createAuthCode(t, f.codeFixture(t, "code-1"))
	_, err := f.s.ConsumeAuthCode(f.ctx, h("no-such-code"), at(0))
	checkErr(t, err, storage.ErrNotFound, "ConsumeAuthCode of an unknown hash")
}

func testAuthCodeCreateConflict(t *testing.T, f *fixture) {
	c := f.createAuthCode(t, f.codeFixture(t, "code-1"))
	dup := c
	dup.GrantID = "attacker-grant"
	dup.ExpiresAt = at(time.Hour)
	checkErr(t, f.s.CreateAuthCode(f.ctx, dup), storage.ErrConflict, "CreateAuthCode with a taken hash")
	got, err := f.s.ConsumeAuthCode(f.ctx, c.Hash, at(0))
	if checkOK(t, err, "ConsumeAuthCode of the original") {
		want := c
		want.ConsumedAt = at(0)
		checkEqual(t, "original code after a conflicting create", want, got)
	}
}

func testAuthCodeConcurrentConsume(t *testing.T, f *fixture) {
	c := f.createAuthCode(t, f.codeFixture(t, "code-1"))
	now := at(time.Second)
	errs := make([]error, concurrency)
	codes := make([]storage.AuthCode, concurrency)
	race(concurrency, func(i int) {
		codes[i], errs[i] = f.s.ConsumeAuthCode(f.ctx, c.Hash, now)
	})
	o := tally(errs)
	if o.ok != 1 || o.alreadyUsed != concurrency-1 {
		t.Fatalf("%d concurrent ConsumeAuthCode: %v; want exactly 1 ok and %d ErrAlreadyUsed", concurrency, o, concurrency-1)
	}
	for i, err := range errs {
		if codes[i].GrantID != c.GrantID {
			t.Errorf("caller %d (err %v) got GrantID %q, want %q", i, err, codes[i].GrantID, c.GrantID)
		}
	}
}
