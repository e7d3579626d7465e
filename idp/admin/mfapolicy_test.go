package admin

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// movingClock makes s's clock (and its audit recorder's) a variable the
// test moves.
func movingClock(s *Service) *time.Time {
	t := now
	s.Now = func() time.Time { return t }
	s.Audit.Now = s.Now
	return &t
}

func mfaEvents(t *testing.T, s *Service, orgID string) []storage.AuditEvent {
	t.Helper()
	evs, err := backend(t, s).ListAuditEvents(context.Background(), storage.AuditQuery{OrgID: orgID, Type: audit.OrgMFAPolicyChanged})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestSetMFAPolicy walks one organization through the policy's life: the
// generation (Since) stays zero the first time MFA is turned on, moves
// when it is turned on again after being off, and stays while the methods
// change; each change is recorded with the old and new policy.
func TestSetMFAPolicy(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	clock := movingClock(s)
	if _, err := s.Bootstrap(ctx, "default", ""); err != nil {
		t.Fatal(err)
	}
	on := func(methods ...string) MFAPolicyInput { return MFAPolicyInput{Required: true, Methods: methods} }
	t1, t2, t3 := now.Add(time.Hour), now.Add(2*time.Hour), now.Add(3*time.Hour)
	steps := []struct {
		name       string
		at         time.Time
		in         MFAPolicyInput
		want       storage.MFAPolicy
		old, event string // "": no event
	}{
		{"first time on: factors users added keep counting", now, on("TOTP", " totp"),
			storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp"}}, "off", "on: totp"},
		{"same again records nothing", now, on("totp"),
			storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp"}}, "", ""},
		{"methods and skip change while on: same generation", t1,
			MFAPolicyInput{Required: true, Methods: []string{"totp", "email"}, AllowSkip: true, OtherEmail: true},
			storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp", "email"}, AllowSkip: true, OtherEmail: true},
			"on: totp", "on: totp, email; skip allowed; other email addresses allowed"},
		{"sms added", t1,
			MFAPolicyInput{Required: true, Methods: []string{"totp", "email", "sms"}, AllowSkip: true, OtherEmail: true},
			storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp", "email", "sms"}, AllowSkip: true, OtherEmail: true},
			"on: totp, email; skip allowed; other email addresses allowed", "on: totp, email, sms; skip allowed; other email addresses allowed"},
		{"self-entered numbers alone change the policy", t1,
			MFAPolicyInput{Required: true, Methods: []string{"totp", "email", "sms"}, AllowSkip: true, OtherEmail: true, SMSSelfEnrol: true},
			storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp", "email", "sms"}, AllowSkip: true, OtherEmail: true, SMSSelfEnrol: true},
			"on: totp, email, sms; skip allowed; other email addresses allowed",
			"on: totp, email, sms; skip allowed; other email addresses allowed; users may enter their own mobile number"},
		{"SMS self-enrolment off alone is a change", t1,
			MFAPolicyInput{Required: true, Methods: []string{"totp", "email", "sms"}, AllowSkip: true, OtherEmail: true},
			storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp", "email", "sms"}, AllowSkip: true, OtherEmail: true},
			"on: totp, email, sms; skip allowed; other email addresses allowed; users may enter their own mobile number",
			"on: totp, email, sms; skip allowed; other email addresses allowed"},
		{"off", t2, MFAPolicyInput{},
			storage.MFAPolicy{DisabledAt: t2}, "on: totp, email, sms; skip allowed; other email addresses allowed", "off"},
		{"off again records nothing", t3, MFAPolicyInput{}, storage.MFAPolicy{DisabledAt: t2}, "", ""},
		{"on again: a new generation", t3, on("webauthn"),
			storage.MFAPolicy{Required: true, AllowedMethods: []string{"webauthn"}, Since: t3, DisabledAt: t2}, "off", "on: webauthn"},
		{"methods change in the new generation: it stays", t3.Add(time.Hour), on("webauthn", "totp"),
			storage.MFAPolicy{Required: true, AllowedMethods: []string{"webauthn", "totp"}, Since: t3, DisabledAt: t2}, "on: webauthn", "on: webauthn, totp"},
	}
	for _, st := range steps {
		*clock = st.at
		before := len(mfaEvents(t, s, ""))
		o, err := s.SetMFAPolicy(ctx, "test", "default", st.in)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if !sameMFAPolicy(o.MFA, st.want) {
			t.Fatalf("%s: policy %+v; want %+v", st.name, o.MFA, st.want)
		}
		if stored, _ := s.GetMFAPolicy(ctx, "default"); !sameMFAPolicy(stored.MFA, st.want) {
			t.Fatalf("%s: stored %+v; want %+v", st.name, stored.MFA, st.want)
		}
		evs := mfaEvents(t, s, o.ID)
		if st.event == "" {
			if len(evs) != before {
				t.Fatalf("%s: a change that changed nothing was recorded: %+v", st.name, evs[0])
			}
			continue
		}
		e := evs[0]
		if len(evs) != before+1 || e.ActorID != "test" || e.Details["old"] != st.old || e.Details["new"] != st.event {
			t.Fatalf("%s: event %+v; want %q -> %q", st.name, e, st.old, st.event)
		}
		if _, moved := e.Details["since"]; moved != (st.want.Since.Equal(st.at) && !st.want.Since.IsZero()) {
			t.Fatalf("%s: event details %v: since recorded %v", st.name, e.Details, moved)
		}
	}
}

func TestSetMFAPolicyRefuses(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	if _, err := s.Bootstrap(ctx, "default", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetMFAPolicy(ctx, "test", "default", MFAPolicyInput{Required: true, Methods: []string{"totp"}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, org string
		in        MFAPolicyInput
		want      []string // in the message
	}{
		{"unknown method", "default", MFAPolicyInput{Required: true, Methods: []string{"totp", "yubikey"}},
			[]string{`"yubikey" is not a second-factor method`, "webauthn", "totp", "sms", "email"}},
		{"recovery codes are no method", "default", MFAPolicyInput{Required: true, Methods: []string{"recovery"}}, []string{`"recovery" is not`}},
		{"on without methods", "default", MFAPolicyInput{Required: true}, []string{"at least one method", "webauthn, totp, sms, email"}},
		{"on with blank methods", "default", MFAPolicyInput{Required: true, Methods: []string{""}}, []string{`"" is not a second-factor method`}},
		{"off with methods", "default", MFAPolicyInput{Methods: []string{"totp"}}, []string{"only while MFA is required"}},
		{"off with skip", "default", MFAPolicyInput{AllowSkip: true}, []string{"only while MFA is required"}},
		{"off with SMS self-enrolment", "default", MFAPolicyInput{SMSSelfEnrol: true}, []string{"only while MFA is required"}},
		{"SMS self-enrolment without sms", "default", MFAPolicyInput{Required: true, Methods: []string{"totp"}, SMSSelfEnrol: true},
			[]string{"add sms to the methods"}},
		{"unknown org", "nope", MFAPolicyInput{Required: true, Methods: []string{"totp"}}, []string{`organization "nope" does not exist`}},
		{"NUL in a method", "default", MFAPolicyInput{Required: true, Methods: []string{"totp\x00"}}, []string{"is not a second-factor method"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.SetMFAPolicy(ctx, "test", tc.org, tc.in)
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v; want an InputError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(ie.Msg, w) {
					t.Errorf("message %q lacks %q", ie.Msg, w)
				}
			}
			if o, _ := s.GetMFAPolicy(ctx, "default"); !o.MFA.Required || !slices.Equal(o.MFA.AllowedMethods, []string{"totp"}) {
				t.Errorf("a refused change changed the policy: %+v", o.MFA)
			}
		})
	}
	if _, err := s.GetMFAPolicy(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetMFAPolicy of an unknown org: %v; want ErrNotFound", err)
	}
}
