package sqlstore

import (
	"context"
	"errors"
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

func (s *Store) GetAuthCode(ctx context.Context, hash string) (storage.AuthCode, error) {
	return get(ctx, s, authCodes, "get auth code", hash)
}

// RedeemAuthCode takes the grant's lock (and the user's), as a rotation
// does, before it looks at the code: a revocation of the grant then either
// runs first and this exchange finds its code used, or runs after and
// sees the tokens stored here. The tokens are signed before the call, so
// the transaction does no more than read the code and write three rows.
func (s *Store) RedeemAuthCode(ctx context.Context, hash string, access storage.AccessToken, refresh *storage.RefreshToken, now time.Time) (storage.AuthCode, error) {
	if now.IsZero() {
		return storage.AuthCode{}, errZeroNow
	}
	var code storage.AuthCode
	var outcome error
	err := s.d.InTx(ctx, func(q Querier) error {
		outcome = nil
		// A code's grant never changes, so it can be read before the lock.
		cur, err := authCodes.one(ctx, q, authCodes.byKey(""), hash)
		if err != nil {
			return err
		}
		if err := s.d.Lock(ctx, q, tokenLocks(cur.GrantID, access.UserID)...); err != nil {
			return err
		}
		code, err = authCodes.one(ctx, q, authCodes.byKey(s.d.ForUpdate()), hash)
		switch {
		case err != nil:
			return err
		case !code.ConsumedAt.IsZero():
			outcome = storage.ErrAlreadyUsed
			if code.GrantID == "" { // no grant to revoke; never all grant-less tokens
				return nil
			}
			_, err := revokeTokens(ctx, q, "family_id", code.GrantID, now)
			return err
		case !now.Before(code.ExpiresAt):
			outcome = storage.ErrExpired
			return nil
		}
		if _, err := q.Exec(ctx, `UPDATE auth_codes SET consumed_at = $2 WHERE hash = $1`, hash, micros(now)); err != nil {
			return err
		}
		code.ConsumedAt = fromMicros(micros(now))
		access.FamilyID = code.GrantID
		if err := accessTokens.put(ctx, q, &access); err != nil {
			return err
		}
		if refresh == nil {
			return nil
		}
		next := *refresh
		next.FamilyID = code.GrantID
		return refreshTokens.put(ctx, q, &next)
	})
	if err == nil {
		err = outcome
	}
	if err != nil {
		if errors.Is(err, storage.ErrAlreadyUsed) {
			return code, s.fail("redeem auth code", err)
		}
		return storage.AuthCode{}, s.fail("redeem auth code", err)
	}
	return code, nil
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
