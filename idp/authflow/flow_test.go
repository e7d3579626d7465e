package authflow_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func TestBegin(t *testing.T) {
	e := newEnv(t)
	in := storage.AuthRequest{
		ID: "chosen-by-caller", Protocol: "oidc", ClientID: plainRP,
		OIDC: &storage.OIDCParams{
			RedirectURI: "https://rp.example/cb", State: "st", Nonce: "n", Scopes: []string{"openid", "email"},
			ResponseType: "code", CodeChallenge: "abc", CodeChallengeMethod: "S256",
		},
		Prompt: []string{"consent"}, MaxAge: ptr(int64(60)), LoginHint: "a@example.com", SubjectHint: "hinted-user",
		ACRValues: []string{authflow.ACRMFA}, UILocales: []string{"de"}, DoorData: []byte(`{"k":"v"}`),
		// Flow state a front door must not be able to preset:
		Step: authflow.StepDone.String(), OrgID: e.org.ID, UserID: "victim", SessionID: "sess", AuthTime: t0.Add(-time.Hour),
		AMR: []string{authflow.AMRPassword, authflow.AMRMFA}, Attempts: 3,
		CreatedAt: t0.Add(-48 * time.Hour), ExpiresAt: t0.Add(100 * time.Hour),
	}
	tests := []struct {
		name string
		ttl  time.Duration
		want time.Duration
	}{
		{"default TTL", 0, 30 * time.Minute},
		{"negative TTL means default", -time.Minute, authflow.DefaultTTL},
		{"configured TTL", 5 * time.Minute, 5 * time.Minute},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.flow.TTL = tt.ttl
			got, err := e.flow.Begin(e.ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			st := e.stored(got.ID)
			if got.ID == "" || got.ID == in.ID || seen[got.ID] {
				t.Fatalf("ID = %q; want a fresh server-chosen id", got.ID)
			}
			seen[got.ID] = true
			if authflow.StepOf(st) != authflow.StepLogin {
				t.Errorf("Step = %q; want %q", st.Step, authflow.StepLogin)
			}
			if !st.CreatedAt.Equal(t0) || !st.ExpiresAt.Equal(t0.Add(tt.want)) {
				t.Errorf("CreatedAt, ExpiresAt = %v, %v; want %v, %v", st.CreatedAt, st.ExpiresAt, t0, t0.Add(tt.want))
			}
			if st.UserID != "" || st.OrgID != "" || st.SessionID != "" || st.AMR != nil || !st.AuthTime.IsZero() || st.Attempts != 0 {
				t.Errorf("caller-set identity survived: user %q org %q session %q amr %v auth_time %v attempts %d",
					st.UserID, st.OrgID, st.SessionID, st.AMR, st.AuthTime, st.Attempts)
			}
			// Extra (the old free-form map) became typed OIDC params, the
			// door's JSON and the subject hint: all three are the door's.
			if st.ClientID != in.ClientID || !reflect.DeepEqual(st.OIDC, in.OIDC) ||
				!slices.Equal(st.Prompt, in.Prompt) || !slices.Equal(st.ACRValues, in.ACRValues) ||
				st.MaxAge == nil || *st.MaxAge != 60 || st.LoginHint != in.LoginHint ||
				st.SubjectHint != in.SubjectHint || !slices.Equal(st.UILocales, in.UILocales) ||
				string(st.DoorData) != string(in.DoorData) {
				t.Errorf("protocol fields not kept: %+v", st)
			}
			if !reflect.DeepEqual(got, st) {
				t.Errorf("Begin returned %+v\nstored %+v", got, st)
			}
		})
	}
}

// A request can only be begun for a protocol a door is registered for.
func TestBeginUnknownDoor(t *testing.T) {
	e := newEnv(t)
	got, err := e.flow.Begin(e.ctx, storage.AuthRequest{Protocol: "saml", ClientID: plainRP})
	if !errors.Is(err, authflow.ErrUnknownDoor) {
		t.Fatalf("Begin(saml) err = %v; want ErrUnknownDoor", err)
	}
	if got.ID != "" {
		t.Fatalf("Begin returned a request with the error: %+v", got)
	}
	if _, ok := e.flow.Door("saml"); ok {
		t.Fatal("Door(saml) found")
	}
	if d, ok := e.flow.Door("oidc"); !ok || d != authflow.Door(e.door) {
		t.Fatalf("Door(oidc) = %v, %v; want the registered door", d, ok)
	}
	e.flow.RegisterDoor("saml", e.door)
	if got := e.flow.Doors(); !slices.Equal(got, []string{"oidc", "saml"}) {
		t.Fatalf("Doors() = %v; want [oidc saml]", got)
	}
}

