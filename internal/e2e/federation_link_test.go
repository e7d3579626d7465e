package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

// The linking matrix (issue 12, SECURITY-TESTS "Linking"), each case
// through the real upstream: an automatic link only for a verified email
// from a connector trusted for email and a verified local email; a proof
// of the local account otherwise; links keyed by (connector, subject),
// never moved by an email change; provisioning only with JIT.

// isPage reports whether p is the page named name (data-page).
func isPage(p page, name string) bool { return strings.Contains(p.body, `data-page="`+name+`"`) }

// prove submits the local account's password on the link page p.
func (f *fed) prove(b *browser, p page, pw string) page {
	f.t.Helper()
	if !isPage(p, "link") {
		f.t.Fatalf("expected the link page, got %d\n%s", p.resp.StatusCode, p.body)
	}
	form := p.hidden()
	form.Del("action") // the "Start over" form's
	if form.Get("method") == "" {
		f.t.Fatalf("the link page offers no password form\n%s", p.body)
	}
	form.Set("password", pw)
	return b.post(f.issuer+"/login", form)
}

// subject is the ID token's sub after exchanging l's code.
func (f *fed) subject(l loginResult) (string, map[string]any) {
	f.t.Helper()
	tok := f.mustExchange("app", f.secret, l)
	c := jwtClaims(f.t, jsonStr(tok, "id_token"))
	s, _ := c["sub"].(string)
	return s, c
}

func TestFederationLinking(t *testing.T) {
	ann := "ann@" + acmeDomain
	for _, tc := range []struct {
		name  string
		opts  connectorOpts
		local func(f *fed) *storage.User // the local account with the same email, nil for none
		up    func(p *upstreamtest.Person)
		want  string // where the callback leads: "rp" (signed in), "link", "no_account"
	}{
		{name: "verified and trusted links at once", opts: connectorOpts{trustEmail: true},
			local: func(f *fed) *storage.User { u := f.localUser(ann, alicePW, true); return &u }, want: "rp"},
		{name: "unverified upstream email needs a proof", opts: connectorOpts{trustEmail: true},
			local: func(f *fed) *storage.User { u := f.localUser(ann, alicePW, true); return &u },
			up:    func(p *upstreamtest.Person) { p.EmailVerified = false }, want: "link"},
		{name: "untrusted connector needs a proof", opts: connectorOpts{},
			local: func(f *fed) *storage.User { u := f.localUser(ann, alicePW, true); return &u }, want: "link"},
		{name: "unverified local email needs a proof", opts: connectorOpts{trustEmail: true},
			local: func(f *fed) *storage.User { u := f.localUser(ann, alicePW, false); return &u }, want: "link"},
		{name: "no account, no JIT", opts: connectorOpts{trustEmail: true}, want: "no_account"},
		{name: "no account, JIT creates one", opts: connectorOpts{trustEmail: true, jit: true}, want: "rp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachFed(t, tc.opts, func(t *testing.T, f *fed) {
				var local *storage.User
				if tc.local != nil {
					local = tc.local(f)
				}
				f.person("up-ann", ann, true, tc.up)
				b := f.browser()
				target, l := f.toUpstream(b, ann, nil)
				p := f.signInUpstream(b, target, "up-ann")
				switch tc.want {
				case "rp":
					l.q = p.callback(t)
					sub, c := f.subject(l)
					if local != nil && sub != local.ID {
						t.Fatalf("signed in as %s; want the local account %s", sub, local.ID)
					}
					u, err := f.inst.Store.GetUser(f.ctx, sub)
					if err != nil || u.OrgID != f.org.ID || u.Email != ann {
						t.Fatalf("the user %+v (%v); want one of acme with %s", u, err, ann)
					}
					if local == nil && u.PasswordHash != "" {
						t.Fatal("a provisioned account has a password")
					}
					if !slices.Equal(claimList(c["amr"]), []string{"fed"}) {
						t.Fatalf("amr %v", c["amr"])
					}
					if l, ok := f.link("up-ann"); !ok || l.UserID != sub {
						t.Fatalf("link %+v %v; want one to %s", l, ok, sub)
					}
				case "link":
					if !isPage(p, "link") || !strings.Contains(p.body, ann) {
						t.Fatalf("expected the link page for %s, got %d\n%s", ann, p.resp.StatusCode, p.body)
					}
					if _, ok := f.link("up-ann"); ok {
						t.Fatal("linked before the local account was proved")
					}
					// A wrong password links nothing and asks again.
					again := f.prove(b, p, "not the password")
					if !isPage(again, "link") || again.resp.StatusCode != http.StatusUnauthorized {
						t.Fatalf("wrong password: %d\n%s", again.resp.StatusCode, again.body[:min(len(again.body), 3000)])
					}
					if _, ok := f.link("up-ann"); ok {
						t.Fatal("linked after a wrong password")
					}
					l.q = f.prove(b, again, alicePW).callback(t)
					sub, c := f.subject(l)
					if sub != local.ID {
						t.Fatalf("signed in as %s; want %s", sub, local.ID)
					}
					if amr := claimList(c["amr"]); !slices.Contains(amr, "fed") || !slices.Contains(amr, "pwd") {
						t.Fatalf("amr %v; want fed and pwd", amr)
					}
					if l, ok := f.link("up-ann"); !ok || l.UserID != local.ID {
						t.Fatalf("link %+v %v after the proof", l, ok)
					}
					// The next login uses the link: no proof again.
					b2 := f.browser()
					l2 := f.federatedLogin(b2, ann, "up-ann")
					if sub2, _ := f.subject(l2); sub2 != local.ID {
						t.Fatalf("second login as %s", sub2)
					}
				case "no_account":
					if p.resp.StatusCode != http.StatusForbidden || !strings.Contains(p.body, "does not match an account here") ||
						!strings.Contains(p.body, ann) {
						t.Fatalf("expected the no-account page, got %d\n%s", p.resp.StatusCode, p.body)
					}
					if _, err := f.inst.Store.GetUserByEmail(f.ctx, ann); err == nil {
						t.Fatal("an account was created without JIT")
					}
				}
			})
		})
	}
}

