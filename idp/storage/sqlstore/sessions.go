package sqlstore

import (
	"context"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func (s *Store) CreateSession(ctx context.Context, sess storage.Session) error {
	return create(ctx, s, sessions, "create session", sess)
}

func (s *Store) GetSession(ctx context.Context, hash string) (storage.Session, error) {
	return get(ctx, s, sessions, "get session", hash)
}

func (s *Store) UpdateSession(ctx context.Context, hash string, fn func(storage.Session) (storage.Session, error)) (storage.Session, error) {
	return update(ctx, s, sessions, "update session", hash, fn)
}

func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	return remove(ctx, s, sessions, "delete session", hash)
}

func (s *Store) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	return s.exec(ctx, "delete user sessions", `DELETE FROM sessions WHERE user_id = $1`, userID)
}

func (s *Store) DeleteOtherUserSessions(ctx context.Context, userID, keepHash string) (int, error) {
	return s.exec(ctx, "delete other user sessions", `DELETE FROM sessions WHERE user_id = $1 AND hash <> $2`, userID, keepHash)
}