func TestLoad(t *testing.T) {
	e := newEnv(t)
	r := e.begin(nil) // expires at t0+30m
	tests := []struct {
		name    string
		id      string
		advance time.Duration // from t0
		wantErr error
	}{
		{"live", r.ID, 0, nil},
		{"one microsecond before expiry", r.ID, authflow.DefaultTTL - time.Microsecond, nil},
		{"unknown id", "no-such-request", 0, authflow.ErrRequestGone},
		{"empty id", "", 0, authflow.ErrRequestGone},
		{"at expiry", r.ID, authflow.DefaultTTL, authflow.ErrRequestGone},
		{"after expiry", r.ID, authflow.DefaultTTL + time.Second, authflow.ErrRequestGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			*e.now = t0.Add(tt.advance)
			got, err := e.flow.Load(e.ctx, tt.id)
			if !errors.Is(err, tt.wantErr) || (err != nil && err != tt.wantErr) {
				t.Fatalf("Load err = %v; want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && !reflect.DeepEqual(got, e.stored(r.ID)) {
				t.Fatalf("Load = %+v; want the stored row", got)
			}
			if tt.wantErr != nil && got.ID != "" {
				t.Fatalf("Load returned a request with an error: %+v", got)
			}
		})
	}
}

func TestSteps(t *testing.T) {
	for _, s := range []authflow.Step{authflow.StepLogin, authflow.StepMFA, authflow.StepDone, authflow.StepIssued} {
		got, err := authflow.ParseStep(s.String())
		if err != nil || got != s {
			t.Errorf("ParseStep(%q) = %v, %v", s, got, err)
		}
	}
	for _, v := range []string{"", "Login", "DONE", "consent", " issued"} {
		if _, err := authflow.ParseStep(v); err == nil {
			t.Errorf("ParseStep(%q) accepted", v)
		}
		if s := authflow.StepOf(storage.AuthRequest{Step: v}); s != (authflow.Step{}) {
			t.Errorf("StepOf(%q) = %v; want the zero step", v, s)
		}
	}
	tests := []struct {
		step   authflow.Step
		issued bool
	}{
		{authflow.StepLogin, false},
		{authflow.StepMFA, false},
		{authflow.StepDone, false},
		{authflow.StepIssued, true},
		{authflow.Step{}, false},
	}
	for _, tt := range tests {
		r := storage.AuthRequest{Step: tt.step.String()}
		if authflow.Issued(r) != tt.issued {
			t.Errorf("step %q: Issued %v; want %v", tt.step, authflow.Issued(r), tt.issued)
		}
	}
}

func TestSubmitPasswordSuccess(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com", goodPW, nil)
	r := e.begin(nil)
	e.advance(time.Minute)
	loginAt := *e.now

	got, err := e.submitPW(r.ID, "alice@example.com", goodPW)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	st := e.stored(r.ID)
	if !reflect.DeepEqual(got.Request, st) {
		t.Errorf("returned %+v\nstored %+v", got.Request, st)
	}
	if got.Action != authflow.Continue || got.Failure != nil || got.Party != e.door.parties[plainRP] {
		t.Errorf("outcome %v (failure %v, party %+v); want continue for %q", got.Action, got.Failure, got.Party, plainRP)
	}
	// The flow starts the session on the way to done (it was "" until a
	// later AttachSession): the request names the new session's hash.
	if got.Session == nil || st.SessionID == "" || st.SessionID != got.Session.Session.Hash {
		t.Fatalf("outcome session %+v, stored SessionID %q; want the started session", got.Session, st.SessionID)
	}
	if authflow.StepOf(st) != authflow.StepDone || st.UserID != u.ID || st.OrgID != u.OrgID ||
		!st.AuthTime.Equal(loginAt) || !slices.Equal(st.AMR, []string{authflow.AMRPassword}) {
		t.Fatalf("stored request %+v; want done for %s at %v with amr [pwd]", st, u.ID, loginAt)
	}
	if s, ok := e.storedSession(st.SessionID); !ok || s.UserID != u.ID || !s.AuthTime.Equal(loginAt) ||
		!slices.Equal(s.AMR, []string{authflow.AMRPassword}) {
		t.Fatalf("session row %+v (found %v); want one for %s at %v with amr [pwd]", s, ok, u.ID, loginAt)
	}
	if authflow.ACR(st.AMR) != authflow.ACRPassword {
		t.Errorf("ACR = %q; want %q", authflow.ACR(st.AMR), authflow.ACRPassword)
	}
	if lu := e.storedUser(u.ID); !lu.LastLoginAt.Equal(loginAt) || lu.PasswordHash != u.PasswordHash {
		t.Errorf("user LastLoginAt = %v (want %v), hash changed %v", lu.LastLoginAt, loginAt, lu.PasswordHash != u.PasswordHash)
	}
	evs := e.events(audit.LoginPassword)
	if len(evs) != 1 || evs[0].UserID != u.ID || evs[0].OrgID != u.OrgID || evs[0].ClientID != plainRP || !evs[0].Time.Equal(loginAt) {
		t.Fatalf("login.password_ok events = %+v; want one for %s", evs, u.ID)
	}
	if f := e.events(audit.LoginFailed); len(f) != 0 {
		t.Fatalf("login.failed events after success: %+v", f)
	}
	// login.succeeded is Complete's, not the password's.
	if s := e.events(audit.LoginSucceeded); len(s) != 0 {
		t.Fatalf("login.succeeded before Complete: %+v", s)
	}
}

