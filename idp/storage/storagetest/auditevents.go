package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var auditEventTests = []testCase{
	{"RoundTripNewestFirst", testAuditRoundTrip},
	{"Filters", testAuditFilters},
	{"BeforeIDCursor", testAuditCursor},
	{"DefaultLimit", testAuditDefaultLimit},
	{"TimeWindow", testAuditTimeWindow},
	{"Counts", testAuditCounts},
}

func auditEvent(i int, typ, orgID, userID string) storage.AuditEvent {
	return storage.AuditEvent{
		Time:      at(time.Duration(i) * time.Second),
		Type:      typ,
		OrgID:     orgID,
		ActorID:   "actor-" + userID,
		UserID:    userID,
		ClientID:  "client-1",
		IP:        "203.0.113.9",
		UserAgent: "curl/8.0",
		RequestID: fmt.Sprintf("req-%03d", i),
		Details:   map[string]string{"n": fmt.Sprint(i), "reason": "bad \"password\" – ü"},
	}
}

func (f *fixture) listAudit(t *testing.T, q storage.AuditQuery) []storage.AuditEvent {
	t.Helper()
	got, err := f.s.ListAuditEvents(f.ctx, q)
	mustOK(t, err, fmt.Sprintf("ListAuditEvents(%+v)", q))
	return got
}

func requestIDs(events []storage.AuditEvent) []string {
	var ids []string
	for _, e := range events {
		ids = append(ids, e.RequestID)
	}
	return ids
}

func testAuditRoundTrip(t *testing.T, f *fixture) {
	if got := f.listAudit(t, storage.AuditQuery{}); len(got) != 0 {
		t.Errorf("ListAuditEvents on an empty store = %d events, want 0", len(got))
	}
	var written []storage.AuditEvent
	for i := range 5 {
		e := auditEvent(i, "login.success", "org-1", "user-1")
		if i == 2 {
			e.Details = nil // no details
			e.ClientID, e.ActorID, e.IP, e.UserAgent = "", "", "", ""
		}
		mustOK(t, f.s.AppendAuditEvent(f.ctx, e), "AppendAuditEvent")
		written = append(written, e)
	}
	got := f.listAudit(t, storage.AuditQuery{})
	if len(got) != len(written) {
		t.Fatalf("ListAuditEvents = %d events, want %d", len(got), len(written))
	}
	for i, e := range got {
		want := written[len(written)-1-i] // newest first
		if e.RequestID != want.RequestID {
			t.Errorf("event %d is %s, want %s (newest first): order %v", i, e.RequestID, want.RequestID, requestIDs(got))
			break
		}
		if e.ID <= 0 {
			t.Errorf("event %s has ID %d, want a positive ID assigned by the backend", e.RequestID, e.ID)
		}
		if i > 0 && e.ID >= got[i-1].ID {
			t.Errorf("IDs not decreasing newest first: %d after %d", e.ID, got[i-1].ID)
		}
		want.ID = e.ID
		checkEqual(t, "audit event "+e.RequestID, want, e)
	}
}

