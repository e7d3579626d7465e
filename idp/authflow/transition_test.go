package authflow_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// tfix is one request in a state, with the browsers the operations use.
type tfix struct {
	e     *env
	u     storage.User
	id    string
	right session.Browser // the browser whose session finished the login (an own live session before done)
	other session.Browser // alice in another browser: a live session that did not finish this login
	ssoSt session.Started // other's session
}

// result is what an operation gives: an error sentinel, or an outcome
// and the step the request moved to (the zero Step: the row is
// unchanged).
type result struct {
	err    error
	action authflow.Action
	method string // for Challenge
	fail   bool   // Outcome.Failure set
	moved  authflow.Step
}

// TestTransitions is the whole transition relation: every operation in
// every state, legal or not. An operation that is not a transition leaves
// the stored row exactly as it was.
func TestTransitions(t *testing.T) {
	const (
		login, mfa, done, issued = "login", "mfa", "done", "issued"
		expiredLogin, expired    = "expired at login", "expired at done"
		unknown                  = "unknown id"
		// A stored step none of the steps is (a corrupt or future row)
		// matches no transition.
		badStep = "unknown step"
	)
	states := []struct {
		name string
		prep func(f *tfix)
	}{
		{login, func(f *tfix) { f.id = f.e.begin(nil).ID }},
		{mfa, func(f *tfix) {
			f.e.factor(f.u, otp)
			f.id = f.e.begin(func(r *storage.AuthRequest) { r.ClientID = strictRP }).ID
			mustSubmit(f.e, f.id, f.u)
		}},
		{done, func(f *tfix) {
			f.id = f.e.begin(nil).ID
			f.right = f.e.browserOf(mustDone(f.e, f.id, f.u))
		}},
		{issued, func(f *tfix) {
			f.id = f.e.begin(nil).ID
			f.right = f.e.browserOf(mustDone(f.e, f.id, f.u))
			if _, err := f.e.flow.Complete(f.e.ctx, f.id, f.right); err != nil {
				f.e.t.Fatal(err)
			}
		}},
		{expiredLogin, func(f *tfix) {
			f.id = f.e.begin(nil).ID
			f.e.advance(authflow.DefaultTTL)
		}},
		{expired, func(f *tfix) {
			f.id = f.e.begin(nil).ID
			f.right = f.e.browserOf(mustDone(f.e, f.id, f.u))
			f.e.advance(authflow.DefaultTTL)
		}},
		{unknown, func(f *tfix) { f.id = "no-such-request" }},
		{badStep, func(f *tfix) {
			f.id = f.e.begin(nil).ID
			if _, err := f.e.st.UpdateAuthRequest(f.e.ctx, f.id, func(r storage.AuthRequest) (storage.AuthRequest, error) {
				r.Step = "consent"
				return r, nil
			}); err != nil {
				f.e.t.Fatal(err)
			}
		}},
	}

	gone := result{err: authflow.ErrRequestGone}
	outOfTurn := result{err: authflow.ErrOutOfTurn}
	// A method is out of turn at every step but its own; a request that
	// is gone is gone whatever is asked of it.
	submitted := func(at map[string]result) map[string]result {
		out := map[string]result{
			login: outOfTurn, mfa: outOfTurn, done: outOfTurn, issued: outOfTurn,
			expiredLogin: gone, expired: gone, unknown: gone, badStep: outOfTurn,
		}
		for k, v := range at {
			out[k] = v
		}
		return out
	}
	type op struct {
		name string
		do   func(f *tfix) (authflow.Outcome, error)
		want map[string]result
	}
	ops := []op{
		{"Next without a session",
			func(f *tfix) (authflow.Outcome, error) { return f.e.flow.Next(f.e.ctx, f.id, f.e.browser()) },
			map[string]result{
				login:  {action: authflow.Challenge, method: "password"},
				mfa:    {action: authflow.Challenge, method: otp},
				done:   {action: authflow.Continue},
				issued: outOfTurn, expiredLogin: gone, expired: gone, unknown: gone, badStep: outOfTurn,
			}},
		{"Next with a live session",
			func(f *tfix) (authflow.Outcome, error) { return f.e.flow.Next(f.e.ctx, f.id, f.other) },
			map[string]result{
				login:  {action: authflow.Continue, moved: authflow.StepDone},
				mfa:    {action: authflow.Challenge, method: otp},
				done:   {action: authflow.Continue},
				issued: outOfTurn, expiredLogin: gone, expired: gone, unknown: gone, badStep: outOfTurn,
			}},
		{"Submit the right password",
			func(f *tfix) (authflow.Outcome, error) { return f.e.submitPW(f.id, f.u.Email, goodPW) },
			submitted(map[string]result{login: {action: authflow.Continue, moved: authflow.StepDone}})},
		{"Submit a wrong password",
			func(f *tfix) (authflow.Outcome, error) { return f.e.submitPW(f.id, f.u.Email, "wrong-wrong-wrong") },
			submitted(map[string]result{login: {action: authflow.Challenge, method: "password", fail: true}})},
		{"Submit the second factor",
			func(f *tfix) (authflow.Outcome, error) { return f.e.submitOTP(f.e.browser(), f.id, otpCode) },
			submitted(map[string]result{mfa: {action: authflow.Continue, moved: authflow.StepDone}})},
		{"Submit a wrong second factor",
			func(f *tfix) (authflow.Outcome, error) { return f.e.submitOTP(f.e.browser(), f.id, "000000") },
			submitted(map[string]result{mfa: {action: authflow.Challenge, method: otp, fail: true}})},
		{"Submit an unknown method",
			func(f *tfix) (authflow.Outcome, error) {
				return f.e.flow.Submit(f.e.ctx, f.id, f.e.browser(), "sms", authflow.Input{"code": otpCode})
			},
			map[string]result{
				login: {err: authflow.ErrUnknownMethod}, mfa: {err: authflow.ErrUnknownMethod},
				done: {err: authflow.ErrUnknownMethod}, issued: {err: authflow.ErrUnknownMethod},
				expiredLogin: gone, expired: gone, unknown: gone, badStep: {err: authflow.ErrUnknownMethod},
			}},
		{"Complete from the right browser",
			func(f *tfix) (authflow.Outcome, error) {
				r, err := f.e.flow.Complete(f.e.ctx, f.id, f.right)
				return authflow.Outcome{Request: r}, err
			},
			map[string]result{
				login: {err: authflow.ErrIncomplete}, mfa: {err: authflow.ErrIncomplete},
				done:   {moved: authflow.StepIssued},
				issued: outOfTurn, expiredLogin: gone, expired: gone, unknown: gone, badStep: {err: authflow.ErrIncomplete},
			}},
		{"Complete from another browser",
			func(f *tfix) (authflow.Outcome, error) {
				r, err := f.e.flow.Complete(f.e.ctx, f.id, f.other)
				return authflow.Outcome{Request: r}, err
			},
			map[string]result{
				login: {err: authflow.ErrIncomplete}, mfa: {err: authflow.ErrIncomplete},
				done:   {err: authflow.ErrWrongBrowser},
				issued: outOfTurn, expiredLogin: gone, expired: gone, unknown: gone, badStep: {err: authflow.ErrIncomplete},
			}},
		{"Complete from a browser without a session",
			func(f *tfix) (authflow.Outcome, error) {
				r, err := f.e.flow.Complete(f.e.ctx, f.id, f.e.browser())
				return authflow.Outcome{Request: r}, err
			},
			map[string]result{
				login: {err: authflow.ErrIncomplete}, mfa: {err: authflow.ErrIncomplete},
				done:   {err: authflow.ErrWrongBrowser},
				issued: outOfTurn, expiredLogin: gone, expired: gone, unknown: gone, badStep: {err: authflow.ErrIncomplete},
			}},
	}

	for _, o := range ops {
		for _, s := range states {
			want, ok := o.want[s.name]
			if !ok {
				t.Fatalf("%s: no expectation for state %s", o.name, s.name)
			}
			t.Run(o.name+"/"+s.name, func(t *testing.T) {
				e := newEnv(t)
				u := e.user("alice@example.com", goodPW, nil)
				f := &tfix{e: e, u: u}
				var own session.Started
				own, f.right = e.liveSession(u, []string{authflow.AMRPassword})
				f.ssoSt, f.other = e.liveSession(u, []string{authflow.AMRPassword})
				s.prep(f)
				var before storage.AuthRequest
				if s.name != unknown {
					before = e.stored(f.id)
				}
				e.advance(time.Second)

				out, err := o.do(f)
				if !errors.Is(err, want.err) || (want.err == nil) != (err == nil) {
					t.Fatalf("err = %v; want %v", err, want.err)
				}
				if want.err != nil && !reflect.DeepEqual(out, authflow.Outcome{}) {
					t.Fatalf("an outcome with the error: %+v", out)
				}
				if out.Action != want.action || out.Method != want.method || (out.Failure != nil) != want.fail {
					t.Fatalf("outcome %v %q (failure %v); want %v %q (failure %v)",
						out.Action, out.Method, out.Failure, want.action, want.method, want.fail)
				}
				if want.fail && out.Failure != authflow.ErrInvalidCredentials {
					t.Fatalf("failure %v; want ErrInvalidCredentials", out.Failure)
				}

				if s.name == unknown {
					if _, err := e.st.GetAuthRequest(e.ctx, f.id); !errors.Is(err, storage.ErrNotFound) {
						t.Fatalf("an unknown request came to exist: %v", err)
					}
					return
				}
				if want.moved == (authflow.Step{}) {
					e.unchanged(before)
					if out.Session != nil {
						t.Fatalf("no transition, yet a session was started: %+v", out.Session)
					}
					return
				}
				st := e.stored(f.id)
				if authflow.StepOf(st) != want.moved {
					t.Fatalf("step %q; want %q", st.Step, want.moved)
				}
				if o.name != "Complete from the right browser" && !reflect.DeepEqual(out.Request, st) {
					t.Errorf("outcome request %+v\nstored %+v", out.Request, st)
				}
				switch want.moved {
				case authflow.StepDone:
					if st.UserID != u.ID || st.OrgID != u.OrgID || st.SessionID == "" {
						t.Fatalf("done without the user or a session: %+v", st)
					}
					resumed := o.name == "Next with a live session"
					if resumed {
						// The browser's own session satisfied the login.
						if out.Session != nil || st.SessionID != f.ssoSt.Session.Hash {
							t.Fatalf("resumed: outcome session %v, SessionID %q; want the browser's %q",
								out.Session, st.SessionID, f.ssoSt.Session.Hash)
						}
					} else if out.Session == nil || out.Session.Session.Hash != st.SessionID ||
						st.SessionID == own.Session.Hash || st.SessionID == f.ssoSt.Session.Hash {
						t.Fatalf("proved: outcome session %v, SessionID %q; want a new session", out.Session, st.SessionID)
					}
				case authflow.StepIssued:
					want := before
					want.Step = authflow.StepIssued.String()
					if !reflect.DeepEqual(st, want) || !reflect.DeepEqual(out.Request, st) {
						t.Fatalf("issued %+v\nreturned %+v\nwant %+v", st, out.Request, want)
					}
				}
			})
		}
	}
}

