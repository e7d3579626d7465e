package admin

import (
	"context"
	"errors"
	"fmt"
)

// ErrLastSignIn: the link is the account's only way to sign in (it has no
// password), so its user may not remove it themselves: they would lock
// themselves out, and the next login there would have to link again. An
// administrator may (RemoveUserLink).
var ErrLastSignIn = errors.New("admin: the link is the account's only way to sign in")

// RemoveOwnLink is a user removing one of their own links (/me/links):
// RemoveUserLink, unless it is the account's last way to sign in.
func (s *Service) RemoveOwnLink(ctx context.Context, userID, connectorID, subject string) error {
	u, err := s.Store.GetUser(ctx, userID)
	if err != nil {
		return fmt.Errorf("remove link: user: %w", err)
	}
	if u.PasswordHash == "" {
		ls, err := s.Store.ListUserLinks(ctx, userID)
		if err != nil {
			return fmt.Errorf("remove link: %w", err)
		}
		others := 0
		for _, l := range ls {
			if l.ConnectorID != connectorID || l.Subject != subject {
				others++
			}
		}
		if others == 0 && len(ls) > 0 {
			return ErrLastSignIn
		}
	}
	return s.RemoveUserLink(ctx, userID, userID, connectorID, subject)
}
