package authflow_test

import (
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// BenchmarkTOTPStep is the second-factor step of a login on SQLite: the
// flow decides what the user needs (their organization's policy, their
// factors), reserves the guess, checks the code against the user's app,
// spends its time step and starts the session, in one unit. The password
// step before it is outside the timing. Tables: one organization, one
// user, one factor, b.N auth requests and sessions.
func BenchmarkTOTPStep(b *testing.B) {
	e, key := totpEnv(b)
	u := e.user("alice@example.com", goodPW, func(u *storage.User) { u.OrgID = e.mfaOrg.ID })
	secret := addTOTP(e, key, u, true)
	for b.Loop() {
		b.StopTimer()
		e.advance(30 * time.Second) // a new time step: each code is new
		r := e.begin(nil)
		if out, err := e.submitPW(r.ID, u.Email, goodPW); err != nil || out.Action != authflow.Challenge {
			b.Fatalf("password: %v, %v", out.Action, err)
		}
		code := e.totpCode(secret)
		br := e.browser()
		b.StartTimer()
		out, err := e.flow.Submit(e.ctx, r.ID, br, "totp", authflow.Input{"code": code})
		if err != nil || out.Action != authflow.Continue {
			b.Fatalf("code: %v %v, %v", out.Action, out.Failure, err)
		}
	}
}
