package oidc_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-idp/gatehouse/federation"
	fedoidc "github.com/gatehouse-idp/gatehouse/federation/oidc"
)

var (
	withGroups = federation.OIDCSettings{Scopes: []string{"email", "profile", "groups"}}
	// user is the example store's user id1 as the upstream proves it.
	user = federation.Identity{Subject: "id1", Email: "test-user@zitadel.ch", EmailVerified: true,
		Name: "Test User", Groups: []string{"engineering", "admins"}, AMR: []string{"pwd"}}
)

func begin(t *testing.T, c federation.Connector, relay string) federation.Start {
	t.Helper()
	start, err := c.Begin(context.Background(), relay)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return start
}

// refusal is err's Refusal reason, "" when err is no Refusal.
func refusal(err error) string {
	var r *federation.Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

func TestBegin(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, upstreamOpts{})
	c := open(t, u, federation.OIDCSettings{}, &clock{})
	a, b := begin(t, c, "relay-a"), begin(t, c, "relay-a")
	qa, qb := query(t, a.URL), query(t, b.URL)
	for k, want := range map[string]string{
		"response_type": "code", "client_id": clientID, "redirect_uri": callback, "state": "relay-a",
		"scope": "openid email profile", "code_challenge_method": "S256",
	} {
		if got := qa.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"nonce", "code_challenge"} {
		if qa.Get(k) == "" || qa.Get(k) == qb.Get(k) {
			t.Errorf("%s is %q and %q in two logins: want fresh ones", k, qa.Get(k), qb.Get(k))
		}
	}
	if a.Form != nil || len(a.State) == 0 || !strings.HasPrefix(a.URL, u.issuer+"/auth?") {
		t.Errorf("Start = %+v: want a redirect to the upstream's authorization endpoint, with a state", a)
	}
	if _, err := c.Begin(context.Background(), ""); err == nil {
		t.Error("Begin without a relay: no error")
	}
}

func query(t *testing.T, raw string) url.Values {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func TestLogin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		opts     upstreamOpts
		settings federation.OIDCSettings
		want     federation.Identity
		// userinfo is how many times the connector asks userinfo.
		userinfo int
	}{
		{name: "claims in the ID token", opts: upstreamOpts{claimsInIDToken: true}, settings: withGroups, want: user},
		{name: "claims from userinfo", settings: federation.OIDCSettings{}, want: user, userinfo: 1},
		{name: "public client", opts: upstreamOpts{public: true, claimsInIDToken: true}, settings: withGroups, want: user},
		{name: "claim names", opts: upstreamOpts{claimsInIDToken: true},
			settings: federation.OIDCSettings{EmailClaim: "preferred_username", EmailVerifiedClaim: "upn_verified",
				NameClaim: "given_name", GroupsClaim: "roles"},
			want:     federation.Identity{Subject: "id1", Email: username, Name: "Test", AMR: []string{"pwd"}},
			userinfo: 1, // for the roles the ID token lacks; userinfo lacks them too
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUpstream(t, tc.opts)
			c := open(t, u, tc.settings, &clock{})
			start := begin(t, c, "relay-1")
			id, err := c.Finish(context.Background(), start.State, u.login(t, start))
			if err != nil {
				t.Fatalf("Finish: %v", err)
			}
			if !reflect.DeepEqual(id, tc.want) {
				t.Errorf("Identity = %+v\nwant       %+v", id, tc.want)
			}
			var calls int
			u.set(func(u *upstream) { calls = u.userinfoCalls })
			if calls != tc.userinfo {
				t.Errorf("userinfo asked %d times, want %d", calls, tc.userinfo)
			}
		})
	}
}

