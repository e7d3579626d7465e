package admin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The audit log of the console: events within the caller's reach, newest
// first, a page at a time by cursor.

// AuditFilter is an audit-log query. Every field may be empty.
type AuditFilter struct {
	// OrgID keeps one organization's events; empty: every event in reach
	// (an organization admin sees their first organization's unless
	// they pick one, and never the server's own events, which have no
	// organization).
	OrgID string
	// User is an email: only that user's events.
	User string
	Type string
	// Since and Until are days (2006-01-02, UTC): events on or after
	// Since, and on or before Until.
	Since, Until string
	// Before is the cursor: events older than the event with this ID.
	Before int64
	Limit  int
}

// AuditRow is one event with the names its columns show.
type AuditRow struct {
	Event storage.AuditEvent
	User  string // the user's email, "" when none or deleted
	Org   string // the organization's display name
}

// AuditPage is a page of events; Next is the cursor of the next (older)
// page, 0 when there is none.
type AuditPage struct {
	Rows  []AuditRow
	Next  int64
	OrgID string
}

// MaxAuditPage bounds a page of the audit log; an export reads pages of
// it until it has read what it may.
const MaxAuditPage = 500

var auditTypeRE = regexp.MustCompile(`^[a-z0-9_.]{1,64}$`)

// SearchAudit returns a page of the events in reach that match f.
func (s *Service) SearchAudit(ctx context.Context, reach Reach, f AuditFilter) (AuditPage, error) {
	const op = "search audit log"
	q, err := s.auditQuery(ctx, reach, f)
	if err != nil {
		return AuditPage{}, err
	}
	size := q.Limit
	q.Limit = size + 1
	evs, err := s.Store.ListAuditEvents(ctx, q)
	if err != nil {
		return AuditPage{}, fmt.Errorf("%s: %w", op, err)
	}
	page := AuditPage{OrgID: q.OrgID}
	if len(evs) > size {
		evs = evs[:size]
		page.Next = evs[size-1].ID
	}
	users, orgs := map[string]string{}, map[string]string{}
	for _, ev := range evs {
		row := AuditRow{Event: ev}
		if ev.UserID != "" {
			email, ok := users[ev.UserID]
			if !ok {
				u, err := s.Store.GetUser(ctx, ev.UserID)
				switch {
				case err == nil:
					email = u.Email
				case !errors.Is(err, storage.ErrNotFound):
					return AuditPage{}, fmt.Errorf("%s: user: %w", op, err)
				}
				users[ev.UserID] = email
			}
			row.User = email
		}
		if ev.OrgID != "" {
			name, ok := orgs[ev.OrgID]
			if !ok {
				o, err := s.Store.GetOrganization(ctx, ev.OrgID)
				switch {
				case err == nil:
					name = o.DisplayName
				case !errors.Is(err, storage.ErrNotFound):
					return AuditPage{}, fmt.Errorf("%s: organization: %w", op, err)
				}
				orgs[ev.OrgID] = name
			}
			row.Org = name
		}
		page.Rows = append(page.Rows, row)
	}
	return page, nil
}

// auditQuery is f as a storage query within reach, or an InputError.
func (s *Service) auditQuery(ctx context.Context, reach Reach, f AuditFilter) (storage.AuditQuery, error) {
	q := storage.AuditQuery{BeforeID: f.Before, Limit: f.Limit}
	switch {
	case q.Limit <= 0:
		q.Limit = 50
	case q.Limit > MaxAuditPage:
		q.Limit = MaxAuditPage
	}
	if f.Before < 0 {
		return q, inputErr("no such page")
	}
	var err error
	if q.OrgID, err = reach.scope(f.OrgID); err != nil {
		return q, err
	}
	if t := strings.TrimSpace(f.Type); t != "" {
		if !auditTypeRE.MatchString(t) {
			return q, inputErr("%q is not an event type (such as login.failed)", shorten(t))
		}
		q.Type = t
	}
	if email := strings.TrimSpace(f.User); email != "" {
		// Seeing a user's events is seeing their page (viewableUser): an
		// organization admin sees their organization's admins too.
		u, err := s.Store.GetUserByEmail(ctx, storage.NormalizeEmail(email))
		switch {
		case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInvalid):
			return q, noUserErr(email)
		case err != nil:
			return q, fmt.Errorf("search audit log: %w", err)
		case !reach.Org(u.OrgID):
			return q, noUserErr(email)
		}
		q.UserID = u.ID
	}
	day := func(name, v string) (time.Time, error) {
		if v = strings.TrimSpace(v); v == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return t, inputErr("%s: %q is not a day such as 2026-12-31", name, shorten(v))
		}
		return t, nil
	}
	since, err := day("from", f.Since)
	if err != nil {
		return q, err
	}
	until, err := day("to", f.Until)
	if err != nil {
		return q, err
	}
	if !until.IsZero() {
		until = until.Add(24 * time.Hour) // the whole last day
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return q, inputErr("the first day is after the last")
	}
	q.Since, q.Until = since, until
	return q, nil
}