// The second factor proves the user the request names, adds "mfa", and
// ends in a session of its own.
func TestSecondFactor(t *testing.T) {
	t.Run("after a password", func(t *testing.T) {
		e := newEnv(t)
		u := e.user("alice@example.com", goodPW, func(u *storage.User) { u.OrgID = e.mfaOrg.ID })
		r := e.begin(nil)
		if out := mustSubmit(e, r.ID, u); out.Action != authflow.Challenge || out.Method != otp || out.Session != nil {
			t.Fatalf("after the password: %v %q (session %v); want the second factor", out.Action, out.Method, out.Session)
		}
		// A wrong code is the form again; the row stays at mfa.
		before := e.stored(r.ID)
		if out, err := e.submitOTP(e.browser(), r.ID, "000000"); err != nil || out.Failure != authflow.ErrInvalidCredentials {
			t.Fatalf("wrong code: %v, failure %v", err, out.Failure)
		}
		e.unchanged(before)
		e.advance(time.Minute)
		out, err := e.submitOTP(e.browser(), r.ID, otpCode)
		if err != nil || out.Action != authflow.Continue || out.Session == nil {
			t.Fatalf("second factor: %v (session %v), %v; want continue with a session", out.Action, out.Session, err)
		}
		st := e.stored(r.ID)
		wantAMR := []string{authflow.AMRPassword, "otp", authflow.AMRMFA}
		if authflow.StepOf(st) != authflow.StepDone || !slices.Equal(st.AMR, wantAMR) || st.UserID != u.ID ||
			st.SessionID != out.Session.Session.Hash || !st.AuthTime.Equal(*e.now) {
			t.Fatalf("stored %+v; want done with amr %v, the new session, auth_time %v", st, wantAMR, *e.now)
		}
		if authflow.ACR(st.AMR) != authflow.ACRMFA {
			t.Fatalf("ACR = %q; want %q", authflow.ACR(st.AMR), authflow.ACRMFA)
		}
		if s, ok := e.storedSession(st.SessionID); !ok || !slices.Equal(s.AMR, wantAMR) {
			t.Fatalf("session row %+v (found %v); want amr %v", s, ok, wantAMR)
		}
		if _, err := e.flow.Complete(e.ctx, r.ID, e.browserOf(*out.Session)); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		evs := e.events(audit.LoginSucceeded)
		if len(evs) != 1 || evs[0].Details["amr"] != "pwd otp mfa" {
			t.Fatalf("login.succeeded = %+v; want one with amr \"pwd otp mfa\"", evs)
		}
	})

	t.Run("after a resumed session: a new session replaces it", func(t *testing.T) {
		e := newEnv(t)
		u := e.user("alice@example.com", goodPW, nil)
		e.factor(u, otp)
		old, b := e.liveSession(u, []string{authflow.AMRPassword})
		r := e.begin(func(r *storage.AuthRequest) { r.ClientID = strictRP })
		if out, err := e.flow.Next(e.ctx, r.ID, b); err != nil || out.Action != authflow.Challenge || out.Method != otp {
			t.Fatalf("Next: %v %q, %v; want the second factor", out.Action, out.Method, err)
		}
		if st := e.stored(r.ID); authflow.StepOf(st) != authflow.StepMFA || st.SessionID != "" || st.UserID != u.ID {
			t.Fatalf("stored %+v; want mfa for %s without a session", st, u.ID)
		}
		out, err := e.submitOTP(b, r.ID, otpCode)
		if err != nil || out.Action != authflow.Continue || out.Session == nil {
			t.Fatalf("second factor: %v (session %v), %v", out.Action, out.Session, err)
		}
		st := e.stored(r.ID)
		if st.SessionID == old.Session.Hash || st.SessionID != out.Session.Session.Hash {
			t.Fatalf("SessionID %q; want a new session (old %q, started %q)", st.SessionID, old.Session.Hash, out.Session.Session.Hash)
		}
		for _, a := range []string{authflow.AMRPassword, "otp", authflow.AMRMFA} {
			if !slices.Contains(st.AMR, a) {
				t.Fatalf("AMR %v lacks %q", st.AMR, a)
			}
		}
		if authflow.ACR(st.AMR) != authflow.ACRMFA {
			t.Fatalf("ACR = %q; want mfa", authflow.ACR(st.AMR))
		}
		// The browser's old session is replaced, not kept beside the new.
		if _, ok := e.storedSession(old.Session.Hash); ok {
			t.Fatal("the browser's old session row survived the step-up")
		}
		// The old cookie no longer completes the login; the new one does.
		if _, err := e.flow.Complete(e.ctx, r.ID, e.browser(e.cookie(old))); err != authflow.ErrWrongBrowser {
			t.Fatalf("Complete with the old cookie: %v; want ErrWrongBrowser", err)
		}
		if _, err := e.flow.Complete(e.ctx, r.ID, e.browserOf(*out.Session)); err != nil {
			t.Fatalf("Complete: %v", err)
		}
	})

	t.Run("a proof for another user is refused", func(t *testing.T) {
		e := newEnv(t)
		u := e.user("alice@example.com", goodPW, func(u *storage.User) { u.OrgID = e.mfaOrg.ID })
		bob := e.user("bob@example.com", goodPW, nil)
		e.flow.RegisterFactor(&fakeOTP{name: "otp-bob", st: e.st, now: e.flow.Now, prove: func(storage.AuthRequest) string { return bob.ID }})
		e.factor(u, "otp-bob")
		r := e.begin(nil)
		mustSubmit(e, r.ID, u)
		before := e.stored(r.ID)
		out, err := e.flow.Submit(e.ctx, r.ID, e.browser(), "otp-bob", authflow.Input{"code": otpCode})
		if err != nil || out.Action != authflow.Challenge || out.Failure != authflow.ErrInvalidCredentials || out.Session != nil {
			t.Fatalf("other user's proof: %v (failure %v, session %v), %v; want refused", out.Action, out.Failure, out.Session, err)
		}
		// Still at mfa, proving nothing (the form shown is the one tried).
		if after := e.stored(r.ID); after.Step != before.Step || !slices.Equal(after.AMR, before.AMR) || after.SessionID != "" {
			t.Fatalf("request moved: %+v", after)
		}
		evs := e.events(audit.LoginFailed)
		if len(evs) != 1 || evs[0].Details["reason"] != "other_user" || evs[0].Details["step"] != "mfa" {
			t.Fatalf("login.failed = %+v; want one with reason other_user at mfa", evs)
		}
		if n := e.countSessions(bob.ID) + e.countSessions(u.ID); n != 0 {
			t.Fatalf("%d sessions started by a refused proof", n)
		}
	})

	t.Run("no second factor available", func(t *testing.T) {
		e := newEnv(t)
		f := &authflow.Flow{Store: e.st, Sessions: e.sessions, Audit: e.flow.Audit, Now: e.flow.Now}
		f.RegisterDoor("oidc", e.door)
		f.RegisterMethod(e.pw)
		e.flow = f
		u := e.user("alice@example.com", goodPW, func(u *storage.User) { u.OrgID = e.mfaOrg.ID })
		r := e.begin(nil)
		out, err := e.submitPW(r.ID, u.Email, goodPW)
		if err != nil || out.Action != authflow.NoMethod || out.Session != nil {
			t.Fatalf("Submit: %v (session %v), %v; want no_method", out.Action, out.Session, err)
		}
		before := e.stored(r.ID)
		if out, err := f.Next(e.ctx, r.ID, e.browser()); err != nil || out.Action != authflow.NoMethod {
			t.Fatalf("Next at mfa: %v, %v; want no_method", out.Action, err)
		}
		e.unchanged(before)
	})
}

