package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

// SECURITY-TESTS "Federation" at the level of the whole server: the
// callback belongs to one login in one browser, once; a disabled
// connector neither starts nor finishes logins and its tokens stop; the
// organization's MFA policy still applies unless it trusts what the
// upstream reports. (The protocol checks, state, nonce, iss, aud, alg
// none, expiry, are federation/oidc's tests against the same upstream.)

// callbackFor runs b's login up to the upstream's answer and returns it
// unused: the URL of Gatehouse's callback.
func (f *fed) callbackFor(b *browser, email, username string) (*url.URL, loginResult) {
	f.t.Helper()
	target, l := f.toUpstream(b, email, nil)
	cb, err := f.up.SignIn(f.ctx, b.client, target, username, upstreamPW)
	if err != nil {
		f.t.Fatal(err)
	}
	return cb, l
}

func (f *fed) setConnector(mod func(*storage.Connector)) {
	f.t.Helper()
	if _, err := f.inst.Store.UpdateConnector(f.ctx, f.connector, func(c storage.Connector) (storage.Connector, error) {
		mod(&c)
		c.UpdatedAt = f.clock.Now()
		return c, nil
	}); err != nil {
		f.t.Fatal(err)
	}
}

func wantRefused(t *testing.T, what string, p page) {
	t.Helper()
	if p.resp.StatusCode == http.StatusFound && strings.Contains(p.resp.Header.Get("Location"), rpHost) {
		t.Fatalf("%s: the login went through to the relying party", what)
	}
	if p.resp.StatusCode >= 500 {
		t.Fatalf("%s: %d", what, p.resp.StatusCode)
	}
}

func TestFederationCallbackSecurity(t *testing.T) {
	eachFed(t, connectorOpts{trustEmail: true}, func(t *testing.T, f *fed) {
		f.localUser("ann@"+acmeDomain, alicePW, true)
		f.person("up-ann", "ann@"+acmeDomain, true, nil)

		t.Run("the relay (state) altered", func(t *testing.T) {
			b := f.browser()
			cb, _ := f.callbackFor(b, "ann@"+acmeDomain, "up-ann")
			q := cb.Query()
			q.Set("state", q.Get("state")+"x")
			bad := *cb
			bad.RawQuery = q.Encode()
			p := b.get(bad.String())
			wantRefused(t, "altered state", p)
			if p.resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("altered state: %d", p.resp.StatusCode)
			}
			// The real callback still works: a forged one spends nothing.
			if l := b.get(cb.String()); l.resp.StatusCode != http.StatusFound || !strings.Contains(l.resp.Header.Get("Location"), rpHost) {
				t.Fatalf("the real callback after a forged one: %d", l.resp.StatusCode)
			}
		})
		t.Run("replayed callback", func(t *testing.T) {
			b := f.browser()
			cb, _ := f.callbackFor(b, "ann@"+acmeDomain, "up-ann")
			if p := b.get(cb.String()); p.resp.StatusCode != http.StatusFound {
				t.Fatalf("first callback: %d\n%s", p.resp.StatusCode, p.body)
			}
			p := b.get(cb.String())
			wantRefused(t, "replay", p)
			if p.resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("replayed callback: %d", p.resp.StatusCode)
			}
		})
		t.Run("callback in another browser (login CSRF)", func(t *testing.T) {
			attacker := f.browser()
			cb, _ := f.callbackFor(attacker, "ann@"+acmeDomain, "up-ann")
			victim := f.browser()
			p := victim.get(cb.String())
			wantRefused(t, "another browser", p)
			if p.resp.StatusCode != http.StatusBadRequest || victim.cookie(f.sessionCookie()) != "" {
				t.Fatalf("another browser: %d, session %q", p.resp.StatusCode, victim.cookie(f.sessionCookie()))
			}
		})
		t.Run("callback of another connector's path", func(t *testing.T) {
			b := f.browser()
			cb, _ := f.callbackFor(b, "ann@"+acmeDomain, "up-ann")
			other := *cb
			other.Path = strings.Replace(other.Path, "/"+f.connector+"/", "/other/", 1)
			wantRefused(t, "other connector", b.get(other.String()))
		})
		t.Run("upstream says access_denied", func(t *testing.T) {
			b := f.browser()
			cb, _ := f.callbackFor(b, "ann@"+acmeDomain, "up-ann")
			q := url.Values{"error": {"access_denied"}, "state": {cb.Query().Get("state")}}
			denied := *cb
			denied.RawQuery = q.Encode()
			p := b.get(denied.String())
			wantRefused(t, "access_denied", p)
			if !strings.Contains(p.body, "Your company sign-in did not complete") {
				t.Fatalf("access_denied: %d\n%s", p.resp.StatusCode, p.body)
			}
		})
		t.Run("disabled connector: its callbacks and discovery", func(t *testing.T) {
			b := f.browser()
			cb, _ := f.callbackFor(b, "ann@"+acmeDomain, "up-ann")
			f.setConnector(func(c *storage.Connector) { c.Enabled = false })
			defer f.setConnector(func(c *storage.Connector) { c.Enabled = true })
			p := b.get(cb.String())
			wantRefused(t, "disabled connector", p)
			// An email of its domain no longer goes upstream.
			b2 := f.browser()
			q, _ := withPKCE(nil)
			form := b2.get(f.authURL("app", q)).hidden()
			form.Set("email", "ann@"+acmeDomain)
			form.Set("password", "")
			if p := b2.post(f.issuer+"/login", form); strings.Contains(p.body, `id="continue"`) {
				t.Fatal("a disabled connector still receives logins")
			}
		})
	})
}

