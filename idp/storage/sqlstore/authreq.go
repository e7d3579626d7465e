package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func (s *Store) CreateAuthRequest(ctx context.Context, r storage.AuthRequest) error {
	return create(ctx, s, authRequests, "create auth request", r)
}

func (s *Store) GetAuthRequest(ctx context.Context, id string) (storage.AuthRequest, error) {
	return get(ctx, s, authRequests, "get auth request", id)
}

func (s *Store) UpdateAuthRequest(ctx context.Context, id string, fn func(storage.AuthRequest) (storage.AuthRequest, error)) (storage.AuthRequest, error) {
	return update(ctx, s, authRequests, "update auth request", id, fn)
}

func (s *Store) DeleteAuthRequest(ctx context.Context, id string) error {
	return remove(ctx, s, authRequests, "delete auth request", id)
}

func (s *Store) CreateAuthCode(ctx context.Context, c storage.AuthCode) error {
	return create(ctx, s, authCodes, "create auth code", c)
}

// ConsumeAuthCode: see consume. A replayed code comes back with
// ErrAlreadyUsed so that the caller can revoke its GrantID.
func (s *Store) ConsumeAuthCode(ctx context.Context, hash string, now time.Time) (storage.AuthCode, error) {
	return consume(ctx, s, authCodes, "consume auth code", now,
		func(c storage.AuthCode) time.Time { return c.ConsumedAt },
		"hash = $1", hash)
}

// consume marks a single-use row consumed with one conditional UPDATE, which
// the database applies to at most one of any number of concurrent callers.
// When it updates nothing, the row is read to tell the losers why: not
// found, already used (returned with the row) or expired.
func consume[T any](ctx context.Context, s *Store, t *table[T], op string, now time.Time,
	consumedAt func(T) time.Time, match string, args ...any,
) (T, error) {
	var zero T
	if now.IsZero() {
		return zero, errZeroNow
	}
	nowArg := fmt.Sprintf("$%d", len(args)+1)
	upd := "UPDATE " + t.name + " SET consumed_at = " + nowArg + " WHERE " + match +
		" AND consumed_at = 0 AND expires_at > " + nowArg + " RETURNING " + t.cols
	updArgs := append(slices.Clip(args), micros(now))
	var got T
	var outcome error
	err := s.d.InTx(ctx, func(q Querier) error {
		var err error
		outcome = nil
		got, err = t.one(ctx, q, upd, updArgs...)
		if err == nil || !s.noRows(err) {
			return err
		}
		got, err = t.one(ctx, q, t.selectWhere("WHERE "+match), args...)
		switch {
		case err != nil:
			return err
		case !consumedAt(got).IsZero():
			outcome = storage.ErrAlreadyUsed
		default: // unconsumed, so the UPDATE saw it expired
			got, outcome = zero, storage.ErrExpired
		}
		return nil
	})
	if err != nil {
		return zero, s.fail(op, err)
	}
	return got, s.fail(op, outcome)
}
