package authflow_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// fakeRecovery is a fallback second factor that issues codes as recovery
// factors and accepts any of them by its id.
type fakeRecovery struct {
	st     storage.Factors
	now    func() time.Time
	issued int
}

func (m *fakeRecovery) Name() string   { return storage.FactorRecovery }
func (m *fakeRecovery) Fallback() bool { return true }
func (m *fakeRecovery) Challenge(context.Context, authflow.Turn) (authflow.View, []byte, error) {
	return authflow.View{}, nil, nil
}

func (m *fakeRecovery) Verify(ctx context.Context, t authflow.Turn, in authflow.Input) (authflow.Proof, error) {
	for _, f := range t.Factors {
		if f.ID == in["code"] {
			if _, err := m.st.ConsumeRecoveryCode(ctx, t.User.ID, f.Secret, m.now()); err != nil {
				return authflow.Proof{}, &authflow.Failure{User: t.User, Reason: "used_code"}
			}
			return authflow.Proof{UserID: t.User.ID, AMR: []string{"otp"}}, nil
		}
	}
	return authflow.Proof{}, &authflow.Failure{User: t.User, Reason: "wrong_code"}
}

func (m *fakeRecovery) Issue(ctx context.Context, userID string) ([]string, error) {
	m.issued++
	var fs []storage.Factor
	var ids []string
	for i := range 3 {
		id := storage.NewID()
		fs = append(fs, storage.Factor{ID: id, UserID: userID, Kind: storage.FactorRecovery, Label: "code",
			Secret: []byte{byte(i), byte(m.issued)}, CreatedAt: m.now(), ConfirmedAt: m.now()})
		ids = append(ids, id)
	}
	return ids, m.st.ReplaceRecoveryCodes(ctx, userID, fs)
}

// secondEnv is newEnv with a second enrollable method ("otp2") and
// recovery codes.
func secondEnv(t *testing.T) (*env, *fakeRecovery) {
	e := newEnv(t)
	e.flow.RegisterFactor(&fakeOTP{name: "otp2", st: e.st, now: e.flow.Now})
	rec := &fakeRecovery{st: e.st, now: e.flow.Now}
	e.flow.RegisterFactor(rec)
	e.flow.Recovery = rec
	return e, rec
}

