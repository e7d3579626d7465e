package smscode_test

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/smscode"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// events is an Auditor that keeps what it was given.
type events struct {
	mu  sync.Mutex
	got []storage.AuditEvent
}

func (a *events) Record(_ context.Context, e storage.AuditEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, e)
	return nil
}

func (a *events) all() []storage.AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]storage.AuditEvent(nil), a.got...)
}

// full is a cap already reached.
type full struct{}

func (full) Allow(context.Context, string) (bool, error) { return false, nil }

// TestNotSentAudited: every text not sent is an audit.SMSNotSent that
// says why, names the user and holds the number masked only; a text sent
// records nothing.
func TestNotSentAudited(t *testing.T) {
	tests := []struct {
		name string
		// setup arranges for the next showing of alice's step to send
		// nothing; it returns whether that showing is an enrolment.
		setup func(e *env)
		enrol bool
		want  map[string]string
	}{
		{"country refused", func(e *env) { e.m.AllowedCountries, e.m.Country = []string{"US"}, countryOf }, false,
			map[string]string{"reason": smscode.ReasonCountryRefused, "purpose": "sign_in", "number": "+**********23"}},
		{"number cap", func(e *env) { e.m.Sends.Number = full{} }, false,
			map[string]string{"reason": smscode.ReasonCapReached, "cap": "number", "purpose": "sign_in", "number": "+**********23"}},
		{"gateway down", func(e *env) { e.phone.fail = errors.New("gateway: 503") }, false,
			map[string]string{"reason": smscode.ReasonSendFailed, "purpose": "sign_in", "number": "+**********23"}},
		{"gateway down at enrolment", func(e *env) { e.phone.fail = errors.New("gateway: 503") }, true,
			map[string]string{"reason": smscode.ReasonSendFailed, "purpose": "enrol", "number": "+**********23"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			rec := &events{}
			e.m.Audit = rec
			u := e.user("alice")
			var f storage.Factor
			l := e.login(u)
			if tt.enrol {
				f = e.enrol(l, aliceNumber)
			} else {
				f = e.factor(u, aliceNumber)
				l = e.login(u, f)
			}
			tt.setup(e)
			if tt.enrol {
				_, _, _ = e.m.EnrolView(e.ctx, l.t, f)
			} else {
				_, _, _ = e.m.Challenge(e.ctx, l.t)
			}
			if e.phone.count() != 0 {
				t.Fatalf("%d texts sent", e.phone.count())
			}
			got := rec.all()
			if len(got) != 1 {
				t.Fatalf("%d audit events, want 1: %+v", len(got), got)
			}
			ev := got[0]
			want := maps.Clone(tt.want)
			want["factor_id"] = f.ID
			if ev.Type != audit.SMSNotSent || ev.UserID != u.ID || ev.OrgID != u.OrgID || !maps.Equal(ev.Details, want) {
				t.Fatalf("event %+v; want %s for %s with %v", ev, audit.SMSNotSent, u.ID, want)
			}
		})
	}
}

// TestSentNotAudited: a text that goes out is no audit event of the
// method's (the proof is, later, the flow's).
func TestSentNotAudited(t *testing.T) {
	e := newEnv(t)
	rec := &events{}
	e.m.Audit = rec
	u := e.user("alice")
	if v := e.login(u, e.factor(u, aliceNumber)).show(false); !v.Sent {
		t.Fatalf("showing: %+v", v)
	}
	if got := rec.all(); len(got) != 0 {
		t.Fatalf("audit events for a text sent: %+v", got)
	}
}
