package admin

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/phone"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// phoneEvents are the user.phone_changed details of userID, newest first.
func phoneEvents(t *testing.T, s *Service, userID string) []map[string]string {
	t.Helper()
	evs, err := backend(t, s).ListAuditEvents(context.Background(), storage.AuditQuery{UserID: userID})
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, e := range evs {
		if e.Type == audit.UserPhoneChanged {
			out = append(out, e.Details)
		}
	}
	return out
}

func TestCreateUserPhone(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, in, want string
		err            error
	}{
		{"none", "", "", nil},
		{"typed with spaces", "+41 79 123 45 67", "+41791234567", nil},
		{"00 for +", "0049 30 123456", "+4930123456", nil},
		{"no country code", "079 123 45 67", "", phone.ErrNoCountryCode},
		{"letters", "+41 79 CALL ME", "", phone.ErrCharacters},
		{"too short", "+41 79", "", phone.ErrLength},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newService(t)
			if _, err := s.Bootstrap(ctx, "default", ""); err != nil {
				t.Fatal(err)
			}
			email := "p" + string(rune('a'+i)) + "@example.com"
			u, err := s.CreateUser(ctx, "test", CreateUserInput{Email: email, Org: "default", Phone: tt.in})
			if tt.err != nil {
				var ie *InputError
				if !errors.As(err, &ie) || !errors.Is(err, tt.err) || !strings.HasPrefix(ie.Msg, "phone: ") {
					t.Fatalf("CreateUser with phone %q: %v; want an InputError for %v", tt.in, err, tt.err)
				}
				if _, err := s.Store.GetUserByEmail(ctx, email); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("a refused phone created the user: %v", err)
				}
				return
			}
			if err != nil || u.Phone != tt.want {
				t.Fatalf("CreateUser with phone %q = %q, %v; want %q", tt.in, u.Phone, err, tt.want)
			}
			if got, _ := s.Store.GetUser(ctx, u.ID); got.Phone != tt.want {
				t.Fatalf("stored phone %q, want %q", got.Phone, tt.want)
			}
		})
	}
}

func TestSetPhone(t *testing.T) {
	ctx := context.Background()
	s, u := lifecycleEnv(t, CreateUserInput{Email: "ph@example.com", Name: "Ph", Password: "long enough pw"})
	steps := []struct {
		name, in, want string
		// event is the details of the phone_changed event the step
		// records; nil: none (a refusal, or no change).
		event map[string]string
	}{
		{"set", "+41 79 123 45 67", "+41791234567", map[string]string{"old": "", "new": "+*********67"}},
		{"the same number typed otherwise", "0041791234567", "+41791234567", nil},
		{"change", "+1 (415) 555-2671", "+14155552671", map[string]string{"old": "+*********67", "new": "+*********71"}},
		{"clear", "", "", map[string]string{"old": "+*********71", "new": ""}},
		{"clear again", "  ", "", nil},
	}
	for _, st := range steps {
		before := len(phoneEvents(t, s, u.ID))
		got, err := s.SetPhone(ctx, "test", "PH@example.com", st.in)
		if err != nil || got.Phone != st.want {
			t.Fatalf("%s: SetPhone(%q) = %q, %v; want %q", st.name, st.in, got.Phone, err, st.want)
		}
		if stored, _ := s.Store.GetUser(ctx, u.ID); stored.Phone != st.want || stored.Name != "Ph" {
			t.Fatalf("%s: stored %+v", st.name, stored)
		}
		evs := phoneEvents(t, s, u.ID)
		switch {
		case st.event == nil && len(evs) != before:
			t.Errorf("%s: recorded %v; want no event", st.name, evs[0])
		case st.event != nil && (len(evs) != before+1 || !maps.Equal(evs[0], st.event)):
			t.Errorf("%s: events %v; want a new one with %v", st.name, evs, st.event)
		}
	}
	// A number in the clear never reaches the audit trail.
	for _, d := range phoneEvents(t, s, u.ID) {
		for _, v := range d {
			if strings.Contains(v, "4155552671") || strings.Contains(v, "791234567") {
				t.Errorf("audit details hold the number: %v", d)
			}
		}
	}
	// Setting a phone is no credential change: the user's sessions live.
	if _, err := backend(t, s).GetSession(ctx, "s1"); err != nil {
		t.Errorf("SetPhone ended a session: %v", err)
	}
}

func TestSetPhoneRefuses(t *testing.T) {
	ctx := context.Background()
	s, u := lifecycleEnv(t, CreateUserInput{Email: "ph@example.com", Phone: "+41791234567"})
	tests := []struct {
		name, email, in string
		err             error
		msg             string
	}{
		{"no country code", "ph@example.com", "079 123 45 67", phone.ErrNoCountryCode, "phone: include the country code, like +41 79 123 45 67"},
		{"not digits", "ph@example.com", "+41 79 123 45 6x", phone.ErrCharacters, "phone: a phone number may hold only"},
		{"too long", "ph@example.com", "+41 79 123 45 67 89 012", phone.ErrLength, "phone: a phone number has 8 to 15 digits"},
		{"unknown user", "nobody@example.com", "+41791234567", nil, `no user with email "nobody@example.com"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.SetPhone(ctx, "test", tt.email, tt.in)
			var ie *InputError
			if !errors.As(err, &ie) || !strings.HasPrefix(ie.Msg, tt.msg) || (tt.err != nil && !errors.Is(err, tt.err)) {
				t.Fatalf("SetPhone(%q, %q) = %v; want an InputError %q", tt.email, tt.in, err, tt.msg)
			}
			if got, _ := s.Store.GetUser(ctx, u.ID); got.Phone != "+41791234567" {
				t.Fatalf("a refused phone changed the stored one to %q", got.Phone)
			}
		})
	}
	if evs := phoneEvents(t, s, u.ID); len(evs) != 0 {
		t.Errorf("refusals recorded %v", evs)
	}
}

func TestUpdateProfile(t *testing.T) {
	ctx := context.Background()
	s, u := lifecycleEnv(t, CreateUserInput{Email: "np@example.com", Name: "Old", Phone: "+41791234567"})
	name, long := "  New Name ", strings.Repeat("n", MaxUserName+1)
	got, err := s.UpdateProfile(ctx, "test", u.Email, ProfileChange{Name: &name})
	if err != nil || got.Name != "New Name" || got.Phone != "+41791234567" || !got.UpdatedAt.Equal(now) {
		t.Fatalf("UpdateProfile(name) = %+v, %v", got, err)
	}
	if types := auditTypes(t, s, u.ID); types[0] != audit.UserNameChanged || len(phoneEvents(t, s, u.ID)) != 0 {
		t.Errorf("audit after a name change: %v", types)
	}
	// Nothing is written when one field of the change is bad.
	number := "+44 20 7946 0958"
	if _, err := s.UpdateProfile(ctx, "test", u.Email, ProfileChange{Name: &long, Phone: &number}); err == nil ||
		!strings.Contains(err.Error(), "name is 201 characters long") {
		t.Fatalf("UpdateProfile with a long name: %v", err)
	}
	if got, _ := s.Store.GetUser(ctx, u.ID); got.Phone != "+41791234567" || got.Name != "New Name" {
		t.Fatalf("a refused change wrote %+v", got)
	}
}
