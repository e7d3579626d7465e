package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The users list of the console: a search with filters, a page at a time
// by cursor, within the caller's reach.

// User states a filter may ask for: the stored states, and "locked" for a
// temporary lock now (which is not a state, storage.User.LockedUntil).
const StateLocked = "locked"

// Last sign-in filters (UserFilter.LastLogin).
const (
	SignedInDay     = "24h"         // signed in within the last 24 hours
	SignedInWeek    = "7d"          // within the last 7 days
	SignedInMonth   = "30d"         // within the last 30 days
	InactiveMonth   = "inactive30d" // not since 30 days ago (or never)
	InactiveQuarter = "inactive90d" // not since 90 days ago (or never)
	NeverSignedIn   = "never"
)

// LastLoginFilters lists the last sign-in filters in the order a form offers
// them, with their labels.
var LastLoginFilters = [][2]string{
	{SignedInDay, "In the last 24 hours"}, {SignedInWeek, "In the last 7 days"}, {SignedInMonth, "In the last 30 days"},
	{InactiveMonth, "Not in 30 days"}, {InactiveQuarter, "Not in 90 days"}, {NeverSignedIn, "Never"},
}

// maxSearch bounds a search term: no email is longer than 254 characters.
const maxSearch = 254

// UserFilter is a users-list query. Every field may be empty.
type UserFilter struct {
	// OrgID is the organization's ID; empty: every organization in reach
	// (an organization admin of several sees their first unless they
	// pick one).
	OrgID     string
	Search    string
	State     string // storage.UserState or StateLocked
	MFA       string // storage.MFAStatus*
	LastLogin string // one of LastLoginFilters
	// After and Before are the cursors of the next and previous pages
	// (an email); at most one.
	After, Before string
	Limit         int
}

// UserRow is one user of the list with what its columns show.
type UserRow struct {
	User storage.User
	Org  string // the organization's display name
	// MFA is the user's second-factor status (storage.MFAStatus*).
	MFA    string
	Locked bool
}

// UserPage is a page of the list. Next and Prev are the cursors of the
// pages after and before it ("" : none).
type UserPage struct {
	Rows       []UserRow
	Next, Prev string
	// OrgID is the organization the page is of ("" : all).
	OrgID string
}

// SearchUsers returns a page of the users in reach that match f. It reads
// one row more than the page to know whether a next one exists, and never
// counts or skips rows: a page deep in 100,000 users costs what the first
// does.
func (s *Service) SearchUsers(ctx context.Context, reach Reach, f UserFilter) (UserPage, error) {
	const op = "search users"
	q, err := s.userQuery(reach, f)
	if err != nil {
		return UserPage{}, err
	}
	size := q.Limit
	q.Limit = size + 1
	users, err := s.Store.ListUsers(ctx, q)
	if err != nil {
		return UserPage{}, fmt.Errorf("%s: %w", op, err)
	}
	page := UserPage{OrgID: q.OrgID}
	more := len(users) > size
	if more {
		if f.Before != "" {
			users = users[1:] // the extra row is the earliest
		} else {
			users = users[:size]
		}
	}
	orgs := map[string]string{}
	now := s.Now()
	for _, u := range users {
		name, ok := orgs[u.OrgID]
		if !ok {
			if o, err := s.Store.GetOrganization(ctx, u.OrgID); err == nil {
				name = o.DisplayName
			} else if !errors.Is(err, storage.ErrNotFound) {
				return UserPage{}, fmt.Errorf("%s: organization: %w", op, err)
			}
			orgs[u.OrgID] = name
		}
		status, err := s.mfaStatus(ctx, u)
		if err != nil {
			return UserPage{}, fmt.Errorf("%s: %w", op, err)
		}
		page.Rows = append(page.Rows, UserRow{User: u, Org: name, MFA: status, Locked: u.LockedUntil.After(now)})
	}
	if len(page.Rows) > 0 {
		first, last := page.Rows[0].User.Email, page.Rows[len(page.Rows)-1].User.Email
		switch {
		case f.Before != "":
			page.Next = last
			if more {
				page.Prev = first
			}
		case f.After != "":
			page.Prev = first
			if more {
				page.Next = last
			}
		case more:
			page.Next = last
		}
	}
	return page, nil
}