func (e *env) setPolicy(p storage.MFAPolicy) {
	e.t.Helper()
	if _, err := e.st.UpdateOrganization(e.ctx, e.org.ID, func(o storage.Organization) (storage.Organization, error) {
		o.MFA = p
		return o, nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

// TestSecondFactorDecisions: where a password login goes, from the
// policy, the party, the user's factors and flags.
func TestSecondFactorDecisions(t *testing.T) {
	on := storage.MFAPolicy{Required: true}
	tests := []struct {
		name    string
		policy  storage.MFAPolicy
		client  string
		user    func(*storage.User)
		factors []string // kinds of confirmed factors, made at t0
		later   func(e *env)
		want    authflow.Action
		step    authflow.Step
		choices []string
		canSkip bool
	}{
		{name: "off, no factor", want: authflow.Continue, step: authflow.StepDone},
		{name: "off, own factor", factors: []string{otp}, want: authflow.Challenge, step: authflow.StepMFA},
		{name: "off, only recovery codes", factors: []string{storage.FactorRecovery}, want: authflow.Continue, step: authflow.StepDone},
		{name: "on, two methods: a choice", policy: on, want: authflow.Choose, step: authflow.StepEnrol, choices: []string{otp, "otp2"}},
		{name: "on, one method: straight to it", policy: storage.MFAPolicy{Required: true, AllowedMethods: []string{"otp2"}},
			want: authflow.Enrol, step: authflow.StepEnrol, choices: []string{"otp2"}},
		{name: "on, skip offered", policy: storage.MFAPolicy{Required: true, AllowSkip: true}, want: authflow.Choose,
			step: authflow.StepEnrol, choices: []string{otp, "otp2"}, canSkip: true},
		{name: "on, skip offered but the client demands MFA", policy: storage.MFAPolicy{Required: true, AllowSkip: true}, client: strictRP,
			want: authflow.Choose, step: authflow.StepEnrol, choices: []string{otp, "otp2"}},
		{name: "on, skipped before", policy: storage.MFAPolicy{Required: true, AllowSkip: true},
			user: func(u *storage.User) { u.MFASkipped, u.MFASkippedAt = true, t0 }, want: authflow.Continue, step: authflow.StepDone},
		{name: "skipped in an earlier generation", policy: storage.MFAPolicy{Required: true, AllowSkip: true, Since: t0.Add(time.Second)},
			user: func(u *storage.User) { u.MFASkipped, u.MFASkippedAt = true, t0 }, want: authflow.Choose, step: authflow.StepEnrol,
			choices: []string{otp, "otp2"}, canSkip: true},
		{name: "skipped, then an admin reset", policy: storage.MFAPolicy{Required: true, AllowSkip: true},
			user: func(u *storage.User) { u.MFASkipped, u.MFASkippedAt, u.MFAEnrollRequired = true, t0, true },
			want: authflow.Choose, step: authflow.StepEnrol, choices: []string{otp, "otp2"}},
		{name: "admin reset with a method", user: func(u *storage.User) { u.MFAEnrollRequired, u.MFAEnrolMethod = true, "otp2" },
			want: authflow.Enrol, step: authflow.StepEnrol, choices: []string{"otp2"}},
		{name: "admin reset naming a method this server lacks", policy: on,
			user: func(u *storage.User) { u.MFAEnrollRequired, u.MFAEnrolMethod = true, "webauthn" },
			want: authflow.Choose, step: authflow.StepEnrol, choices: []string{otp, "otp2"}},
		{name: "on, factor", policy: on, factors: []string{otp}, want: authflow.Challenge, step: authflow.StepMFA},
		{name: "on again: a factor from before the generation", policy: storage.MFAPolicy{Required: true, Since: t0.Add(time.Second)},
			factors: []string{otp}, want: authflow.Choose, step: authflow.StepEnrol, choices: []string{otp, "otp2"}},
		{name: "its method removed from the list", policy: storage.MFAPolicy{Required: true, AllowedMethods: []string{"otp2"}},
			factors: []string{otp}, want: authflow.Enrol, step: authflow.StepEnrol, choices: []string{"otp2"}},
		{name: "client demands MFA, org off", client: strictRP, want: authflow.Choose, step: authflow.StepEnrol, choices: []string{otp, "otp2"}},
		{name: "on, no method registered allowed", policy: storage.MFAPolicy{Required: true, AllowedMethods: []string{"webauthn"}},
			want: authflow.NoMethod, step: authflow.StepEnrol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := secondEnv(t)
			e.setPolicy(tt.policy)
			u := e.user("alice@example.com", goodPW, tt.user)
			for _, k := range tt.factors {
				f := storage.Factor{ID: storage.NewID(), UserID: u.ID, Kind: k, Label: k, Secret: []byte("s"), CreatedAt: t0, ConfirmedAt: t0}
				if k == storage.FactorRecovery {
					if err := e.st.ReplaceRecoveryCodes(e.ctx, u.ID, []storage.Factor{f}); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := e.st.CreateFactor(e.ctx, f); err != nil {
					t.Fatal(err)
				}
			}
			e.advance(2 * time.Second)
			client := tt.client
			if client == "" {
				client = plainRP
			}
			r := e.begin(func(r *storage.AuthRequest) { r.ClientID = client })
			out, err := e.submitPW(r.ID, u.Email, goodPW)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range out.Choices {
				got = append(got, c.Method)
			}
			if out.Action != tt.want || authflow.StepOf(e.stored(r.ID)) != tt.step || !slices.Equal(got, tt.choices) || out.CanSkip != tt.canSkip {
				t.Fatalf("outcome %v at %q, choices %v, skip %v; want %v at %q, %v, %v",
					out.Action, e.stored(r.ID).Step, got, out.CanSkip, tt.want, tt.step, tt.choices, tt.canSkip)
			}
		})
	}
}

// TestEnrolAtLogin: choosing, going back, an abandoned enrolment leaving
// no factor, the confirmation with recovery codes issued once, Finish,
// and what is out of turn on the way.
func TestEnrolAtLogin(t *testing.T) {
	e, rec := secondEnv(t)
	e.setPolicy(storage.MFAPolicy{Required: true, AllowSkip: true})
	u := e.user("alice@example.com", goodPW, nil)
	r := e.begin(nil)
	if out := mustSubmitTo(e, r.ID, u, authflow.Choose); len(out.Choices) != 2 || !out.CanSkip {
		t.Fatalf("choice %+v", out)
	}
	b := e.browser()
	// Out of turn before a method is chosen: a code, Finish, a method
	// that is not a choice.
	if _, err := e.flow.Submit(e.ctx, r.ID, b, otp, authflow.Input{"code": otpCode}); !errors.Is(err, authflow.ErrOutOfTurn) {
		t.Fatalf("a code before choosing: %v", err)
	}
	if _, err := e.flow.Finish(e.ctx, r.ID, b); !errors.Is(err, authflow.ErrOutOfTurn) {
		t.Fatalf("Finish at enrol: %v", err)
	}
	if _, err := e.flow.Choose(e.ctx, r.ID, b, storage.FactorRecovery, nil); !errors.Is(err, authflow.ErrOutOfTurn) {
		t.Fatalf("choosing recovery codes: %v", err)
	}
	out, err := e.flow.Choose(e.ctx, r.ID, b, otp, nil)
	if err != nil || out.Action != authflow.Enrol || out.Method != otp {
		t.Fatalf("Choose otp: %v %q, %v", out.Action, out.Method, err)
	}
	first := e.pendingFactors(u.ID)
	if len(first) != 1 {
		t.Fatalf("%d pending factors after choosing; want 1", len(first))
	}
	// Back to the choice: the pending factor is gone.
	if out, err := e.flow.Choose(e.ctx, r.ID, b, "", nil); err != nil || out.Action != authflow.Choose {
		t.Fatalf("back to the choice: %v, %v", out.Action, err)
	}
	if n := len(e.pendingFactors(u.ID)); n != 0 {
		t.Fatalf("%d pending factors after going back; want 0", n)
	}
	if _, err := e.flow.Choose(e.ctx, r.ID, b, "otp2", nil); err != nil {
		t.Fatal(err)
	}
	// A wrong code: still enrolling, nothing confirmed.
	if out, err := e.flow.Submit(e.ctx, r.ID, b, "otp2", authflow.Input{"code": "000000"}); err != nil || out.Action != authflow.Enrol || out.Failure == nil {
		t.Fatalf("wrong code: %v failure %v, %v", out.Action, out.Failure, err)
	}
	out, err = e.flow.Submit(e.ctx, r.ID, b, "otp2", authflow.Input{"code": otpCode})
	if err != nil || out.Action != authflow.Notice || out.Notice != authflow.NoticeEnrolled || len(out.Codes) != 3 || out.Account != u.Email {
		t.Fatalf("confirm: %+v, %v", out, err)
	}
	// The codes are in that outcome only: the reloaded notice has none.
	if again, err := e.flow.Next(e.ctx, r.ID, b); err != nil || again.Action != authflow.Notice || len(again.Codes) != 0 {
		t.Fatalf("reloaded notice: %+v, %v", again, err)
	}
	if _, err := e.flow.Skip(e.ctx, r.ID, b); !errors.Is(err, authflow.ErrOutOfTurn) {
		t.Fatalf("Skip at notice: %v", err)
	}
	if st := e.stored(r.ID); st.SessionID != "" {
		t.Fatal("a session before Finish")
	}
	out, err = e.flow.Finish(e.ctx, r.ID, b)
	if err != nil || out.Action != authflow.Continue || out.Session == nil {
		t.Fatalf("Finish: %v, %v", out.Action, err)
	}
	if st := e.stored(r.ID); !slices.Contains(st.AMR, authflow.AMRMFA) {
		t.Fatalf("AMR %v", st.AMR)
	}
	if evs := e.events(audit.FactorAdded); len(evs) != 1 || evs[0].Details["kind"] != "otp2" {
		t.Fatalf("factor_added events %+v", evs)
	}
	// A second enrolment (another login demanding it) issues no new codes.
	e.setPolicy(storage.MFAPolicy{Required: true, AllowedMethods: []string{otp}})
	r2 := e.begin(nil)
	mustSubmitTo(e, r2.ID, u, authflow.Enrol)
	out, err = e.flow.Submit(e.ctx, r2.ID, e.browser(), otp, authflow.Input{"code": otpCode})
	if err != nil || out.Action != authflow.Notice || len(out.Codes) != 0 || rec.issued != 1 {
		t.Fatalf("second enrolment: %+v (issued %d), %v; want no new codes", out, rec.issued, err)
	}
}

// TestSkipAndRecoveryAtLogin: "Skip for now" is remembered; a recovery
// code satisfies the step once and stops on the notice with the count.
func TestSkipAndRecoveryAtLogin(t *testing.T) {
	e, rec := secondEnv(t)
	e.setPolicy(storage.MFAPolicy{Required: true, AllowSkip: true})
	u := e.user("alice@example.com", goodPW, nil)
	r := e.begin(nil)
	mustSubmitTo(e, r.ID, u, authflow.Choose)
	out, err := e.flow.Skip(e.ctx, r.ID, e.browser())
	if err != nil || out.Action != authflow.Continue || out.Session == nil {
		t.Fatalf("Skip: %v, %v", out.Action, err)
	}
	if got := e.storedUser(u.ID); !got.MFASkipped || !got.MFASkippedAt.Equal(t0) {
		t.Fatalf("user after skip %+v", got)
	}
	mustSubmitTo(e, e.begin(nil).ID, u, authflow.Continue)

	// Bob has an app and recovery codes.
	bob := e.user("bob@example.com", goodPW, nil)
	e.factor(bob, otp)
	codes, err := rec.Issue(e.ctx, bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	r = e.begin(nil)
	out = mustSubmitTo(e, r.ID, bob, authflow.Challenge)
	if out.Method != otp || !slices.Equal(out.Methods, []string{otp, storage.FactorRecovery}) {
		t.Fatalf("mfa offers %q of %v; want otp first, recovery last", out.Method, out.Methods)
	}
	if out, err := e.flow.Choose(e.ctx, r.ID, e.browser(), storage.FactorRecovery, nil); err != nil || out.Method != storage.FactorRecovery {
		t.Fatalf("Choose recovery: %v %q", err, out.Method)
	}
	out, err = e.flow.Submit(e.ctx, r.ID, e.browser(), storage.FactorRecovery, authflow.Input{"code": codes[1]})
	if err != nil || out.Action != authflow.Notice || out.Notice != authflow.NoticeRecovery || out.Remaining != 2 {
		t.Fatalf("recovery code: %+v, %v", out, err)
	}
	if out, err := e.flow.Finish(e.ctx, r.ID, e.browser()); err != nil || out.Action != authflow.Continue {
		t.Fatalf("Finish: %v, %v", out.Action, err)
	}
	// Spent, in another login.
	r = e.begin(nil)
	mustSubmitTo(e, r.ID, bob, authflow.Challenge)
	if out, err := e.flow.Submit(e.ctx, r.ID, e.browser(), storage.FactorRecovery, authflow.Input{"code": codes[1]}); err != nil || out.Failure == nil {
		t.Fatalf("a spent code: %v failure %v", err, out.Failure)
	}
}

// TestSecondFactorsPassive: a passive request that needs a second factor
// or an enrolment answers login_required and shows nothing.
func TestSecondFactorsPassive(t *testing.T) {
	e, _ := secondEnv(t)
	e.setPolicy(storage.MFAPolicy{Required: true})
	u := e.user("alice@example.com", goodPW, nil)
	_, b := e.liveSession(u, []string{authflow.AMRPassword})
	r := e.begin(func(r *storage.AuthRequest) { r.Prompt = []string{"none"} })
	out, err := e.flow.Next(e.ctx, r.ID, b)
	if err != nil || out.Action != authflow.LoginRequired || len(e.pendingFactors(u.ID)) != 0 {
		t.Fatalf("passive, enrolment needed: %v, %v (pending %d)", out.Action, err, len(e.pendingFactors(u.ID)))
	}
}

func mustSubmitTo(e *env, id string, u storage.User, want authflow.Action) authflow.Outcome {
	e.t.Helper()
	out, err := e.submitPW(id, u.Email, goodPW)
	if err != nil || out.Action != want {
		e.t.Fatalf("password: %v, %v; want %v", out.Action, err, want)
	}
	return out
}

// pendingFactors are userID's unconfirmed, unexpired factors.
func (e *env) pendingFactors(userID string) []storage.Factor {
	e.t.Helper()
	fs, err := e.st.ListFactors(e.ctx, userID, *e.now)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []storage.Factor
	for _, f := range fs {
		if f.Pending(*e.now) {
			out = append(out, f)
		}
	}
	return out
}

// TestSecondFactorMissesLock: wrong recovery codes and wrong codes at an
// enrolment count toward the account's lockout like wrong passwords; a
// locked account's right code is refused unchecked.
func TestSecondFactorMissesLock(t *testing.T) {
	for _, at := range []string{"mfa, recovery codes", "enrol"} {
		t.Run(at, func(t *testing.T) {
			e, rec := secondEnv(t)
			withLockout(e, 3, 100)
			e.setPolicy(storage.MFAPolicy{Required: true, AllowedMethods: []string{otp}})
			u := e.user("alice@example.com", goodPW, nil)
			method, right := otp, otpCode
			if at != "enrol" {
				e.factor(u, otp)
				codes, err := rec.Issue(e.ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				method, right = storage.FactorRecovery, codes[0]
			}
			r := e.begin(nil)
			signIn := func() {
				out, err := e.submitPW(r.ID, u.Email, goodPW)
				if err != nil || out.Failure != nil {
					t.Fatalf("password: %v %v", out.Failure, err)
				}
			}
			signIn()
			for i := range 3 {
				out, err := e.flow.Submit(e.ctx, r.ID, e.browser(), method, authflow.Input{"code": "wrong"})
				if err != nil || out.Failure == nil {
					t.Fatalf("miss %d: %v, %v", i, out.Failure, err)
				}
			}
			if got := e.storedUser(u.ID); !got.LockedUntil.After(*e.now) {
				t.Fatalf("three misses did not lock the account: %+v", got)
			}
			out, err := e.flow.Submit(e.ctx, r.ID, e.browser(), method, authflow.Input{"code": right})
			if err != nil || out.Failure == nil || out.Action == authflow.Continue || out.Action == authflow.Notice {
				t.Fatalf("the right code while locked: %v failure %v, %v", out.Action, out.Failure, err)
			}
			if evs := e.events(audit.LoginFailed); !slices.ContainsFunc(evs, func(ev storage.AuditEvent) bool { return ev.Details["reason"] == authflow.ReasonLocked }) {
				t.Fatalf("no failure recorded as locked: %+v", evs)
			}
		})
	}
}