// TestFederationTokensFollowTheLink: a federated login's refresh token
// stops working when its link is removed, or its connector disabled or
// deleted; and its session no longer signs in silently.
func TestFederationTokensFollowTheLink(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(f *fed)
	}{
		{"connector disabled", func(f *fed) { f.setConnector(func(c *storage.Connector) { c.Enabled = false }) }},
		{"connector deleted", func(f *fed) {
			if err := f.inst.Store.DeleteConnector(f.ctx, f.connector); err != nil {
				f.t.Fatal(err)
			}
		}},
		{"link removed", func(f *fed) {
			if err := f.inst.Store.DeleteLink(f.ctx, f.connector, "up-ann"); err != nil {
				f.t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachFed(t, connectorOpts{trustEmail: true}, func(t *testing.T, f *fed) {
				f.localUser("ann@"+acmeDomain, alicePW, true)
				f.person("up-ann", "ann@"+acmeDomain, true, nil)
				b := f.browser()
				tok := f.mustExchange("app", f.secret, f.federatedLogin(b, "ann@"+acmeDomain, "up-ann"))
				rt := jsonStr(tok, "refresh_token")
				if rt == "" {
					t.Fatal("no refresh token")
				}
				status, body := f.refresh("app", f.secret, rt, "")
				if status != http.StatusOK {
					t.Fatalf("refresh while the link holds: %d %v", status, body)
				}
				rt = jsonStr(body, "refresh_token")
				if !f.loggedIn(b, "app") {
					t.Fatal("the session does not sign in silently while the link holds")
				}
				tc.end(f)
				status, body = f.refresh("app", f.secret, rt, "")
				wantOAuthError(t, "refresh after "+tc.name, status, body, http.StatusBadRequest, "invalid_grant")
				if f.loggedIn(b, "app") {
					t.Fatalf("the session still signs in silently after %s", tc.name)
				}
			})
		})
	}
}

// TestFederationMFA: the organization's MFA policy applies to federated
// logins unless it trusts the connector's MFA and the upstream reported
// one; tokens say which happened.
func TestFederationMFA(t *testing.T) {
	for _, tc := range []struct {
		name      string
		trustMFA  bool
		upMFA     bool
		wantLocal bool // Gatehouse asks for its own second factor
	}{
		{"untrusted upstream MFA: ours", false, true, true},
		{"trusted, but the upstream did none: ours", true, false, true},
		{"trusted and done upstream: counted", true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachFed(t, connectorOpts{trustEmail: true, trustMFA: tc.trustMFA}, func(t *testing.T, f *fed) {
				if _, err := f.inst.Admin.SetMFAPolicy(f.ctx, "test", "acme", admin.MFAPolicyInput{Required: true, Methods: []string{"totp"}}); err != nil {
					t.Fatal(err)
				}
				f.localUser("ann@"+acmeDomain, alicePW, true)
				f.person("up-ann", "ann@"+acmeDomain, true, func(p *upstreamtest.Person) { p.MFA = tc.upMFA })
				b := f.browser()
				target, l := f.toUpstream(b, "ann@"+acmeDomain, nil)
				p := f.signInUpstream(b, target, "up-ann")
				if tc.wantLocal {
					if p.resp.StatusCode == http.StatusFound || !strings.Contains(p.body, "totp") {
						t.Fatalf("expected Gatehouse's own second factor (TOTP enrolment), got %d %s\n%s", p.resp.StatusCode, p.resp.Header.Get("Location"), p.body)
					}
					return
				}
				l.q = p.callback(t)
				_, c := f.subject(l)
				if amr := claimList(c["amr"]); !slices.Equal(amr, []string{"fed", "mfa"}) || c["acr"] != "urn:gatehouse:acr:mfa" {
					t.Fatalf("amr %v acr %v; want [fed mfa] and the MFA acr", amr, c["acr"])
				}
			})
		})
	}
}

