package sqlstore

import (
	"context"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Links are keyed by (connector_id, subject), so they have their own
// statements instead of the single-key get, update and remove.
const linkKey = "connector_id = $1 AND subject = $2"

// CreateLink relies on the foreign keys: an unknown connector or user (""
// included) is a violation, hence ErrConflict, as a taken key is.
func (s *Store) CreateLink(ctx context.Context, l storage.Link) error {
	return create(ctx, s, links, "create link", l)
}

func (s *Store) GetLink(ctx context.Context, connectorID, subject string) (storage.Link, error) {
	l, err := links.one(ctx, s.d, links.selectWhere("WHERE "+linkKey), connectorID, subject)
	if err != nil {
		return storage.Link{}, s.fail("get link", err)
	}
	return l, nil
}

// ListUserLinks orders ties in CreatedAt by key, so that the list is the
// same every time.
func (s *Store) ListUserLinks(ctx context.Context, userID string) ([]storage.Link, error) {
	out, err := links.many(ctx, s.d, links.selectWhere("WHERE user_id = $1 ORDER BY created_at, connector_id, subject"), userID)
	return out, s.fail("list user links", err)
}

// UpdateLink is the update-by-function of links: the row is read and
// locked, fn computes the new one, and only Email, Groups and LastLoginAt
// are taken from it; the key, the user and CreatedAt stay, so that an
// upstream login can never move a link to another account.
func (s *Store) UpdateLink(ctx context.Context, connectorID, subject string, fn func(storage.Link) (storage.Link, error)) (storage.Link, error) {
	var out storage.Link
	err := s.d.InTx(ctx, func(q Querier) error {
		cur, err := links.one(ctx, q, links.selectWhere("WHERE "+linkKey+s.d.ForUpdate()), connectorID, subject)
		if err != nil {
			return err
		}
		was := links.encoded(&cur)
		got, err := fn(cur)
		if err != nil {
			return callerError{err}
		}
		next := cur
		next.Email, next.Groups, next.LastLoginAt = got.Email, got.Groups, got.LastLoginAt
		if err := links.rewriteKeyed(ctx, q, was, &next, []string{"connector_id", "subject"}, connectorID, subject); err != nil {
			return err
		}
		out = next
		return nil
	})
	if err != nil {
		return storage.Link{}, s.fail("update link", err)
	}
	return out, nil
}

func (s *Store) DeleteLink(ctx context.Context, connectorID, subject string) error {
	const op = "delete link"
	n, err := s.exec(ctx, op, `DELETE FROM links WHERE `+linkKey, connectorID, subject)
	if err == nil && n == 0 {
		err = s.fail(op, storage.ErrNotFound)
	}
	return err
}

var _ storage.Links = (*Store)(nil)
