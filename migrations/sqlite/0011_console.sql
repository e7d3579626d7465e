-- The admin console's overview (issue 14) counts sign-ins and failures by
-- type over the last 24 hours and 30 days, and its audit log filters by
-- time: this index bounds both scans to the types and the window asked
-- for, whatever the size of the trail. Keep in step with
-- postgres/0011_console.sql.
CREATE INDEX audit_events_type_time ON audit_events (event_type, occurred_at);
