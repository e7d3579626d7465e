package passwordlogin_test

import (
	"errors"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/passwordlogin"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Account names whom a guess is against, so the flow can count it before
// Verify; it checks nothing.
func TestAccount(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com", goodPW, nil)
	tests := []struct{ email, want string }{
		{"alice@example.com", u.ID},
		{" Alice@Example.COM\t", u.ID},
		{"nobody@example.com", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := e.m.Account(e.ctx, storage.AuthRequest{}, authflow.Input{passwordlogin.FieldEmail: tt.email, passwordlogin.FieldPassword: "wrong"})
		if err != nil || got != tt.want {
			t.Errorf("Account(%q) = %q, %v; want %q", tt.email, got, err, tt.want)
		}
	}
	down := &passwordlogin.Method{Users: failingUsers{err: storage.ErrUnavailable}, Hasher: e.hasher}
	if _, err := down.Account(e.ctx, storage.AuthRequest{}, authflow.Input{passwordlogin.FieldEmail: u.Email}); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Account during an outage: %v, want ErrUnavailable", err)
	}
	// Decoy pays for a check and proves nothing (it has nothing to return).
	e.m.Decoy(e.ctx, authflow.Input{passwordlogin.FieldPassword: goodPW})
}