// After a lock ends the right password works again; the same request may
// retry after a failure because a failure leaves it at the login step.
func TestSubmitPasswordRetryAndLockExpiry(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com", goodPW, func(u *storage.User) { u.LockedUntil = t0.Add(10 * time.Minute) })
	r := e.begin(nil)
	// A failed proof is an outcome (the form again, with the one generic
	// error), no longer an error.
	if out, err := e.submitPW(r.ID, u.Email, goodPW); err != nil || out.Failure != authflow.ErrInvalidCredentials {
		t.Fatalf("while locked: err = %v, failure %v; want failure ErrInvalidCredentials", err, out.Failure)
	}
	e.advance(10 * time.Minute) // now == LockedUntil: the lock has ended
	if out, err := e.submitPW(r.ID, u.Email, goodPW); err != nil || out.Failure != nil || out.Action != authflow.Continue {
		t.Fatalf("after the lock: err = %v, outcome %v, failure %v", err, out.Action, out.Failure)
	}
	if st := e.stored(r.ID); authflow.StepOf(st) != authflow.StepDone || st.UserID != u.ID || !st.AuthTime.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("stored %+v; want done for %s", st, u.ID)
	}
}

func TestSubmitPasswordExpiredOrUnknownRequest(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com", goodPW, nil)
	r := e.begin(nil)
	before := e.stored(r.ID)
	if _, err := e.submitPW("no-such-request", u.Email, goodPW); err != authflow.ErrRequestGone {
		t.Fatalf("unknown request: err = %v; want ErrRequestGone", err)
	}
	e.advance(authflow.DefaultTTL)
	if _, err := e.submitPW(r.ID, u.Email, goodPW); err != authflow.ErrRequestGone {
		t.Fatalf("expired request: err = %v; want ErrRequestGone", err)
	}
	e.unchanged(before)
	if lu := e.storedUser(u.ID); !lu.LastLoginAt.IsZero() {
		t.Fatalf("LastLoginAt set by a login on an expired request: %v", lu.LastLoginAt)
	}
	if n := e.countSessions(u.ID); n != 0 {
		t.Fatalf("%d sessions started for a gone request", n)
	}
}

func TestOutOfTurn(t *testing.T) {
	// A session handed over as the browser's own (Next with it is the old
	// ResumeSession).
	sess := storage.Session{Hash: storage.HashSecret("cookie"), AuthTime: t0, AMR: []string{authflow.AMRPassword, authflow.AMRMFA}, ExpiresAt: t0.Add(24 * time.Hour)}
	withSession := func(u storage.User) session.Browser {
		s := sess
		s.UserID = u.ID
		return session.Browser{Session: &s}
	}
	tests := []struct {
		name string
		org  bool                                                              // user in the MFA org
		prep func(e *env, id string, u storage.User)                           // moves the request on
		op   func(e *env, id string, u storage.User) (authflow.Outcome, error) // the out-of-turn call
		// wantErr is the error; wantAction, when wantErr is nil, the
		// outcome of a call that is in turn but must write nothing.
		wantErr    error
		wantAction authflow.Action
	}{
		{name: "SubmitPassword at done",
			prep: func(e *env, id string, u storage.User) { mustSubmit(e, id, u) },
			op: func(e *env, id string, u storage.User) (authflow.Outcome, error) {
				return e.submitPW(id, u.Email, goodPW)
			}, wantErr: authflow.ErrOutOfTurn},
		{name: "SubmitPassword at mfa", org: true,
			prep: func(e *env, id string, u storage.User) { mustSubmit(e, id, u) },
			op: func(e *env, id string, u storage.User) (authflow.Outcome, error) {
				return e.submitPW(id, u.Email, goodPW)
			}, wantErr: authflow.ErrOutOfTurn},
		{name: "SubmitPassword with a wrong password at done",
			prep: func(e *env, id string, u storage.User) { mustSubmit(e, id, u) },
			op: func(e *env, id string, u storage.User) (authflow.Outcome, error) {
				return e.submitPW(id, u.Email, "wrong-wrong-wrong")
			}, wantErr: authflow.ErrOutOfTurn},
		// Next at done answers "continue to the door" (it was
		// ErrOutOfTurn from ResumeSession); it still writes nothing.
		{name: "ResumeSession at done",
			prep: func(e *env, id string, u storage.User) { mustSubmit(e, id, u) },
			op: func(e *env, id string, u storage.User) (authflow.Outcome, error) {
				return e.flow.Next(e.ctx, id, withSession(u))
			}, wantAction: authflow.Continue},
		// Next resumes sessions only at login; at mfa it shows the second
		// factor (it was ErrOutOfTurn from ResumeSession); no write.
		{name: "ResumeSession with an MFA session at mfa", org: true,
			prep: func(e *env, id string, u storage.User) { mustSubmit(e, id, u) },
			op: func(e *env, id string, u storage.User) (authflow.Outcome, error) {
				return e.flow.Next(e.ctx, id, withSession(u))
			}, wantAction: authflow.Challenge},
		// AttachSession is gone (the flow starts the session on the way to
		// done); Complete is the one write after done, and before done it
		// is ErrIncomplete.
		{name: "AttachSession at login",
			prep: func(*env, string, storage.User) {},
			op: func(e *env, id string, u storage.User) (authflow.Outcome, error) {
				_, err := e.flow.Complete(e.ctx, id, withSession(u))
				return authflow.Outcome{}, err
			}, wantErr: authflow.ErrIncomplete},
		{name: "AttachSession at mfa", org: true,
			prep: func(e *env, id string, u storage.User) { mustSubmit(e, id, u) },
			op: func(e *env, id string, u storage.User) (authflow.Outcome, error) {
				_, err := e.flow.Complete(e.ctx, id, withSession(u))
				return authflow.Outcome{}, err
			}, wantErr: authflow.ErrIncomplete},
		{name: "second factor at login",
			prep: func(*env, string, storage.User) {},
			op: func(e *env, id string, u storage.User) (authflow.Outcome, error) {
				return e.submitOTP(e.browser(), id, otpCode)
			}, wantErr: authflow.ErrOutOfTurn},
		{name: "second factor at done",
			prep: func(e *env, id string, u storage.User) { mustSubmit(e, id, u) },
			op: func(e *env, id string, u storage.User) (authflow.Outcome, error) {
				return e.submitOTP(e.browser(), id, otpCode)
			}, wantErr: authflow.ErrOutOfTurn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com", goodPW, func(u *storage.User) {
				if tt.org {
					u.OrgID = e.mfaOrg.ID
				}
			})
			r := e.begin(nil)
			tt.prep(e, r.ID, u)
			before := e.stored(r.ID)
			e.advance(time.Second)
			got, err := tt.op(e, r.ID, u)
			if err != tt.wantErr {
				t.Fatalf("err = %v; want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil && !reflect.DeepEqual(got, authflow.Outcome{}) {
				t.Fatalf("returned an outcome with the error: %+v", got)
			}
			if got.Action != tt.wantAction || got.Session != nil {
				t.Fatalf("outcome %v (session %v); want %v without a session", got.Action, got.Session, tt.wantAction)
			}
			e.unchanged(before)
		})
	}
}