// TestFederationLinkIsBySubject: a link names (connector, subject); an
// upstream that changes the person's email never moves it, not even onto
// an account with the new email.
func TestFederationLinkIsBySubject(t *testing.T) {
	eachFed(t, connectorOpts{trustEmail: true}, func(t *testing.T, f *fed) {
		ann := f.localUser("ann@"+acmeDomain, alicePW, true)
		bob := f.localUser("bob@"+acmeDomain, alicePW, true)
		f.person("up-1", ann.Email, true, nil)
		if sub, _ := f.subject(f.federatedLogin(f.browser(), ann.Email, "up-1")); sub != ann.ID {
			t.Fatalf("first login as %s", sub)
		}
		// Upstream, the person's email becomes bob's.
		f.person("up-1", bob.Email, true, nil)
		if sub, _ := f.subject(f.federatedLogin(f.browser(), bob.Email, "up-1")); sub != ann.ID {
			t.Fatalf("after the email change the login is %s; the link names %s", sub, ann.ID)
		}
		if l, _ := f.link("up-1"); l.UserID != ann.ID || l.Email != bob.Email {
			t.Fatalf("link %+v: want ann's, with the new email recorded", l)
		}
		// And to an address with no account: still ann.
		f.person("up-1", "someone-else@"+acmeDomain, true, nil)
		if sub, _ := f.subject(f.federatedLogin(f.browser(), "x@"+acmeDomain, "up-1")); sub != ann.ID {
			t.Fatalf("after a second email change the login is %s", sub)
		}
	})
}

