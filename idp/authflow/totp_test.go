package authflow_test

// The flow with the real TOTP back door (idp/mfa/totplogin) and no fake
// second factor: a user who turned an authenticator app on is asked for it
// at every login, wrong codes count toward the lockout, and a user with
// nothing to offer at a required mfa step enrols one.

import (
	"encoding/base32"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/totp"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/totplogin"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// totpEnv is newEnv whose flow has the password and the real TOTP method
// (no fake second factor), and the master key that seals the secrets.
func totpEnv(t testing.TB) (*env, *masterkey.Key) {
	t.Helper()
	e := newEnv(t)
	enc, err := masterkey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := masterkey.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	key, err := masterkey.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return *e.now }
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.flow = &authflow.Flow{Store: e.st, Sessions: e.sessions, Audit: &audit.Recorder{Store: e.st, Logger: discard, Now: clock}, Now: clock}
	e.flow.RegisterDoor("oidc", e.door)
	e.flow.RegisterMethod(e.pw)
	e.flow.RegisterFactor(&totplogin.Method{Factors: e.st, Sealer: key, Now: clock, Logger: discard})
	return e, key
}

// addTOTP gives u an authenticator app, confirmed or pending, and returns
// its secret.
func addTOTP(e *env, key *masterkey.Key, u storage.User, confirmed bool) []byte {
	e.t.Helper()
	en, err := totp.New("Gatehouse", u.Email)
	if err != nil {
		e.t.Fatal(err)
	}
	f := storage.Factor{ID: storage.NewID(), UserID: u.ID, Kind: storage.FactorTOTP, Label: "Phone", CreatedAt: *e.now}
	if f.Secret, err = totp.Seal(key, en.Secret, f.ID, u.ID); err != nil {
		e.t.Fatal(err)
	}
	if confirmed {
		f.ConfirmedAt = *e.now
	} else {
		f.ExpiresAt = e.now.Add(time.Hour)
	}
	if err := e.st.CreateFactor(e.ctx, f); err != nil {
		e.t.Fatal(err)
	}
	return en.Secret
}

func (e *env) totpCode(secret []byte) string {
	e.t.Helper()
	c, err := totp.Code(secret, *e.now)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) submitTOTP(id, code string) (authflow.Outcome, error) {
	return e.flow.Submit(e.ctx, id, e.browser(), totplogin.Name, authflow.Input{totplogin.FieldCode: code})
}

// wantTOTPForm fails unless out asks for the TOTP form.
func wantTOTPForm(t *testing.T, what string, out authflow.Outcome, err error) {
	t.Helper()
	if err != nil || out.Action != authflow.Challenge || out.Method != totplogin.Name {
		t.Fatalf("%s: outcome %v %q, err %v; want the totp form", what, out.Action, out.Method, err)
	}
}