// Reaching done carries the session the flow started (was: AttachSession
// recorded a session the page had started); Complete binds to it.
func TestDoneCarriesStartedSession(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com", goodPW, nil)
	r := e.begin(nil)
	started := mustDone(e, r.ID, u)
	before := e.stored(r.ID)
	if before.SessionID != started.Session.Hash {
		t.Fatalf("stored SessionID %q; want the started session %q", before.SessionID, started.Session.Hash)
	}
	// The started session is a row in the store the session manager reads,
	// before any cookie was set.
	if s, ok := e.storedSession(started.Session.Hash); !ok || !reflect.DeepEqual(s, started.Session) {
		t.Fatalf("session row %+v (found %v); want %+v", s, ok, started.Session)
	}
	// Next at done, from any browser, neither writes nor starts another.
	if out, err := e.flow.Next(e.ctx, r.ID, e.browser()); err != nil || out.Action != authflow.Continue || out.Session != nil {
		t.Fatalf("Next at done = %v (session %v), %v; want continue", out.Action, out.Session, err)
	}
	e.unchanged(before)
	// Before the page set the cookie, the browser has no session.
	if _, err := e.flow.Complete(e.ctx, r.ID, e.browser()); err != authflow.ErrWrongBrowser {
		t.Fatalf("Complete without the cookie: err = %v; want ErrWrongBrowser", err)
	}
	e.unchanged(before)

	got, err := e.flow.Complete(e.ctx, r.ID, e.browserOf(started))
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	want := before
	want.Step = authflow.StepIssued.String()
	if st := e.stored(r.ID); !reflect.DeepEqual(st, want) || !reflect.DeepEqual(got, st) {
		t.Fatalf("stored %+v\nreturned %+v\nwant %+v", st, got, want)
	}
	if _, err := e.flow.Complete(e.ctx, "no-such-request", e.browserOf(started)); err != authflow.ErrRequestGone {
		t.Fatalf("unknown request: err = %v; want ErrRequestGone", err)
	}
	e.advance(authflow.DefaultTTL)
	if _, err := e.flow.Complete(e.ctx, r.ID, e.browserOf(started)); err != authflow.ErrRequestGone {
		t.Fatalf("expired request: err = %v; want ErrRequestGone", err)
	}
	e.unchanged(want)
}

