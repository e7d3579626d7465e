package sqlstore

import (
	"context"

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
