package storagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Second factors (storage.Factors): one row shape for every method, and
// the single-use rules (a TOTP step, a recovery code, a confirmation) that
// must hold however many instances share the database.
var factorTests = []testCase{
	{"RoundTrip", testFactorRoundTrip},
	{"ListOldestFirst", testFactorList},
	{"UnknownUserIsConflict", testFactorUnknownUser},
	{"DuplicateIDIsConflict", testFactorDuplicate},
	{"ConfirmMakesUsable", testFactorConfirm},
	{"ConfirmReplaces", testFactorConfirmReplaces},
	{"ConfirmRefusals", testFactorConfirmRefusals},
	{"ConcurrentConfirmsOneWins", testFactorConfirmConcurrent},
	{"UseStep", testFactorUseStep},
	{"ConcurrentSameStepOneWins", testFactorUseStepConcurrent},
	{"RecoveryCodeSingleUse", testFactorRecovery},
	{"ConcurrentRecoveryOneWins", testFactorRecoveryConcurrent},
	{"ReplaceRecoveryCodes", testFactorReplaceRecovery},
	{"ConcurrentReplacesLeaveOneSet", testFactorReplaceConcurrent},
	{"ReplaceRefusesUnusableCodes", testFactorReplaceRefuses},
	{"Touch", testFactorTouch},
	{"SetData", testFactorSetData},
	{"LookupFinds", testFactorLookup},
	{"LookupUniquePerKind", testFactorLookupUnique},
	{"Delete", testFactorDelete},
	{"DeleteUserFactors", testFactorDeleteUser},
	{"DeleteUserCascades", testFactorCascade},
	{"DeleteExpired", testFactorDeleteExpired},
	{"InAUnit", testFactorUnit},
	{"ZeroNowRefused", testFactorZeroNow},
	{"Unavailable", testFactorUnavailable},
}

// newFactor returns a confirmed TOTP factor with every field set.
func newFactor(id, userID string) storage.Factor {
	return storage.Factor{
		ID:          id,
		UserID:      userID,
		Kind:        storage.FactorTOTP,
		Label:       "Phone – Ünïcode ✓ " + id,
		Secret:      []byte("sealed-seed-" + id + "\x00\xff\x01"),
		Address:     "alice+" + id + "@acme.example",
		Data:        []byte(`{"algorithm":"SHA1","digits":6}`),
		ConfirmedAt: at(-20 * time.Hour),
		LastStep:    63_000_000,
		LastUsedAt:  at(-time.Hour),
		CreatedAt:   at(-21 * time.Hour),
	}
}

// pendingFactor is an enrolment not confirmed yet, ending in ten minutes.
func pendingFactor(id, userID string) storage.Factor {
	f := newFactor(id, userID)
	f.ConfirmedAt, f.LastStep, f.LastUsedAt = time.Time{}, 0, time.Time{}
	f.CreatedAt, f.ExpiresAt = at(-time.Minute), at(10*time.Minute)
	return f
}

// recoveryCode is a confirmed recovery code whose Secret is the hash of
// name.
func recoveryCode(id, userID, name string) storage.Factor {
	return storage.Factor{
		ID: id, UserID: userID, Kind: storage.FactorRecovery, Label: "Recovery code",
		Secret: []byte(h(name)), ConfirmedAt: at(-time.Hour), CreatedAt: at(-time.Hour),
	}
}

func (f *fixture) createFactor(t *testing.T, v storage.Factor) storage.Factor {
	t.Helper()
	mustOK(t, f.s.CreateFactor(f.ctx, v), "CreateFactor "+v.ID)
	return v
}

func (f *fixture) factor(t *testing.T, id string) storage.Factor {
	t.Helper()
	v, err := f.s.GetFactor(f.ctx, id)
	mustOK(t, err, "GetFactor "+id)
	return v
}

// checkFactorIDs reports unless the user's listed factors at now are ids,
// in that order.
func (f *fixture) checkFactorIDs(t *testing.T, what, userID string, now time.Time, ids ...string) {
	t.Helper()
	list, err := f.s.ListFactors(f.ctx, userID, now)
	if !checkOK(t, err, what+": ListFactors") {
		return
	}
	got := make([]string, len(list))
	for i, v := range list {
		got[i] = v.ID
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) && !(len(got) == 0 && len(ids) == 0) {
		t.Errorf("%s: ListFactors = %v, want %v", what, got, ids)
	}
}

func testFactorRoundTrip(t *testing.T, f *fixture) {
	b := f.base(t)
	for _, v := range []storage.Factor{
		newFactor("f-full", b.user.ID),
		pendingFactor("f-pending", b.user.ID),
		{ID: "f-bare", UserID: b.user.ID, Kind: storage.FactorEmail, CreatedAt: at(0)}, // no secret, no data
	} {
		f.createFactor(t, v)
		checkEqual(t, "factor "+v.ID, v, f.factor(t, v.ID))
	}
	_, err := f.s.GetFactor(f.ctx, "f-none")
	checkErr(t, err, storage.ErrNotFound, "GetFactor of an unknown id")
}