func TestMFAGatePassword(t *testing.T) {
	tests := []struct {
		name     string
		mfaOrg   bool
		noOrg    bool
		client   string // plainRP, plainRP2, strictRP (RequireMFA), or a party the door does not know
		acr      []string
		wantStep authflow.Step
		wantErr  error
	}{
		{"no policy", false, false, plainRP, nil, authflow.StepDone, nil},
		{"user without organization", false, true, plainRP, nil, authflow.StepDone, nil},
		{"org requires MFA", true, false, plainRP, nil, authflow.StepMFA, nil},
		{"org requires MFA, plain client", true, false, plainRP2, nil, authflow.StepMFA, nil},
		// A user with no factor enrols one where a second factor is
		// demanded.
		{"client requires MFA", false, false, strictRP, nil, authflow.StepEnrol, nil},
		{"client does not require MFA", false, false, plainRP2, nil, authflow.StepDone, nil},
		// An unknown party's policy cannot be known: the login stops (it
		// went on as "no MFA" when the flow read clients itself).
		{"unregistered client id", false, false, "ghost", nil, authflow.Step{}, authflow.ErrUnknownParty},
		{"RP asks for the MFA ACR", false, false, plainRP, []string{authflow.ACRMFA}, authflow.StepEnrol, nil},
		{"RP asks for the MFA ACR among others", false, false, plainRP2, []string{authflow.ACRPassword, authflow.ACRMFA}, authflow.StepEnrol, nil},
		{"RP asks for the password ACR", false, false, plainRP, []string{authflow.ACRPassword}, authflow.StepDone, nil},
		{"MFA ACR and client policy", false, false, strictRP, []string{authflow.ACRMFA}, authflow.StepEnrol, nil},
		// The mfaOrg users have a factor: asked for it wherever they go.
		{"org requires MFA, client too", true, false, strictRP, nil, authflow.StepMFA, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com", goodPW, func(u *storage.User) {
				switch {
				case tt.mfaOrg:
					u.OrgID = e.mfaOrg.ID
				case tt.noOrg:
					u.OrgID = ""
				}
			})
			r := e.begin(func(r *storage.AuthRequest) { r.ClientID, r.ACRValues = tt.client, tt.acr })
			before := e.stored(r.ID)
			got, err := e.submitPW(r.ID, u.Email, goodPW)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Submit err = %v; want %v", err, tt.wantErr)
				}
				e.unchanged(before)
				if n := e.countSessions(u.ID); n != 0 {
					t.Fatalf("%d sessions started for a refused login", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Submit: %v", err)
			}
			st := e.stored(r.ID)
			if authflow.StepOf(st) != tt.wantStep || authflow.StepOf(got.Request) != tt.wantStep {
				t.Fatalf("Step stored %q, returned %q; want %q", st.Step, got.Request.Step, tt.wantStep)
			}
			wantAction := authflow.Continue
			switch tt.wantStep {
			case authflow.StepMFA:
				wantAction = authflow.Challenge
			case authflow.StepEnrol:
				wantAction = authflow.Enrol // the one method: straight to it
			}
			if got.Action != wantAction || (wantAction != authflow.Continue && got.Method != otp) {
				t.Fatalf("outcome %v %q; want %v", got.Action, got.Method, wantAction)
			}
			if st.UserID != u.ID || st.OrgID != u.OrgID || !slices.Equal(st.AMR, []string{authflow.AMRPassword}) {
				t.Fatalf("stored %+v; want user %s with amr [pwd]", st, u.ID)
			}
			if authflow.ACR(st.AMR) != authflow.ACRPassword {
				t.Fatalf("ACR after the password alone = %q", authflow.ACR(st.AMR))
			}
			// A session starts only with the login done.
			if (st.SessionID != "") != (tt.wantStep == authflow.StepDone) || (got.Session != nil) != (tt.wantStep == authflow.StepDone) {
				t.Fatalf("SessionID %q, outcome session %v at %s", st.SessionID, got.Session, tt.wantStep)
			}
		})
	}
}

