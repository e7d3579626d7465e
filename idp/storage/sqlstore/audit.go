package sqlstore

import (
	"context"
	"fmt"
	"time"

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
	if !q.Since.IsZero() {
		w.add("occurred_at >= %s", micros(q.Since))
	}
	if !q.Until.IsZero() {
		w.add("occurred_at < %s", micros(q.Until))
	}
	lim := w.limit(limit(q.Limit))
	out, err := auditEvents.many(ctx, s.d, auditEvents.selectWhere(w.String()+" ORDER BY id DESC"+lim), w.args...)
	return out, s.fail("list audit events", err)
}

// CountAuditEvents counts by type and bucket with integer division of the
// time since q.Since, which both dialects truncate alike; the index on
// (event_type, occurred_at) bounds the scan to the types and the window.
func (s *Store) CountAuditEvents(ctx context.Context, q storage.AuditCountQuery) ([]storage.AuditCount, error) {
	if q.Bucket < time.Second || len(q.Types) == 0 {
		return nil, fmt.Errorf("count audit events: a bucket of at least a second and a type: %w", storage.ErrInvalid)
	}
	w := &where{}
	w.add("occurred_at >= %s", micros(q.Since))
	w.add("%s", q.Bucket.Microseconds())
	bucket := w.conds[1]
	w.conds = w.conds[:1]
	types := make([]any, len(q.Types))
	for i, t := range q.Types {
		types[i] = t
	}
	w.addAll("event_type IN (%s)", types...)
	if q.OrgID != "" {
		w.add("org_id = %s", q.OrgID)
	}
	query := fmt.Sprintf(`SELECT event_type, (occurred_at - $1) / %s, COUNT(*) FROM audit_events %s GROUP BY 1, 2 ORDER BY 2, 1`,
		bucket, w.String())
	rows, err := s.d.Query(ctx, query, w.args...)
	if err != nil {
		return nil, s.fail("count audit events", err)
	}
	defer rows.Close()
	var out []storage.AuditCount
	for rows.Next() {
		var c storage.AuditCount
		var b, n int64
		if err := rows.Scan(&c.Type, &b, &n); err != nil {
			return nil, s.fail("count audit events", err)
		}
		c.Start, c.Count = q.Since.Add(time.Duration(b)*q.Bucket), int(n)
		out = append(out, c)
	}
	return out, s.fail("count audit events", rows.Err())
}