// userQuery is f as a storage query within reach, or an InputError.
func (s *Service) userQuery(reach Reach, f UserFilter) (storage.UserQuery, error) {
	q := storage.UserQuery{AfterEmail: f.After, BeforeEmail: f.Before, Limit: f.Limit}
	switch {
	case q.Limit <= 0:
		q.Limit = 50
	case q.Limit > 200:
		q.Limit = 200
	}
	if f.After != "" && f.Before != "" {
		return q, inputErr("one page cursor at a time")
	}
	var err error
	if q.OrgID, err = reach.scope(f.OrgID); err != nil {
		return q, err
	}
	search := strings.TrimSpace(f.Search)
	if len(search) > maxSearch || !utf8.ValidString(search) || strings.ContainsRune(search, 0) {
		return q, inputErr("search for at most %d characters of an email or a name", maxSearch)
	}
	q.Search = search
	now := s.Now()
	switch st := storage.UserState(f.State); st {
	case "":
	case storage.UserInvited, storage.UserActive, storage.UserDisabled:
		q.State = st
	case StateLocked:
		q.LockedAt = now
	default:
		return q, inputErr("no user state %q", shorten(f.State))
	}
	switch f.MFA {
	case "", storage.MFAStatusEnrolled, storage.MFAStatusSkipped, storage.MFAStatusNone:
		q.MFA = f.MFA
	default:
		return q, inputErr("no MFA status %q", shorten(f.MFA))
	}
	day := 24 * time.Hour
	switch f.LastLogin {
	case "":
	case SignedInDay:
		q.LastLoginAfter = now.Add(-day)
	case SignedInWeek:
		q.LastLoginAfter = now.Add(-7 * day)
	case SignedInMonth:
		q.LastLoginAfter = now.Add(-30 * day)
	case InactiveMonth:
		q.LastLoginBefore = now.Add(-30 * day)
	case InactiveQuarter:
		q.LastLoginBefore = now.Add(-90 * day)
	case NeverSignedIn:
		// Stored times are microseconds: 1µs after the epoch is before
		// every real sign-in and after "never" (zero).
		q.LastLoginBefore = time.UnixMicro(1)
	default:
		return q, inputErr("no last sign-in filter %q", shorten(f.LastLogin))
	}
	return q, nil
}

// mfaStatus is u's second-factor status, by the rule of
// storage.UserQuery.MFA, so that a row shows what its filter matched.
func (s *Service) mfaStatus(ctx context.Context, u storage.User) (string, error) {
	fs, err := s.Store.ListFactors(ctx, u.ID, s.Now())
	if err != nil {
		return "", fmt.Errorf("factors: %w", err)
	}
	for _, f := range fs {
		if f.Kind != storage.FactorRecovery && !f.ConfirmedAt.IsZero() {
			return storage.MFAStatusEnrolled, nil
		}
	}
	if u.MFASkipped {
		return storage.MFAStatusSkipped, nil
	}
	return storage.MFAStatusNone, nil
}

// UsersByID returns the users ids name that are in reach, in the order
// given, and how many named none in reach (unknown, of another
// organization, or duplicates). A bulk action's confirmation shows them.
func (s *Service) UsersByID(ctx context.Context, reach Reach, ids []string) ([]storage.User, int, error) {
	if len(ids) > MaxResetTargets {
		return nil, 0, inputErr("%d users chosen; one action takes at most %d", len(ids), MaxResetTargets)
	}
	seen := map[string]bool{}
	var out []storage.User
	missing := 0
	for _, id := range ids {
		if seen[id] {
			missing++
			continue
		}
		seen[id] = true
		u, err := s.refInReach(ctx, reach, UserRef{ID: id})
		var in *InputError
		switch {
		case errors.As(err, &in):
			missing++
			continue
		case err != nil:
			return nil, 0, err
		}
		out = append(out, u)
	}
	return out, missing, nil
}
