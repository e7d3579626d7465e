package sqlstore

import (
	"context"
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func (s *Store) CreateSigningKey(ctx context.Context, k storage.SigningKey) error {
	return create(ctx, s, signingKeys, "create signing key", k)
}

// ListSigningKeys returns the keys of one use, oldest first (ties by id, so
// the order is stable).
func (s *Store) ListSigningKeys(ctx context.Context, use string) ([]storage.SigningKey, error) {
	out, err := signingKeys.many(ctx, s.d, signingKeys.selectWhere("WHERE key_use = $1 ORDER BY created_at, id"), use)
	return out, s.fail("list signing keys", err)
}

func (s *Store) UpdateSigningKey(ctx context.Context, id string, fn func(storage.SigningKey) (storage.SigningKey, error)) (storage.SigningKey, error) {
	return update(ctx, s, signingKeys, "update signing key", id, fn)
}

func (s *Store) DeleteSigningKey(ctx context.Context, id string) error {
	return remove(ctx, s, signingKeys, "delete signing key", id)
}

// CreateSigningKeysIf holds a lock per use for the transaction and lists
// the keys in a statement after it, so that it sees the rows of the call
// that held the lock before (READ COMMITTED snapshots start per statement).
func (s *Store) CreateSigningKeysIf(ctx context.Context, use string, decide func([]storage.SigningKey) ([]storage.SigningKey, error)) ([]storage.SigningKey, error) {
	var out []storage.SigningKey
	err := s.d.InTx(ctx, func(q Querier) error {
		out = nil
		if err := s.d.Lock(ctx, q, "signing-keys:"+use); err != nil {
			return err
		}
		cur, err := signingKeys.many(ctx, q, signingKeys.selectWhere("WHERE key_use = $1 ORDER BY created_at, id"), use)
		if err != nil {
			return err
		}
		add, err := decide(cur)
		if err != nil {
			return callerError{err}
		}
		for i := range add {
			if add[i].Use != use {
				return callerError{fmt.Errorf("key %s has use %q, want %q", add[i].ID, add[i].Use, use)}
			}
			if err := signingKeys.put(ctx, q, &add[i]); err != nil {
				return err
			}
			if err := signingKeys.storeChildren(ctx, q, &add[i]); err != nil {
				return err
			}
		}
		out = add
		return nil
	})
	if err != nil {
		return nil, s.fail("create signing keys", err)
	}
	return out, nil
}