func TestResumeSession(t *testing.T) {
	type fixture struct {
		e     *env
		u     storage.User
		sess  storage.Session
		reqID string
	}
	tests := []struct {
		name     string
		mfaOrg   bool
		user     func(*storage.User)
		after    func(f *fixture) // after the user is stored (delete, point the session elsewhere)
		age      time.Duration    // session AuthTime = now - age
		amr      []string         // session AMR; nil means [pwd]
		req      func(r *storage.AuthRequest)
		noResume bool // was ErrLoginRequired
		wantStep authflow.Step
	}{
		{name: "live session", age: time.Hour, wantStep: authflow.StepDone},
		{name: "prompt=none", age: time.Hour, req: func(r *storage.AuthRequest) { r.Prompt = []string{"none"} }, wantStep: authflow.StepDone},
		{name: "prompt=consent", age: time.Hour, req: func(r *storage.AuthRequest) { r.Prompt = []string{"consent"} }, wantStep: authflow.StepDone},
		{name: "prompt=login", age: time.Second, req: func(r *storage.AuthRequest) { r.Prompt = []string{"login"} }, noResume: true},
		{name: "prompt=consent login", age: time.Second, req: func(r *storage.AuthRequest) { r.Prompt = []string{"consent", "login"} }, noResume: true},
		{name: "max_age=0, session 1s old", age: time.Second, req: maxAge(0), noResume: true},
		{name: "max_age=0, session 1µs old", age: time.Microsecond, req: maxAge(0), noResume: true},
		// OIDC Core 1.0 (errata set 1) §3.1.2.1: "max_age=0 is equivalent
		// to prompt=login", so even a session from this very instant
		// must not satisfy it.
		{name: "max_age=0, session from this instant", age: 0, req: maxAge(0), noResume: true},
		{name: "max_age=3600, 10 minutes", age: 10 * time.Minute, req: maxAge(3600), wantStep: authflow.StepDone},
		{name: "max_age=3600, exactly 3600s", age: time.Hour, req: maxAge(3600), wantStep: authflow.StepDone},
		{name: "max_age=3600, 3600s and 1µs", age: time.Hour + time.Microsecond, req: maxAge(3600), noResume: true},
		{name: "max_age=3600, 2 hours", age: 2 * time.Hour, req: maxAge(3600), noResume: true},
		{name: "hint names this user", age: time.Minute, after: func(f *fixture) {
			hint(f.e, f.reqID, f.u.ID)
		}, wantStep: authflow.StepDone},
		{name: "hint names another user", age: time.Minute, after: func(f *fixture) {
			hint(f.e, f.reqID, "someone-else")
		}, noResume: true},
		{name: "disabled user", age: time.Minute, user: func(u *storage.User) { u.State = storage.UserDisabled }, noResume: true},
		{name: "invited user", age: time.Minute, user: func(u *storage.User) { u.State = storage.UserInvited }, noResume: true},
		{name: "locked user", age: time.Minute, user: func(u *storage.User) { u.LockedUntil = t0.Add(5 * time.Minute) }, noResume: true},
		{name: "lock over", age: time.Minute, user: func(u *storage.User) { u.LockedUntil = t0.Add(-time.Second) }, wantStep: authflow.StepDone},
		{name: "deleted user", age: time.Minute, after: func(f *fixture) {
			if err := f.e.st.DeleteUser(f.e.ctx, f.u.ID); err != nil {
				f.e.t.Fatal(err)
			}
		}, noResume: true},
		{name: "session for an unknown user id", age: time.Minute, after: func(f *fixture) { f.sess.UserID = "ghost" }, noResume: true},
		{name: "session with no user", age: time.Minute, after: func(f *fixture) { f.sess.UserID = "" }, noResume: true},
		{name: "org MFA, password-only session", mfaOrg: true, age: time.Minute, wantStep: authflow.StepMFA},
		{name: "org MFA, MFA session", mfaOrg: true, age: time.Minute, amr: []string{authflow.AMRPassword, authflow.AMRMFA}, wantStep: authflow.StepDone},
		{name: "MFA ACR asked, password-only session", age: time.Minute,
			req: func(r *storage.AuthRequest) { r.ACRValues = []string{authflow.ACRMFA} }, wantStep: authflow.StepEnrol},
		{name: "MFA ACR asked, MFA session", age: time.Minute, amr: []string{authflow.AMRPassword, authflow.AMRMFA},
			req: func(r *storage.AuthRequest) { r.ACRValues = []string{authflow.ACRMFA} }, wantStep: authflow.StepDone},
		// The client's policy is now the door's party (RequireMFA).
		{name: "client requires MFA, password-only session", age: time.Minute,
			req: func(r *storage.AuthRequest) { r.ClientID = strictRP }, wantStep: authflow.StepEnrol},
		{name: "client requires MFA, MFA session", age: time.Minute, amr: []string{authflow.AMRPassword, authflow.AMRMFA},
			req: func(r *storage.AuthRequest) { r.ClientID = strictRP }, wantStep: authflow.StepDone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com", goodPW, func(u *storage.User) {
				if tt.mfaOrg {
					u.OrgID = e.mfaOrg.ID
				}
				if tt.user != nil {
					tt.user(u)
				}
			})
			amr := tt.amr
			if amr == nil {
				amr = []string{authflow.AMRPassword}
			}
			f := &fixture{e: e, u: u, sess: storage.Session{
				Hash: storage.HashSecret("cookie-" + tt.name), UserID: u.ID, AuthTime: t0.Add(-tt.age), AMR: amr,
				ExpiresAt: t0.Add(24 * time.Hour),
			}}
			r := e.begin(tt.req)
			f.reqID = r.ID
			if tt.after != nil {
				tt.after(f)
			}
			before := e.stored(r.ID)

			// ResumeSession(id, sess) is Next with a browser holding sess.
			got, err := e.flow.Next(e.ctx, r.ID, session.Browser{Session: &f.sess})
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if got.Session != nil {
				t.Fatalf("Next started a session %+v; a resumed login keeps the browser's", got.Session)
			}
			if tt.noResume {
				// ErrLoginRequired is gone: a session that cannot satisfy
				// the request leaves the password form to show (no
				// request here is passive).
				if got.Action != authflow.Challenge || got.Method != "password" {
					t.Fatalf("Next = %v %q; want the password form", got.Action, got.Method)
				}
				e.unchanged(before)
				return
			}
			st := e.stored(r.ID)
			if !reflect.DeepEqual(got.Request, st) {
				t.Errorf("returned %+v\nstored %+v", got.Request, st)
			}
			// The MFA step ends with a session of its own, so a request at
			// mfa no longer names the resumed session (it did).
			wantSession := f.sess.Hash
			wantAction := authflow.Continue
			switch tt.wantStep {
			case authflow.StepMFA:
				wantSession, wantAction = "", authflow.Challenge
			case authflow.StepEnrol:
				wantSession, wantAction = "", authflow.Enrol
			}
			if authflow.StepOf(st) != tt.wantStep || got.Action != wantAction || st.UserID != u.ID || st.OrgID != u.OrgID ||
				st.SessionID != wantSession || !st.AuthTime.Equal(f.sess.AuthTime) || !slices.Equal(st.AMR, amr) {
				t.Fatalf("outcome %v, stored %+v\nwant step %q, user %s, session %q, auth_time %v, amr %v",
					got.Action, st, tt.wantStep, u.ID, wantSession, f.sess.AuthTime, amr)
			}
			wantACR := authflow.ACRPassword
			if slices.Contains(amr, authflow.AMRMFA) {
				wantACR = authflow.ACRMFA
			}
			if authflow.ACR(st.AMR) != wantACR {
				t.Errorf("ACR = %q; want %q", authflow.ACR(st.AMR), wantACR)
			}
		})
	}
}

