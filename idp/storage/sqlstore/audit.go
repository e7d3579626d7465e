package sqlstore

import (
	"context"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// AppendAuditEvent stores e; e.ID is ignored and the database assigns one.
func (s *Store) AppendAuditEvent(ctx context.Context, e storage.AuditEvent) error {
	args, err := auditInsert.fields(&e).args()
	if err == nil {
		_, err = s.d.Exec(ctx, auditInsert.insert, args...)
	}
	return s.fail("append audit event", err)
}

// ListAuditEvents returns events newest first (by id, which grows with
// every insert) with the filters of q.
func (s *Store) ListAuditEvents(ctx context.Context, q storage.AuditQuery) ([]storage.AuditEvent, error) {
	var w where
	if q.UserID != "" {
		w.add("user_id = %s", q.UserID)
	}
	if q.OrgID != "" {
		w.add("org_id = %s", q.OrgID)
	}
	if q.Type != "" {
		w.add("event_type = %s", q.Type)
	}
	if q.BeforeID > 0 {
		w.add("id < %s", q.BeforeID)
	}
	lim := w.limit(limit(q.Limit))
	out, err := auditEvents.many(ctx, s.d, auditEvents.selectWhere(w.String()+" ORDER BY id DESC"+lim), w.args...)
	return out, s.fail("list audit events", err)
}
