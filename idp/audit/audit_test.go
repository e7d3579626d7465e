package audit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

type fakeAppender struct {
	got []storage.AuditEvent
	err error
}

func (f *fakeAppender) AppendAuditEvent(_ context.Context, e storage.AuditEvent) error {
	if f.err != nil {
		return f.err
	}
	f.got = append(f.got, e)
	return nil
}

func TestRecord(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	earlier := now.Add(-time.Hour)
	tests := []struct {
		name     string
		in       storage.AuditEvent
		meta     func(context.Context) Meta
		wantTime time.Time
		wantIP   string
	}{
		{"stamps time and meta", storage.AuditEvent{Type: UserCreated, UserID: "u1"},
			func(context.Context) Meta { return Meta{RequestID: "r1", IP: "192.0.2.1"} }, now, "192.0.2.1"},
		{"keeps explicit fields", storage.AuditEvent{Type: UserCreated, Time: earlier, IP: "198.51.100.7"},
			func(context.Context) Meta { return Meta{IP: "192.0.2.1"} }, earlier, "198.51.100.7"},
		{"no meta hook (CLI)", storage.AuditEvent{Type: OrgCreated}, nil, now, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			app := &fakeAppender{}
			r := &Recorder{Store: app, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return now }, Meta: tt.meta}
			if err := r.Record(context.Background(), tt.in); err != nil {
				t.Fatal(err)
			}
			if len(app.got) != 1 {
				t.Fatalf("stored %d events", len(app.got))
			}
			got := app.got[0]
			if !got.Time.Equal(tt.wantTime) || got.IP != tt.wantIP || got.Type != tt.in.Type {
				t.Fatalf("stored %+v", got)
			}
			if !strings.Contains(logs.String(), "type="+tt.in.Type) {
				t.Fatalf("log line missing type: %s", logs.String())
			}
		})
	}
}

func TestRecordStorageFailure(t *testing.T) {
	var logs bytes.Buffer
	r := &Recorder{Store: &fakeAppender{err: storage.ErrUnavailable}, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: time.Now}
	err := r.Record(context.Background(), storage.AuditEvent{Type: UserDisabled})
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Record err = %v; want ErrUnavailable", err)
	}
	if !strings.Contains(logs.String(), "audit event not stored") {
		t.Fatalf("failure not logged: %s", logs.String())
	}
}