// TestFederationInvited: no dead ends for invited users.
func TestFederationInvited(t *testing.T) {
	t.Run("never set a password, trusted connector: activated", func(t *testing.T) {
		eachFed(t, connectorOpts{trustEmail: true}, func(t *testing.T, f *fed) {
			now := f.clock.Now()
			inv := storage.User{ID: storage.NewID(), OrgID: f.org.ID, Email: "new@" + acmeDomain, Name: "New",
				State: storage.UserInvited, CreatedAt: now, UpdatedAt: now}
			if err := f.inst.Store.CreateUser(f.ctx, inv); err != nil {
				t.Fatal(err)
			}
			f.person("up-new", inv.Email, true, nil)
			if sub, _ := f.subject(f.federatedLogin(f.browser(), inv.Email, "up-new")); sub != inv.ID {
				t.Fatalf("signed in as %s; want the invited account", sub)
			}
			if u := f.storedUser(inv.ID); u.State != storage.UserActive || !u.EmailVerified {
				t.Fatalf("invited account after SSO: state %s verified %v", u.State, u.EmailVerified)
			}
		})
	})
	t.Run("set a password that has since expired: signed in by SSO", func(t *testing.T) {
		eachFed(t, connectorOpts{trustEmail: true}, func(t *testing.T, f *fed) {
			// What accepting an invitation leaves: active, verified, a
			// password; the organization's passwords expire after a day.
			u := f.localUser("inv@"+acmeDomain, alicePW, true)
			day := 24 * time.Hour
			if _, err := f.inst.Admin.SetPasswordPolicy(f.ctx, "test", "acme", admin.PasswordPolicyChange{MaxAge: &day}); err != nil {
				t.Fatal(err)
			}
			// The password was set three days ago. (The clock is not moved:
			// the upstream's tokens carry its own, real time.)
			if _, err := f.inst.Store.UpdateUser(f.ctx, u.ID, func(u storage.User) (storage.User, error) {
				u.PasswordChangedAt = f.clock.Now().Add(-3 * day)
				return u, nil
			}); err != nil {
				t.Fatal(err)
			}
			// Its password login meets the expiry.
			if p := f.browser().login(f.browser().get(f.authURL("app", nil)), u.Email, alicePW); !strings.Contains(p.body, "new password") && !strings.Contains(p.body, "expired") {
				t.Fatalf("the password login did not meet the expiry:\n%s", p.body)
			}
			f.person("up-inv", u.Email, true, nil)
			b := f.browser()
			target, l := f.toUpstream(b, u.Email, nil)
			p := f.signInUpstream(b, target, "up-inv")
			if strings.Contains(p.body, "password") && !strings.Contains(p.resp.Header.Get("Location"), rpHost) {
				t.Fatalf("an SSO login met the expired password:\n%s", p.body)
			}
			l.q = p.callback(t)
			if sub, _ := f.subject(l); sub != u.ID {
				t.Fatalf("signed in as %s", sub)
			}
		})
	})
}

