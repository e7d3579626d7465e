package emailcode_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/emailcode"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var (
	mfaOff       = storage.MFAPolicy{}
	mfaOffEmail  = storage.MFAPolicy{AllowedMethods: []string{"email"}}
	mfaOnEmail   = storage.MFAPolicy{Required: true, AllowedMethods: []string{"email"}}
	mfaOnOther   = storage.MFAPolicy{Required: true, AllowedMethods: []string{"email"}, OtherEmail: true}
	mfaOnNoEmail = storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp"}, OtherEmail: true}
	mfaOnAny     = storage.MFAPolicy{Required: true, OtherEmail: true}
)

func TestBeginEnrolPolicy(t *testing.T) {
	tests := []struct {
		name    string
		policy  storage.MFAPolicy
		address string // "" is the account's own
		show    error  // nil: allowed
	}{
		{"MFA off, own address, email not chosen", mfaOff, "", emailcode.ErrOwnAddressRefused},
		{"MFA off, own address, email chosen", mfaOffEmail, "", nil},
		{"MFA off, another address", mfaOff, "alice@home.example", nil},
		{"MFA on, own address, email chosen", mfaOnEmail, "", nil},
		{"MFA on, own address typed, email chosen", mfaOnEmail, " Alice@Example.com ", nil},
		{"MFA on, another address, not allowed", mfaOnEmail, "alice@home.example", emailcode.ErrOtherAddressRefused},
		{"MFA on, another address, allowed", mfaOnOther, "alice@home.example", nil},
		{"MFA on, email not listed, another address", mfaOnNoEmail, "alice@home.example", emailcode.ErrOtherAddressRefused},
		{"MFA on, email not listed, own address", mfaOnNoEmail, "", emailcode.ErrOwnAddressRefused},
		{"MFA on, any method, own address", mfaOnAny, "", emailcode.ErrOwnAddressRefused},
		{"MFA on, any method, another address", mfaOnAny, "alice@home.example", emailcode.ErrOtherAddressRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice@example.com")
			l := e.login(u)
			l.t.Policy = tt.policy
			id, st, err := e.m.BeginEnrol(e.ctx, l.t, authflow.Input{emailcode.FieldAddress: tt.address})
			if tt.show != nil {
				refused(t, "BeginEnrol", u, err, emailcode.ReasonAddressRefused, tt.show)
				if fs, _ := e.st.ListFactors(e.ctx, u.ID, *e.now); len(fs) != 0 {
					t.Fatalf("a refused address was stored: %+v", fs)
				}
				return
			}
			if err != nil || id == "" || st != nil {
				t.Fatalf("BeginEnrol = %q, %q, %v", id, st, err)
			}
			f, err := e.st.GetFactor(e.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.ToLower(strings.TrimSpace(tt.address))
			if want == "" {
				want = u.Email
			}
			if f.UserID != u.ID || f.Kind != storage.FactorEmail || f.Address != want || f.Label == "" ||
				!f.ConfirmedAt.IsZero() || !f.CreatedAt.Equal(t0) || !f.ExpiresAt.Equal(t0.Add(emailcode.MaxTTL)) {
				t.Fatalf("stored %+v", f)
			}
			if e.mail.count() != 0 {
				t.Fatal("BeginEnrol sent a mail; EnrolView does")
			}
		})
	}
}

func TestBeginEnrolMalformedAddress(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	l := e.login(u)
	l.t.Policy = mfaOff
	long := strings.Repeat("a", 243) + "@example.com" // 255 bytes
	for _, a := range []string{"not an address", "Alice <alice@home.example>", "<alice@home.example>",
		"a@home.example, b@home.example", "alice@home.example (home)", "a@b@c.example", "alice@", "@home.example",
		"alice\x00@home.example", "ali\nce@home.example", "\xffalice@home.example", long} {
		_, _, err := e.m.BeginEnrol(e.ctx, l.t, authflow.Input{emailcode.FieldAddress: a})
		refused(t, "address "+a, u, err, emailcode.ReasonBadAddress, emailcode.ErrBadAddress)
	}
	if _, _, err := e.m.BeginEnrol(e.ctx, l.t, authflow.Input{emailcode.FieldAddress: long[1:]}); err != nil {
		t.Fatalf("a 254-byte address: %v", err)
	}
	// A user without an address of their own must type one.
	nobody := l.t
	nobody.User.Email = ""
	_, _, err := e.m.BeginEnrol(e.ctx, nobody, authflow.Input{})
	refused(t, "no address at all", u, err, emailcode.ReasonBadAddress, emailcode.ErrBadAddress)
}

