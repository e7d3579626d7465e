package sqlstore

import (
	"context"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	return create(ctx, s, clients, "create client", c)
}

func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	return get(ctx, s, clients, "get client", id)
}

// ListClients returns every client ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	out, err := clients.many(ctx, s.d, clients.selectWhere("ORDER BY id"))
	return out, s.fail("list clients", err)
}

func (s *Store) UpdateClient(ctx context.Context, id string, fn func(storage.Client) (storage.Client, error)) (storage.Client, error) {
	return update(ctx, s, clients, "update client", id, fn)
}

func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return remove(ctx, s, clients, "delete client", id)
}
