package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Links tie upstream identities to users. An administrator lists and
// removes them here; /me calls the same methods by user id for a user's
// own.

// LinkInfo is a link with what is shown beside it.
type LinkInfo struct {
	Link storage.Link
	// ConnectorName is what the login pages call the connector.
	ConnectorName string
	ConnectorType string
}

// LinkView is a link as the API shows it.
type LinkView struct {
	Connector     string    `json:"connector"`
	ConnectorName string    `json:"connector_name"`
	ConnectorType string    `json:"connector_type"`
	Subject       string    `json:"subject"`
	Email         string    `json:"email"`
	Groups        []string  `json:"groups"`
	CreatedAt     time.Time `json:"created_at"`
	LastLoginAt   time.Time `json:"last_login_at"`
}

// ViewLink returns i as the API shows it.
func ViewLink(i LinkInfo) LinkView {
	l := i.Link
	return LinkView{Connector: l.ConnectorID, ConnectorName: i.ConnectorName, ConnectorType: i.ConnectorType,
		Subject: l.Subject, Email: l.Email, Groups: nonNil(l.Groups), CreatedAt: l.CreatedAt.UTC(), LastLoginAt: l.LastLoginAt.UTC()}
}

// ListLinks lists the links of the user email names, in reach, oldest
// first.
func (s *Service) ListLinks(ctx context.Context, reach Reach, email string) ([]LinkInfo, error) {
	u, err := s.UserInReach(ctx, reach, "list links", email)
	if err != nil {
		return nil, err
	}
	return s.UserLinks(ctx, u.ID)
}

// UserLinks lists user userID's links, oldest first.
func (s *Service) UserLinks(ctx context.Context, userID string) ([]LinkInfo, error) {
	const op = "list links"
	ls, err := s.Store.ListUserLinks(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out := make([]LinkInfo, 0, len(ls))
	for _, l := range ls {
		i := LinkInfo{Link: l}
		c, err := s.Store.GetConnector(ctx, l.ConnectorID)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			// Deleted meanwhile: the link went with it.
			continue
		case err != nil:
			return nil, fmt.Errorf("%s: connector: %w", op, err)
		}
		i.ConnectorName, i.ConnectorType = c.Name, c.Type
		out = append(out, i)
	}
	return out, nil
}

// RemoveLink removes the link (connectorID, subject) of the user email
// names, in reach.
func (s *Service) RemoveLink(ctx context.Context, reach Reach, actor, email, connectorID, subject string) error {
	u, err := s.UserInReach(ctx, reach, "remove link", email)
	if err != nil {
		return err
	}
	return s.RemoveUserLink(ctx, actor, u.ID, connectorID, subject)
}

func linkNotFound(connectorID string) error {
	return &InputError{Msg: fmt.Sprintf("the user has no link through connector %q with that subject", shorten(connectorID)),
		Err: storage.ErrNotFound}
}

// RemoveUserLink removes user userID's link (connectorID, subject) and
// records link.removed. The upstream identity no longer signs in as the
// user (a next login there starts a new link, by the linking rules), and
// the tokens and sessions of logins that stood on it stop working. A link
// of another user is answered as one that does not exist.
func (s *Service) RemoveUserLink(ctx context.Context, actor, userID, connectorID, subject string) error {
	const op = "remove link"
	l, err := s.Store.GetLink(ctx, connectorID, subject)
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInvalid):
		return linkNotFound(connectorID)
	case err != nil:
		return fmt.Errorf("%s: %w", op, err)
	case l.UserID != userID:
		return linkNotFound(connectorID)
	}
	u, err := s.Store.GetUser(ctx, userID)
	if err != nil {
		return fmt.Errorf("%s: user: %w", op, err)
	}
	if err := s.Store.DeleteLink(ctx, connectorID, subject); errors.Is(err, storage.ErrNotFound) {
		return linkNotFound(connectorID)
	} else if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return s.Audit.Record(ctx, storage.AuditEvent{Type: AuditLinkRemoved, OrgID: u.OrgID, ActorID: actor, UserID: userID,
		Details: map[string]string{"connector": connectorID, "subject": subject}})
}