// Complete issues once: the second call is out of turn and the login is
// audited once, even when the calls race.
func TestCompleteOnce(t *testing.T) {
	t.Run("twice", func(t *testing.T) {
		e := newEnv(t)
		u := e.user("alice@example.com", goodPW, nil)
		r := e.begin(nil)
		b := e.browserOf(mustDone(e, r.ID, u))
		first, err := e.flow.Complete(e.ctx, r.ID, b)
		if err != nil || !authflow.Issued(first) {
			t.Fatalf("first Complete: %+v, %v", first, err)
		}
		got, err := e.flow.Complete(e.ctx, r.ID, b)
		if err != authflow.ErrOutOfTurn || got.ID != "" {
			t.Fatalf("second Complete: %+v, %v; want ErrOutOfTurn", got, err)
		}
		e.unchanged(first)
		evs := e.events(audit.LoginSucceeded)
		if len(evs) != 1 {
			t.Fatalf("%d login.succeeded events; want 1", len(evs))
		}
		if ev := evs[0]; ev.UserID != u.ID || ev.OrgID != u.OrgID || ev.ClientID != plainRP || ev.Details["amr"] != "pwd" {
			t.Fatalf("login.succeeded %+v; want user %s, org %s, client %s, amr pwd", ev, u.ID, u.OrgID, plainRP)
		}
	})
	t.Run("concurrently", func(t *testing.T) {
		e := newEnv(t)
		u := e.user("alice@example.com", goodPW, nil)
		r := e.begin(nil)
		b := e.browserOf(mustDone(e, r.ID, u))
		const n = 10
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = e.flow.Complete(e.ctx, r.ID, b)
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case err != authflow.ErrOutOfTurn:
				t.Errorf("goroutine %d: %v; want nil or ErrOutOfTurn", i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d Completes issued; want 1", wins)
		}
		if evs := e.events(audit.LoginSucceeded); len(evs) != 1 {
			t.Fatalf("%d login.succeeded events; want 1", len(evs))
		}
	})
}

