package storagetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var signingKeyTests = []testCase{
	{"RoundTripAndOrder", testKeyRoundTripAndOrder},
	{"Update", testKeyUpdate},
	{"NotFound", testKeyNotFound},
	{"CreateConflict", testKeyCreateConflict},
	{"Delete", testKeyDelete},
	{"CreateIf", testKeyCreateIf},
	{"CreateIfRace", testKeyCreateIfRace},
}

func samlKey(id string, created time.Time) storage.SigningKey {
	k := newSigningKey(id, storage.KeyUseSAML, created)
	k.Algorithm = "RS256"
	k.Certificate = []byte("x509-der-" + id + "\x00\x80")
	k.RetireAt = created.Add(90 * 24 * time.Hour)
	k.ExpiresAt = created.Add(120 * 24 * time.Hour)
	return k
}

func (f *fixture) listKeys(t *testing.T, use string) []storage.SigningKey {
	t.Helper()
	keys, err := f.s.ListSigningKeys(f.ctx, use)
	mustOK(t, err, "ListSigningKeys "+use)
	return keys
}

func testKeyRoundTripAndOrder(t *testing.T, f *fixture) {
	if keys := f.listKeys(t, storage.KeyUseOIDC); len(keys) != 0 {
		t.Errorf("ListSigningKeys on an empty store = %d keys, want 0", len(keys))
	}
	// Created out of order: the list is ordered by CreatedAt, oldest
	// first, not by insertion or id.
	newest := newSigningKey("k-a", storage.KeyUseOIDC, at(2*time.Hour))
	oldest := newSigningKey("k-c", storage.KeyUseOIDC, at(0))
	oldest.RetireAt = at(24 * time.Hour)
	oldest.ExpiresAt = at(48 * time.Hour)
	oldest.Algorithm = "RS256"
	middle := newSigningKey("k-b", storage.KeyUseOIDC, at(time.Hour))
	middle.Algorithm = "EdDSA"
	saml := samlKey("k-saml", at(30*time.Minute))
	for _, k := range []storage.SigningKey{newest, saml, oldest, middle} {
		mustOK(t, f.s.CreateSigningKey(f.ctx, k), "CreateSigningKey "+k.ID)
	}

	oidc := f.listKeys(t, storage.KeyUseOIDC)
	want := []storage.SigningKey{oldest, middle, newest}
	if len(oidc) != len(want) {
		t.Fatalf("ListSigningKeys(oidc) = %d keys, want %d", len(oidc), len(want))
	}
	for i := range want {
		if oidc[i].ID != want[i].ID {
			t.Errorf("ListSigningKeys(oidc)[%d] = %s, want %s (oldest first)", i, oidc[i].ID, want[i].ID)
			continue
		}
		checkEqual(t, "signing key "+want[i].ID, want[i], oidc[i])
		if want[i].RetireAt.IsZero() && !oidc[i].RetireAt.IsZero() {
			t.Errorf("key %s: zero RetireAt (no end) came back as %s", want[i].ID, fmtTime(oidc[i].RetireAt))
		}
	}
	samlKeys := f.listKeys(t, storage.KeyUseSAML)
	if len(samlKeys) != 1 {
		t.Fatalf("ListSigningKeys(saml) = %d keys, want 1", len(samlKeys))
	}
	checkEqual(t, "SAML signing key", saml, samlKeys[0])
	if keys := f.listKeys(t, "other"); len(keys) != 0 {
		t.Errorf("ListSigningKeys of an unknown use = %d keys, want 0", len(keys))
	}
}

func testKeyUpdate(t *testing.T, f *fixture) {
	k := newSigningKey("k-1", storage.KeyUseOIDC, at(0))
	mustOK(t, f.s.CreateSigningKey(f.ctx, k), "CreateSigningKey")
	want := k
	want.RetireAt = at(24 * time.Hour)
	want.ExpiresAt = at(48 * time.Hour)
	got, err := f.s.UpdateSigningKey(f.ctx, k.ID, func(cur storage.SigningKey) (storage.SigningKey, error) {
		checkEqual(t, "row seen by the update function", k, cur)
		cur.RetireAt = want.RetireAt
		cur.ExpiresAt = want.ExpiresAt
		return cur, nil
	})
	mustOK(t, err, "UpdateSigningKey")
	checkEqual(t, "UpdateSigningKey result", want, got)
	keys := f.listKeys(t, storage.KeyUseOIDC)
	if len(keys) != 1 {
		t.Fatalf("ListSigningKeys = %d keys, want 1", len(keys))
	}
	checkEqual(t, "listed key after update", want, keys[0])
}

func testKeyNotFound(t *testing.T, f *fixture) {
	mustOK(t, f.s.CreateSigningKey(f.ctx, newSigningKey("k-1", storage.KeyUseOIDC, at(0))), "CreateSigningKey")
	_, err := f.s.UpdateSigningKey(f.ctx, "missing", func(k storage.SigningKey) (storage.SigningKey, error) { return k, nil })
	checkErr(t, err, storage.ErrNotFound, "UpdateSigningKey of a missing id")
	checkErr(t, f.s.DeleteSigningKey(f.ctx, "missing"), storage.ErrNotFound, "DeleteSigningKey of a missing id")
}

