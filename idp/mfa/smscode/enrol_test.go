package smscode_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/smscode"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// countryOf is a fake idp/phone.Country: it knows +44 and +1 only.
func countryOf(e164 string) (string, bool) {
	switch {
	case strings.HasPrefix(e164, "+44"):
		return "GB", true
	case strings.HasPrefix(e164, "+1"):
		return "US", true
	}
	return "", false
}

func TestBeginEnrolNumber(t *testing.T) {
	tests := []struct {
		typed string
		want  string // "": refused
		show  error
	}{
		{"+447700900123", "+447700900123", nil},
		{" +44 7700 900-123 ", "+447700900123", nil},
		{"+1 (415) 555.0123", "+14155550123", nil},
		{"+12345678", "+12345678", nil},               // 8 digits
		{"+123456789012345", "+123456789012345", nil}, // 15 digits
		{"07700 900123", "", smscode.ErrNoCountryCode},
		{"00447700900123", "", smscode.ErrNoCountryCode},
		{"447700900123", "", smscode.ErrNoCountryCode},
		{"", "", smscode.ErrBadNumber},
		{"+", "", smscode.ErrBadNumber},
		{"+1234567", "", smscode.ErrBadNumber},          // 7 digits
		{"+1234567890123456", "", smscode.ErrBadNumber}, // 16 digits
		{"+0447700900123", "", smscode.ErrBadNumber},
		{"++447700900123", "", smscode.ErrBadNumber},
		{"+44 7700 9001 23 ext 4", "", smscode.ErrBadNumber},
		{"+４４7700900123", "", smscode.ErrBadNumber},
		{"+447700900123\x00", "", smscode.ErrBadNumber},
		{"+44\n7700900123", "", smscode.ErrBadNumber},
		{"\xff447700900123", "", smscode.ErrBadNumber},
		{"+44" + strings.Repeat(" ", 70) + "7700900123", "", smscode.ErrBadNumber},
	}
	for _, tt := range tests {
		name := tt.typed
		if name == "" {
			name = "empty" // "" would name the test "#00", which the store's path refuses
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice")
			id, st, err := e.m.BeginEnrol(e.ctx, e.login(u).t, authflow.Input{smscode.FieldPhone: tt.typed})
			if tt.want == "" {
				refused(t, "BeginEnrol", u, err, smscode.ReasonBadNumber, tt.show)
				if fs, _ := e.st.ListFactors(e.ctx, u.ID, *e.now); len(fs) != 0 {
					t.Fatalf("a malformed number was stored: %+v", fs)
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
			if f.UserID != u.ID || f.Kind != "sms" || f.Address != tt.want || f.Label != tt.want || !f.ConfirmedAt.IsZero() ||
				!f.CreatedAt.Equal(t0) || !f.ExpiresAt.Equal(t0.Add(smscode.MaxTTL)) {
				t.Fatalf("stored %+v", f)
			}
			if e.phone.count() != 0 {
				t.Fatal("BeginEnrol sent a text; EnrolView does")
			}
		})
	}
}

func TestBeginEnrolCountry(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
		country func(string) (string, bool)
		number  string
		ok      bool
	}{
		{"no list: any country", nil, nil, "+33612345678", true},
		{"listed", []string{"GB"}, countryOf, "+447700900123", true},
		{"listed in lower case", []string{"gb", "us"}, countryOf, "+14155550123", true},
		{"not listed", []string{"GB"}, countryOf, "+14155550123", false},
		{"a country Country cannot place", []string{"GB"}, countryOf, "+33612345678", false},
		{"a list without Country refuses all", []string{"GB"}, nil, "+447700900123", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.m.AllowedCountries, e.m.Country = tt.allowed, tt.country
			u := e.user("alice")
			_, _, err := e.m.BeginEnrol(e.ctx, e.login(u).t, authflow.Input{smscode.FieldPhone: tt.number})
			if tt.ok {
				if err != nil {
					t.Fatalf("BeginEnrol: %v", err)
				}
				return
			}
			fail := refused(t, "BeginEnrol", u, err, smscode.ReasonCountryRefused, smscode.ErrCountry)
			if !strings.HasPrefix(fail.Show.Error(), "Text messages cannot be sent to numbers in this country") {
				t.Fatalf("shows %q", fail.Show)
			}
			if fs, _ := e.st.ListFactors(e.ctx, u.ID, *e.now); len(fs) != 0 {
				t.Fatalf("a refused number was stored: %+v", fs)
			}
		})
	}
}

// TestChallengeCountry: a confirmed number in a country the list no
// longer holds gets no text: a notice, a log line, no state.
func TestChallengeCountry(t *testing.T) {
	e := newEnv(t)
	e.m.AllowedCountries, e.m.Country = []string{"GB"}, countryOf
	u := e.user("alice")
	l := e.login(u, e.factor(u, "+14155550123"))
	if v := l.show(false); v.Sent || !errors.Is(v.Notice, smscode.ErrCountry) || v.Address != "+•••23" || l.t.State != nil {
		t.Fatalf("a number outside the list: %+v, state %q", v, l.t.State)
	}
	if e.phone.count() != 0 || !strings.Contains(e.logs.String(), "country is not allowed") {
		t.Fatalf("%d texts; log:\n%s", e.phone.count(), e.logs)
	}
	// Not counted toward the caps: the refusal comes first.
	e.m.AllowedCountries = nil
	for range smscode.DefaultNumberSends {
		if v := l.show(true); !v.Sent {
			t.Fatalf("a refused country used up the cap: %+v", v)
		}
	}
}

