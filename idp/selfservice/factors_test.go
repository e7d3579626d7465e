package selfservice_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/emailcode"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/recovery"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/totp"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/totplogin"
	"github.com/gatehouse-idp/gatehouse/idp/notify"
	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// codes records the email codes the email method sent.
type codes struct {
	mu   sync.Mutex
	sent []notify.Data
}

func (c *codes) Mail(_ context.Context, _, to string, d notify.Data) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	d.Email = to
	c.sent = append(c.sent, d)
	return nil
}

func (c *codes) last(t *testing.T) notify.Data {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sent) == 0 {
		t.Fatal("no code was sent")
	}
	return c.sent[len(c.sent)-1]
}

func (c *codes) count() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.sent) }

// withMethods wires the real methods of the login into the service, on
// the env's storage and clock, and returns the email method's mailbox.
func withMethods(t *testing.T, e *env) *codes {
	t.Helper()
	k, err := masterkey.New(bytes.Repeat([]byte{7}, 32))
	must(t, err)
	clock := func() time.Time { return e.now }
	mail := &codes{}
	e.svc.TOTP = &totplogin.Method{Factors: e.st, Sealer: k, Now: clock}
	e.svc.EmailCodes = &emailcode.Method{Store: e.st, Mailer: mail, Key: []byte("test key"), Now: clock,
		Sends: emailcode.SendLimits{}.Windows(e.st, clock)}
	e.svc.Recovery = &recovery.Method{Store: e.st, Now: clock}
	return mail
}

func (e *env) setPolicy(p storage.MFAPolicy) {
	e.t.Helper()
	_, err := e.st.UpdateOrganization(e.ctx, e.org.ID, func(o storage.Organization) (storage.Organization, error) {
		o.MFA = p
		return o, nil
	})
	must(e.t, err)
}

// addApp adds and confirms an authenticator app for userID; it returns
// the factor, its secret and what the confirmation said.
func (e *env) addApp(userID string) (storage.Factor, []byte, selfservice.Confirmed) {
	e.t.Helper()
	f, err := e.svc.BeginTOTP(e.ctx, userID, "")
	must(e.t, err)
	secret := e.secret(userID, f.ID)
	c, err := e.svc.ConfirmTOTP(e.ctx, userID, f.ID, e.code(secret), "")
	must(e.t, err)
	return c.Factor, secret, c
}

// secret reads a pending app's secret the way a person types it from the
// page into an app that cannot scan.
func (e *env) secret(userID, id string) []byte {
	e.t.Helper()
	en, err := e.svc.TOTPEnrolment(e.ctx, userID, id)
	must(e.t, err)
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(en.Grouped, " ", ""))
	must(e.t, err)
	return secret
}

func (e *env) code(secret []byte) string {
	e.t.Helper()
	c, err := totp.Code(secret, e.now)
	must(e.t, err)
	return c
}

// changes are the mfa_changed notices mailed to alice so far.
func (e *env) changes() []string {
	var out []string
	for _, m := range e.mail.all() {
		if m.template == selfservice.TemplateMFAChanged && m.to == e.alice.Email {
			if m.d.At.IsZero() || m.d.Email != e.alice.Email {
				e.t.Errorf("notice %+v; want the account's address, with a time", m.d)
			}
			out = append(out, m.d.Change)
		}
	}
	return out
}

func wantRefused(t *testing.T, what string, err, kind, show error) {
	t.Helper()
	var r *selfservice.Refused
	if !errors.As(err, &r) || !errors.Is(err, kind) || (show != nil && !errors.Is(r.Show, show)) {
		t.Fatalf("%s: %v; want a refusal (%v) showing %v", what, err, kind, show)
	}
}

