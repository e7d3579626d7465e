package authflow_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// noLastLogin is a store whose user updates fail (a database blip after
// the request moved).
type noLastLogin struct {
	authflow.Store
	err error
}

func (s noLastLogin) UpdateUser(context.Context, string, func(storage.User) (storage.User, error)) (storage.User, error) {
	return storage.User{}, s.err
}

// Recording LastLoginAt is bookkeeping after the transition to done. If
// it fails, Submit must not leave the login stranded: either it answers
// with the session it started (so the page can set the cookie), or it
// leaves neither a done request nor a session row behind. (It used to
// return the error after the request moved to done bound to a session
// whose cookie no browser would ever get.)
func TestLastLoginFailureDoesNotStrandTheLogin(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com", goodPW, nil)
	r := e.begin(nil)
	e.flow.Store = noLastLogin{Store: e.st, err: errors.New("database blip")}
	out, err := e.submitPW(r.ID, u.Email, goodPW)
	if err == nil {
		if out.Action != authflow.Continue || out.Session == nil {
			t.Fatalf("outcome %v (session %v); want continue with the session", out.Action, out.Session)
		}
		return
	}
	st := e.stored(r.ID)
	if authflow.StepOf(st) != authflow.StepLogin {
		t.Errorf("Submit failed (%v) but left the request at %q bound to session %q, which no browser holds", err, st.Step, st.SessionID)
	}
	if n := e.countSessions(u.ID); n != 0 {
		t.Errorf("Submit failed (%v) but left %d session rows behind", err, n)
	}
}
