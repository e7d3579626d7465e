package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// UserDetail is the console's user page: what ShowUser tells, with the
// user's live sessions, linked upstream identities and latest audit events.
type UserDetail struct {
	UserInfo
	OrgID    string
	Sessions []storage.Session
	Links    []LinkInfo
	Events   []storage.AuditEvent
	// OlderEvents is the cursor of the events before Events (0: none).
	OlderEvents int64
	// Held are the user's roles as RevokeRole names them, with labels.
	Held []HeldRole
}

// HeldRole is one role a user holds: Label as people read it, Change as
// RevokeRole takes it (Email left for the caller).
type HeldRole struct {
	Label  string
	Change RoleChange
}

// userEvents is how many audit events the user page shows at a time.
const userEvents = 50

// UserByID finds user id when in reach, or an InputError wrapping
// storage.ErrNotFound (unknown, of another organization) or ErrOutranked.
func (s *Service) UserByID(ctx context.Context, reach Reach, id string) (storage.User, error) {
	return s.refInReach(ctx, reach, UserRef{ID: id})
}

// GetUserDetail gathers the user page of user id, in reach; beforeEvent
// pages the audit trail (0: the latest).
func (s *Service) GetUserDetail(ctx context.Context, reach Reach, id string, beforeEvent int64) (UserDetail, error) {
	const op = "user detail"
	u, err := s.viewableUser(ctx, reach, id)
	if err != nil {
		return UserDetail{}, err
	}
	info, err := s.userInfo(ctx, u)
	if err != nil {
		return UserDetail{}, err
	}
	d := UserDetail{UserInfo: info, OrgID: u.OrgID}
	if d.Sessions, err = s.Store.ListUserSessions(ctx, u.ID, s.Now()); err != nil {
		return UserDetail{}, fmt.Errorf("%s: sessions: %w", op, err)
	}
	if d.Links, err = s.UserLinks(ctx, u.ID); err != nil {
		return UserDetail{}, err
	}
	evs, err := s.Store.ListAuditEvents(ctx, storage.AuditQuery{UserID: u.ID, BeforeID: beforeEvent, Limit: userEvents + 1})
	if err != nil {
		return UserDetail{}, fmt.Errorf("%s: audit events: %w", op, err)
	}
	if len(evs) > userEvents {
		evs = evs[:userEvents]
		d.OlderEvents = evs[len(evs)-1].ID
	}
	d.Events = evs
	for i, r := range u.Roles {
		ch := RoleChange{Email: u.Email, Role: RoleNameAdmin}
		if id, ok := strings.CutPrefix(r, storage.RoleOrgAdminPrefix); ok {
			ch.Role = RoleNameOrgAdmin
			if o, err := s.Store.GetOrganization(ctx, id); err == nil {
				ch.Org = o.Name
			} else if !errors.Is(err, storage.ErrNotFound) {
				return UserDetail{}, fmt.Errorf("%s: role: %w", op, err)
			}
		}
		label := r
		if i < len(info.Roles) {
			label = info.Roles[i]
		}
		d.Held = append(d.Held, HeldRole{Label: label, Change: ch})
	}
	return d, nil
}

// viewableUser is user id when its organization is in reach. Unlike
// UserByID an organization admin may look at an administrator of their
// organization (the users list shows them too); acting on one is what
// ErrOutranked refuses.
func (s *Service) viewableUser(ctx context.Context, reach Reach, id string) (storage.User, error) {
	unknown := &InputError{Msg: fmt.Sprintf("no user with id %q", shorten(id)), Err: storage.ErrNotFound}
	u, err := s.Store.GetUser(ctx, id)
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInvalid):
		return storage.User{}, unknown
	case err != nil:
		return storage.User{}, fmt.Errorf("user: %w", err)
	case !reach.Org(u.OrgID):
		return storage.User{}, unknown
	}
	return u, nil
}

// RevokeSession signs user id out of the one session hash names, within
// reach, revokes the tokens applications got from it, and records
// session.revoked. A hash that names no session of that user is an
// InputError wrapping storage.ErrNotFound.
func (s *Service) RevokeSession(ctx context.Context, actor string, reach Reach, id, hash string) error {
	u, err := s.UserByID(ctx, reach, id)
	if err != nil {
		return err
	}
	switch err := s.Store.DeleteUserSession(ctx, u.ID, hash); {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInvalid):
		return &InputError{Msg: "that session has already ended", Err: storage.ErrNotFound}
	case err != nil:
		return fmt.Errorf("revoke session: %w", err)
	}
	// After the session is gone, so that it cannot get a new grant in
	// between.
	n, err := s.Store.RevokeSessionTokens(ctx, hash, s.Now())
	if err != nil {
		return fmt.Errorf("revoke session: its tokens: %w", err)
	}
	return s.Audit.Record(ctx, storage.AuditEvent{Type: audit.SessionRevoked, OrgID: u.OrgID, ActorID: actor, UserID: u.ID,
		Details: map[string]string{"session": storage.SessionHandle(hash), "by": "admin", "tokens_revoked": fmt.Sprint(n)}})
}