func TestOwnTOTPAskedWithoutPolicy(t *testing.T) {
	e, key := totpEnv(t)
	u := e.user("alice@example.com", goodPW, nil) // e.org: MFA off
	secret := addTOTP(e, key, u, true)
	r := e.begin(nil) // plainRP: no MFA policy

	out := mustSubmit(e, r.ID, u)
	wantTOTPForm(t, "after the password", out, nil)
	if out.Session != nil || authflow.StepOf(e.stored(r.ID)) != authflow.StepMFA {
		t.Fatalf("after the password: session %v, step %q; want mfa without a session", out.Session, e.stored(r.ID).Step)
	}
	out, err := e.flow.Next(e.ctx, r.ID, e.browser())
	wantTOTPForm(t, "Next at mfa", out, err)

	out, err = e.submitTOTP(r.ID, e.totpCode(secret))
	if err != nil || out.Action != authflow.Continue || out.Session == nil {
		t.Fatalf("right code: outcome %v session %v err %v; want continue with a session", out.Action, out.Session, err)
	}
	got := e.stored(r.ID)
	for _, v := range []string{authflow.AMRPassword, "otp", authflow.AMRMFA} {
		if !slices.Contains(got.AMR, v) {
			t.Fatalf("AMR %v lacks %q", got.AMR, v)
		}
	}
	if acr := authflow.ACR(got.AMR); acr != authflow.ACRMFA {
		t.Fatalf("ACR = %q, want %q", acr, authflow.ACRMFA)
	}
	if authflow.StepOf(got) != authflow.StepDone {
		t.Fatalf("step %q, want done", got.Step)
	}
	if evs := e.events(audit.LoginTOTP); len(evs) != 1 || evs[0].UserID != u.ID {
		t.Fatalf("login.totp_ok events %+v", evs)
	}

	// The same code in the next login is a replay: refused.
	r2 := e.begin(nil)
	mustSubmit(e, r2.ID, u)
	out, err = e.submitTOTP(r2.ID, e.totpCode(secret))
	wantTOTPForm(t, "replayed code", out, err)
	if !errors.Is(out.Failure, authflow.ErrInvalidCredentials) || authflow.StepOf(e.stored(r2.ID)) != authflow.StepMFA {
		t.Fatalf("replayed code: failure %v, step %q", out.Failure, e.stored(r2.ID).Step)
	}
	if evs := e.events(audit.LoginFailed); len(evs) == 0 || evs[0].Details["reason"] != totplogin.ReasonReplayed || evs[0].UserID != u.ID {
		t.Fatalf("last login.failed %+v; want replayed_code for %s", evs, u.ID)
	}
}

func TestNoOwnTOTPNoMFAStep(t *testing.T) {
	e, key := totpEnv(t)
	// Without a factor, or with one never confirmed, and no policy: the
	// password alone finishes the login.
	plain := e.user("plain@example.com", goodPW, nil)
	pending := e.user("pending@example.com", goodPW, nil)
	addTOTP(e, key, pending, false)
	for _, u := range []storage.User{plain, pending} {
		r := e.begin(nil)
		mustDone(e, r.ID, u)
		if amr := e.stored(r.ID).AMR; slices.Contains(amr, authflow.AMRMFA) {
			t.Fatalf("%s: AMR %v", u.Email, amr)
		}
	}
}