var otherRSA = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// TestRefusals runs a login at the real OP with one thing wrong in its
// answer; the OP's answer is changed only where the case says.
func TestRefusals(t *testing.T) {
	t.Parallel()
	edit := func(f func(claims map[string]any)) func(*testing.T, *upstream, *clock) {
		return func(t *testing.T, u *upstream, _ *clock) { u.editIDToken(t, f) }
	}
	for _, tc := range []struct {
		name string
		opts upstreamOpts
		// thin: the ID token without email and profile claims (userinfo
		// has them); otherwise it carries them.
		thin bool
		// setup runs before Begin, afterBegin after it, callback changes
		// the callback's query.
		setup      func(*testing.T, *upstream, *clock)
		afterBegin func(*clock)
		callback   func(url.Values)
		// want is the Refusal reason; "" is a success that check checks.
		want  string
		check func(*testing.T, federation.Identity)
	}{
		{name: "forged state", callback: func(in url.Values) { in.Set("state", "relay-2") }, want: "state"},
		{name: "no state", callback: func(in url.Values) { in.Del("state") }, want: "state"},
		{name: "no code", callback: func(in url.Values) { in.Del("code") }, want: "exchange"},
		{name: "callback iss of another issuer", callback: func(in url.Values) { in.Set("iss", "https://evil.test") }, want: "issuer"},
		{name: "login began too long ago", afterBegin: func(c *clock) { c.set(16 * time.Minute) }, want: "state"},
		{name: "nonce of another login", setup: edit(func(c map[string]any) { c["nonce"] = "another-login" }), want: "nonce"},
		{name: "no nonce", setup: edit(func(c map[string]any) { delete(c, "nonce") }), want: "nonce"},
		{name: "ID token of another issuer", setup: edit(func(c map[string]any) { c["iss"] = "https://evil.test" }), want: "issuer"},
		{name: "audience of another client", setup: edit(func(c map[string]any) { c["aud"] = "someone-else"; delete(c, "azp") }), want: "audience"},
		{name: "several audiences without azp", setup: edit(func(c map[string]any) { c["aud"] = []string{clientID, "other"}; delete(c, "azp") }), want: "audience"},
		{name: "azp of another client", setup: edit(func(c map[string]any) { c["aud"] = []string{clientID, "other"}; c["azp"] = "other" }), want: "audience"},
		{name: "several audiences with our azp", setup: edit(func(c map[string]any) { c["aud"] = []string{clientID, "other"}; c["azp"] = clientID }),
			check: func(t *testing.T, id federation.Identity) {}},
		{name: "alg none", want: "signature", setup: func(t *testing.T, u *upstream, _ *clock) {
			u.set(func(u *upstream) {
				u.editToken = func(resp map[string]any) { resp["id_token"] = unsigned(tokenClaims(t, resp["id_token"].(string))) }
			})
		}},
		{name: "HS256 keyed with the client secret", want: "signature", setup: resign(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(secret)})},
		{name: "signed by another key", want: "signature", setup: resign(jose.SigningKey{Algorithm: jose.RS256, Key: otherRSA()})},
		{name: "at_hash of another access token", setup: edit(func(c map[string]any) { c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" }), want: "signature"},
		{name: "no subject", setup: edit(func(c map[string]any) { delete(c, "sub") }), want: "no_subject"},
		{name: "expired", opts: upstreamOpts{idTokenLifetime: time.Minute},
			setup: func(_ *testing.T, _ *upstream, c *clock) { c.set(2 * time.Minute) }, want: "expired"},
		{name: "not valid yet", setup: edit(func(c map[string]any) { c["nbf"] = time.Now().Add(10 * time.Minute).Unix() }), want: "expired"},
		{name: "issued in the future", setup: func(_ *testing.T, _ *upstream, c *clock) { c.set(-10 * time.Minute) }, want: "expired"},
		{name: "an upstream clock a little ahead", setup: func(_ *testing.T, _ *upstream, c *clock) { c.set(-10 * time.Second) },
			check: func(t *testing.T, id federation.Identity) {}},
		{name: "token response without ID token", want: "exchange", setup: func(_ *testing.T, u *upstream, _ *clock) {
			u.set(func(u *upstream) { u.editToken = func(resp map[string]any) { delete(resp, "id_token") } })
		}},
		{name: "amr and acr", setup: edit(func(c map[string]any) { c["amr"] = []string{"pwd", "otp"}; c["acr"] = "https://refeds.org/profile/mfa" }),
			check: func(t *testing.T, id federation.Identity) {
				if !slices.Equal(id.AMR, []string{"pwd", "otp"}) || id.ACR != "https://refeds.org/profile/mfa" {
					t.Errorf("AMR %v, ACR %q", id.AMR, id.ACR)
				}
			}},
		{name: "email_verified as a string", setup: edit(func(c map[string]any) { c["email_verified"] = "true"; c["groups"] = "engineering" }),
			check: func(t *testing.T, id federation.Identity) {
				if !id.EmailVerified || !slices.Equal(id.Groups, []string{"engineering"}) {
					t.Errorf("EmailVerified %v, Groups %v: want true, [engineering]", id.EmailVerified, id.Groups)
				}
			}},
		{name: "email not verified", setup: edit(func(c map[string]any) { c["email_verified"] = "false" }),
			check: func(t *testing.T, id federation.Identity) {
				if id.EmailVerified {
					t.Error("EmailVerified: want false")
				}
			}},
		{name: "email never taken for the subject", setup: edit(func(c map[string]any) { c["sub"] = "upstream-42" }),
			check: func(t *testing.T, id federation.Identity) {
				if id.Subject != "upstream-42" || id.Email != user.Email {
					t.Errorf("Subject %q, Email %q", id.Subject, id.Email)
				}
			}},
		{name: "userinfo of another subject", thin: true,
			setup: func(_ *testing.T, u *upstream, _ *clock) {
				u.set(func(u *upstream) { u.editUserinfo = func(m map[string]any) { m["sub"] = "id2" } })
			},
			check: func(t *testing.T, id federation.Identity) {
				if id.Subject != "id1" || id.Email != "" || id.Name != "" {
					t.Errorf("Identity = %+v: want nothing from another subject's userinfo", id)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.claimsInIDToken = !tc.thin
			u := newUpstream(t, tc.opts)
			clk := &clock{}
			if tc.setup != nil {
				tc.setup(t, u, clk)
			}
			c := open(t, u, withGroups, clk)
			start := begin(t, c, "relay-1")
			if tc.afterBegin != nil {
				tc.afterBegin(clk)
			}
			in := u.login(t, start)
			if tc.callback != nil {
				tc.callback(in)
			}
			id, err := c.Finish(context.Background(), start.State, in)
			t.Logf("Finish: %v", err)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Finish: %v", err)
			case tc.want == "":
				tc.check(t, id)
			case refusal(err) != tc.want:
				t.Fatalf("Finish: %v (%+v); want a refusal %q", err, id, tc.want)
			case !reflect.DeepEqual(id, federation.Identity{}):
				t.Errorf("a refusal with an identity: %+v", id)
			}
		})
	}
}

// resign replaces the ID token by the same claims signed with key, under
// the OP's key id.
func resign(key jose.SigningKey) func(*testing.T, *upstream, *clock) {
	return func(t *testing.T, u *upstream, _ *clock) {
		opKey, _ := u.store.SigningKey(context.Background())
		u.set(func(u *upstream) {
			u.editToken = func(resp map[string]any) {
				resp["id_token"] = signWith(t, key, opKey.ID(), tokenClaims(t, resp["id_token"].(string)))
			}
		})
	}
}

func TestReplayedCallback(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, upstreamOpts{claimsInIDToken: true})
	c := open(t, u, withGroups, &clock{})
	start := begin(t, c, "relay-1")
	in := u.login(t, start)
	if _, err := c.Finish(context.Background(), start.State, in); err != nil {
		t.Fatalf("first Finish: %v", err)
	}
	if _, err := c.Finish(context.Background(), start.State, in); refusal(err) != "exchange" {
		t.Fatalf("second Finish of the same callback: %v; want a refusal \"exchange\"", err)
	}
}

// TestCodeOfAnotherLogin: a code and state from one login, delivered to
// another login with the same relay, fails at the token endpoint (PKCE
// binds the code to its login's verifier).
func TestCodeOfAnotherLogin(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, upstreamOpts{claimsInIDToken: true})
	c := open(t, u, withGroups, &clock{})
	first, second := begin(t, c, "relay-1"), begin(t, c, "relay-1")
	in := u.login(t, first)
	if _, err := c.Finish(context.Background(), second.State, in); refusal(err) != "exchange" {
		t.Fatalf("Finish: %v; want a refusal \"exchange\"", err)
	}
}