func maxAge(s int64) func(*storage.AuthRequest) {
	return func(r *storage.AuthRequest) { r.MaxAge = ptr(s) }
}

// hint sets a verified subject hint (OIDC id_token_hint) on request id.
func hint(e *env, id, sub string) {
	e.t.Helper()
	if _, err := e.st.UpdateAuthRequest(e.ctx, id, func(r storage.AuthRequest) (storage.AuthRequest, error) {
		r.SubjectHint = sub
		return r, nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

func TestResumeSessionExpiredRequest(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com", goodPW, nil)
	r := e.begin(nil)
	before := e.stored(r.ID)
	e.advance(authflow.DefaultTTL)
	s := storage.Session{Hash: "h", UserID: u.ID, AuthTime: *e.now, AMR: []string{authflow.AMRPassword}, ExpiresAt: e.now.Add(24 * time.Hour)}
	if _, err := e.flow.Next(e.ctx, r.ID, session.Browser{Session: &s}); err != authflow.ErrRequestGone {
		t.Fatalf("expired request: err = %v; want ErrRequestGone", err)
	}
	if _, err := e.flow.Next(e.ctx, "no-such-request", session.Browser{Session: &s}); err != authflow.ErrRequestGone {
		t.Fatalf("unknown request: err = %v; want ErrRequestGone", err)
	}
	e.unchanged(before)
}

// A session past its own expiry, or authenticated "in the future" (clock
// skew between instances), cannot satisfy a login even if a caller hands
// it over.
func TestResumeSessionRejectsUnusableSessions(t *testing.T) {
	tests := []struct {
		name string
		mod  func(s *storage.Session, now time.Time)
	}{
		{"absolute expiry passed", func(s *storage.Session, now time.Time) { s.ExpiresAt = now }},
		{"idle expiry passed", func(s *storage.Session, now time.Time) { s.IdleExpiresAt = now.Add(-time.Second) }},
		{"auth time in the future", func(s *storage.Session, now time.Time) { s.AuthTime = now.Add(time.Minute) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com", goodPW, nil)
			r := e.begin(nil)
			before := e.stored(r.ID)
			s := storage.Session{Hash: "h", UserID: u.ID, AuthTime: e.now.Add(-time.Minute), AMR: []string{authflow.AMRPassword},
				ExpiresAt: e.now.Add(time.Hour)}
			tt.mod(&s, *e.now)
			// Was ErrLoginRequired; now the password form.
			if out, err := e.flow.Next(e.ctx, r.ID, session.Browser{Session: &s}); err != nil || out.Action != authflow.Challenge || out.Method != "password" {
				t.Fatalf("Next = %v %q, %v; want the password form", out.Action, out.Method, err)
			}
			e.unchanged(before)
		})
	}
}

func TestConcurrentSubmitPassword(t *testing.T) {
	for _, mfa := range []bool{false, true} {
		name, wantStep := "mfa off", authflow.StepDone
		if mfa {
			name, wantStep = "mfa required", authflow.StepMFA
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com", goodPW, func(u *storage.User) {
				if mfa {
					u.OrgID = e.mfaOrg.ID
				}
			})
			r := e.begin(nil)
			const n = 10
			outs := make([]authflow.Outcome, n)
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				b := e.browser()
				wg.Go(func() {
					<-start
					outs[i], errs[i] = e.submitPWFrom(b, r.ID, u.Email, goodPW)
				})
			}
			close(start)
			wg.Wait()
			wins, winner := 0, -1
			for i, err := range errs {
				switch {
				case err == nil:
					wins++
					winner = i
				case err != authflow.ErrOutOfTurn:
					t.Errorf("goroutine %d: err = %v; want nil or ErrOutOfTurn", i, err)
				}
			}
			if wins != 1 {
				t.Fatalf("%d goroutines moved the request; want exactly 1", wins)
			}
			st := e.stored(r.ID)
			if authflow.StepOf(st) != wantStep || st.UserID != u.ID || st.OrgID != u.OrgID ||
				!slices.Equal(st.AMR, []string{authflow.AMRPassword}) || !st.AuthTime.Equal(t0) {
				t.Fatalf("stored %+v; want %s for %s", st, wantStep, u.ID)
			}
			if evs := e.events(audit.LoginPassword); len(evs) != 1 {
				t.Fatalf("%d login.password_ok events; want 1", len(evs))
			}
			// The winner's session is the request's; every loser's was
			// discarded: no orphan session rows.
			wantSessions := 0
			if !mfa {
				wantSessions = 1
				if s := outs[winner].Session; s == nil || s.Session.Hash != st.SessionID {
					t.Fatalf("winner's session %v; stored SessionID %q", s, st.SessionID)
				}
				if _, ok := e.storedSession(st.SessionID); !ok {
					t.Fatal("the winner's session row is missing")
				}
			}
			if got := e.countSessions(u.ID); got != wantSessions {
				t.Fatalf("%d session rows for the user; want %d", got, wantSessions)
			}
		})
	}
	t.Run("second factor", func(t *testing.T) {
		e := newEnv(t)
		u := e.user("alice@example.com", goodPW, func(u *storage.User) { u.OrgID = e.mfaOrg.ID })
		r := e.begin(nil)
		mustSubmit(e, r.ID, u)
		const n = 10
		outs := make([]authflow.Outcome, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			b := e.browser()
			wg.Go(func() {
				<-start
				outs[i], errs[i] = e.submitOTP(b, r.ID, otpCode)
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
				if outs[i].Session == nil || outs[i].Session.Session.Hash != e.stored(r.ID).SessionID {
					t.Errorf("winner's session %v is not the request's", outs[i].Session)
				}
			case err != authflow.ErrOutOfTurn:
				t.Errorf("goroutine %d: err = %v; want nil or ErrOutOfTurn", i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d goroutines moved the request; want exactly 1", wins)
		}
		if st := e.stored(r.ID); authflow.StepOf(st) != authflow.StepDone {
			t.Fatalf("stored step %q; want done", st.Step)
		}
		if got := e.countSessions(u.ID); got != 1 {
			t.Fatalf("%d session rows for the user; want 1", got)
		}
	})
}

func TestACR(t *testing.T) {
	tests := []struct {
		amr  []string
		want string
	}{
		{nil, authflow.ACRPassword},
		{[]string{authflow.AMRPassword}, authflow.ACRPassword},
		{[]string{"otp"}, authflow.ACRPassword},
		{[]string{authflow.AMRPassword, authflow.AMRMFA}, authflow.ACRMFA},
		{[]string{authflow.AMRMFA}, authflow.ACRMFA},
		{[]string{"MFA"}, authflow.ACRPassword},
	}
	for _, tt := range tests {
		// ACR takes the AMR (it took the request), so that refresh can
		// compute it from a token's AMR.
		if got := authflow.ACR(tt.amr); got != tt.want {
			t.Errorf("ACR(amr %v) = %q; want %q", tt.amr, got, tt.want)
		}
	}
}

// barrierSessions holds every Create until n have been made, so that n
// concurrent submissions all pass their checks before any of them writes
// the request: n-1 of them then must lose the write and discard the
// session they made.
type barrierSessions struct {
	authflow.Sessions
	n                  int32
	arrived            atomic.Int32
	all                chan struct{}
	created, discarded atomic.Int32
}

func newBarrier(s authflow.Sessions, n int) *barrierSessions {
	return &barrierSessions{Sessions: s, n: int32(n), all: make(chan struct{})}
}

func (s *barrierSessions) Create(ctx context.Context, b session.Browser, l session.Login) (session.Started, error) {
	st, err := s.Sessions.Create(ctx, b, l)
	if err == nil {
		s.created.Add(1)
	}
	if s.arrived.Add(1) == s.n {
		close(s.all)
	}
	select {
	case <-s.all:
	// Where a unit of work holds the one writer (SQLite) the submissions
	// run one after the other and never meet here; on PostgreSQL they do.
	// Either way every loser must leave no session behind.
	case <-time.After(300 * time.Millisecond):
	}
	return st, err
}

func (s *barrierSessions) Discard(ctx context.Context, st session.Started) error {
	s.discarded.Add(1)
	return s.Sessions.Discard(ctx, st)
}

func TestConcurrentLosersDiscardTheirSessions(t *testing.T) {
	tests := []struct {
		name   string
		mfa    bool
		submit func(e *env, b session.Browser, id string, u storage.User) (authflow.Outcome, error)
	}{
		{"password", false, func(e *env, b session.Browser, id string, u storage.User) (authflow.Outcome, error) {
			return e.submitPWFrom(b, id, u.Email, goodPW)
		}},
		{"second factor", true, func(e *env, b session.Browser, id string, _ storage.User) (authflow.Outcome, error) {
			return e.submitOTP(b, id, otpCode)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com", goodPW, func(u *storage.User) {
				if tt.mfa {
					u.OrgID = e.mfaOrg.ID
				}
			})
			r := e.begin(nil)
			if tt.mfa {
				mustSubmit(e, r.ID, u)
			}
			const n = 5
			bs := newBarrier(e.sessions, n)
			e.flow.Sessions = bs
			outs := make([]authflow.Outcome, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				b := e.browser()
				wg.Go(func() { outs[i], errs[i] = tt.submit(e, b, r.ID, u) })
			}
			wg.Wait()
			wins := 0
			var losers []string
			for i, err := range errs {
				switch {
				case err == nil:
					wins++
				case err == authflow.ErrOutOfTurn:
					losers = append(losers, fmt.Sprint(i))
				default:
					t.Errorf("goroutine %d: err = %v; want nil or ErrOutOfTurn", i, err)
				}
			}
			if wins != 1 || len(losers) != n-1 {
				t.Fatalf("%d wins, %d losers; want 1 and %d", wins, len(losers), n-1)
			}
			if c, d := bs.created.Load(), bs.discarded.Load(); c != n || d != n-1 {
				t.Fatalf("%d sessions created, %d discarded; want %d and %d", c, d, n, n-1)
			}
			st := e.stored(r.ID)
			if authflow.StepOf(st) != authflow.StepDone {
				t.Fatalf("step %q; want done", st.Step)
			}
			if _, ok := e.storedSession(st.SessionID); !ok {
				t.Fatal("the winner's session row is missing")
			}
			if got := e.countSessions(u.ID); got != 1 {
				t.Fatalf("%d session rows for the user; want 1 (losers' sessions orphaned)", got)
			}
		})
	}
}
