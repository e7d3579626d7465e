package admin

import (
	"context"
	"strings"
	"testing"
)

func TestAPIPhone(t *testing.T) {
	srv, s, _ := newAPI(t)
	const u = "/admin/api/v1/users"
	steps := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"create with a phone", "POST", u, `{"email":"pia@example.com","org":"default","phone":"+41 (0)79 123 45 67"}`, 201, `"phone":"+41791234567"`},
		{"create without one", "POST", u, `{"email":"nils@example.com","org":"default"}`, 201, `"phone":""`},
		{"create with no country code", "POST", u, `{"email":"x@example.com","org":"default","phone":"079 123 45 67"}`, 400,
			`"error_description":"phone: include the country code, like +41 79 123 45 67"`},
		{"list shows it", "GET", u + "?org=default", "", 200, `"email":"pia@example.com","email_verified":false,"name":"","phone":"+41791234567"`},
		{"set", "PUT", u + "/NILS@example.com/phone", `{"phone":"0049 30 123456"}`, 200, `"email":"nils@example.com","email_verified":false,"name":"","phone":"+4930123456"`},
		{"change", "PUT", u + "/pia@example.com/phone", `{"phone":"+1 415-555-2671"}`, 200, `"phone":"+14155552671"`},
		{"clear", "PUT", u + "/nils@example.com/phone", `{"phone":""}`, 200, `"phone":""`},
		{"invalid", "PUT", u + "/pia@example.com/phone", `{"phone":"+41 79 12"}`, 400, "phone: a phone number has 8 to 15 digits"},
		{"no phone field", "PUT", u + "/pia@example.com/phone", `{}`, 400, `must name \"phone\"`},
		{"a number, not a string", "PUT", u + "/pia@example.com/phone", `{"phone":41791234567}`, 400, "invalid JSON body"},
		{"no body", "PUT", u + "/pia@example.com/phone", ``, 400, "a JSON request body is required"},
		{"unknown field", "PUT", u + "/pia@example.com/phone", `{"phone":"","mobile":"+41791234567"}`, 400, "unknown field"},
		{"unknown user", "PUT", u + "/nobody@example.com/phone", `{"phone":"+41791234567"}`, 404, "no user"},
		{"wrong method", "POST", u + "/pia@example.com/phone", `{"phone":"+41791234567"}`, 405, "use PUT"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := call(t, srv, "admin", st.method, st.path, jsonCT, st.body)
			if r.status != st.status || !strings.Contains(r.body, st.want) {
				t.Fatalf("status %d body %s; want %d and %q", r.status, r.body, st.status, st.want)
			}
		})
	}
	ctx := context.Background()
	for email, want := range map[string]string{"pia@example.com": "+14155552671", "nils@example.com": ""} {
		if got, err := s.Store.GetUserByEmail(ctx, email); err != nil || got.Phone != want {
			t.Errorf("%s: stored phone %q, %v; want %q", email, got.Phone, err, want)
		}
	}
	// The change is audited, with the numbers masked.
	pia, _ := s.Store.GetUserByEmail(ctx, "pia@example.com")
	evs := phoneEvents(t, s, pia.ID)
	if len(evs) != 1 || evs[0]["old"] != "+*********67" || evs[0]["new"] != "+*********71" {
		t.Errorf("phone events of pia: %v", evs)
	}
}