// TestFederationLinkByEmailCode: the other proof of the local account is a
// code sent to its own address, over SMTP. It works for an account without
// a password (an invited one is activated by it), a wrong code links
// nothing, and the code is bound to the login that asked for it.
func TestFederationLinkByEmailCode(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			m := newMailHarness(t, backend, nil)
			f := newFedOn(t, m.harness, connectorOpts{}) // not trusted for email: every first login proves
			now := f.clock.Now()
			inv := storage.User{ID: storage.NewID(), OrgID: f.org.ID, Email: "ivy@" + acmeDomain, Name: "Ivy",
				State: storage.UserInvited, CreatedAt: now, UpdatedAt: now}
			if err := f.inst.Store.CreateUser(f.ctx, inv); err != nil {
				t.Fatal(err)
			}
			f.person("up-ivy", inv.Email, true, nil)
			b := f.browser()
			target, l := f.toUpstream(b, inv.Email, nil)
			p := f.signInUpstream(b, target, "up-ivy")
			if !isPage(p, "link") || strings.Contains(p.body, `name="password"`) || !strings.Contains(p.body, `id="send-code"`) {
				t.Fatalf("expected the link page with only the emailed code, got %d\n%s", p.resp.StatusCode, p.body)
			}
			send := p.hidden()
			send.Del("method")
			send.Set("action", "send_code")
			p = b.post(f.issuer+"/login", send)
			if !strings.Contains(p.body, `name="code"`) {
				t.Fatalf("no code form after sending:\n%s", p.body)
			}
			code := m.mailedCode(t, inv.Email)
			form := p.hidden()
			form.Del("action")
			form.Set("method", "link_code")
			form.Set("code", wrongCode(code))
			p = b.post(f.issuer+"/login", form)
			if !isPage(p, "link") || p.resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("wrong code: %d\n%s", p.resp.StatusCode, p.body)
			}
			if _, ok := f.link("up-ivy"); ok {
				t.Fatal("linked after a wrong code")
			}
			form = p.hidden()
			form.Del("action")
			form.Set("method", "link_code")
			form.Set("code", code)
			l.q = b.post(f.issuer+"/login", form).callback(t)
			if sub, _ := f.subject(l); sub != inv.ID {
				t.Fatalf("signed in as %s", sub)
			}
			if u := f.storedUser(inv.ID); u.State != storage.UserActive || !u.EmailVerified {
				t.Fatalf("after the code: state %s verified %v", u.State, u.EmailVerified)
			}
			if l, ok := f.link("up-ivy"); !ok || l.UserID != inv.ID {
				t.Fatalf("link %+v %v", l, ok)
			}
		})
	}
}

// TestMeLinks: /me/links lists the company sign-ins of the account and
// disconnects one (audited; its refresh tokens stop), but not the last
// way to sign in of an account without a password.
func TestMeLinks(t *testing.T) {
	eachFed(t, connectorOpts{trustEmail: true, jit: true}, func(t *testing.T, f *fed) {
		ann := f.localUser("ann@"+acmeDomain, alicePW, true)
		f.person("up-ann", ann.Email, true, nil)
		b := f.browser()
		tok := f.mustExchange("app", f.secret, f.federatedLogin(b, ann.Email, "up-ann"))
		p := b.get(f.issuer + "/me/links")
		if p.resp.StatusCode != http.StatusOK || !strings.Contains(p.body, "Acme SSO") || !strings.Contains(p.body, `data-remove-link="acme-sso"`) {
			t.Fatalf("/me/links: %d\n%s", p.resp.StatusCode, p.body)
		}
		form := p.hidden()
		done := b.post(f.issuer+"/me/links/remove", form)
		if done.resp.StatusCode != http.StatusOK || !strings.Contains(done.body, "was disconnected") {
			t.Fatalf("disconnect: %d\n%s", done.resp.StatusCode, done.body)
		}
		if _, ok := f.link("up-ann"); ok {
			t.Fatal("the link is still there")
		}
		ev, err := f.inst.Store.ListAuditEvents(f.ctx, storage.AuditQuery{UserID: ann.ID, Type: "link.removed"})
		if err != nil || len(ev) != 1 {
			t.Fatalf("link.removed events %v %v", ev, err)
		}
		status, body := f.refresh("app", f.secret, jsonStr(tok, "refresh_token"), "")
		wantOAuthError(t, "refresh after disconnecting", status, body, http.StatusBadRequest, "invalid_grant")

		// An account made by the first SSO login has no password: its only
		// link stays.
		f.person("up-new", "new@"+acmeDomain, true, nil)
		b2 := f.browser()
		f.subject(f.federatedLogin(b2, "new@"+acmeDomain, "up-new"))
		p = b2.get(f.issuer + "/me/links")
		refused := b2.post(f.issuer+"/me/links/remove", p.hidden())
		if refused.resp.StatusCode != http.StatusConflict || !strings.Contains(refused.body, "is how you sign in") {
			t.Fatalf("disconnecting the only sign-in: %d\n%s", refused.resp.StatusCode, refused.body)
		}
		if _, ok := f.link("up-new"); !ok {
			t.Fatal("the only link was removed")
		}
	})
}