func testKeyCreateConflict(t *testing.T, f *fixture) {
	k := newSigningKey("k-1", storage.KeyUseOIDC, at(0))
	mustOK(t, f.s.CreateSigningKey(f.ctx, k), "CreateSigningKey")
	dup := newSigningKey("k-1", storage.KeyUseOIDC, at(time.Hour))
	dup.PublicKey = []byte("attacker key")
	checkErr(t, f.s.CreateSigningKey(f.ctx, dup), storage.ErrConflict, "CreateSigningKey with a taken id")
	keys := f.listKeys(t, storage.KeyUseOIDC)
	if len(keys) != 1 {
		t.Fatalf("ListSigningKeys = %d keys, want 1", len(keys))
	}
	checkEqual(t, "key after a conflicting create", k, keys[0])
}

func testKeyDelete(t *testing.T, f *fixture) {
	a := newSigningKey("k-a", storage.KeyUseOIDC, at(0))
	b := newSigningKey("k-b", storage.KeyUseOIDC, at(time.Hour))
	for _, k := range []storage.SigningKey{a, b} {
		mustOK(t, f.s.CreateSigningKey(f.ctx, k), "CreateSigningKey "+k.ID)
	}
	mustOK(t, f.s.DeleteSigningKey(f.ctx, a.ID), "DeleteSigningKey")
	keys := f.listKeys(t, storage.KeyUseOIDC)
	if len(keys) != 1 || keys[0].ID != b.ID {
		t.Errorf("ListSigningKeys after delete = %d keys, want only %s", len(keys), b.ID)
	}
	checkErr(t, f.s.DeleteSigningKey(f.ctx, a.ID), storage.ErrNotFound, "second DeleteSigningKey")
}

// createUnlessAny is the decision of a first start: one key unless the use
// has some.
func createUnlessAny(k storage.SigningKey) func([]storage.SigningKey) ([]storage.SigningKey, error) {
	return func(existing []storage.SigningKey) ([]storage.SigningKey, error) {
		if len(existing) > 0 {
			return nil, nil
		}
		return []storage.SigningKey{k}, nil
	}
}

func testKeyCreateIf(t *testing.T, f *fixture) {
	saml := samlKey("k-saml", at(0))
	mustOK(t, f.s.CreateSigningKey(f.ctx, saml), "CreateSigningKey saml")

	// Another use's keys are not passed to decide.
	k := newSigningKey("k-1", storage.KeyUseOIDC, at(time.Hour))
	got, err := f.s.CreateSigningKeysIf(f.ctx, storage.KeyUseOIDC, createUnlessAny(k))
	mustOK(t, err, "CreateSigningKeysIf on no OIDC keys")
	if len(got) != 1 || got[0].ID != k.ID {
		t.Errorf("CreateSigningKeysIf returned %d keys, want [%s]", len(got), k.ID)
	}
	var seen []storage.SigningKey
	got, err = f.s.CreateSigningKeysIf(f.ctx, storage.KeyUseOIDC, func(ex []storage.SigningKey) ([]storage.SigningKey, error) {
		seen = ex
		return nil, nil
	})
	mustOK(t, err, "CreateSigningKeysIf storing nothing")
	if len(got) != 0 {
		t.Errorf("CreateSigningKeysIf storing nothing returned %d keys", len(got))
	}
	if len(seen) != 1 || seen[0].ID != k.ID {
		t.Fatalf("decide saw %d keys, want [%s]", len(seen), k.ID)
	}
	checkEqual(t, "key passed to decide", k, seen[0])

	// decide's error is returned and nothing is stored.
	errDecide := errors.New("decided against")
	_, err = f.s.CreateSigningKeysIf(f.ctx, storage.KeyUseOIDC, func([]storage.SigningKey) ([]storage.SigningKey, error) {
		return []storage.SigningKey{newSigningKey("k-2", storage.KeyUseOIDC, at(2*time.Hour))}, errDecide
	})
	if !errors.Is(err, errDecide) {
		t.Errorf("CreateSigningKeysIf with a failing decide: err = %v, want it", err)
	}
	// A key of another use is refused, and the whole call with it.
	_, err = f.s.CreateSigningKeysIf(f.ctx, storage.KeyUseOIDC, func([]storage.SigningKey) ([]storage.SigningKey, error) {
		return []storage.SigningKey{newSigningKey("k-3", storage.KeyUseOIDC, at(3*time.Hour)), samlKey("k-4", at(3*time.Hour))}, nil
	})
	if err == nil {
		t.Errorf("CreateSigningKeysIf storing a SAML key under the OIDC use: no error")
	}
	if keys := f.listKeys(t, storage.KeyUseOIDC); len(keys) != 1 {
		t.Errorf("%d OIDC keys after the refused calls, want 1", len(keys))
	}
	if keys := f.listKeys(t, storage.KeyUseSAML); len(keys) != 1 {
		t.Errorf("%d SAML keys, want 1", len(keys))
	}
}

// N instances starting on an empty database each create the first keys
// unless there are some: one set results.
func testKeyCreateIfRace(t *testing.T, f *fixture) {
	stored := make([][]storage.SigningKey, concurrency)
	errs := make([]error, concurrency)
	race(concurrency, func(i int) {
		k := newSigningKey(fmt.Sprintf("k-%02d", i), storage.KeyUseOIDC, at(0))
		stored[i], errs[i] = f.s.CreateSigningKeysIf(f.ctx, storage.KeyUseOIDC, createUnlessAny(k))
	})
	winners := 0
	for i := range errs {
		if !checkOK(t, errs[i], "concurrent CreateSigningKeysIf") {
			continue
		}
		winners += len(stored[i])
	}
	keys := f.listKeys(t, storage.KeyUseOIDC)
	if len(keys) != 1 || winners != 1 {
		t.Errorf("%d concurrent CreateSigningKeysIf(unless any): %d keys stored, %d reported; want 1 and 1",
			concurrency, len(keys), winners)
	}
}
