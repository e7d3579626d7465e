package selfservice

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// A user's browser sessions at /me/sessions: the list, signing one other
// session out, and signing out everywhere else. The session in use is
// ended by signing out (/logout), which also takes the browser through
// its applications' logouts; it is refused here.

// ErrCurrentSession: the session named is the one in use.
var ErrCurrentSession = errors.New("selfservice: that is the session in use; sign out instead")

// ErrNoSession: no session of the user has that handle (already ended).
var ErrNoSession = errors.New("selfservice: no such session")

// Sessions lists userID's live sessions, the most recently seen first.
func (s *Service) Sessions(ctx context.Context, userID string) ([]storage.Session, error) {
	out, err := s.Store.ListUserSessions(ctx, userID, s.now())
	if err != nil {
		return nil, fmt.Errorf("selfservice: sessions: %w", err)
	}
	return out, nil
}

// SignOutSession ends userID's session hash, from the session current,
// and records session.revoked.
func (s *Service) SignOutSession(ctx context.Context, userID, current, hash string) error {
	if hash == current {
		return ErrCurrentSession
	}
	switch err := s.Store.DeleteUserSession(ctx, userID, hash); {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInvalid):
		return ErrNoSession
	case err != nil:
		return fmt.Errorf("selfservice: sign out a session: %w", err)
	}
	n, err := s.Store.RevokeSessionTokens(ctx, hash, s.now())
	if err != nil {
		return fmt.Errorf("selfservice: sign out a session: its tokens: %w", err)
	}
	s.recordSelf(ctx, userID, map[string]string{"session": storage.SessionHandle(hash), "by": "user", "tokens_revoked": fmt.Sprint(n)})
	return nil
}

// SignOutOthers ends every session of userID but current, and the tokens
// applications got from them, and says how many sessions; one
// session.revoked records it.
func (s *Service) SignOutOthers(ctx context.Context, userID, current string) (int, error) {
	// The sessions are read first: their tokens are revoked once they
	// are gone, so that none of them gets a new grant in between.
	list, err := s.Store.ListUserSessions(ctx, userID, s.now())
	if err != nil {
		return 0, fmt.Errorf("selfservice: sign out other sessions: %w", err)
	}
	n, err := s.Store.DeleteOtherUserSessions(ctx, userID, current)
	if err != nil {
		return 0, fmt.Errorf("selfservice: sign out other sessions: %w", err)
	}
	tokens := 0
	for _, x := range list {
		if x.Hash == current {
			continue
		}
		k, err := s.Store.RevokeSessionTokens(ctx, x.Hash, s.now())
		if err != nil {
			return n, fmt.Errorf("selfservice: sign out other sessions: their tokens: %w", err)
		}
		tokens += k
	}
	if n > 0 {
		s.recordSelf(ctx, userID, map[string]string{"sessions": fmt.Sprint(n), "by": "user", "tokens_revoked": fmt.Sprint(tokens)})
	}
	return n, nil
}

func (s *Service) recordSelf(ctx context.Context, userID string, details map[string]string) {
	u, err := s.Store.GetUser(ctx, userID)
	if err != nil {
		u = storage.User{ID: userID}
	}
	s.record(ctx, audit.SessionRevoked, userID, u, details)
}
