package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// useAssertionID records an assertion id in one statement, so that the
// check and the write cannot be split by a concurrent caller: a new id is
// inserted; a record that is no longer live ($4, now) is taken over with
// the new expiry; a live one fails the WHERE of DO UPDATE, is left as it
// is, and the statement changes no row. PostgreSQL evaluates that WHERE
// against the row it locked (the latest committed version), SQLite
// serializes writers, so on both exactly one of concurrent callers changes
// a row. (The same shape as reserveAttempt.)
const useAssertionID = `INSERT INTO assertion_ids (connector_id, id, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (connector_id, id) DO UPDATE SET expires_at = $3
WHERE assertion_ids.expires_at <= $4`

// errZeroExpiry guards UseAssertionID: a record expiring at 0 is dead at
// birth, so a caller that forgot the assertion's lifetime would turn the
// replay cache off without a sign.
var errZeroExpiry = errors.New("storage: use assertion id: expiresAt is the zero time")

// UseAssertionID: see storage.Assertions. An unknown connector fails the
// foreign key: ErrConflict.
func (s *Store) UseAssertionID(ctx context.Context, connectorID, id string, expiresAt, now time.Time) error {
	const op = "use assertion id"
	switch {
	case now.IsZero():
		return errZeroNow
	case expiresAt.IsZero():
		return errZeroExpiry
	}
	n, err := s.exec(ctx, op, useAssertionID, connectorID, id, micros(expiresAt), micros(now))
	if err == nil && n == 0 {
		err = s.fail(op, storage.ErrAlreadyUsed)
	}
	return err
}

var _ storage.Assertions = (*Store)(nil)