// A passive request (prompt=none) never shows a page: whatever would need
// one is login_required, and a login for another user than the hinted
// one is refused without a trace on the request.
func TestPromptNone(t *testing.T) {
	none := func(sub string) func(*storage.AuthRequest) {
		return func(r *storage.AuthRequest) { r.Prompt, r.SubjectHint = []string{"none"}, sub }
	}
	tests := []struct {
		name   string
		client string
		sub    func(alice, bob storage.User) string // SubjectHint
		hinted bool                                 // prompt=none (else only the hint)
		// op runs with alice as the user, bob as another.
		op         func(e *env, id string, alice, bob storage.User) (authflow.Outcome, error)
		wantAction authflow.Action
		wantStep   authflow.Step // zero: unchanged
	}{
		{name: "Next at login without a session", hinted: true,
			op: func(e *env, id string, _, _ storage.User) (authflow.Outcome, error) {
				return e.flow.Next(e.ctx, id, e.browser())
			}, wantAction: authflow.LoginRequired},
		{name: "Next at login with a session for another user than the hint", hinted: true,
			sub: func(_, bob storage.User) string { return bob.ID },
			op: func(e *env, id string, alice, _ storage.User) (authflow.Outcome, error) {
				_, b := e.liveSession(alice, []string{authflow.AMRPassword})
				return e.flow.Next(e.ctx, id, b)
			}, wantAction: authflow.LoginRequired},
		{name: "Next at login with a session for the hinted user", hinted: true,
			sub: func(alice, _ storage.User) string { return alice.ID },
			op: func(e *env, id string, alice, _ storage.User) (authflow.Outcome, error) {
				_, b := e.liveSession(alice, []string{authflow.AMRPassword})
				return e.flow.Next(e.ctx, id, b)
			}, wantAction: authflow.Continue, wantStep: authflow.StepDone},
		{name: "Next with a session that needs a second factor", hinted: true, client: strictRP,
			op: func(e *env, id string, alice, _ storage.User) (authflow.Outcome, error) {
				e.factor(alice, otp)
				_, b := e.liveSession(alice, []string{authflow.AMRPassword})
				return e.flow.Next(e.ctx, id, b)
			}, wantAction: authflow.LoginRequired, wantStep: authflow.StepMFA},
		{name: "Next at mfa", hinted: true, client: strictRP,
			op: func(e *env, id string, alice, _ storage.User) (authflow.Outcome, error) {
				e.factor(alice, otp)
				if out, err := e.submitPW(id, alice.Email, goodPW); err != nil || out.Action != authflow.LoginRequired {
					e.t.Fatalf("password to mfa under prompt=none: %v, %v; want login_required", out.Action, err)
				}
				if st := e.stored(id); authflow.StepOf(st) != authflow.StepMFA {
					e.t.Fatalf("step %q; want mfa", st.Step)
				}
				return e.flow.Next(e.ctx, id, e.browser())
			}, wantAction: authflow.LoginRequired, wantStep: authflow.StepMFA},
		{name: "Submit a password for another user than the hint", hinted: true,
			sub: func(_, bob storage.User) string { return bob.ID },
			op: func(e *env, id string, alice, _ storage.User) (authflow.Outcome, error) {
				return e.submitPW(id, alice.Email, goodPW)
			}, wantAction: authflow.LoginRequired},
		{name: "Submit a password for the hinted user", hinted: true,
			sub: func(alice, _ storage.User) string { return alice.ID },
			op: func(e *env, id string, alice, _ storage.User) (authflow.Outcome, error) {
				return e.submitPW(id, alice.Email, goodPW)
			}, wantAction: authflow.Continue, wantStep: authflow.StepDone},
		// The hint binds passive logins only: an interactive login may be
		// for whoever proves themselves (as before).
		{name: "Submit a password for another user than the hint, not passive", hinted: false,
			sub: func(_, bob storage.User) string { return bob.ID },
			op: func(e *env, id string, alice, _ storage.User) (authflow.Outcome, error) {
				return e.submitPW(id, alice.Email, goodPW)
			}, wantAction: authflow.Continue, wantStep: authflow.StepDone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			alice := e.user("alice@example.com", goodPW, nil)
			bob := e.user("bob@example.com", goodPW, nil)
			sub := ""
			if tt.sub != nil {
				sub = tt.sub(alice, bob)
			}
			r := e.begin(func(r *storage.AuthRequest) {
				none(sub)(r)
				if !tt.hinted {
					r.Prompt = nil
				}
				if tt.client != "" {
					r.ClientID = tt.client
				}
			})
			before := e.stored(r.ID)
			out, err := tt.op(e, r.ID, alice, bob)
			if err != nil || out.Action != tt.wantAction {
				t.Fatalf("outcome %v, %v; want %v", out.Action, err, tt.wantAction)
			}
			if tt.wantStep == (authflow.Step{}) {
				e.unchanged(before)
				if out.Session != nil {
					t.Fatalf("a session started: %+v", out.Session)
				}
				if lu := e.storedUser(alice.ID); !lu.LastLoginAt.IsZero() {
					t.Fatalf("LastLoginAt set by a refused passive login")
				}
				if evs := e.events(audit.LoginPassword); len(evs) != 0 {
					t.Fatalf("login.password_ok for a refused passive login: %+v", evs)
				}
				return
			}
			if st := e.stored(r.ID); authflow.StepOf(st) != tt.wantStep || st.UserID != alice.ID {
				t.Fatalf("stored %+v; want %s for alice", st, tt.wantStep)
			}
		})
	}
}