// testFactorList: oldest first whatever the insertion order, confirmed and
// pending alike, an expired enrolment left out, only the user's own.
func testFactorList(t *testing.T, f *fixture) {
	b := f.base(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	f.checkFactorIDs(t, "no factors", b.user.ID, at(0))
	mid := newFactor("f-mid", b.user.ID)
	mid.CreatedAt = at(-10 * time.Hour)
	old := newFactor("f-old", b.user.ID)
	old.CreatedAt = at(-30 * time.Hour)
	pending := pendingFactor("f-new", b.user.ID)
	expired := pendingFactor("f-expired", b.user.ID)
	expired.CreatedAt, expired.ExpiresAt = at(-40*time.Hour), at(-39*time.Hour)
	for _, v := range []storage.Factor{mid, pending, old, expired, newFactor("f-bob", bob.ID)} {
		f.createFactor(t, v)
	}
	f.checkFactorIDs(t, "three factors", b.user.ID, at(0), "f-old", "f-mid", "f-new")
	f.checkFactorIDs(t, "at the enrolment's end", b.user.ID, pending.ExpiresAt, "f-old", "f-mid")
	f.checkFactorIDs(t, "bob's", bob.ID, at(0), "f-bob")
	list, err := f.s.ListFactors(f.ctx, b.user.ID, at(0))
	if checkOK(t, err, "ListFactors") && len(list) == 3 {
		checkEqual(t, "listed factor", old, list[0])
	}
}

func testFactorUnknownUser(t *testing.T, f *fixture) {
	f.base(t)
	for _, user := range []string{"user-none", ""} {
		checkErr(t, f.s.CreateFactor(f.ctx, newFactor("f-1", user)), storage.ErrConflict, fmt.Sprintf("CreateFactor for user %q", user))
	}
	_, err := f.s.GetFactor(f.ctx, "f-1")
	checkErr(t, err, storage.ErrNotFound, "GetFactor after refused creates")
}

func testFactorDuplicate(t *testing.T, f *fixture) {
	b := f.base(t)
	first := f.createFactor(t, newFactor("f-1", b.user.ID))
	again := newFactor("f-1", b.user.ID)
	again.Label = "other"
	checkErr(t, f.s.CreateFactor(f.ctx, again), storage.ErrConflict, "CreateFactor with a taken id")
	checkEqual(t, "factor after a refused duplicate", first, f.factor(t, "f-1"))
}

// testFactorConfirm: an unconfirmed factor proves nothing until confirmed;
// confirmation sets ConfirmedAt and clears ExpiresAt, so it no longer
// expires.
func testFactorConfirm(t *testing.T, f *fixture) {
	b := f.base(t)
	p := f.createFactor(t, pendingFactor("f-new", b.user.ID))
	_, err := f.s.UseFactorStep(f.ctx, p.ID, 100, at(0))
	checkErr(t, err, storage.ErrNotFound, "UseFactorStep of an unconfirmed factor")
	got, err := f.s.ConfirmFactor(f.ctx, p.ID, at(time.Minute))
	mustOK(t, err, "ConfirmFactor")
	want := p
	want.ConfirmedAt, want.ExpiresAt = at(time.Minute), time.Time{}
	checkEqual(t, "ConfirmFactor's factor", want, got)
	checkEqual(t, "confirmed factor", want, f.factor(t, p.ID))
	f.checkFactorIDs(t, "long after the enrolment's end", b.user.ID, at(24*time.Hour), p.ID)
	_, err = f.s.UseFactorStep(f.ctx, p.ID, 100, at(2*time.Minute))
	checkOK(t, err, "UseFactorStep of the confirmed factor")
}

// testFactorConfirmReplaces: a TOTP reset deletes the old factor only with
// the new one's confirmation; another user's factor named in replace, and
// an id already gone, are left alone.
func testFactorConfirmReplaces(t *testing.T, f *fixture) {
	b := f.base(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	f.createFactor(t, newFactor("f-old", b.user.ID))
	keep := newFactor("f-keep", b.user.ID)
	keep.CreatedAt = at(-2 * time.Hour)
	f.createFactor(t, keep)
	f.createFactor(t, newFactor("f-bob", bob.ID))
	p := f.createFactor(t, pendingFactor("f-new", b.user.ID))
	f.checkFactorIDs(t, "before confirming", b.user.ID, at(0), "f-old", "f-keep", "f-new")

	_, err := f.s.ConfirmFactor(f.ctx, p.ID, at(time.Minute), "f-old", "f-bob", "f-gone", p.ID)
	mustOK(t, err, "ConfirmFactor with replace")
	f.checkFactorIDs(t, "after confirming", b.user.ID, at(time.Minute), "f-keep", "f-new")
	f.checkFactorIDs(t, "bob's after alice's confirmation", bob.ID, at(time.Minute), "f-bob")

	// A confirmation that is refused deletes nothing.
	_, err = f.s.ConfirmFactor(f.ctx, p.ID, at(2*time.Minute), "f-keep")
	checkErr(t, err, storage.ErrAlreadyUsed, "ConfirmFactor again")
	f.checkFactorIDs(t, "after a refused confirmation", b.user.ID, at(2*time.Minute), "f-keep", "f-new")
}

func testFactorConfirmRefusals(t *testing.T, f *fixture) {
	b := f.base(t)
	f.createFactor(t, newFactor("f-old", b.user.ID))
	p := f.createFactor(t, pendingFactor("f-new", b.user.ID))
	for _, c := range []struct {
		name string
		id   string
		now  time.Time
		want error
	}{
		{"unknown", "f-none", at(0), storage.ErrNotFound},
		{"at its end", p.ID, p.ExpiresAt, storage.ErrNotFound},
		{"after its end", p.ID, p.ExpiresAt.Add(time.Hour), storage.ErrNotFound},
		{"confirmed", "f-old", at(0), storage.ErrAlreadyUsed},
	} {
		_, err := f.s.ConfirmFactor(f.ctx, c.id, c.now, "f-old")
		checkErr(t, err, c.want, "ConfirmFactor "+c.name)
	}
	f.checkFactorIDs(t, "after refused confirmations", b.user.ID, at(0), "f-old", "f-new")
	if got := f.factor(t, p.ID); !got.ConfirmedAt.IsZero() {
		t.Errorf("expired enrolment confirmed at %s", fmtTime(got.ConfirmedAt))
	}
	// Without an end, an enrolment can be confirmed at any time.
	open := pendingFactor("f-open", b.user.ID)
	open.ExpiresAt = time.Time{}
	f.createFactor(t, open)
	_, err := f.s.ConfirmFactor(f.ctx, open.ID, at(1000*time.Hour))
	checkOK(t, err, "ConfirmFactor of an enrolment without an end")
}

func testFactorConfirmConcurrent(t *testing.T, f *fixture) {
	b := f.base(t)
	p := f.createFactor(t, pendingFactor("f-new", b.user.ID))
	errs := make([]error, concurrency)
	race(concurrency, func(i int) { _, errs[i] = f.s.ConfirmFactor(f.ctx, p.ID, at(time.Minute)) })
	if o := tally(errs); o.ok != 1 || o.alreadyUsed != concurrency-1 {
		t.Errorf("%d concurrent ConfirmFactor: %s; want 1 ok, the rest ErrAlreadyUsed", concurrency, o)
	}
}

// testFactorUseStep: a step is accepted once and only above the last one;
// a refused step changes nothing.
func testFactorUseStep(t *testing.T, f *fixture) {
	b := f.base(t)
	v := f.createFactor(t, newFactor("f-1", b.user.ID))
	for i, c := range []struct {
		step int64
		want error
	}{
		{v.LastStep, storage.ErrAlreadyUsed},
		{v.LastStep - 1, storage.ErrAlreadyUsed},
		{v.LastStep + 1, nil},
		{v.LastStep + 1, storage.ErrAlreadyUsed},
		{v.LastStep + 3, nil},
		{v.LastStep + 2, storage.ErrAlreadyUsed},
		{v.LastStep + 4, nil},
	} {
		now := at(time.Duration(i) * time.Minute)
		before := f.factor(t, v.ID)
		got, err := f.s.UseFactorStep(f.ctx, v.ID, c.step, now)
		what := fmt.Sprintf("UseFactorStep(%d) after %d", c.step, before.LastStep)
		if c.want != nil {
			checkErr(t, err, c.want, what)
			checkEqual(t, what+": factor", before, f.factor(t, v.ID))
			continue
		}
		if !checkOK(t, err, what) {
			continue
		}
		want := before
		want.LastStep, want.LastUsedAt = c.step, now
		checkEqual(t, what+": returned", want, got)
		checkEqual(t, what+": stored", want, f.factor(t, v.ID))
	}
	_, err := f.s.UseFactorStep(f.ctx, "f-none", v.LastStep+10, at(0))
	checkErr(t, err, storage.ErrNotFound, "UseFactorStep of an unknown factor")
}

// testFactorUseStepConcurrent: one code submitted twenty times at once is
// accepted once; a later step is accepted after it.
func testFactorUseStepConcurrent(t *testing.T, f *fixture) {
	b := f.base(t)
	v := f.createFactor(t, newFactor("f-1", b.user.ID))
	step := v.LastStep + 1
	errs := make([]error, concurrency)
	race(concurrency, func(i int) { _, errs[i] = f.s.UseFactorStep(f.ctx, v.ID, step, at(time.Second)) })
	if o := tally(errs); o.ok != 1 || o.alreadyUsed != concurrency-1 {
		t.Errorf("%d concurrent UseFactorStep(%d): %s; want 1 ok, the rest ErrAlreadyUsed", concurrency, step, o)
	}
	if got := f.factor(t, v.ID); got.LastStep != step {
		t.Errorf("LastStep after the race = %d, want %d", got.LastStep, step)
	}
	_, err := f.s.UseFactorStep(f.ctx, v.ID, step+1, at(time.Minute))
	checkOK(t, err, "UseFactorStep of the next step")
}

// testFactorRecovery: a code is consumed once, only by its user, only when
// confirmed; the row is kept, marked used.
func testFactorRecovery(t *testing.T, f *fixture) {
	b := f.base(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	mustOK(t, f.s.ReplaceRecoveryCodes(f.ctx, b.user.ID, []storage.Factor{
		recoveryCode("rc-1", b.user.ID, "code-1"), recoveryCode("rc-2", b.user.ID, "code-2"),
	}), "ReplaceRecoveryCodes")
	totp := newFactor("f-totp", b.user.ID)
	totp.Secret = []byte(h("code-3")) // a TOTP factor is no recovery code
	f.createFactor(t, totp)
	unconfirmed := recoveryCode("rc-pending", b.user.ID, "code-4")
	unconfirmed.ConfirmedAt = time.Time{}
	f.createFactor(t, unconfirmed)

	got, err := f.s.ConsumeRecoveryCode(f.ctx, b.user.ID, []byte(h("code-1")), at(time.Minute))
	if checkOK(t, err, "ConsumeRecoveryCode") {
		want := recoveryCode("rc-1", b.user.ID, "code-1")
		want.LastUsedAt = at(time.Minute)
		checkEqual(t, "consumed code", want, got)
		checkEqual(t, "stored consumed code", want, f.factor(t, "rc-1"))
	}
	for _, c := range []struct {
		name, user, code string
		want             error
	}{
		{"again", b.user.ID, "code-1", storage.ErrAlreadyUsed},
		{"by another user", bob.ID, "code-2", storage.ErrNotFound},
		{"unknown", b.user.ID, "code-x", storage.ErrNotFound},
		{"a TOTP secret", b.user.ID, "code-3", storage.ErrNotFound},
		{"unconfirmed", b.user.ID, "code-4", storage.ErrNotFound},
	} {
		_, err := f.s.ConsumeRecoveryCode(f.ctx, c.user, []byte(h(c.code)), at(2*time.Minute))
		checkErr(t, err, c.want, "ConsumeRecoveryCode "+c.name)
	}
	for _, hash := range [][]byte{nil, {}} {
		_, err := f.s.ConsumeRecoveryCode(f.ctx, b.user.ID, hash, at(2*time.Minute))
		checkErr(t, err, storage.ErrNotFound, "ConsumeRecoveryCode with an empty hash")
	}
	_, err = f.s.ConsumeRecoveryCode(f.ctx, b.user.ID, []byte(h("code-2")), at(3*time.Minute))
	checkOK(t, err, "ConsumeRecoveryCode of the other code")
}

func testFactorRecoveryConcurrent(t *testing.T, f *fixture) {
	b := f.base(t)
	mustOK(t, f.s.ReplaceRecoveryCodes(f.ctx, b.user.ID, []storage.Factor{recoveryCode("rc-1", b.user.ID, "code-1")}),
		"ReplaceRecoveryCodes")
	errs := make([]error, concurrency)
	race(concurrency, func(i int) {
		_, errs[i] = f.s.ConsumeRecoveryCode(f.ctx, b.user.ID, []byte(h("code-1")), at(time.Second))
	})
	if o := tally(errs); o.ok != 1 || o.alreadyUsed != concurrency-1 {
		t.Errorf("%d concurrent ConsumeRecoveryCode: %s; want 1 ok, the rest ErrAlreadyUsed", concurrency, o)
	}
}

// testFactorReplaceRecovery: a new set voids the old one, used codes too,
// and leaves the user's other factors and other users' codes; UserID and
// Kind are the call's.
func testFactorReplaceRecovery(t *testing.T, f *fixture) {
	b := f.base(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	f.createFactor(t, newFactor("f-totp", b.user.ID))
	mustOK(t, f.s.ReplaceRecoveryCodes(f.ctx, bob.ID, []storage.Factor{recoveryCode("rc-bob", bob.ID, "bob-1")}), "ReplaceRecoveryCodes bob")
	mustOK(t, f.s.ReplaceRecoveryCodes(f.ctx, b.user.ID, []storage.Factor{
		recoveryCode("rc-1", b.user.ID, "old-1"), recoveryCode("rc-2", b.user.ID, "old-2"),
	}), "ReplaceRecoveryCodes")
	_, err := f.s.ConsumeRecoveryCode(f.ctx, b.user.ID, []byte(h("old-1")), at(0))
	mustOK(t, err, "ConsumeRecoveryCode")

	mislabelled := recoveryCode("rc-new-2", "user-other", "new-2")
	mislabelled.Kind = storage.FactorTOTP
	mustOK(t, f.s.ReplaceRecoveryCodes(f.ctx, b.user.ID, []storage.Factor{recoveryCode("rc-new-1", b.user.ID, "new-1"), mislabelled}),
		"ReplaceRecoveryCodes again")
	f.checkFactorIDs(t, "after the new set", b.user.ID, at(0), "f-totp", "rc-new-1", "rc-new-2")
	if got := f.factor(t, "rc-new-2"); got.UserID != b.user.ID || got.Kind != storage.FactorRecovery {
		t.Errorf("stored code has user %q kind %q, want %q %q", got.UserID, got.Kind, b.user.ID, storage.FactorRecovery)
	}
	for _, old := range []string{"old-1", "old-2"} {
		_, err := f.s.ConsumeRecoveryCode(f.ctx, b.user.ID, []byte(h(old)), at(time.Minute))
		checkErr(t, err, storage.ErrNotFound, "ConsumeRecoveryCode of a voided code "+old)
	}
	_, err = f.s.ConsumeRecoveryCode(f.ctx, b.user.ID, []byte(h("new-2")), at(time.Minute))
	checkOK(t, err, "ConsumeRecoveryCode of a new code")
	f.checkFactorIDs(t, "bob's", bob.ID, at(0), "rc-bob")

	// An empty set voids all; a user that does not exist cannot get one.
	mustOK(t, f.s.ReplaceRecoveryCodes(f.ctx, b.user.ID, nil), "ReplaceRecoveryCodes with none")
	f.checkFactorIDs(t, "after an empty set", b.user.ID, at(0), "f-totp")
	err = f.s.ReplaceRecoveryCodes(f.ctx, "user-none", []storage.Factor{recoveryCode("rc-x", "user-none", "x")})
	checkErr(t, err, storage.ErrConflict, "ReplaceRecoveryCodes for an unknown user")
}

// testFactorReplaceConcurrent: concurrent regenerations leave exactly one
// whole set, never the union.
func testFactorReplaceConcurrent(t *testing.T, f *fixture) {
	b := f.base(t)
	const n, size = 10, 3
	errs := make([]error, n)
	race(n, func(i int) {
		var codes []storage.Factor
		for j := range size {
			codes = append(codes, recoveryCode(fmt.Sprintf("rc-%d-%d", i, j), b.user.ID, fmt.Sprintf("code-%d-%d", i, j)))
		}
		errs[i] = f.s.ReplaceRecoveryCodes(f.ctx, b.user.ID, codes)
	})
	for i, err := range errs {
		checkOK(t, err, fmt.Sprintf("concurrent ReplaceRecoveryCodes %d", i))
	}
	list, err := f.s.ListFactors(f.ctx, b.user.ID, at(0))
	if !checkOK(t, err, "ListFactors") {
		return
	}
	sets := map[string]int{}
	for _, v := range list {
		sets[v.ID[:len("rc-0")]]++
	}
	if len(list) != size || len(sets) != 1 {
		t.Errorf("after %d concurrent replacements: %d codes from %d sets, want %d from 1", n, len(list), len(sets), size)
	}
}

func testFactorReplaceRefuses(t *testing.T, f *fixture) {
	b := f.base(t)
	mustOK(t, f.s.ReplaceRecoveryCodes(f.ctx, b.user.ID, []storage.Factor{recoveryCode("rc-1", b.user.ID, "code-1")}), "ReplaceRecoveryCodes")
	noSecret := recoveryCode("rc-bad", b.user.ID, "x")
	noSecret.Secret = nil
	unconfirmed := recoveryCode("rc-bad", b.user.ID, "x")
	unconfirmed.ConfirmedAt = time.Time{}
	for name, bad := range map[string]storage.Factor{"without a secret": noSecret, "unconfirmed": unconfirmed} {
		err := f.s.ReplaceRecoveryCodes(f.ctx, b.user.ID, []storage.Factor{recoveryCode("rc-2", b.user.ID, "code-2"), bad})
		if err == nil {
			t.Errorf("ReplaceRecoveryCodes with a code %s succeeded", name)
		}
	}
	f.checkFactorIDs(t, "after refused replacements", b.user.ID, at(0), "rc-1")
}

func testFactorTouch(t *testing.T, f *fixture) {
	b := f.base(t)
	v := f.createFactor(t, newFactor("f-1", b.user.ID))
	mustOK(t, f.s.TouchFactor(f.ctx, v.ID, at(time.Hour)), "TouchFactor")
	want := v
	want.LastUsedAt = at(time.Hour)
	checkEqual(t, "touched factor", want, f.factor(t, v.ID))
	checkErr(t, f.s.TouchFactor(f.ctx, "f-none", at(time.Hour)), storage.ErrNotFound, "TouchFactor of an unknown factor")
}

// testFactorSetData: a live factor's Data is replaced, byte for byte, and
// nothing else changes; an expired enrolment or an unknown id is not
// found.
func testFactorSetData(t *testing.T, f *fixture) {
	b := f.base(t)
	v := f.createFactor(t, newFactor("f-1", b.user.ID))
	p := f.createFactor(t, pendingFactor("f-2", b.user.ID))
	data := []byte(`{"code":"h4sh","misses":2,"ü":"<&>"}`)
	mustOK(t, f.s.SetFactorData(f.ctx, v.ID, data, at(time.Hour)), "SetFactorData of a confirmed factor")
	want := v
	want.Data = data
	checkEqual(t, "factor with new data", want, f.factor(t, v.ID))
	mustOK(t, f.s.SetFactorData(f.ctx, p.ID, data, at(0)), "SetFactorData of a pending factor")
	checkErr(t, f.s.SetFactorData(f.ctx, p.ID, data, p.ExpiresAt.Add(time.Second)), storage.ErrNotFound, "SetFactorData of an expired enrolment")
	checkErr(t, f.s.SetFactorData(f.ctx, "f-none", data, at(0)), storage.ErrNotFound, "SetFactorData of an unknown factor")
}

// testFactorLookup: a factor is found by kind and lookup once its lookup
// is set, pending or confirmed; "" finds nothing, nor does another kind;
// an expired enrolment's lookup cannot be set.
func testFactorLookup(t *testing.T, f *fixture) {
	b := f.base(t)
	v := newFactor("f-1", b.user.ID)
	v.Kind = "webauthn"
	v = f.createFactor(t, v)
	p := pendingFactor("f-2", b.user.ID)
	p.Kind = "webauthn"
	p = f.createFactor(t, p)
	_, err := f.s.FindFactor(f.ctx, "webauthn", "")
	checkErr(t, err, storage.ErrNotFound, "FindFactor with an empty lookup")
	_, err = f.s.FindFactor(f.ctx, "webauthn", "cred-1")
	checkErr(t, err, storage.ErrNotFound, "FindFactor before the lookup is set")
	mustOK(t, f.s.SetFactorLookup(f.ctx, v.ID, "cred-1", at(time.Hour)), "SetFactorLookup of a confirmed factor")
	mustOK(t, f.s.SetFactorLookup(f.ctx, p.ID, "cred-2_-", at(0)), "SetFactorLookup of a pending factor")
	want := v
	want.Lookup = "cred-1"
	got, err := f.s.FindFactor(f.ctx, "webauthn", "cred-1")
	if checkOK(t, err, "FindFactor") {
		checkEqual(t, "found factor", want, got)
	}
	got, err = f.s.FindFactor(f.ctx, "webauthn", "cred-2_-")
	if checkOK(t, err, "FindFactor of a pending factor") && got.ID != p.ID {
		t.Errorf("FindFactor of a pending factor = %s, want %s", got.ID, p.ID)
	}
	_, err = f.s.FindFactor(f.ctx, storage.FactorTOTP, "cred-1")
	checkErr(t, err, storage.ErrNotFound, "FindFactor of another kind")
	_, err = f.s.FindFactor(f.ctx, "webauthn", "CRED-1")
	checkErr(t, err, storage.ErrNotFound, "FindFactor is case-sensitive")
	checkErr(t, f.s.SetFactorLookup(f.ctx, p.ID, "cred-3", p.ExpiresAt.Add(time.Second)), storage.ErrNotFound, "SetFactorLookup of an expired enrolment")
	checkErr(t, f.s.SetFactorLookup(f.ctx, "f-none", "cred-3", at(0)), storage.ErrNotFound, "SetFactorLookup of an unknown factor")
}

// testFactorLookupUnique: a lookup belongs to one factor of a kind, of
// any user (a credential id registered to one account only); another
// kind may reuse it; deleting the factor frees it.
func testFactorLookupUnique(t *testing.T, f *fixture) {
	b := f.base(t)
	other := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	mk := func(id, user, kind string) storage.Factor {
		v := newFactor(id, user)
		v.Kind = kind
		return f.createFactor(t, v)
	}
	a := mk("f-a", b.user.ID, "webauthn")
	c := mk("f-c", other.ID, "webauthn")
	d := mk("f-d", other.ID, storage.FactorTOTP)
	mustOK(t, f.s.SetFactorLookup(f.ctx, a.ID, "cred-1", at(0)), "SetFactorLookup")
	checkErr(t, f.s.SetFactorLookup(f.ctx, c.ID, "cred-1", at(0)), storage.ErrConflict, "SetFactorLookup of another user's factor with a taken lookup")
	mustOK(t, f.s.SetFactorLookup(f.ctx, d.ID, "cred-1", at(0)), "SetFactorLookup of another kind with the same lookup")
	mustOK(t, f.s.SetFactorLookup(f.ctx, a.ID, "cred-1", at(0)), "SetFactorLookup to its own lookup again")
	mustOK(t, f.s.DeleteFactor(f.ctx, a.ID), "DeleteFactor")
	mustOK(t, f.s.SetFactorLookup(f.ctx, c.ID, "cred-1", at(0)), "SetFactorLookup once the holder is gone")
	got, err := f.s.FindFactor(f.ctx, "webauthn", "cred-1")
	if checkOK(t, err, "FindFactor") && got.ID != c.ID {
		t.Errorf("FindFactor = %s, want %s", got.ID, c.ID)
	}
}

func testFactorDelete(t *testing.T, f *fixture) {
	b := f.base(t)
	f.createFactor(t, newFactor("f-1", b.user.ID))
	f.createFactor(t, newFactor("f-2", b.user.ID))
	mustOK(t, f.s.DeleteFactor(f.ctx, "f-1"), "DeleteFactor")
	checkErr(t, f.s.DeleteFactor(f.ctx, "f-1"), storage.ErrNotFound, "DeleteFactor again")
	_, err := f.s.GetFactor(f.ctx, "f-1")
	checkErr(t, err, storage.ErrNotFound, "GetFactor after DeleteFactor")
	f.checkFactorIDs(t, "after DeleteFactor", b.user.ID, at(0), "f-2")
}

func testFactorDeleteUser(t *testing.T, f *fixture) {
	b := f.base(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	f.createFactor(t, newFactor("f-1", b.user.ID))
	f.createFactor(t, pendingFactor("f-2", b.user.ID))
	f.createFactor(t, newFactor("f-bob", bob.ID))
	mustOK(t, f.s.ReplaceRecoveryCodes(f.ctx, b.user.ID, []storage.Factor{
		recoveryCode("rc-1", b.user.ID, "c1"), recoveryCode("rc-2", b.user.ID, "c2"),
	}), "ReplaceRecoveryCodes")
	n, err := f.s.DeleteUserFactors(f.ctx, b.user.ID)
	if checkOK(t, err, "DeleteUserFactors") && n != 4 {
		t.Errorf("DeleteUserFactors = %d, want 4", n)
	}
	f.checkFactorIDs(t, "after DeleteUserFactors", b.user.ID, at(0))
	f.checkFactorIDs(t, "bob's after alice's reset", bob.ID, at(0), "f-bob")
	if n, err := f.s.DeleteUserFactors(f.ctx, b.user.ID); err != nil || n != 0 {
		t.Errorf("DeleteUserFactors again = %d, %v; want 0, nil", n, err)
	}
	if _, err := f.s.GetUser(f.ctx, b.user.ID); err != nil {
		t.Errorf("GetUser after DeleteUserFactors: %v", err)
	}
}

func testFactorCascade(t *testing.T, f *fixture) {
	b := f.base(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	f.createFactor(t, newFactor("f-1", b.user.ID))
	f.createFactor(t, pendingFactor("f-2", b.user.ID))
	f.createFactor(t, newFactor("f-bob", bob.ID))
	mustOK(t, f.s.DeleteUser(f.ctx, b.user.ID), "DeleteUser")
	for _, id := range []string{"f-1", "f-2"} {
		_, err := f.s.GetFactor(f.ctx, id)
		checkErr(t, err, storage.ErrNotFound, "GetFactor of a deleted user's factor "+id)
	}
	f.checkFactorIDs(t, "bob's after alice's deletion", bob.ID, at(0), "f-bob")
	checkErr(t, f.s.CreateFactor(f.ctx, newFactor("f-3", b.user.ID)), storage.ErrConflict, "CreateFactor for the deleted user")
}

// testFactorDeleteExpired purges abandoned enrolments only: confirmed
// factors (even with a stale ExpiresAt written by a caller), live
// enrolments and enrolments without an end stay.
func testFactorDeleteExpired(t *testing.T, f *fixture) {
	b := f.base(t)
	now := at(time.Hour)
	gone := pendingFactor("f-gone", b.user.ID) // ends at(10m)
	live := pendingFactor("f-live", b.user.ID)
	live.ExpiresAt = at(2 * time.Hour)
	open := pendingFactor("f-open", b.user.ID)
	open.ExpiresAt = time.Time{}
	stale := newFactor("f-confirmed", b.user.ID)
	stale.ExpiresAt = at(time.Minute)
	for _, v := range []storage.Factor{gone, live, open, stale} {
		f.createFactor(t, v)
	}
	n, err := f.s.DeleteExpired(f.ctx, now)
	if checkOK(t, err, "DeleteExpired") && n != 1 {
		t.Errorf("DeleteExpired = %d, want 1 (the abandoned enrolment)", n)
	}
	_, err = f.s.GetFactor(f.ctx, gone.ID)
	checkErr(t, err, storage.ErrNotFound, "GetFactor of the purged enrolment")
	for _, v := range []storage.Factor{live, open, stale} {
		checkEqual(t, v.ID+" after DeleteExpired", v, f.factor(t, v.ID))
	}
}

// testFactorUnit: the factor methods join a unit of work, and a unit that
// fails takes their writes back with it.
func testFactorUnit(t *testing.T, f *fixture) {
	b := f.base(t)
	old := f.createFactor(t, newFactor("f-old", b.user.ID))
	p := f.createFactor(t, pendingFactor("f-new", b.user.ID))
	err := storage.Atomically(f.ctx, f.s, func(ctx context.Context) error {
		if _, err := f.s.ConfirmFactor(ctx, p.ID, at(time.Minute), old.ID); err != nil {
			return err
		}
		if _, err := f.s.UseFactorStep(ctx, p.ID, 5, at(time.Minute)); err != nil {
			return err
		}
		if err := f.s.ReplaceRecoveryCodes(ctx, b.user.ID, []storage.Factor{recoveryCode("rc-1", b.user.ID, "c1")}); err != nil {
			return err
		}
		return errUnitTest
	})
	if !errors.Is(err, errUnitTest) {
		t.Fatalf("Atomically = %v, want the unit's error", err)
	}
	f.checkFactorIDs(t, "after a rolled-back unit", b.user.ID, at(time.Minute), "f-old", "f-new")
	checkEqual(t, "enrolment after a rolled-back unit", p, f.factor(t, p.ID))

	err = storage.Atomically(f.ctx, f.s, func(ctx context.Context) error {
		if _, err := f.s.ConfirmFactor(ctx, p.ID, at(time.Minute), old.ID); err != nil {
			return err
		}
		_, err := f.s.UseFactorStep(ctx, p.ID, 5, at(time.Minute))
		return err
	})
	mustOK(t, err, "Atomically")
	f.checkFactorIDs(t, "after a committed unit", b.user.ID, at(time.Minute), "f-new")
	if got := f.factor(t, p.ID); got.ConfirmedAt.IsZero() || got.LastStep != 5 {
		t.Errorf("after the unit: confirmed at %s, last step %d; want confirmed, 5", fmtTime(got.ConfirmedAt), got.LastStep)
	}
}

// testFactorZeroNow: a zero now would store 0, which reads back as "never
// used" or "not confirmed"; the methods that record now refuse it.
func testFactorZeroNow(t *testing.T, f *fixture) {
	b := f.base(t)
	v := f.createFactor(t, newFactor("f-1", b.user.ID))
	p := f.createFactor(t, pendingFactor("f-2", b.user.ID))
	mustOK(t, f.s.ReplaceRecoveryCodes(f.ctx, b.user.ID, []storage.Factor{recoveryCode("rc-1", b.user.ID, "c1")}), "ReplaceRecoveryCodes")
	var zero time.Time
	for name, call := range map[string]func() error{
		"ConfirmFactor":       func() error { _, err := f.s.ConfirmFactor(f.ctx, p.ID, zero); return err },
		"UseFactorStep":       func() error { _, err := f.s.UseFactorStep(f.ctx, v.ID, v.LastStep+1, zero); return err },
		"ConsumeRecoveryCode": func() error { _, err := f.s.ConsumeRecoveryCode(f.ctx, b.user.ID, []byte(h("c1")), zero); return err },
		"TouchFactor":         func() error { return f.s.TouchFactor(f.ctx, v.ID, zero) },
		"SetFactorData":       func() error { return f.s.SetFactorData(f.ctx, v.ID, []byte("{}"), zero) },
		"SetFactorLookup":     func() error { return f.s.SetFactorLookup(f.ctx, v.ID, "cred", zero) },
	} {
		if call() == nil {
			t.Errorf("%s with a zero now succeeded", name)
		}
	}
	checkEqual(t, "factor after zero-now calls", v, f.factor(t, v.ID))
	checkEqual(t, "enrolment after zero-now calls", p, f.factor(t, p.ID))
	_, err := f.s.ConsumeRecoveryCode(f.ctx, b.user.ID, []byte(h("c1")), at(0))
	checkOK(t, err, "ConsumeRecoveryCode after the zero-now call")
}

// testFactorUnavailable: an unreachable database is ErrUnavailable, never
// ErrNotFound or ErrAlreadyUsed, which callers turn into "wrong code".
func testFactorUnavailable(t *testing.T, f *fixture) {
	b := f.base(t)
	v := f.createFactor(t, newFactor("f-1", b.user.ID))
	mustOK(t, f.s.Close(), "Close")
	for name, call := range map[string]func() error{
		"GetFactor":           func() error { _, err := f.s.GetFactor(f.ctx, v.ID); return err },
		"ListFactors":         func() error { _, err := f.s.ListFactors(f.ctx, b.user.ID, at(0)); return err },
		"ConfirmFactor":       func() error { _, err := f.s.ConfirmFactor(f.ctx, v.ID, at(0)); return err },
		"UseFactorStep":       func() error { _, err := f.s.UseFactorStep(f.ctx, v.ID, v.LastStep+1, at(0)); return err },
		"ConsumeRecoveryCode": func() error { _, err := f.s.ConsumeRecoveryCode(f.ctx, b.user.ID, []byte(h("c1")), at(0)); return err },
		"ReplaceRecoveryCodes": func() error {
			return f.s.ReplaceRecoveryCodes(f.ctx, b.user.ID, []storage.Factor{recoveryCode("rc-1", b.user.ID, "c1")})
		},
		"TouchFactor":       func() error { return f.s.TouchFactor(f.ctx, v.ID, at(0)) },
		"DeleteFactor":      func() error { return f.s.DeleteFactor(f.ctx, v.ID) },
		"FindFactor":        func() error { _, err := f.s.FindFactor(f.ctx, v.Kind, "cred"); return err },
		"SetFactorLookup":   func() error { return f.s.SetFactorLookup(f.ctx, v.ID, "cred", at(0)) },
		"DeleteUserFactors": func() error { _, err := f.s.DeleteUserFactors(f.ctx, b.user.ID); return err },
	} {
		err := call()
		if !errors.Is(err, storage.ErrUnavailable) || errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrAlreadyUsed) {
			t.Errorf("%s on a closed store: err = %v, want ErrUnavailable (and not ErrNotFound or ErrAlreadyUsed)", name, err)
		}
	}
}