// TestIDTokenOfAnotherUpstream: upstream A's token endpoint answers with
// an ID token that upstream B issued for the same client id.
func TestIDTokenOfAnotherUpstream(t *testing.T) {
	t.Parallel()
	a, b := newUpstream(t, upstreamOpts{claimsInIDToken: true}), newUpstream(t, upstreamOpts{claimsInIDToken: true})
	cb := open(t, b, withGroups, &clock{})
	start := begin(t, cb, "relay-b")
	if _, err := cb.Finish(context.Background(), start.State, b.login(t, start)); err != nil {
		t.Fatalf("login at B: %v", err)
	}
	var fromB string
	b.set(func(u *upstream) { fromB = u.lastIDToken })
	a.set(func(u *upstream) { u.editToken = func(resp map[string]any) { resp["id_token"] = fromB } })
	ca := open(t, a, withGroups, &clock{})
	start = begin(t, ca, "relay-a")
	if _, err := ca.Finish(context.Background(), start.State, a.login(t, start)); refusal(err) != "issuer" {
		t.Fatalf("Finish at A with B's ID token: %v; want a refusal \"issuer\"", err)
	}
}

func TestUpstreamError(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, upstreamOpts{})
	c := open(t, u, federation.OIDCSettings{}, &clock{})
	start := begin(t, c, "relay-1")
	_, err := c.Finish(context.Background(), start.State, url.Values{
		"error": {"access_denied"}, "error_description": {"The user said no\x00"}, "state": {"relay-1"}})
	var ue *fedoidc.UpstreamError
	if refusal(err) != "upstream_error" || !errors.As(err, &ue) || ue.Code != "access_denied" || ue.Description != "The user said no?" {
		t.Fatalf("Finish: %v; want a refusal \"upstream_error\" with access_denied", err)
	}
	var sent string
	u.set(func(u *upstream) { sent = u.lastIDToken })
	if sent != "" {
		t.Error("an upstream error reached the token endpoint")
	}
}