func TestAddTOTP(t *testing.T) {
	e := newEnv(t)
	withMethods(t, e)
	must(t, storeUser(e, func(u *storage.User) { u.MFAEnrollRequired, u.MFAEnrolMethod, u.MFASkipped = true, "totp", true }))
	f, err := e.svc.BeginTOTP(e.ctx, e.alice.ID, "")
	must(t, err)
	if bytes.Contains(f.Secret, []byte("otpauth")) || len(f.Secret) < 20 {
		t.Fatalf("stored secret looks unsealed: %d bytes", len(f.Secret))
	}
	en, err := e.svc.TOTPEnrolment(e.ctx, e.alice.ID, f.ID)
	must(t, err)
	if en.Grouped == "" || len(en.QRPNG) == 0 || en.Reset {
		t.Fatalf("enrolment %+v; want text and QR, not a reset", en)
	}
	// Another user cannot see or confirm it.
	if _, err := e.svc.TOTPEnrolment(e.ctx, e.ivy.ID, f.ID); !errors.Is(err, selfservice.ErrNoFactor) {
		t.Fatalf("another user's enrolment: %v", err)
	}
	// Not usable until confirmed.
	if fs, _ := e.svc.Factors(e.ctx, e.alice.ID); len(fs) != 0 {
		t.Fatalf("factors before confirmation: %v", fs)
	}
	for _, bad := range []string{"000000", "12x456", strings.Repeat("1", 5000), "\x00\xff"} {
		_, err := e.svc.ConfirmTOTP(e.ctx, e.alice.ID, f.ID, bad, "")
		wantRefused(t, "code "+bad[:min(len(bad), 8)], err, selfservice.ErrWrongCode, nil)
		e.guard.failures = 0
	}
	must(t, e.guard.locked(func() error {
		_, err := e.svc.ConfirmTOTP(e.ctx, e.alice.ID, f.ID, "000000", "")
		return err
	}))
	c, err := e.svc.ConfirmTOTP(e.ctx, e.alice.ID, f.ID, e.code(e.secret(e.alice.ID, f.ID)), "")
	must(t, err)
	// The first factor comes with recovery codes, shown once.
	if c.Codes == nil || len(c.Codes.Codes) != recovery.Count || c.Codes.Account != e.alice.Email || c.Codes.Org != "Acme Corp" {
		t.Fatalf("first factor's recovery codes: %+v", c.Codes)
	}
	o, err := e.svc.Overview(e.ctx, e.alice.ID)
	must(t, err)
	if len(o.Factors) != 1 || o.Factors[0].LastStep != totp.Step(e.now) || o.RecoveryLeft != 10 || o.RecoveryTotal != 10 || !o.Recovery {
		t.Fatalf("after confirmation: %+v", o)
	}
	if u := e.user(e.alice.ID); u.MFAEnrollRequired || u.MFAEnrolMethod != "" || u.MFASkipped {
		t.Errorf("the administrator's enrol-at-next-login and the skip stand after an enrolment: %+v", u)
	}
	// Confirmed once; the enrolment page is gone.
	if _, err := e.svc.TOTPEnrolment(e.ctx, e.alice.ID, f.ID); !errors.Is(err, selfservice.ErrNoFactor) {
		t.Fatalf("enrolment page after confirmation: %v", err)
	}
	if len(e.events(audit.FactorAdded)) != 1 || len(e.events(audit.RecoveryCodesIssued)) != 1 || len(e.events(audit.FactorAddFailed)) != 5 {
		t.Errorf("audit: %d added, %d codes issued, %d failed", len(e.events(audit.FactorAdded)),
			len(e.events(audit.RecoveryCodesIssued)), len(e.events(audit.FactorAddFailed)))
	}
	if ch := e.changes(); len(ch) != 1 || !strings.Contains(ch[0], "added to your account: an authenticator app") || !strings.Contains(ch[0], "recovery codes") {
		t.Errorf("notices %q", ch)
	}
	// A second app comes without new codes: the user has unused ones.
	if _, _, c := e.addApp(e.alice.ID); c.Codes != nil {
		t.Error("a second factor made new recovery codes")
	}
}