func testAuditFilters(t *testing.T, f *fixture) {
	for i, e := range []struct{ typ, org, user string }{
		{"login.success", "org-1", "u-1"}, // 0
		{"login.failure", "org-1", "u-1"}, // 1
		{"login.failure", "org-1", "u-2"}, // 2
		{"mfa.reset", "org-2", "u-3"},     // 3
		{"login.failure", "org-2", "u-3"}, // 4
		{"admin.action", "org-1", ""},     // 5
		{"login.success", "org-1", "u-2"}, // 6
	} {
		mustOK(t, f.s.AppendAuditEvent(f.ctx, auditEvent(i, e.typ, e.org, e.user)), "AppendAuditEvent")
	}
	for _, c := range []struct {
		name string
		q    storage.AuditQuery
		want []int
	}{
		{"user", storage.AuditQuery{UserID: "u-1"}, []int{1, 0}},
		{"org", storage.AuditQuery{OrgID: "org-2"}, []int{4, 3}},
		{"type", storage.AuditQuery{Type: "login.failure"}, []int{4, 2, 1}},
		{"org and type", storage.AuditQuery{OrgID: "org-1", Type: "login.failure"}, []int{2, 1}},
		{"user and type", storage.AuditQuery{UserID: "u-2", Type: "login.success"}, []int{6}},
		{"user, org and type", storage.AuditQuery{UserID: "u-3", OrgID: "org-2", Type: "mfa.reset"}, []int{3}},
		{"no match", storage.AuditQuery{UserID: "u-1", OrgID: "org-2"}, nil},
		{"unknown type", storage.AuditQuery{Type: "nope"}, nil},
		{"limit", storage.AuditQuery{Type: "login.failure", Limit: 2}, []int{4, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := requestIDs(f.listAudit(t, c.q))
			var want []string
			for _, i := range c.want {
				want = append(want, fmt.Sprintf("req-%03d", i))
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("ListAuditEvents(%+v) = %v, want %v", c.q, got, want)
			}
		})
	}
}

func testAuditCursor(t *testing.T, f *fixture) {
	for i := range 7 {
		typ := "login.success"
		if i%2 == 1 {
			typ = "login.failure"
		}
		mustOK(t, f.s.AppendAuditEvent(f.ctx, auditEvent(i, typ, "org-1", "u-1")), "AppendAuditEvent")
	}
	all := f.listAudit(t, storage.AuditQuery{})
	if len(all) != 7 {
		t.Fatalf("ListAuditEvents = %d events, want 7", len(all))
	}
	for _, c := range []struct {
		name string
		q    storage.AuditQuery
	}{
		{"all", storage.AuditQuery{}},
		{"filtered", storage.AuditQuery{Type: "login.success"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := f.listAudit(t, c.q)
			var paged []storage.AuditEvent
			q := c.q
			q.Limit = 2
			for range 10 {
				page := f.listAudit(t, q)
				if len(page) > 2 {
					t.Fatalf("page of Limit 2 has %d events", len(page))
				}
				if len(page) == 0 {
					break
				}
				for _, e := range page {
					if e.ID >= q.BeforeID && q.BeforeID != 0 {
						t.Errorf("event ID %d not below the cursor %d", e.ID, q.BeforeID)
					}
				}
				paged = append(paged, page...)
				q.BeforeID = page[len(page)-1].ID
			}
			if fmt.Sprint(requestIDs(paged)) != fmt.Sprint(requestIDs(want)) {
				t.Errorf("paging by BeforeID = %v, want %v", requestIDs(paged), requestIDs(want))
			}
		})
	}
	// The cursor is exclusive.
	got := f.listAudit(t, storage.AuditQuery{BeforeID: all[2].ID})
	if fmt.Sprint(requestIDs(got)) != fmt.Sprint(requestIDs(all[3:])) {
		t.Errorf("BeforeID %d = %v, want %v", all[2].ID, requestIDs(got), requestIDs(all[3:]))
	}
	if got := f.listAudit(t, storage.AuditQuery{BeforeID: all[len(all)-1].ID}); len(got) != 0 {
		t.Errorf("BeforeID of the oldest event = %d events, want 0", len(got))
	}
}

func testAuditDefaultLimit(t *testing.T, f *fixture) {
	for i := range 101 {
		mustOK(t, f.s.AppendAuditEvent(f.ctx, auditEvent(i, "login.success", "org-1", "u-1")), "AppendAuditEvent")
	}
	got := f.listAudit(t, storage.AuditQuery{})
	if len(got) != 100 {
		t.Fatalf("ListAuditEvents with Limit 0 = %d events, want the default 100", len(got))
	}
	if got[0].RequestID != "req-100" || got[99].RequestID != "req-001" {
		t.Errorf("ListAuditEvents with Limit 0 = %s .. %s, want req-100 .. req-001 (newest first)", got[0].RequestID, got[99].RequestID)
	}
}
