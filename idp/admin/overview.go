package admin

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// OrgStats counts an organization's users for the console's overview.
type OrgStats struct {
	OrgID, Name               string
	Invited, Active, Disabled int
	// Locked counts users locked now; Enrolled, Skipped and NoMFA split
	// the active users by MFA status (storage.MFAStatus*).
	Locked, Enrolled, Skipped, NoMFA int
}

// EnrolledPercent is the share of active users with a second factor, in
// whole percent (0 without active users).
func (o OrgStats) EnrolledPercent() int {
	if o.Active == 0 {
		return 0
	}
	return o.Enrolled * 100 / o.Active
}

// SignIns counts the sign-ins and failed attempts that began in one bucket.
type SignIns struct {
	// At is when the bucket begins.
	At         time.Time
	OK, Failed int
}

// Overview is the console's first page.
type Overview struct {
	Orgs []OrgStats
	// Hours are the last 24 hours, an hour each; Days the last 30 days,
	// a day (UTC) each; oldest first, with empty buckets.
	Hours, Days []SignIns
	// Locked are users locked now (at most overviewRows).
	Locked []storage.User
	// Recent are the latest security events (at most overviewRows).
	Recent []storage.AuditEvent
}

const overviewRows = 10

// securityEvents are the types the overview lists as recent security
// events: what an administrator should notice.
var securityEvents = []string{audit.LoginFailed, audit.UserLocked, audit.TokenReuse, audit.UserMFAReset,
	audit.UserDisabled, audit.UserRoleGranted, audit.FactorRemoved, audit.OrgMFAPolicyChanged}

// GetOverview gathers the overview of the organizations in reach.
func (s *Service) GetOverview(ctx context.Context, reach Reach) (Overview, error) {
	const op = "overview"
	now := s.Now()
	orgs, err := s.Store.ListOrganizations(ctx)
	if err != nil {
		return Overview{}, fmt.Errorf("%s: %w", op, err)
	}
	var ov Overview
	byID := map[string]*OrgStats{}
	var inReach []string
	for _, o := range orgs {
		if reach.Org(o.ID) {
			ov.Orgs = append(ov.Orgs, OrgStats{OrgID: o.ID, Name: o.DisplayName})
			inReach = append(inReach, o.ID)
		}
	}
	for i := range ov.Orgs {
		byID[ov.Orgs[i].OrgID] = &ov.Orgs[i]
	}
	counts, err := s.Store.CountUsersBy(ctx, now)
	if err != nil {
		return Overview{}, fmt.Errorf("%s: %w", op, err)
	}
	for _, c := range counts {
		o := byID[c.OrgID]
		if o == nil {
			continue
		}
		switch c.State {
		case storage.UserInvited:
			o.Invited += c.Count
		case storage.UserDisabled:
			o.Disabled += c.Count
		case storage.UserActive:
			o.Active += c.Count
			switch c.MFA {
			case storage.MFAStatusEnrolled:
				o.Enrolled += c.Count
			case storage.MFAStatusSkipped:
				o.Skipped += c.Count
			default:
				o.NoMFA += c.Count
			}
		}
		if c.Locked {
			o.Locked += c.Count
		}
	}
	// The organizations to query one by one: all at once for an admin.
	scopes := inReach
	if reach.all {
		scopes = []string{""}
	}
	hourStart := now.Truncate(time.Hour).Add(-23 * time.Hour)
	dayStart := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -29)
	if ov.Hours, err = s.signIns(ctx, scopes, hourStart, time.Hour, 24); err != nil {
		return Overview{}, err
	}
	if ov.Days, err = s.signIns(ctx, scopes, dayStart, 24*time.Hour, 30); err != nil {
		return Overview{}, err
	}
	for _, org := range scopes {
		locked, err := s.Store.ListUsers(ctx, storage.UserQuery{OrgID: org, LockedAt: now, Limit: overviewRows})
		if err != nil {
			return Overview{}, fmt.Errorf("%s: locked users: %w", op, err)
		}
		ov.Locked = append(ov.Locked, locked...)
		for _, typ := range securityEvents {
			evs, err := s.Store.ListAuditEvents(ctx, storage.AuditQuery{OrgID: org, Type: typ, Limit: overviewRows})
			if err != nil {
				return Overview{}, fmt.Errorf("%s: events: %w", op, err)
			}
			ov.Recent = append(ov.Recent, evs...)
		}
	}
	slices.SortFunc(ov.Locked, func(a, b storage.User) int { return cmp.Compare(a.Email, b.Email) })
	ov.Locked = ov.Locked[:min(len(ov.Locked), overviewRows)]
	slices.SortFunc(ov.Recent, func(a, b storage.AuditEvent) int { return cmp.Compare(b.ID, a.ID) })
	ov.Recent = ov.Recent[:min(len(ov.Recent), overviewRows)]
	return ov, nil
}

// signIns counts sign-ins and failures from since in n buckets of width,
// summed over the organizations scopes names ("" : all).
func (s *Service) signIns(ctx context.Context, scopes []string, since time.Time, width time.Duration, n int) ([]SignIns, error) {
	out := make([]SignIns, n)
	for i := range out {
		out[i].At = since.Add(time.Duration(i) * width)
	}
	for _, org := range scopes {
		counts, err := s.Store.CountAuditEvents(ctx, storage.AuditCountQuery{Types: []string{audit.LoginSucceeded, audit.LoginFailed},
			OrgID: org, Since: since, Bucket: width})
		if err != nil {
			return nil, fmt.Errorf("overview: sign-ins: %w", err)
		}
		for _, c := range counts {
			i := int(c.Start.Sub(since) / width)
			if i < 0 || i >= n {
				continue // a clock ahead of the events'
			}
			if c.Type == audit.LoginSucceeded {
				out[i].OK += c.Count
			} else {
				out[i].Failed += c.Count
			}
		}
	}
	return out, nil
}