// storeUser edits alice in storage.
func storeUser(e *env, edit func(*storage.User)) error {
	_, err := e.st.UpdateUser(e.ctx, e.alice.ID, func(u storage.User) (storage.User, error) {
		edit(&u)
		return u, nil
	})
	return err
}

// locked runs fn with the account locked: it must be refused as a wrong
// code without one more failure counted.
func (g *guard) locked(fn func() error) error {
	g.mu.Lock()
	g.failures = 3
	g.mu.Unlock()
	err := fn()
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.failures
	g.failures = 0
	if !errors.Is(err, selfservice.ErrWrongCode) || n != 3 {
		return fmt.Errorf("a locked account's code: %s, %d failures", errorText(err), n)
	}
	return nil
}

func errorText(err error) string {
	if err == nil {
		return "accepted"
	}
	return err.Error()
}

func TestEnrolmentExpires(t *testing.T) {
	e := newEnv(t)
	withMethods(t, e)
	f, err := e.svc.BeginTOTP(e.ctx, e.alice.ID, "")
	must(t, err)
	secret := e.secret(e.alice.ID, f.ID)
	e.now = e.now.Add(totplogin.EnrolTTL)
	if _, err := e.svc.ConfirmTOTP(e.ctx, e.alice.ID, f.ID, e.code(secret), ""); !errors.Is(err, selfservice.ErrNoFactor) {
		t.Fatalf("confirming an expired enrolment: %v", err)
	}
}