// enrol begins an enrolment of number in l and returns the pending factor.
func (e *env) enrol(l *login, number string) storage.Factor {
	e.t.Helper()
	id, st, err := e.m.BeginEnrol(e.ctx, l.t, authflow.Input{smscode.FieldPhone: number})
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
	p, err := l.e.m.ConfirmEnrol(l.e.ctx, l.t, f, authflow.Input{smscode.FieldCode: code})
	var fail *authflow.Failure
	if errors.As(err, &fail) && fail.State != nil {
		l.t.State = fail.State
	}
	return p, err
}

func TestConfirmEnrol(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice")
	l := e.login(u)
	f := e.enrol(l, "+44 7700 900123")
	if v := l.enrolView(f, false); !v.Sent || v.Address != "+•••23" {
		t.Fatalf("EnrolView: %+v", v)
	}
	if v := l.enrolView(f, false); v.Sent || e.phone.count() != 1 {
		t.Fatalf("a second EnrolView sent again: %+v, %d texts", v, e.phone.count())
	}
	c := e.code()
	m := e.phone.last(t)
	if want := "Your Acme Corp code to add this phone number is " + c +
		". It expires in 10 minutes. Do not share it.\n\n@id.acme.example #" + c; m.to != aliceNumber || m.body != want {
		t.Fatalf("sent %+v\nwant to %s: %q", m, aliceNumber, want)
	}
	_, err := l.confirm(f, otherCode(c))
	refused(t, "a wrong code", u, err, smscode.ReasonWrong, smscode.ErrWrongCode)
	if got, _ := e.st.GetFactor(e.ctx, f.ID); !got.ConfirmedAt.IsZero() {
		t.Fatal("a wrong code confirmed the number")
	}
	e.advance(time.Minute)
	p, err := l.confirm(f, c)
	accepted(t, "the right code", u, p, err)
	got, err := e.st.GetFactor(e.ctx, f.ID)
	if err != nil || !got.ConfirmedAt.Equal(*e.now) || !got.ExpiresAt.IsZero() {
		t.Fatalf("after confirming: %+v, %v", got, err)
	}
	_, err = l.confirm(f, c)
	refused(t, "confirming twice", u, err, smscode.ReasonUsed, nil)
}

func TestEnrolmentExpires(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice")
	l := e.login(u)
	f := e.enrol(l, aliceNumber)
	l.enrolView(f, false)
	c := e.code()
	e.advance(smscode.MaxTTL)
	_, err := l.confirm(f, c)
	refused(t, "after the enrolment's end", u, err, smscode.ReasonEnrolExpired, smscode.ErrEnrolExpired)
	if v := l.enrolView(f, true); v.Sent || !errors.Is(v.Notice, smscode.ErrEnrolExpired) || e.phone.count() != 1 {
		t.Fatalf("EnrolView of an expired enrolment: %+v, %d texts", v, e.phone.count())
	}
	g := e.enrol(l, "+14155550123")
	l.enrolView(g, false)
	if err := e.st.DeleteFactor(e.ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	_, err = l.confirm(g, e.code())
	refused(t, "a deleted enrolment", u, err, smscode.ReasonEnrolExpired, smscode.ErrEnrolExpired)
}

// TestEnrolmentRechecksCountry: the operator drops a country while a
// number of it is pending: no code is sent, and none confirms it.
func TestEnrolmentRechecksCountry(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice")
	l := e.login(u)
	f := e.enrol(l, "+14155550123")
	l.enrolView(f, false)
	c := e.code()
	e.m.AllowedCountries, e.m.Country = []string{"GB"}, countryOf
	_, err := l.confirm(f, c)
	refused(t, "a number the list no longer allows", u, err, smscode.ReasonCountryRefused, smscode.ErrCountry)
	if v := l.enrolView(f, true); v.Sent || !errors.Is(v.Notice, smscode.ErrCountry) || e.phone.count() != 1 {
		t.Fatalf("EnrolView: %+v, %d texts", v, e.phone.count())
	}
}

func TestEnrolmentCodeIsForItsFactor(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice")
	l := e.login(u)
	home := e.enrol(l, aliceNumber)
	l.enrolView(home, false)
	c, st := e.code(), l.t.State
	work := e.enrol(l, "+14155550123")
	l.t.State = st
	_, err := l.confirm(work, c)
	refused(t, "home's code for work", u, err, smscode.ReasonUnknownFactor, smscode.ErrExpired)
	bob := e.user("bob")
	_, err = e.m.ConfirmEnrol(e.ctx, e.login(bob).t, home, authflow.Input{smscode.FieldCode: c})
	var fail *authflow.Failure
	if err == nil || errors.As(err, &fail) {
		t.Fatalf("bob confirming alice's enrolment: %v", err)
	}
}

// TestEnrolSendFailure: the first code of an enrolment cannot go out.
func TestEnrolSendFailure(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice")
	l := e.login(u)
	f := e.enrol(l, aliceNumber)
	e.phone.fail = errors.New("gateway: rejected")
	_, st, err := e.m.EnrolView(e.ctx, l.t, f)
	if !errors.Is(err, authflow.ErrNotSent) || !errors.Is(err, smscode.ErrSendFailed) || st != nil {
		t.Fatalf("EnrolView with the gateway down: %q, %v", st, err)
	}
}
