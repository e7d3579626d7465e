package admin

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// links records the links the service was asked to send; fail makes the
// mail server refuse.
type links struct {
	mu   sync.Mutex
	sent []string
	fail bool
}

func (l *links) Invite(_ context.Context, _ string, u storage.User) error {
	if u.State != storage.UserInvited {
		return selfservice.ErrNotInvited
	}
	return l.send("invite " + u.Email)
}

func (l *links) SendReset(_ context.Context, _ string, u storage.User) error {
	return l.send("reset " + u.Email)
}

func (l *links) send(what string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail {
		return errors.Join(selfservice.ErrSendFailed, errors.New("smtp: 451 try later"))
	}
	l.sent = append(l.sent, what)
	return nil
}

func TestAPIInvitesAndResets(t *testing.T) {
	srv, s, _ := newAPI(t)
	ctx := context.Background()
	l := &links{}
	// Without email, the actions say so and nothing is created by an
	// invite request.
	if r := call(t, srv, "admin", "POST", "/admin/api/v1/users", jsonCT, `{"email":"ivy@example.com","org":"default","invite":true}`); r.status != 409 || !strings.Contains(r.body, "mail_not_configured") {
		t.Fatalf("invite without email: %d %s", r.status, r.body)
	}
	s.Links = l
	if _, err := s.CreateUser(ctx, "test", CreateUserInput{Email: "al@example.com", Org: "default", Password: "long enough pw"}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"create with invite", "POST", "/admin/api/v1/users", `{"email":"ivy@example.com","org":"default","invite":true}`, 201, `"invite_sent":true`},
		{"resend invite", "POST", "/admin/api/v1/users/ivy@example.com/resend-invite", "{}", 200, `"sent":true`},
		{"resend invite to an active user", "POST", "/admin/api/v1/users/al@example.com/resend-invite", "{}", 400, "send-reset"},
		{"send reset", "POST", "/admin/api/v1/users/AL@example.com/send-reset", "{}", 200, `"sent":true`},
		{"send reset to an unknown user", "POST", "/admin/api/v1/users/nobody@example.com/send-reset", "{}", 404, "no user"},
		{"resend invite, unknown user", "POST", "/admin/api/v1/users/nobody@example.com/resend-invite", "{}", 404, "no user"},
	}
	for _, st := range steps {
		r := call(t, srv, "admin", st.method, st.path, jsonCT, st.body)
		if r.status != st.status || !strings.Contains(r.body, st.want) {
			t.Fatalf("%s: status %d body %s; want %d and %q", st.name, r.status, r.body, st.status, st.want)
		}
	}
	if got := strings.Join(l.sent, ", "); got != "invite ivy@example.com, invite ivy@example.com, reset al@example.com" {
		t.Errorf("sent %s", got)
	}
	// The mail server refuses: 502 with its answer; the user made by a
	// create exists anyway, and says the invite failed.
	l.fail = true
	if r := call(t, srv, "admin", "POST", "/admin/api/v1/users/al@example.com/send-reset", jsonCT, "{}"); r.status != 502 || !strings.Contains(r.body, "451") {
		t.Fatalf("send reset with the mail server down: %d %s", r.status, r.body)
	}
	r := call(t, srv, "admin", "POST", "/admin/api/v1/users", jsonCT, `{"email":"jo@example.com","org":"default","invite":true}`)
	if r.status != 201 || !strings.Contains(r.body, `"invite_sent":false`) || !strings.Contains(r.body, "invite_error") {
		t.Fatalf("create with invite, mail down: %d %s", r.status, r.body)
	}
	// Only admins.
	if r := call(t, srv, "user", "POST", "/admin/api/v1/users/al@example.com/send-reset", jsonCT, "{}"); r.status != 403 {
		t.Fatalf("send reset by a non-admin: %d", r.status)
	}
}
