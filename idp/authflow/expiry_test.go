package authflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/passwordlogin"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// passwordMaxAge expires passwords older than a day.
type passwordMaxAge struct{ now func() time.Time }

func (m passwordMaxAge) Expired(_ context.Context, u storage.User) (bool, error) {
	return m.now().Sub(u.PasswordChangedAt) >= 24*time.Hour, nil
}

// minLength refuses new passwords under 12 characters.
type minLength struct{}

func (minLength) Check(_ context.Context, _ storage.User, pw string, _ bool) error {
	if len(pw) < 12 {
		return &password.PolicyError{Rule: "test", Message: "Use at least 12 characters."}
	}
	return nil
}

func withExpiry(e *env) {
	clock := func() time.Time { return *e.now }
	e.flow.Expiry = passwordMaxAge{now: clock}
	e.flow.RegisterMethod(&passwordlogin.Renewal{Users: e.st, Hasher: e.hasher, Rules: minLength{}, Now: clock})
}

func (e *env) submitNew(id, pw, confirm string) (authflow.Outcome, error) {
	return e.flow.Submit(e.ctx, id, e.browser(), passwordlogin.RenewName,
		authflow.Input{passwordlogin.FieldNewPassword: pw, passwordlogin.FieldConfirm: confirm})
}

func TestExpiredPasswordIsReplacedInTheLogin(t *testing.T) {
	e := newEnv(t)
	withExpiry(e)
	u := e.user("alice@example.com", goodPW, func(u *storage.User) { u.PasswordChangedAt = t0.Add(-48 * time.Hour) })
	r := e.begin(nil)
	out := mustSubmit(e, r.ID, u)
	if out.Action != authflow.Challenge || out.Method != passwordlogin.RenewName {
		t.Fatalf("after an expired password: %v %q, want the new-password form", out.Action, out.Method)
	}
	if st := e.stored(r.ID); authflow.StepOf(st) != authflow.StepNewPassword || st.UserID != u.ID || st.SessionID != "" {
		t.Fatalf("stored %+v", st)
	}
	// The page shows the same form again.
	if out, err := e.flow.Next(e.ctx, r.ID, e.browser()); err != nil || out.Method != passwordlogin.RenewName {
		t.Fatalf("Next: %v %+v", err, out)
	}
	// Skipping the step is out of turn: no door can complete, no other
	// method runs.
	if _, err := e.flow.Complete(e.ctx, r.ID, e.browser()); err == nil {
		t.Fatal("Complete at new_password succeeded")
	}
	if _, err := e.submitPW(r.ID, u.Email, goodPW); err != authflow.ErrOutOfTurn {
		t.Fatalf("password again: %v, want out of turn", err)
	}
	for _, c := range []struct{ pw, confirm, want string }{
		{"short", "short", "Use at least 12 characters."},
		{"a-long-new-password", "a-different-one", "The two passwords do not match."},
		{goodPW, goodPW, "Choose a password different from the one that expired."},
	} {
		out, err := e.submitNew(r.ID, c.pw, c.confirm)
		if err != nil || out.Failure == nil || out.Failure.Error() != c.want {
			t.Fatalf("new password %q/%q: %v, failure %v; want %q", c.pw, c.confirm, err, out.Failure, c.want)
		}
	}
	out, err := e.submitNew(r.ID, "a-long-new-password", "a-long-new-password")
	if err != nil || out.Action != authflow.Continue || out.Session == nil {
		t.Fatalf("new password: %v %+v", err, out)
	}
	st := e.stored(r.ID)
	if authflow.StepOf(st) != authflow.StepDone || !st.AuthTime.Equal(t0) || len(st.AMR) != 1 || st.AMR[0] != authflow.AMRPassword {
		t.Fatalf("done: %+v", st)
	}
	nu := e.storedUser(u.ID)
	if ok, _, _ := e.hasher.Verify(e.ctx, nu.PasswordHash, "a-long-new-password"); !ok || !nu.PasswordChangedAt.Equal(t0) {
		t.Fatalf("password not replaced: %+v", nu)
	}
	// The next login, with the new password, goes straight through.
	r2 := e.begin(nil)
	if out, err := e.submitPW(r2.ID, u.Email, "a-long-new-password"); err != nil || out.Action != authflow.Continue {
		t.Fatalf("next login: %v %v", err, out.Action)
	}
}

func TestExpiredPasswordThenMFA(t *testing.T) {
	e := newEnv(t)
	withExpiry(e)
	u := e.user("alice@example.com", goodPW, func(u *storage.User) {
		u.OrgID = e.mfaOrg.ID
		u.PasswordChangedAt = t0.Add(-48 * time.Hour)
	})
	r := e.begin(nil)
	mustSubmit(e, r.ID, u)
	out, err := e.submitNew(r.ID, "a-long-new-password", "a-long-new-password")
	if err != nil || out.Action != authflow.Challenge || out.Method != otp {
		t.Fatalf("after the new password: %v %v %q, want the second factor", err, out.Action, out.Method)
	}
}

func TestFreshPasswordSkipsTheStep(t *testing.T) {
	e := newEnv(t)
	withExpiry(e)
	u := e.user("alice@example.com", goodPW, func(u *storage.User) { u.PasswordChangedAt = t0.Add(-time.Hour) })
	r := e.begin(nil)
	if out := mustSubmit(e, r.ID, u); out.Action != authflow.Continue {
		t.Fatalf("fresh password: %v", out.Action)
	}
}
