package e2e

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/lockout"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// answer is what a login answer shows, with what must differ removed:
// the form's fresh CSRF token, the login request's id and the email typed
// (echoed into the form).
type answer struct {
	status int
	body   string
}

func answerOf(p page, email string) answer {
	body := p.body
	for field, as := range map[string]string{"csrf_token": "CSRF", "id": "ID"} {
		if v := p.hidden().Get(field); v != "" {
			body = strings.ReplaceAll(body, v, as)
		}
	}
	return answer{p.resp.StatusCode, strings.ReplaceAll(body, email, "EMAIL")}
}

// TestLockoutOverHTTP: after max_failures wrong passwords through the
// login form, the right one gets exactly the answer of a wrong one (as do
// unknown and disabled accounts), until the lock ends by itself with no
// admin; `users unlock` (the admin service) ends it at once.
func TestLockoutOverHTTP(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		uid := h.user(aliceEmail, alicePW)
		bob := h.user("bob@example.com", alicePW)
		if _, err := h.inst.Admin.DisableUser(h.ctx, "test", "bob@example.com"); err != nil {
			t.Fatal(err)
		}
		h.client("web", nil)
		b := h.browser()
		p := b.get(h.authURL("web", mustPKCE()))

		max := h.inst.Config.Lockout.MaxFailures
		var wrong answer
		for i := range max {
			p = b.login(p, aliceEmail, "wrong password")
			if i == 0 {
				wrong = answerOf(p, aliceEmail)
				if wrong.status != http.StatusOK || !strings.Contains(wrong.body, "Incorrect email or password.") {
					t.Fatalf("wrong password: %d\n%s", wrong.status, wrong.body)
				}
			} else if got := answerOf(p, aliceEmail); got != wrong {
				t.Fatalf("wrong password #%d answered differently from the first", i+1)
			}
		}
		if h.storedUser(uid).MaySignIn(h.clock.Now()) {
			t.Fatalf("not locked after %d failures", max)
		}

		for _, c := range []struct{ what, email, pw string }{
			{"locked, right password", aliceEmail, alicePW},
			{"locked, wrong password", aliceEmail, "another wrong one"},
			{"unknown account", "nobody@example.com", alicePW},
			{"disabled account, right password", "bob@example.com", alicePW},
		} {
			p = b.login(p, c.email, c.pw)
			if got := answerOf(p, c.email); got != wrong {
				t.Fatalf("%s: answered %d, unlike a wrong password (%d):\n%s\nvs\n%s", c.what, got.status, wrong.status, got.body, wrong.body)
			}
		}
		if n, _, _ := h.inst.Lockout.Status(h.ctx, bob); n != 0 {
			t.Fatalf("the disabled account's right password counted as %d failures", n)
		}

		// The lock ends by itself.
		h.clock.Advance(h.inst.Config.Lockout.Duration)
		b.login(p, aliceEmail, alicePW).callback(t)

		// Locked again, an administrator unlocks at once.
		b2 := h.browser()
		p = b2.get(h.authURL("web", mustPKCE()))
		for range max {
			p = b2.login(p, aliceEmail, "wrong password")
		}
		if p = b2.login(p, aliceEmail, alicePW); answerOf(p, aliceEmail) != wrong {
			t.Fatalf("not locked the second time: %d\n%s\nvs\n%s", p.resp.StatusCode, answerOf(p, aliceEmail).body, wrong.body)
		}
		res, err := h.inst.Admin.UnlockUser(h.ctx, "cli:test", aliceEmail)
		if err != nil || res.Failures != max || res.WasLockedUntil.IsZero() {
			t.Fatalf("UnlockUser = %+v, %v", res, err)
		}
		b2.login(p, aliceEmail, alicePW).callback(t)
	})
}

