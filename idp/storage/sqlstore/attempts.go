package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// reserveAttempt counts one attempt in one statement, so the check and the
// increment cannot be split by a concurrent caller: a new key is inserted
// with 1; an expired counter restarts at 1; a live one below the limit
// ($4) goes up by one; a live one at the limit matches the WHERE of DO
// UPDATE, is left as it is, and the statement returns no row. PostgreSQL
// evaluates that WHERE against the row it locked (the latest committed
// version), SQLite serializes writers, so on both at most limit of any
// number of concurrent callers get a row back. Both dialects support
// INSERT … ON CONFLICT … DO UPDATE … WHERE … RETURNING.
const reserveAttempt = `INSERT INTO attempt_counters (counter_key, attempts, expires_at) VALUES ($1, 1, $3)
ON CONFLICT (counter_key) DO UPDATE SET
    attempts = CASE WHEN attempt_counters.expires_at <= $2 THEN 1 ELSE attempt_counters.attempts + 1 END,
    expires_at = $3
WHERE attempt_counters.expires_at <= $2 OR attempt_counters.attempts < $4
RETURNING attempts, expires_at`

const liveAttempts = `SELECT attempts, expires_at FROM attempt_counters WHERE counter_key = $1 AND expires_at > $2`

// ReserveAttempt: see storage.Attempts. It runs in a transaction (a write
// must not go to SQLite's read pool), and when the limit refuses, the
// counter that refused is read in the same transaction to report it.
func (s *Store) ReserveAttempt(ctx context.Context, key string, limit int, ttl time.Duration, now time.Time) (storage.AttemptCounter, error) {
	const op = "reserve attempt"
	if now.IsZero() {
		return storage.AttemptCounter{}, errZeroNow
	}
	out := storage.AttemptCounter{Key: key}
	limited := false
	err := s.d.InTx(ctx, func(q Querier) error {
		limited = false
		if limit > 0 {
			err := scanCounter(q.QueryRow(ctx, reserveAttempt, key, micros(now), micros(now.Add(ttl)), limit), &out)
			if err == nil || !s.noRows(err) {
				return err
			}
		}
		limited = true
		err := scanCounter(q.QueryRow(ctx, liveAttempts, key, micros(now)), &out)
		if s.noRows(err) { // limit <= 0 and no live counter
			return nil
		}
		return err
	})
	if err != nil {
		return storage.AttemptCounter{Key: key}, s.fail(op, err)
	}
	if limited {
		return out, s.fail(op, storage.ErrLimited)
	}
	return out, nil
}

// ReleaseAttempt takes one back from a live counter; a dead or missing one
// has nothing to take back.
func (s *Store) ReleaseAttempt(ctx context.Context, key string, now time.Time) error {
	_, err := s.exec(ctx, "release attempt",
		`UPDATE attempt_counters SET attempts = attempts - 1 WHERE counter_key = $1 AND attempts > 0 AND expires_at > $2`,
		key, micros(now))
	return err
}

func (s *Store) ResetAttempts(ctx context.Context, key string) error {
	_, err := s.exec(ctx, "reset attempts", `DELETE FROM attempt_counters WHERE counter_key = $1`, key)
	return err
}

func (s *Store) GetAttempts(ctx context.Context, key string, now time.Time) (storage.AttemptCounter, error) {
	out := storage.AttemptCounter{Key: key}
	err := scanCounter(s.d.QueryRow(ctx, liveAttempts, key, micros(now)), &out)
	switch {
	case err == nil:
		return out, nil
	case s.noRows(err):
		return storage.AttemptCounter{Key: key}, nil
	}
	return storage.AttemptCounter{Key: key}, s.fail("get attempts", err)
}

func scanCounter(row Row, c *storage.AttemptCounter) error {
	var n, exp int64
	if err := row.Scan(&n, &exp); err != nil {
		return err
	}
	c.Count, c.ExpiresAt = int(n), fromMicros(exp)
	return nil
}
