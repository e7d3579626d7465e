package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// CreateOneTimeToken stores t after deleting, in the same transaction, the
// unconsumed tokens of the same purpose and user: the newest link wins. A
// token without a user voids nothing.
func (s *Store) CreateOneTimeToken(ctx context.Context, t storage.OneTimeToken) error {
	return s.fail("create one-time token", s.d.InTx(ctx, func(q Querier) error {
		if t.UserID != "" {
			// Without the lock, concurrent creators would each delete only
			// the tokens committed before they started, and all survive.
			if err := s.d.Lock(ctx, q, oneTimeKey(t.Purpose, t.UserID)); err != nil {
				return err
			}
			_, err := q.Exec(ctx, `DELETE FROM one_time_tokens WHERE purpose = $1 AND user_id = $2 AND consumed_at = 0`,
				t.Purpose, t.UserID)
			if err != nil {
				return err
			}
		}
		return oneTimeTokens.put(ctx, q, &t)
	}))
}

func (s *Store) GetOneTimeToken(ctx context.Context, purpose, hash string) (storage.OneTimeToken, error) {
	t, err := oneTimeTokens.one(ctx, s.d, oneTimeTokens.selectWhere("WHERE hash = $1 AND purpose = $2"), hash, purpose)
	if err != nil {
		return storage.OneTimeToken{}, s.fail("get one-time token", err)
	}
	return t, nil
}

// ConsumeOneTimeToken: see consume. A token of another purpose is not found.
func (s *Store) ConsumeOneTimeToken(ctx context.Context, purpose, hash string, now time.Time) (storage.OneTimeToken, error) {
	return consume(ctx, s, oneTimeTokens, "consume one-time token", now,
		func(t storage.OneTimeToken) time.Time { return t.ConsumedAt },
		"hash = $1 AND purpose = $2", hash, purpose)
}
