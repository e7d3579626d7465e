package smscode_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/mfa/smscode"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// TestNumberCap: a number gets DefaultNumberSends texts an hour, from any
// login; the last code sent still works; the window slides.
func TestNumberCap(t *testing.T) {
	e, u, f, l := sentCode(t)
	for range smscode.DefaultNumberSends - 1 {
		if v := l.show(true); !v.Sent {
			t.Fatalf("resend within the cap: %+v", v)
		}
	}
	before, c := l.t.State, e.code()
	v := l.show(true)
	if v.Sent || !errors.Is(v.Notice, smscode.ErrTooManySends) || v.Address == "" {
		t.Fatalf("resend over the cap: %+v", v)
	}
	if e.phone.count() != smscode.DefaultNumberSends || !bytes.Equal(l.t.State, before) {
		t.Fatalf("%d texts; state kept %v", e.phone.count(), bytes.Equal(l.t.State, before))
	}
	if !strings.Contains(e.logs.String(), "send cap reached") || !strings.Contains(e.logs.String(), "cap=number") {
		t.Fatalf("no log line for the refused send:\n%s", e.logs)
	}
	// Another account with the same number is no way around it.
	bob := e.user("bob")
	if v := e.login(bob, e.factor(bob, aliceNumber)).show(false); v.Sent {
		t.Fatalf("the same number in another account: %+v", v)
	}
	p, err := l.submit(c)
	accepted(t, "the last code sent", u, p, err)
	e.advance(2 * time.Hour)
	if v := e.login(u, f).show(false); !v.Sent {
		t.Fatalf("after the window: %+v", v)
	}
}

// TestAccountCap: an account's texts are capped across its numbers.
func TestAccountCap(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice")
	var fs []storage.Factor
	for i := range 3 {
		fs = append(fs, e.factor(u, fmt.Sprintf("+4477009001%02d", i)))
	}
	sends := 0
	for _, f := range fs[:2] {
		for range smscode.DefaultNumberSends {
			if v := e.login(u, f).show(false); v.Sent {
				sends++
			}
		}
	}
	if sends != smscode.DefaultAccountSends {
		t.Fatalf("%d sends to two numbers; want %d", sends, smscode.DefaultAccountSends)
	}
	if v := e.login(u, fs[2]).show(false); v.Sent || !errors.Is(v.Notice, smscode.ErrTooManySends) {
		t.Fatalf("a third number over the account's cap: %+v", v)
	}
	if !strings.Contains(e.logs.String(), "cap=account") {
		t.Fatalf("no log line names the account cap:\n%s", e.logs)
	}
	bob := e.user("bob")
	if v := e.login(bob, e.factor(bob, "+14155550123")).show(false); !v.Sent {
		t.Fatalf("another account: %+v", v)
	}
}

// TestNetworkCap: one client network cycling through accounts is capped;
// another network is not.
func TestNetworkCap(t *testing.T) {
	e := newEnv(t)
	clock := func() time.Time { return *e.now }
	e.m.Sends = smscode.SendLimits{PerNetwork: 3, Window: time.Minute}.Windows(e.st, clock)
	ip := "2001:db8::1"
	e.m.ClientIP = func(context.Context) string { return ip }
	sent := 0
	for i := range 4 {
		u := e.user(fmt.Sprintf("u%d", i))
		ip = fmt.Sprintf("2001:db8::%d", i+1) // one /64
		if v := e.login(u, e.factor(u, fmt.Sprintf("+4477009001%02d", i))).show(false); v.Sent {
			sent++
		}
	}
	if sent != 3 || !strings.Contains(e.logs.String(), "cap=network") {
		t.Fatalf("%d sends from one network; want 3, refused by the network cap:\n%s", sent, e.logs)
	}
	ip = "198.51.100.9"
	u := e.user("z")
	if v := e.login(u, e.factor(u, "+4477009001999")).show(false); !v.Sent {
		t.Fatalf("another network: %+v", v)
	}
}

// TestOrgCap: one organization's page cannot text without end, whatever
// the accounts and numbers; another organization is not affected.
func TestOrgCap(t *testing.T) {
	e := newEnv(t)
	clock := func() time.Time { return *e.now }
	e.m.Sends = smscode.SendLimits{PerOrg: 4}.Windows(e.st, clock)
	sent := 0
	for i := range 5 {
		u := e.user(fmt.Sprintf("u%d", i))
		if v := e.login(u, e.factor(u, fmt.Sprintf("+4477009001%02d", i))).show(false); v.Sent {
			sent++
		} else if !errors.Is(v.Notice, smscode.ErrTooManySends) {
			t.Fatalf("refused with %v", v.Notice)
		}
	}
	if sent != 4 || !strings.Contains(e.logs.String(), "cap=org") {
		t.Fatalf("%d sends in one organization; want 4, refused by the org cap:\n%s", sent, e.logs)
	}
	other := storage.Organization{ID: "org-2", Name: "other", DisplayName: "Other", CreatedAt: t0, UpdatedAt: t0}
	if err := e.st.CreateOrganization(e.ctx, other); err != nil {
		t.Fatal(err)
	}
	u := e.user("x")
	u.OrgID = other.ID
	if v := e.login(u, e.factor(u, "+14155550123")).show(false); !v.Sent {
		t.Fatalf("another organization: %+v", v)
	}
}

// TestCapsFailClosed: a missing cap, or a cap's outage, sends nothing.
func TestCapsFailClosed(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice")
	f := e.factor(u, aliceNumber)
	full := e.m.Sends
	for name, s := range map[string]smscode.Sends{
		"none":       {},
		"no number":  {Account: full.Account, Network: full.Network, Org: full.Org},
		"no account": {Number: full.Number, Network: full.Network, Org: full.Org},
		"no network": {Number: full.Number, Account: full.Account, Org: full.Org},
		"no org":     {Number: full.Number, Account: full.Account, Network: full.Network},
	} {
		e.m.Sends = s
		if _, _, err := e.m.Challenge(e.ctx, e.login(u, f).t); err == nil {
			t.Errorf("%s: Challenge succeeded", name)
		}
	}
	down := errors.New("attempts table is down")
	e.m.Sends = full
	e.m.Sends.Org = failing{down}
	if _, _, err := e.m.Challenge(e.ctx, e.login(u, f).t); !errors.Is(err, down) {
		t.Errorf("a cap's outage: %v", err)
	}
	if e.phone.count() != 0 {
		t.Fatalf("%d texts sent without caps", e.phone.count())
	}
}

type failing struct{ err error }

func (f failing) Allow(context.Context, string) (bool, error) { return false, f.err }