// enrol begins an enrolment of addr in l and returns the pending factor.
func (e *env) enrol(l *login, addr string) storage.Factor {
	e.t.Helper()
	id, st, err := e.m.BeginEnrol(e.ctx, l.t, authflow.Input{emailcode.FieldAddress: addr})
	if err != nil {
		e.t.Fatalf("BeginEnrol: %v", err)
	}
	l.t.State = st
	f, err := e.st.GetFactor(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// enrolling is alice enrolling another address, allowed by the policy,
// in a login that was sent its first code.
func enrolling(t *testing.T) (*env, storage.User, *login, storage.Factor) {
	t.Helper()
	e := newEnv(t)
	u := e.user("alice@example.com")
	l := e.login(u)
	l.t.Policy = mfaOnOther
	f := e.enrol(l, "alice@home.example")
	if v := l.enrolView(f, false); !v.Sent {
		t.Fatalf("EnrolView: %+v", v)
	}
	return e, u, l, f
}

func (l *login) enrolView(f storage.Factor, resend bool) authflow.View {
	l.e.t.Helper()
	l.t.Resend = resend
	v, st, err := l.e.m.EnrolView(l.e.ctx, l.t, f)
	l.t.Resend = false
	if err != nil {
		l.e.t.Fatalf("EnrolView: %v", err)
	}
	l.t.State = st
	return v
}

func (l *login) confirm(f storage.Factor, code string) (authflow.Proof, error) {
	p, err := l.e.m.ConfirmEnrol(l.e.ctx, l.t, f, authflow.Input{emailcode.FieldCode: code})
	var fail *authflow.Failure
	if errors.As(err, &fail) && fail.State != nil {
		l.t.State = fail.State
	}
	return p, err
}

func TestConfirmEnrol(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	l := e.login(u)
	l.t.Policy = mfaOnOther
	f := e.enrol(l, "alice@home.example")
	if v := l.enrolView(f, false); !v.Sent || v.Address != "a•••e@home.example" {
		t.Fatalf("EnrolView: %+v", v)
	}
	if v := l.enrolView(f, false); v.Sent || e.mail.count() != 1 {
		t.Fatalf("a second EnrolView sent again: %+v, %d mails", v, e.mail.count())
	}
	if m := e.mail.last(t); m.to != "alice@home.example" {
		t.Fatalf("code sent to %s", m.to)
	}
	c := e.code()
	_, err := l.confirm(f, otherCode(c))
	refused(t, "a wrong code", u, err, emailcode.ReasonWrong, emailcode.ErrWrongCode)
	if got, _ := e.st.GetFactor(e.ctx, f.ID); !got.ConfirmedAt.IsZero() {
		t.Fatal("a wrong code confirmed the address")
	}
	e.advance(time.Minute)
	p, err := l.confirm(f, c)
	accepted(t, "the right code", u, p, err)
	got, err := e.st.GetFactor(e.ctx, f.ID)
	if err != nil || !got.ConfirmedAt.Equal(*e.now) || !got.ExpiresAt.IsZero() {
		t.Fatalf("after confirming: %+v, %v", got, err)
	}
	// A replay of the confirmation (the flow's copy of the pending row).
	_, err = l.confirm(f, c)
	refused(t, "confirming twice", u, err, emailcode.ReasonUsed, nil)
}

func TestEnrolmentExpires(t *testing.T) {
	e, u, l, f := enrolling(t)
	c := e.code()
	e.advance(emailcode.MaxTTL)
	_, err := l.confirm(f, c)
	refused(t, "after the enrolment's end", u, err, emailcode.ReasonEnrolExpired, emailcode.ErrEnrolExpired)
	if v := l.enrolView(f, true); v.Sent || !errors.Is(v.Notice, emailcode.ErrEnrolExpired) || e.mail.count() != 1 {
		t.Fatalf("EnrolView of an expired enrolment: %+v, %d mails", v, e.mail.count())
	}
	// Gone from storage while the flow still holds the pending row (a
	// purge, a reset): ConfirmFactor says so.
	g := e.enrol(l, "alice@other.example")
	l.enrolView(g, false)
	if err := e.st.DeleteFactor(e.ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	_, err = l.confirm(g, e.code())
	refused(t, "a deleted enrolment", u, err, emailcode.ReasonEnrolExpired, emailcode.ErrEnrolExpired)
}

func TestEnrolmentRechecksPolicy(t *testing.T) {
	e, u, l, f := enrolling(t)
	// The organization stops allowing other addresses meanwhile.
	l.t.Policy = mfaOnEmail
	_, err := l.confirm(f, e.code())
	refused(t, "an address the policy no longer allows", u, err, emailcode.ReasonAddressRefused, emailcode.ErrOtherAddressRefused)
	if v := l.enrolView(f, true); v.Sent || !errors.Is(v.Notice, emailcode.ErrOtherAddressRefused) {
		t.Fatalf("EnrolView: %+v", v)
	}
}

func TestEnrolmentCodeIsForItsFactor(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice@example.com")
	l := e.login(u)
	l.t.Policy = mfaOnOther
	home := e.enrol(l, "alice@home.example")
	l.enrolView(home, false)
	c, st := e.code(), l.t.State
	// The code sent to home does not confirm another pending address.
	work := e.enrol(l, "alice@work.example")
	l.t.State = st
	_, err := l.confirm(work, c)
	refused(t, "home's code for work", u, err, emailcode.ReasonUnknownFactor, emailcode.ErrExpired)
	// Another user's pending factor is the caller's bug, not a failure.
	bob := e.user("bob@example.com")
	_, err = e.m.ConfirmEnrol(e.ctx, e.login(bob).t, home, authflow.Input{emailcode.FieldCode: c})
	var fail *authflow.Failure
	if err == nil || errors.As(err, &fail) {
		t.Fatalf("bob confirming alice's enrolment: %v", err)
	}
}
