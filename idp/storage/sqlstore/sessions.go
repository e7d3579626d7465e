package sqlstore

import (
	"context"
	"fmt"
	"time"

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

// ListUserSessions lists the live sessions of userID (those DeleteExpired
// would keep), most recently seen first; at most 100, far more browsers
// than a person uses.
func (s *Store) ListUserSessions(ctx context.Context, userID string, now time.Time) ([]storage.Session, error) {
	out, err := sessions.many(ctx, s.d, sessions.selectWhere(`WHERE user_id = $1 AND expires_at >= $2
		AND (idle_expires_at = 0 OR idle_expires_at >= $2) ORDER BY last_seen_at DESC, hash LIMIT 100`), userID, micros(now))
	return out, s.fail("list user sessions", err)
}

func (s *Store) DeleteUserSession(ctx context.Context, userID, hash string) error {
	n, err := s.exec(ctx, "delete user session", `DELETE FROM sessions WHERE user_id = $1 AND hash = $2`, userID, hash)
	if err == nil && n == 0 {
		return fmt.Errorf("delete user session: %w", storage.ErrNotFound)
	}
	return err
}