// TestOutages: an upstream endpoint that does not answer during Finish is
// an outage (a plain error), not a refusal.
func TestOutages(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tc := range []struct{ name, field, url string }{
		{"token endpoint answers 503", "token_endpoint", down.URL},
		{"token endpoint unreachable", "token_endpoint", closed.URL},
		{"key set answers 503", "jwks_uri", down.URL},
		{"key set unreachable", "jwks_uri", closed.URL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUpstream(t, upstreamOpts{claimsInIDToken: true})
			u.set(func(u *upstream) { u.editDiscovery = func(d map[string]any) { d[tc.field] = tc.url } })
			c := open(t, u, withGroups, &clock{})
			start := begin(t, c, "relay-1")
			_, err := c.Finish(context.Background(), start.State, u.login(t, start))
			t.Logf("Finish: %v", err)
			if err == nil || refusal(err) != "" {
				t.Fatalf("Finish: %v; want an outage", err)
			}
		})
	}
}

// TestConcurrentLogins: one connector serves logins side by side (one
// key set, fetched once, shared).
func TestConcurrentLogins(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, upstreamOpts{claimsInIDToken: true})
	c := open(t, u, withGroups, &clock{})
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			relay := "relay-" + string(rune('a'+i))
			start, err := c.Begin(context.Background(), relay)
			if err != nil {
				t.Errorf("Begin: %v", err)
				return
			}
			if id, err := c.Finish(context.Background(), start.State, u.login(t, start)); err != nil || id.Subject != "id1" {
				t.Errorf("Finish: %+v, %v", id, err)
			}
		})
	}
	wg.Wait()
}
