package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func (s *Store) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	return create(ctx, s, refreshTokens, "create refresh token", t)
}

func (s *Store) GetRefreshToken(ctx context.Context, hash string) (storage.RefreshToken, error) {
	return get(ctx, s, refreshTokens, "get refresh token", hash)
}

// RotateRefreshToken locks the old token and decides, in one transaction:
//   - revoked: ErrRevoked, nothing stored;
//   - used before: reuse, the mark of a stolen token. The family's refresh
//     and access tokens are revoked, that revocation is committed, and
//     ErrAlreadyUsed is returned. This is checked before expiry so that
//     replaying an old, expired token still revokes its family;
//   - expired: ErrExpired, nothing stored;
//   - otherwise the old token is marked used (and returned so) and next,
//     with access if given, is stored in its family.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next storage.RefreshToken, access *storage.AccessToken, now time.Time) (storage.RefreshToken, error) {
	if now.IsZero() {
		return storage.RefreshToken{}, errZeroNow
	}
	var old storage.RefreshToken
	var outcome error
	err := s.d.InTx(ctx, func(q Querier) error {
		outcome = nil
		// A token's family and user never change, so they can be read
		// before taking the locks that serialize this rotation with
		// revocations of either.
		cur, err := refreshTokens.one(ctx, q, refreshTokens.byKey(""), oldHash)
		if err != nil {
			return err
		}
		if err := s.d.Lock(ctx, q, tokenLocks(cur.FamilyID, cur.UserID)...); err != nil {
			return err
		}
		old, err = refreshTokens.one(ctx, q, refreshTokens.byKey(s.d.ForUpdate()), oldHash)
		switch {
		case err != nil:
			return err
		case !old.RevokedAt.IsZero():
			outcome = storage.ErrRevoked
			return nil
		case !old.UsedAt.IsZero():
			outcome = storage.ErrAlreadyUsed
			if old.FamilyID == "" { // no family to revoke; never all family-less tokens
				return nil
			}
			_, err := revokeTokens(ctx, q, "family_id", old.FamilyID, now)
			return err
		case !now.Before(old.ExpiresAt):
			outcome = storage.ErrExpired
			return nil
		}
		if _, err := q.Exec(ctx, `UPDATE refresh_tokens SET used_at = $2 WHERE hash = $1`, oldHash, micros(now)); err != nil {
			return err
		}
		old.UsedAt = fromMicros(micros(now))
		next.FamilyID = old.FamilyID
		if err := refreshTokens.put(ctx, q, &next); err != nil {
			return err
		}
		if access == nil {
			return nil
		}
		at := *access
		at.FamilyID = old.FamilyID
		return accessTokens.put(ctx, q, &at)
	})
	if err == nil {
		err = outcome
	}
	if err != nil {
		return storage.RefreshToken{}, s.fail("rotate refresh token", err)
	}
	return old, nil
}

func (s *Store) CreateAccessToken(ctx context.Context, t storage.AccessToken) error {
	return create(ctx, s, accessTokens, "create access token", t)
}

func (s *Store) GetAccessToken(ctx context.Context, hash string) (storage.AccessToken, error) {
	return get(ctx, s, accessTokens, "get access token", hash)
}

// RevokeAccessToken is idempotent: revoking twice keeps the first time.
func (s *Store) RevokeAccessToken(ctx context.Context, hash string, now time.Time) error {
	if now.IsZero() {
		return errZeroNow
	}
	n, err := s.exec(ctx, "revoke access token",
		`UPDATE access_tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN $2 ELSE revoked_at END WHERE hash = $1`,
		hash, micros(now))
	if err == nil && n == 0 {
		err = s.fail("revoke access token", storage.ErrNotFound)
	}
	return err
}

// RevokeFamily revokes the family's tokens not revoked yet and counts them.
// The empty family is no family: it revokes nothing.
func (s *Store) RevokeFamily(ctx context.Context, familyID string, now time.Time) (int, error) {
	if familyID == "" {
		return 0, nil
	}
	return s.revoke(ctx, "revoke family", "family_id", familyID, familyLock(familyID), now)
}

func (s *Store) RevokeUserTokens(ctx context.Context, userID string, now time.Time) (int, error) {
	if userID == "" {
		return 0, nil
	}
	return s.revoke(ctx, "revoke user tokens", "user_id", userID, userTokensLock(userID), now)
}

// RevokeSessionTokens revokes the families of the session's refresh tokens,
// each under its family's lock as RevokeFamily does, so that a rotation
// racing with it cannot leave a live token behind.
func (s *Store) RevokeSessionTokens(ctx context.Context, sessionID string, now time.Time) (int, error) {
	if sessionID == "" {
		return 0, nil
	}
	if now.IsZero() {
		return 0, errZeroNow
	}
	const op = "revoke session tokens"
	rows, err := s.d.Query(ctx, "SELECT DISTINCT family_id FROM refresh_tokens WHERE session_id = $1", sessionID)
	if err != nil {
		return 0, s.fail(op, err)
	}
	var families []string
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			rows.Close()
			return 0, s.fail(op, err)
		}
		families = append(families, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, s.fail(op, err)
	}
	total := 0
	for _, f := range families {
		n, err := s.RevokeFamily(ctx, f, now)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// revoke holds lock while it revokes, so that a rotation in progress either
// finishes first (and its new token is revoked here) or waits and finds its
// old token revoked.
func (s *Store) revoke(ctx context.Context, op, column, value, lock string, now time.Time) (int, error) {
	if now.IsZero() {
		return 0, errZeroNow
	}
	var n int
	err := s.d.InTx(ctx, func(q Querier) error {
		if err := s.d.Lock(ctx, q, lock); err != nil {
			return err
		}
		var err error
		n, err = revokeTokens(ctx, q, column, value, now)
		return err
	})
	if err != nil {
		return 0, s.fail(op, err)
	}
	return n, nil
}

// revokeTokens revokes the refresh and access tokens whose column (a
// constant, never input) equals value.
func revokeTokens(ctx context.Context, q Querier, column, value string, now time.Time) (int, error) {
	total := 0
	for _, tbl := range []string{"refresh_tokens", "access_tokens"} {
		n, err := q.Exec(ctx, "UPDATE "+tbl+" SET revoked_at = $2 WHERE "+column+" = $1 AND revoked_at = 0", value, micros(now))
		if err != nil {
			return 0, err
		}
		total += int(n)
	}
	return total, nil
}

// Lock keys (see Driver.Lock). A rotation takes its family's, then its
// user's; a revocation takes one of them; so no two wait for each other in
// opposite orders.
func familyLock(id string) string     { return "family:" + id }
func userTokensLock(id string) string { return "user-tokens:" + id }

func tokenLocks(familyID, userID string) []string {
	var keys []string
	if familyID != "" {
		keys = append(keys, familyLock(familyID))
	}
	if userID != "" {
		keys = append(keys, userTokensLock(userID))
	}
	return keys
}

// oneTimeKey serializes the creators of one user's tokens of one purpose.
func oneTimeKey(purpose, userID string) string { return "one-time:" + purpose + ":" + userID }