// TestResetTOTP: a reset's new secret replaces the old app only once a
// code from it is confirmed; until then, and if it is abandoned, the old
// one stays.
func TestResetTOTP(t *testing.T) {
	e := newEnv(t)
	withMethods(t, e)
	old, _, _ := e.addApp(e.alice.ID)
	ivys, _, _ := e.addApp(e.ivy.ID)
	for _, tt := range []struct {
		name, replace string
		want          error
	}{
		{"another user's app", ivys.ID, selfservice.ErrNoFactor},
		{"no such app", "nope", selfservice.ErrNoFactor},
		{"a malformed id", "\x00" + strings.Repeat("x", 300), selfservice.ErrNoFactor},
	} {
		if _, err := e.svc.BeginTOTP(e.ctx, e.alice.ID, tt.replace); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	// An abandoned reset leaves the old app.
	abandoned, err := e.svc.BeginTOTP(e.ctx, e.alice.ID, old.ID)
	must(t, err)
	e.now = e.now.Add(totplogin.EnrolTTL + time.Minute)
	if _, err := e.svc.TOTPEnrolment(e.ctx, e.alice.ID, abandoned.ID); !errors.Is(err, selfservice.ErrNoFactor) {
		t.Fatalf("an abandoned reset: %v", err)
	}
	if fs, _ := e.svc.Factors(e.ctx, e.alice.ID); len(fs) != 1 || fs[0].ID != old.ID {
		t.Fatalf("after an abandoned reset: %v", fs)
	}

	f, err := e.svc.BeginTOTP(e.ctx, e.alice.ID, old.ID)
	must(t, err)
	en, err := e.svc.TOTPEnrolment(e.ctx, e.alice.ID, f.ID)
	must(t, err)
	if !en.Reset {
		t.Error("the reset's page does not say it is a reset")
	}
	// Until confirmed, the old app is the one that counts.
	if fs, _ := e.svc.Factors(e.ctx, e.alice.ID); len(fs) != 1 || fs[0].ID != old.ID {
		t.Fatalf("before the reset's code: %v", fs)
	}
	c, err := e.svc.ConfirmTOTP(e.ctx, e.alice.ID, f.ID, e.code(e.secret(e.alice.ID, f.ID)), "")
	must(t, err)
	if !c.Reset || c.Codes != nil {
		t.Errorf("reset confirmed: %+v; want a reset without new codes", c)
	}
	fs, err := e.svc.Factors(e.ctx, e.alice.ID)
	must(t, err)
	if len(fs) != 1 || fs[0].ID != f.ID || fs[0].Label != old.Label {
		t.Fatalf("after the reset: %v", fs)
	}
	if _, err := e.st.GetFactor(e.ctx, old.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the old app survived its reset: %v", err)
	}
	if ev := e.events(audit.FactorReset); len(ev) != 1 || ev[0].Details["replaced"] != old.ID {
		t.Errorf("reset events %+v", ev)
	}
	if ch := e.changes(); len(ch) != 2 || !strings.Contains(ch[1], "was reset: only the new app's codes work") {
		t.Errorf("notices %q", ch)
	}
}

// TestEmailFactor: adding an address at /me, with its code sent by the
// email method and its state in the pending factor.
func TestEmailFactor(t *testing.T) {
	e := newEnv(t)
	sent := withMethods(t, e)
	e.guard.limit = 100
	const home = "alice@home.example"
	// The policy decides the address.
	for _, tt := range []struct {
		name, addr string
		policy     storage.MFAPolicy
		want, show error
	}{
		{"own address, email not chosen", "", storage.MFAPolicy{}, selfservice.ErrAddressRefused, emailcode.ErrOwnAddressRefused},
		{"malformed", "Alice <a@b.example>", storage.MFAPolicy{}, selfservice.ErrAddressRefused, emailcode.ErrBadAddress},
		{"NUL", "a\x00@b.example", storage.MFAPolicy{}, selfservice.ErrAddressRefused, emailcode.ErrBadAddress},
		{"another address, not allowed", home, storage.MFAPolicy{Required: true, AllowedMethods: []string{"email"}}, selfservice.ErrAddressRefused, emailcode.ErrOtherAddressRefused},
		{"email not allowed", home, storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp"}}, selfservice.ErrNotAllowed, nil},
	} {
		e.setPolicy(tt.policy)
		_, err := e.svc.BeginEmail(e.ctx, e.alice.ID, tt.addr)
		if tt.show != nil {
			wantRefused(t, tt.name, err, tt.want, tt.show)
		} else if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if sent.count() != 0 {
		t.Fatal("a refused address was sent a code")
	}
	e.setPolicy(storage.MFAPolicy{})

	other, err := e.svc.BeginEmail(e.ctx, e.alice.ID, "alice@other.example")
	must(t, err)
	otherCode := sent.last(t).Code
	v, err := e.svc.BeginEmail(e.ctx, e.alice.ID, " "+home+" ")
	must(t, err)
	first := sent.last(t)
	if !v.Sent || v.Address != "a•••e@home.example" || first.Email != home || len(first.Code) != 6 {
		t.Fatalf("begin: %+v, mailed %+v", v, first)
	}
	// A reload sends nothing.
	if v, err := e.svc.EmailEnrolment(e.ctx, e.alice.ID, v.Factor.ID, false); err != nil || v.Sent || sent.count() != 2 {
		t.Fatalf("a second showing: %+v, %v, %d sent", v, err, sent.count())
	}
	// The code of another enrolment does not confirm this one.
	_, err = e.svc.ConfirmEmail(e.ctx, e.alice.ID, v.Factor.ID, otherCode, "")
	wantRefused(t, "another enrolment's code", err, selfservice.ErrWrongCode, emailcode.ErrWrongCode)
	// Five misses in all burn the code, the right one included.
	for i := 2; i <= emailcode.MaxMisses; i++ {
		_, err = e.svc.ConfirmEmail(e.ctx, e.alice.ID, v.Factor.ID, "000000", "")
	}
	wantRefused(t, "the fifth miss", err, selfservice.ErrWrongCode, emailcode.ErrBurnt)
	_, err = e.svc.ConfirmEmail(e.ctx, e.alice.ID, v.Factor.ID, first.Code, "")
	wantRefused(t, "the right code once burnt", err, selfservice.ErrWrongCode, emailcode.ErrBurnt)
	if e.guard.failures != 6 {
		t.Errorf("the lockout counted %d failures, want 6", e.guard.failures)
	}
	// A reload still says so, and sends nothing.
	if v, err := e.svc.EmailEnrolment(e.ctx, e.alice.ID, v.Factor.ID, false); err != nil || !errors.Is(v.Notice, emailcode.ErrBurnt) || v.Sent {
		t.Fatalf("the page of a burnt code: %+v, %v", v, err)
	}
	// A new code voids the old.
	v, err = e.svc.EmailEnrolment(e.ctx, e.alice.ID, v.Factor.ID, true)
	must(t, err)
	second := sent.last(t)
	if !v.Sent || sent.count() != 3 || v.Notice != nil {
		t.Fatalf("resend: %+v, %d sent", v, sent.count())
	}
	if first.Code != second.Code {
		_, err = e.svc.ConfirmEmail(e.ctx, e.alice.ID, v.Factor.ID, first.Code, "")
		wantRefused(t, "the old code after a resend", err, selfservice.ErrWrongCode, emailcode.ErrWrongCode)
	}
	c, err := e.svc.ConfirmEmail(e.ctx, e.alice.ID, v.Factor.ID, " "+second.Code[:3]+" "+second.Code[3:], "")
	must(t, err)
	if c.Factor.Address != home || c.Codes == nil {
		t.Fatalf("confirmed %+v; want the address, with recovery codes", c)
	}
	f, err := e.st.GetFactor(e.ctx, c.Factor.ID)
	must(t, err)
	if f.ConfirmedAt.IsZero() || len(f.Data) != 0 {
		t.Errorf("stored factor confirmed at %v with data %q; want confirmed, its code's state gone", f.ConfirmedAt, f.Data)
	}
	// Confirmed once.
	if _, err := e.svc.ConfirmEmail(e.ctx, e.alice.ID, v.Factor.ID, second.Code, ""); !errors.Is(err, selfservice.ErrNoFactor) {
		t.Errorf("a second confirmation: %v", err)
	}
	if _, err := e.svc.EmailEnrolment(e.ctx, e.ivy.ID, other.Factor.ID, false); !errors.Is(err, selfservice.ErrNoFactor) {
		t.Errorf("another user's enrolment: %v", err)
	}
	if ch := e.changes(); len(ch) != 1 || !strings.Contains(ch[0], "email codes to a•••e@home.example") {
		t.Errorf("notices %q", ch)
	}
}

// TestRemoveFactor: what may be removed, under which policy, and what
// goes with it.
func TestRemoveFactor(t *testing.T) {
	required := storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp", "email"}, OtherEmail: true}
	tests := []struct {
		name   string
		policy storage.MFAPolicy
		apps   int  // confirmed apps alice has
		email  bool // and an email factor (another address)
		remove func(e *env, apps []storage.Factor) string
		want   error
		codes  bool // recovery codes left after it
	}{
		{"the last factor, MFA off", storage.MFAPolicy{}, 1, false, first, nil, false},
		{"the last factor, MFA required", required, 1, false, first, selfservice.ErrLastFactor, true},
		{"one of two, MFA required", required, 2, false, first, nil, true},
		{"an app beside an email factor, MFA required", required, 1, true, first, nil, true},
		{"the last one that counts, MFA required", storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp"}}, 1, true, first, selfservice.ErrLastFactor, true},
		{"one that does not count, MFA required", storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp"}}, 1, true,
			func(e *env, _ []storage.Factor) string { return e.emailFactor().ID }, nil, true},
		{"another user's", storage.MFAPolicy{}, 1, false, func(e *env, _ []storage.Factor) string {
			f, _, _ := e.addApp(e.ivy.ID)
			return f.ID
		}, selfservice.ErrNoFactor, true},
		{"a recovery code", storage.MFAPolicy{}, 1, false, func(e *env, _ []storage.Factor) string {
			return e.recoveryRows()[0].ID
		}, selfservice.ErrNoFactor, true},
		{"nothing", storage.MFAPolicy{}, 1, false, func(*env, []storage.Factor) string { return "" }, selfservice.ErrNoFactor, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			withMethods(t, e)
			var apps []storage.Factor
			for range tt.apps {
				f, _, _ := e.addApp(e.alice.ID)
				apps = append(apps, f)
			}
			if tt.email {
				must(t, e.st.CreateFactor(e.ctx, storage.Factor{ID: "f-email", UserID: e.alice.ID, Kind: storage.FactorEmail,
					Label: "alice@home.example", Address: "alice@home.example", ConfirmedAt: e.now, CreatedAt: e.now}))
			}
			e.setPolicy(tt.policy)
			before := len(e.changes())
			id := tt.remove(e, apps)
			err := e.svc.RemoveFactor(e.ctx, e.alice.ID, id)
			if !errors.Is(err, tt.want) {
				t.Fatalf("remove: %v, want %v", err, tt.want)
			}
			if got := len(e.recoveryRows()) > 0; got != tt.codes {
				t.Errorf("recovery codes left: %v, want %v", got, tt.codes)
			}
			notices := len(e.changes()) - before
			if tt.want != nil {
				if _, err := e.st.GetFactor(e.ctx, id); id != "" && err != nil {
					t.Errorf("a refused removal removed it: %v", err)
				}
				if notices != 0 || len(e.events(audit.FactorRemoved)) != 0 {
					t.Error("a refused removal was audited or told")
				}
				return
			}
			if _, err := e.st.GetFactor(e.ctx, id); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("still there: %v", err)
			}
			if ev := e.events(audit.FactorRemoved); notices != 1 || len(ev) != 1 || ev[0].Details["factor_id"] != id {
				t.Errorf("%d notices, events %+v", notices, ev)
			}
		})
	}
}

func first(_ *env, apps []storage.Factor) string { return apps[0].ID }

func (e *env) emailFactor() storage.Factor {
	e.t.Helper()
	f, err := e.st.GetFactor(e.ctx, "f-email")
	must(e.t, err)
	return f
}

func (e *env) recoveryRows() []storage.Factor {
	e.t.Helper()
	all, err := e.st.ListFactors(e.ctx, e.alice.ID, e.now)
	must(e.t, err)
	var out []storage.Factor
	for _, f := range all {
		if f.Kind == storage.FactorRecovery {
			out = append(out, f)
		}
	}
	return out
}

func TestRegenerateRecoveryCodes(t *testing.T) {
	e := newEnv(t)
	withMethods(t, e)
	if _, err := e.svc.RegenerateRecoveryCodes(e.ctx, e.alice.ID); !errors.Is(err, selfservice.ErrNoFactor) {
		t.Fatalf("codes without a factor: %v", err)
	}
	e.addApp(e.alice.ID)
	old := e.recoveryRows()
	rc, err := e.svc.RegenerateRecoveryCodes(e.ctx, e.alice.ID)
	must(t, err)
	if len(rc.Codes) != recovery.Count || rc.Account != e.alice.Email || !rc.At.Equal(e.now) {
		t.Fatalf("new codes %+v", rc)
	}
	now := e.recoveryRows()
	if len(now) != recovery.Count {
		t.Fatalf("%d recovery rows after regenerating", len(now))
	}
	for _, o := range old {
		for _, n := range now {
			if o.ID == n.ID || bytes.Equal(o.Secret, n.Secret) {
				t.Fatal("a code of the old set survived")
			}
		}
	}
	if ch := e.changes(); len(ch) != 2 || !strings.Contains(ch[1], "old ones no longer work") {
		t.Errorf("notices %q", ch)
	}
	if ev := e.events(audit.RecoveryCodesIssued); len(ev) != 2 {
		t.Errorf("%d issue events, want 2", len(ev))
	}
}

// TestNoticeIsBestEffort: a change stands when its notice cannot be sent;
// the failure is audited.
func TestNoticeIsBestEffort(t *testing.T) {
	e := newEnv(t)
	withMethods(t, e)
	e.mail.fail.Store(true)
	f, _, _ := e.addApp(e.alice.ID)
	must(t, e.svc.RemoveFactor(e.ctx, e.alice.ID, f.ID))
	if ev := e.events(audit.MailFailed); len(ev) != 2 || ev[0].Details["template"] != selfservice.TemplateMFAChanged {
		t.Errorf("mail failures audited: %+v", ev)
	}
}

// TestFactorAddedNotice: the flow's notice of an enrolment at a login.
func TestFactorAddedNotice(t *testing.T) {
	e := newEnv(t)
	e.svc.FactorAdded(e.ctx, e.alice, "totp")
	if ch := e.changes(); len(ch) != 1 || !strings.Contains(ch[0], "while signing in: an authenticator app") {
		t.Errorf("notices %q", ch)
	}
	if m := e.mail.last(t); m.d.Org != "Acme Corp" || m.d.User != "Alice" {
		t.Errorf("notice data %+v", m.d)
	}
}

// TestMethodsNotConfigured: without the methods, nothing is offered and
// nothing can be begun.
func TestMethodsNotConfigured(t *testing.T) {
	e := newEnv(t)
	o, err := e.svc.Overview(e.ctx, e.alice.ID)
	must(t, err)
	if o.TOTP || o.EmailOwn || o.EmailOther || o.Recovery {
		t.Errorf("overview offers %+v", o)
	}
	if _, err := e.svc.BeginTOTP(e.ctx, e.alice.ID, ""); !errors.Is(err, selfservice.ErrNotAllowed) {
		t.Errorf("BeginTOTP: %v", err)
	}
	if _, err := e.svc.BeginEmail(e.ctx, e.alice.ID, "a@b.example"); !errors.Is(err, selfservice.ErrNotAllowed) {
		t.Errorf("BeginEmail: %v", err)
	}
	if _, err := e.svc.RegenerateRecoveryCodes(e.ctx, e.alice.ID); !errors.Is(err, selfservice.ErrNotAllowed) {
		t.Errorf("RegenerateRecoveryCodes: %v", err)
	}
}

// TestOverviewOffers: what the page offers under each policy.
func TestOverviewOffers(t *testing.T) {
	tests := []struct {
		name             string
		policy           storage.MFAPolicy
		totp, own, other bool
	}{
		{"MFA off", storage.MFAPolicy{}, true, false, true},
		{"MFA off, email chosen", storage.MFAPolicy{AllowedMethods: []string{"email"}}, true, true, true},
		{"MFA on, any method", storage.MFAPolicy{Required: true}, true, false, false},
		{"MFA on, email only", storage.MFAPolicy{Required: true, AllowedMethods: []string{"email"}}, false, true, false},
		{"MFA on, email and others", storage.MFAPolicy{Required: true, AllowedMethods: []string{"email"}, OtherEmail: true}, false, true, true},
		{"MFA on, apps only", storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp"}, OtherEmail: true}, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			withMethods(t, e)
			e.setPolicy(tt.policy)
			o, err := e.svc.Overview(e.ctx, e.alice.ID)
			must(t, err)
			if o.TOTP != tt.totp || o.EmailOwn != tt.own || o.EmailOther != tt.other || o.Required != tt.policy.Required || o.Email != e.alice.Email {
				t.Errorf("overview %+v; want apps %v, own address %v, another %v", o, tt.totp, tt.own, tt.other)
			}
		})
	}
}