// The flow asks the door for the relying party's policy; a party it does
// not know stops the login (ErrUnknownParty, never "no MFA"), and a door
// that fails otherwise surfaces its error.
func TestParty(t *testing.T) {
	boom := errors.New("door database down")
	tests := []struct {
		name    string
		client  string
		doorErr error
		wantErr error
		notErr  error
	}{
		{"unknown party", "ghost", nil, authflow.ErrUnknownParty, nil},
		{"door fails", plainRP, boom, boom, authflow.ErrUnknownParty},
		{"door fails with not found", plainRP, fmt.Errorf("lookup: %w", storage.ErrNotFound), authflow.ErrUnknownParty, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com", goodPW, nil)
			_, b := e.liveSession(u, []string{authflow.AMRPassword})
			r := e.begin(func(r *storage.AuthRequest) { r.ClientID = tt.client })
			e.door.err = tt.doorErr
			before := e.stored(r.ID)
			ops := map[string]func() (authflow.Outcome, error){
				"Next":                    func() (authflow.Outcome, error) { return e.flow.Next(e.ctx, r.ID, e.browser()) },
				"Next with a session":     func() (authflow.Outcome, error) { return e.flow.Next(e.ctx, r.ID, b) },
				"Submit":                  func() (authflow.Outcome, error) { return e.submitPW(r.ID, u.Email, goodPW) },
				"Submit a wrong password": func() (authflow.Outcome, error) { return e.submitPW(r.ID, u.Email, "nope-nope-nope") },
			}
			for name, op := range ops {
				out, err := op()
				if !errors.Is(err, tt.wantErr) || (tt.notErr != nil && errors.Is(err, tt.notErr)) {
					t.Fatalf("%s: err = %v; want %v", name, err, tt.wantErr)
				}
				if !reflect.DeepEqual(out, authflow.Outcome{}) {
					t.Fatalf("%s: an outcome with the error: %+v", name, out)
				}
				e.unchanged(before)
			}
			if lu := e.storedUser(u.ID); !lu.LastLoginAt.IsZero() {
				t.Fatal("LastLoginAt set without a party")
			}
			for _, typ := range []string{audit.LoginPassword, audit.LoginFailed} {
				if evs := e.events(typ); len(evs) != 0 {
					t.Fatalf("%s events without a party: %+v", typ, evs)
				}
			}
			// Only the live session the test started.
			if n := e.countSessions(u.ID); n != 1 {
				t.Fatalf("%d sessions; want 1", n)
			}
		})
	}
}
