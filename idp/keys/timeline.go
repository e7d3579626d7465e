package keys

import (
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The rules below are pure functions of rows and a time: every instance
// that reads the same rows at the same time reaches the same answer.

// signsBefore orders the keys of one algorithm: by NotBefore, then
// CreatedAt, then ID. The last key in this order that may sign, signs.
func signsBefore(a, b storage.SigningKey) bool {
	if !a.NotBefore.Equal(b.NotBefore) {
		return a.NotBefore.Before(b.NotBefore)
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.ID < b.ID
}

func compareSigning(a, b storage.SigningKey) int {
	switch {
	case signsBefore(a, b):
		return -1
	case signsBefore(b, a):
		return 1
	}
	return 0
}

// published: from CreatedAt until ExpiresAt (zero: no end).
func published(k storage.SigningKey, now time.Time) bool {
	return !k.CreatedAt.After(now) && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt))
}

// maySign: from NotBefore until RetireAt (zero: no end), and only while
// published, so that nothing signs with a key relying parties cannot see.
func maySign(k storage.SigningKey, now time.Time) bool {
	return !k.NotBefore.After(now) && (k.RetireAt.IsZero() || now.Before(k.RetireAt)) && published(k, now)
}

// willSign reports whether k has a signing window at all: a key whose
// RetireAt is not after its NotBefore never signs.
func willSign(k storage.SigningKey) bool {
	return k.RetireAt.IsZero() || k.RetireAt.After(k.NotBefore)
}

// expired: unpublished for good; Prune deletes it.
func expired(k storage.SigningKey, now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// signerIndex returns the index of the key that signs at now in sorted (one
// algorithm, signing order), or -1.
func signerIndex(sorted []*entry, now time.Time) int {
	for i := len(sorted) - 1; i >= 0; i-- {
		if maySign(sorted[i].row, now) {
			return i
		}
	}
	return -1
}

// tailIndex returns the index of the chain's tail in sorted: the last key
// whose RetireAt is unset, the one the next rotation retires. -1: none.
func tailIndex(sorted []*entry) int {
	for i := len(sorted) - 1; i >= 0; i-- {
		if sorted[i].row.RetireAt.IsZero() {
			return i
		}
	}
	return -1
}

// hasSuccessor reports whether a key after index i in sorted will sign.
func hasSuccessor(sorted []*entry, i int) bool {
	for _, e := range sorted[i+1:] {
		if willSign(e.row) {
			return true
		}
	}
	return false
}