// TestLockoutThrottlesNetworkOverHTTP: over the network's limit, the form
// says so (429, a message that names no account) and locks nobody.
func TestLockoutThrottlesNetworkOverHTTP(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		uid := h.user(aliceEmail, alicePW)
		h.client("web", nil)
		h.inst.Lockout.IPMaxFailures = 3 // set before any request is served
		b := h.browser()
		p := b.get(h.authURL("web", mustPKCE()))
		for _, email := range []string{"a@example.com", "b@example.com", aliceEmail} {
			if p = b.login(p, email, "wrong password"); !p.isLoginForm() {
				t.Fatalf("wrong password: %d", p.resp.StatusCode)
			}
		}
		for _, email := range []string{"c@example.com", aliceEmail} {
			p = b.post(h.issuer+"/login", withCredentials(p, email, alicePW))
			if p.resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(p.body, "Too many failed sign-ins from your network") ||
				!strings.Contains(p.body, `name="password"`) || strings.Contains(p.body, "Incorrect email or password.") {
				t.Fatalf("%s from a throttled network: %d\n%s", email, p.resp.StatusCode, p.body)
			}
		}
		if !h.storedUser(uid).LockedUntil.IsZero() {
			t.Fatal("the network's limit locked an account")
		}
		h.clock.Advance(2 * h.inst.Config.Lockout.IPWindow)
		b.post(h.issuer+"/login", withCredentials(p, aliceEmail, alicePW)).callback(t)
	})
}

// withCredentials is the form of page p (a login form, whatever its
// status) filled in.
func withCredentials(p page, email, pw string) url.Values {
	form := p.hidden()
	form.Set("email", email)
	form.Set("password", pw)
	return form
}

// peer starts a second instance on h's PostgreSQL database, at its own
// address, as a load balancer's second backend would be, on h's clock.
func (h *harness) peer(t *testing.T) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	cfg := h.inst.Config
	cfg.Issuer = "http://" + ln.Addr().String()
	cfg.DataDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	inst := startInstance(t, ctx, cfg, h.clock, logger, nil)
	web := serve(t, ctx, cancel, inst, ln, logger)
	return &harness{t: t, ctx: ctx, inst: inst, web: web, issuer: cfg.Issuer, clock: h.clock}
}

// TestLockoutSharedAcrossInstances: counters live in the database, so
// failures on instance A lock the account on instance B, and B's unlock
// frees it on A.
func TestLockoutSharedAcrossInstances(t *testing.T) {
	testenv.PostgresDSN(t) // skips (or fails, where required) without one
	a := newHarness(t, config.StoragePostgres)
	b := a.peer(t)
	uid := a.user(aliceEmail, alicePW)
	a.client("web", nil)

	ba := a.browser()
	p := ba.get(a.authURL("web", mustPKCE()))
	for range a.inst.Config.Lockout.MaxFailures {
		p = ba.login(p, aliceEmail, "wrong password")
	}
	if _, err := b.inst.Lockout.Reserve(b.ctx, uid, ""); !errors.Is(err, lockout.ErrLocked) {
		t.Fatalf("instance B does not see A's lock: %v", err)
	}
	bb := b.browser()
	pb := bb.get(b.authURL("web", mustPKCE()))
	if pb = bb.login(pb, aliceEmail, alicePW); !pb.isLoginForm() || !strings.Contains(pb.body, "Incorrect email or password.") {
		t.Fatalf("right password on B while A locked the account: %d %s", pb.resp.StatusCode, pb.resp.Header.Get("Location"))
	}
	if _, err := b.inst.Admin.UnlockUser(b.ctx, "cli:test", aliceEmail); err != nil {
		t.Fatal(err)
	}
	ba.login(p, aliceEmail, alicePW).callback(t)
	if u, err := b.inst.Store.GetUser(b.ctx, uid); err != nil || !u.MaySignIn(b.clock.Now()) || u.State != storage.UserActive {
		t.Fatalf("after the unlock: %+v, %v", u, err)
	}
}