// A user who must give a second factor and has none that counts enrols
// one at this login: a pending enrolment from elsewhere proves nothing,
// a wrong code leaves it pending, the right one (computed from the secret
// the page shows) confirms it, and the login ends on the notice page whose
// Finish completes it with "mfa".
func TestTOTPEnrolAtLogin(t *testing.T) {
	e, key := totpEnv(t)
	u := e.user("bob@example.com", goodPW, func(u *storage.User) { u.OrgID = e.mfaOrg.ID })
	addTOTP(e, key, u, false) // an enrolment in progress is not usable
	r := e.begin(nil)
	out, err := e.submitPW(r.ID, u.Email, goodPW)
	if err != nil || out.Action != authflow.Enrol || out.Method != totplogin.Name || out.View == nil || out.View.Secret == "" ||
		len(out.View.QR) == 0 || out.Session != nil {
		t.Fatalf("after the password: outcome %v %q view %+v session %v, err %v; want the totp enrolment", out.Action, out.Method, out.View, out.Session, err)
	}
	if authflow.StepOf(e.stored(r.ID)) != authflow.StepEnrol {
		t.Fatalf("step %q, want enrol", e.stored(r.ID).Step)
	}
	shown := out.View.Secret
	// A reload shows the same secret: the enrolment is the request's.
	if again, err := e.flow.Next(e.ctx, r.ID, e.browser()); err != nil || again.Action != authflow.Enrol || again.View.Secret != shown {
		t.Fatalf("reload: %v %+v, %v; want the same enrolment", again.Action, again.View, err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(shown, " ", ""))
	if err != nil {
		t.Fatalf("shown secret %q: %v", shown, err)
	}
	out, err = e.submitTOTP(r.ID, "000000")
	if err != nil || out.Action != authflow.Enrol || out.Failure == nil || authflow.StepOf(e.stored(r.ID)) != authflow.StepEnrol {
		t.Fatalf("wrong code: %v failure %v err %v; want the enrolment again", out.Action, out.Failure, err)
	}
	// Finish is out of turn until the code is confirmed.
	if _, err := e.flow.Finish(e.ctx, r.ID, e.browser()); !errors.Is(err, authflow.ErrOutOfTurn) {
		t.Fatalf("Finish before the code: %v; want ErrOutOfTurn", err)
	}
	out, err = e.submitTOTP(r.ID, e.totpCode(secret))
	if err != nil || out.Action != authflow.Notice || out.Notice != authflow.NoticeEnrolled || out.Session != nil {
		t.Fatalf("right code: %v %q session %v err %v; want the notice", out.Action, out.Notice, out.Session, err)
	}
	b := e.browser()
	out, err = e.flow.Finish(e.ctx, r.ID, b)
	if err != nil || out.Action != authflow.Continue || out.Session == nil {
		t.Fatalf("Finish: %v session %v err %v", out.Action, out.Session, err)
	}
	if st := e.stored(r.ID); !slices.Contains(st.AMR, authflow.AMRMFA) || !slices.Contains(st.AMR, "otp") {
		t.Fatalf("AMR %v; want otp and mfa", st.AMR)
	}
	// The next login asks for the app.
	r2 := e.begin(nil)
	out, err = e.submitPW(r2.ID, u.Email, goodPW)
	wantTOTPForm(t, "next login", out, err)
	// A strict relying party's user without a factor enrols too.
	r3 := e.begin(func(r *storage.AuthRequest) { r.ClientID = strictRP })
	plain := e.user("plain@example.com", goodPW, nil)
	if out, err := e.submitPW(r3.ID, plain.Email, goodPW); err != nil || out.Action != authflow.Enrol {
		t.Fatalf("strict RP, no factor: %v, %v; want enrol", out.Action, err)
	}
}

func TestTOTPWrongCodesLockTheAccount(t *testing.T) {
	e, key := totpEnv(t)
	withLockout(e, 3, 100)
	u := e.user("alice@example.com", goodPW, nil)
	secret := addTOTP(e, key, u, true)
	r := e.begin(nil)
	wantTOTPForm(t, "after the password", mustSubmit(e, r.ID, u), nil)
	before := e.stored(r.ID)

	wrong := "000000"
	if _, err := totp.Match(secret, wrong, *e.now); !errors.Is(err, totp.ErrWrongCode) {
		wrong = "111111"
	}
	for i := range 3 {
		out, err := e.submitTOTP(r.ID, wrong)
		wantTOTPForm(t, "wrong code", out, err)
		if !errors.Is(out.Failure, authflow.ErrInvalidCredentials) {
			t.Fatalf("wrong code: failure %v", out.Failure)
		}
		e.unchanged(before)
		if i < 2 && !e.storedUser(u.ID).LockedUntil.IsZero() {
			t.Fatalf("locked after %d wrong codes", i+1)
		}
	}
	if got := e.storedUser(u.ID).LockedUntil; !got.Equal(t0.Add(10 * time.Minute)) {
		t.Fatalf("LockedUntil = %s; want 10 minutes from the third wrong code", got)
	}
	// The right code while locked: refused unchecked, and not used up.
	out, err := e.submitTOTP(r.ID, e.totpCode(secret))
	wantTOTPForm(t, "right code while locked", out, err)
	if !errors.Is(out.Failure, authflow.ErrInvalidCredentials) {
		t.Fatalf("right code while locked: failure %v", out.Failure)
	}
	e.unchanged(before)
	if evs := e.events(audit.LoginFailed); evs[0].Details["reason"] != authflow.ReasonLocked || evs[0].UserID != u.ID {
		t.Fatalf("last login.failed %+v; want locked for %s", evs[0], u.ID)
	}
	fs, err := e.st.ListFactors(e.ctx, u.ID, *e.now)
	if err != nil || len(fs) != 1 || fs[0].LastStep != 0 {
		t.Fatalf("factors %+v, %v; the code checked while locked recorded a step", fs, err)
	}
}
