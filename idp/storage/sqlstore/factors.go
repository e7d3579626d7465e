package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The single-use rules of factors (a TOTP step, a recovery code, a
// confirmation) are each one UPDATE whose WHERE holds the rule and whose
// RETURNING says whether it won: PostgreSQL evaluates that WHERE again on
// the row it locked (the latest committed version), SQLite serializes
// writers, so of concurrent callers exactly one gets the row. When none
// comes back, a read in the same transaction tells why.

// liveFactor is the condition of a factor not expired at the placeholder
// now: confirmed, or pending without an end or before it.
func liveFactor(now string) string {
	return "(confirmed_at <> 0 OR expires_at = 0 OR expires_at > " + now + ")"
}

const (
	confirmFactor = `UPDATE factors SET confirmed_at = $2, expires_at = 0
WHERE id = $1 AND confirmed_at = 0 AND (expires_at = 0 OR expires_at > $2) RETURNING `
	useFactorStep = `UPDATE factors SET last_step = $2, last_used_at = $3
WHERE id = $1 AND confirmed_at <> 0 AND last_step < $2 RETURNING `
	recoveryMatch       = `user_id = $1 AND kind = $2 AND secret = $3 AND confirmed_at <> 0`
	consumeRecoveryCode = `UPDATE factors SET last_used_at = $4 WHERE ` + recoveryMatch + ` AND last_used_at = 0 RETURNING `
)

func (s *Store) CreateFactor(ctx context.Context, f storage.Factor) error {
	return create(ctx, s, factors, "create factor", f)
}

func (s *Store) SetFactorData(ctx context.Context, id string, data []byte, now time.Time) error {
	const op = "set factor data"
	if now.IsZero() {
		return errZeroNow
	}
	if data == nil {
		data = []byte{}
	}
	n, err := s.exec(ctx, op, `UPDATE factors SET data = $2 WHERE id = $1 AND `+liveFactor("$3"), id, string(data), micros(now))
	if err == nil && n == 0 {
		err = s.fail(op, storage.ErrNotFound)
	}
	return err
}

func (s *Store) GetFactor(ctx context.Context, id string) (storage.Factor, error) {
	return get(ctx, s, factors, "get factor", id)
}

func (s *Store) SetFactorLookup(ctx context.Context, id, lookup string, now time.Time) error {
	const op = "set factor lookup"
	if now.IsZero() {
		return errZeroNow
	}
	// The unique index (kind, lookup) is what refuses a second factor
	// with the same lookup: MapError makes its violation ErrConflict.
	n, err := s.exec(ctx, op, `UPDATE factors SET lookup = $2 WHERE id = $1 AND `+liveFactor("$3"), id, lookup, micros(now))
	if err == nil && n == 0 {
		err = s.fail(op, storage.ErrNotFound)
	}
	return err
}

func (s *Store) FindFactor(ctx context.Context, kind, lookup string) (storage.Factor, error) {
	const op = "find factor"
	if lookup == "" {
		return storage.Factor{}, s.fail(op, storage.ErrNotFound)
	}
	v, err := factors.one(ctx, s.d, factors.selectWhere("WHERE kind = $1 AND lookup = $2"), kind, lookup)
	return v, s.fail(op, err)
}

// ListFactors orders ties in CreatedAt by id, so that a page lists the
// same factors in the same order every time.
func (s *Store) ListFactors(ctx context.Context, userID string, now time.Time) ([]storage.Factor, error) {
	query := factors.selectWhere("WHERE user_id = $1 AND " + liveFactor("$2") + " ORDER BY created_at, id")
	out, err := factors.many(ctx, s.d, query, userID, micros(now))
	return out, s.fail("list factors", err)
}

// ConfirmFactor deletes the replaced factors only after the confirmation
// won, in its transaction, and only the confirmed factor's user's: an id
// in replace cannot reach another account.
func (s *Store) ConfirmFactor(ctx context.Context, id string, now time.Time, replace ...string) (storage.Factor, error) {
	const op = "confirm factor"
	if now.IsZero() {
		return storage.Factor{}, errZeroNow
	}
	var got storage.Factor
	var outcome error
	err := s.d.InTx(ctx, func(q Querier) error {
		var err error
		outcome = nil
		got, err = factors.one(ctx, q, confirmFactor+factors.cols, id, micros(now))
		if s.noRows(err) {
			// Gone, or expired (as good as gone), or confirmed before.
			outcome, err = s.factorRefusal(ctx, q, id, func(f storage.Factor) bool { return !f.ConfirmedAt.IsZero() })
			return err
		}
		if err != nil {
			return err
		}
		for _, old := range replace {
			if old == id {
				continue
			}
			if _, err := q.Exec(ctx, `DELETE FROM factors WHERE id = $1 AND user_id = $2`, old, got.UserID); err != nil {
				return err
			}
		}
		return nil
	})
	return factorResult(s, op, got, err, outcome)
}

// UseFactorStep: see storage.Factors.
func (s *Store) UseFactorStep(ctx context.Context, id string, step int64, now time.Time) (storage.Factor, error) {
	const op = "use factor step"
	if now.IsZero() {
		return storage.Factor{}, errZeroNow
	}
	var got storage.Factor
	var outcome error
	err := s.d.InTx(ctx, func(q Querier) error {
		var err error
		outcome = nil
		got, err = factors.one(ctx, q, useFactorStep+factors.cols, id, step, micros(now))
		if s.noRows(err) {
			// An unconfirmed factor is not found: it proves nothing yet.
			outcome, err = s.factorRefusal(ctx, q, id, func(f storage.Factor) bool { return !f.ConfirmedAt.IsZero() })
			return err
		}
		return err
	})
	return factorResult(s, op, got, err, outcome)
}

// factorRefusal reads factor id after a single-use UPDATE matched nothing:
// ErrAlreadyUsed when used(factor) says the rule refused a live factor,
// ErrNotFound otherwise (no such row, or one that cannot be used).
func (s *Store) factorRefusal(ctx context.Context, q Querier, id string, used func(storage.Factor) bool) (outcome, err error) {
	f, err := factors.one(ctx, q, factors.byKey(""), id)
	switch {
	case s.noRows(err):
		return storage.ErrNotFound, nil
	case err != nil:
		return nil, err
	case used(f):
		return storage.ErrAlreadyUsed, nil
	}
	return storage.ErrNotFound, nil
}

// factorResult is what a single-use method returns: the driver's error,
// else the rule's refusal, else the factor.
func factorResult(s *Store, op string, got storage.Factor, err, outcome error) (storage.Factor, error) {
	if err == nil {
		err = outcome
	}
	if err != nil {
		return storage.Factor{}, s.fail(op, err)
	}
	return got, nil
}

// ConsumeRecoveryCode marks the code used rather than deleting it, so that
// a second use is ErrAlreadyUsed (worth an audit event: the set may have
// leaked), not a wrong code. An empty hash matches nothing.
func (s *Store) ConsumeRecoveryCode(ctx context.Context, userID string, hash []byte, now time.Time) (storage.Factor, error) {
	const op = "consume recovery code"
	if now.IsZero() {
		return storage.Factor{}, errZeroNow
	}
	if len(hash) == 0 {
		return storage.Factor{}, s.fail(op, storage.ErrNotFound)
	}
	var got storage.Factor
	var outcome error
	err := s.d.InTx(ctx, func(q Querier) error {
		var err error
		outcome = nil
		got, err = factors.one(ctx, q, consumeRecoveryCode+factors.cols, userID, storage.FactorRecovery, hash, micros(now))
		if !s.noRows(err) {
			return err
		}
		_, err = factors.one(ctx, q, factors.selectWhere("WHERE "+recoveryMatch+" LIMIT 1"), userID, storage.FactorRecovery, hash)
		switch {
		case s.noRows(err):
			outcome = storage.ErrNotFound
		case err == nil:
			outcome = storage.ErrAlreadyUsed
		}
		return err
	})
	return factorResult(s, op, got, err, outcome)
}

// ReplaceRecoveryCodes holds the user's recovery lock while it deletes and
// inserts: without it, two concurrent replacements on PostgreSQL would each
// delete only the codes committed before them, and both new sets survive.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, codes []storage.Factor) error {
	const op = "replace recovery codes"
	for i, c := range codes {
		if err := checkRecoveryCode(c); err != nil {
			return fmt.Errorf("storage: %s: code %d: %w", op, i, err)
		}
	}
	return s.fail(op, s.d.InTx(ctx, func(q Querier) error {
		if err := s.d.Lock(ctx, q, recoveryLock(userID)); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM factors WHERE user_id = $1 AND kind = $2`, userID, storage.FactorRecovery); err != nil {
			return err
		}
		for _, c := range codes {
			c.UserID, c.Kind = userID, storage.FactorRecovery
			if err := factors.put(ctx, q, &c); err != nil {
				return err
			}
		}
		return nil
	}))
}

// checkRecoveryCode refuses codes that could never be consumed: without a
// Secret no hash matches (and an empty one would match an empty hash),
// and unconfirmed codes are not usable. Both are the caller's mistake, not
// bad input.
func checkRecoveryCode(c storage.Factor) error {
	switch {
	case len(c.Secret) == 0:
		return errors.New("no secret (the code's hash)")
	case c.ConfirmedAt.IsZero():
		return errors.New("not confirmed: a recovery code is stored once the user has seen it")
	}
	return nil
}

func recoveryLock(userID string) string { return "recovery-codes:" + userID }

func (s *Store) TouchFactor(ctx context.Context, id string, now time.Time) error {
	const op = "touch factor"
	if now.IsZero() {
		return errZeroNow
	}
	n, err := s.exec(ctx, op, `UPDATE factors SET last_used_at = $2 WHERE id = $1`, id, micros(now))
	if err == nil && n == 0 {
		err = s.fail(op, storage.ErrNotFound)
	}
	return err
}

func (s *Store) DeleteFactor(ctx context.Context, id string) error {
	return remove(ctx, s, factors, "delete factor", id)
}

func (s *Store) DeleteUserFactors(ctx context.Context, userID string) (int, error) {
	return s.exec(ctx, "delete user factors", `DELETE FROM factors WHERE user_id = $1`, userID)
}

var _ storage.Factors = (*Store)(nil)