// TestFederationSSORequired: a domain that must use SSO gets no password
// login (and its password is never checked), with a clear message; an
// email alone still goes upstream.
func TestFederationSSORequired(t *testing.T) {
	eachFed(t, connectorOpts{trustEmail: true, requireSSO: true}, func(t *testing.T, f *fed) {
		f.localUser("ann@"+acmeDomain, alicePW, true)
		f.person("up-ann", "ann@"+acmeDomain, true, nil)
		b := f.browser()
		p := b.login(b.get(f.authURL("app", nil)), "ann@"+acmeDomain, alicePW)
		wantRefused(t, "password for an SSO-required domain", p)
		if !strings.Contains(p.body, "requires you to sign in with its own sign-in page") {
			t.Fatalf("no clear message:\n%s", p.body)
		}
		events, err := f.inst.Store.ListAuditEvents(f.ctx, storage.AuditQuery{Type: "login.failed"})
		if err != nil || len(events) == 0 || events[0].Details["reason"] != "sso_required" {
			t.Fatalf("audit %v %v; want a login.failed with reason sso_required", events, err)
		}
		// The same for an address with no account: the rule is the
		// domain's.
		p = b.login(b.get(f.authURL("app", nil)), "nobody@"+acmeDomain, alicePW)
		if !strings.Contains(p.body, "requires you to sign in with its own sign-in page") {
			t.Fatalf("unknown address of the domain:\n%s", p.body)
		}
		if sub, _ := f.subject(f.federatedLogin(f.browser(), "ann@"+acmeDomain, "up-ann")); sub == "" {
			t.Fatal("SSO login failed")
		}
	})
}

// TestFederationSSOPage: "Sign in with SSO" takes the work email or the
// organization's name; neither serving anything gets a plain answer, not
// an account's existence.
func TestFederationSSOPage(t *testing.T) {
	eachFed(t, connectorOpts{trustEmail: true}, func(t *testing.T, f *fed) {
		f.localUser("ann@"+acmeDomain, alicePW, true)
		f.person("up-ann", "ann@"+acmeDomain, true, nil)
		for _, tc := range []struct{ input, want string }{
			{"acme", "continue"}, // the organization's name
			{"ANN@" + strings.ToUpper(acmeDomain), "continue"}, // any case
			{"default", "no single sign-on"},                   // an organization without one
			{"someone@example.com", "no single sign-on"},
			{"no-such-org", "no single sign-on"},
		} {
			t.Run(tc.input, func(t *testing.T) {
				b := f.browser()
				q, _ := withPKCE(nil)
				login := b.get(f.authURL("app", q))
				if !strings.Contains(login.body, `id="sso-link"`) {
					t.Fatalf("no Sign in with SSO on the login page:\n%s", login.body)
				}
				page := b.get(f.issuer + "/login/sso?id=" + url.QueryEscape(login.hidden().Get("id")))
				if !isPage(page, "sso") {
					t.Fatalf("the SSO page: %d\n%s", page.resp.StatusCode, page.body)
				}
				p := b.submit(page, "/login/sso", map[string]string{"sso": tc.input})
				switch tc.want {
				case "continue":
					f.upstreamURL(p)
				default:
					if !isPage(p, "sso") || !strings.Contains(strings.ToLower(p.body), tc.want) {
						t.Fatalf("%q: %d\n%s", tc.input, p.resp.StatusCode, p.body)
					}
				}
			})
		}
	})
}

// TestFederationForgotPassword: addresses of a domain with SSO are told to
// use it, whether or not they have an account.
func TestFederationForgotPassword(t *testing.T) {
	eachFed(t, connectorOpts{trustEmail: true}, func(t *testing.T, f *fed) {
		f.localUser("ann@"+acmeDomain, alicePW, true)
		b := f.browser()
		var bodies []string
		for _, email := range []string{"ann@" + acmeDomain, "nobody@" + acmeDomain} {
			fp := b.get(f.issuer + "/password/forgot")
			p := b.submit(fp, "/password/forgot", map[string]string{"email": email})
			if !strings.Contains(p.body, "sign in with Acme SSO") {
				t.Fatalf("%s: no SSO hint\n%s", email, p.body)
			}
			bodies = append(bodies, p.body)
		}
		if bodies[0] != bodies[1] {
			t.Fatal("the answer differs between an account and none")
		}
		fp := b.get(f.issuer + "/password/forgot")
		if p := b.submit(fp, "/password/forgot", map[string]string{"email": "x@example.com"}); strings.Contains(p.body, "Acme SSO") {
			t.Fatal("an address of another domain got the SSO hint")
		}
	})
}
