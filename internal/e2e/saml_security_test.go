package e2e

// The "SAML front door" attacks (SECURITY-TESTS.md) and the issue's own,
// against a samlsp application's real requests, altered.

import (
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/idp/samlidp"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

// wantSAMLRefused fails unless p is an error page of ours: a 4xx, no form
// posting anything anywhere.
func wantSAMLRefused(t *testing.T, what string, p page, status int) {
	t.Helper()
	if p.resp.StatusCode != status || strings.Contains(p.body, "SAMLResponse") || strings.Contains(p.body, "<form") {
		t.Fatalf("%s: %d (want %d)\n%s", what, p.resp.StatusCode, status, p.body)
	}
}

func TestSAMLRequestSecurity(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		app := h.samlApp(t, "Expenses", upstreamtest.SAMLSPOptions{}, storage.SPSettings{})
		signed := h.samlApp(t, "Signed", upstreamtest.SAMLSPOptions{SignRequest: true}, storage.SPSettings{RequireSignedRequests: true})
		sso := h.issuer + samlidp.PathSSO
		b := h.browser()
		b.samlSignIn(t, app, "/", aliceEmail) // a session: nothing below is refused for want of one
		// The application does not sign its requests: an altered one is
		// what an attacker can send.
		send := func(edit func(*crewjam.AuthnRequest)) page {
			req := app.AuthnRequest(t, sso, edit)
			return b.get(upstreamtest.RawRedirect(sso, upstreamtest.RequestXML(t, req), ""))
		}

		t.Run("an ACS URL not in the metadata", func(t *testing.T) {
			wantSAMLRefused(t, "foreign ACS", send(func(r *crewjam.AuthnRequest) {
				r.AssertionConsumerServiceURL = "https://evil.example/acs"
			}), http.StatusBadRequest)
		})
		t.Run("an unknown issuer", func(t *testing.T) {
			wantSAMLRefused(t, "unknown issuer", send(func(r *crewjam.AuthnRequest) {
				r.Issuer.Value = "https://stranger.example/md"
			}), http.StatusBadRequest)
		})
		t.Run("a wrong Destination", func(t *testing.T) {
			wantSAMLRefused(t, "wrong destination", send(func(r *crewjam.AuthnRequest) {
				r.Destination = "https://other-idp.example/sso"
			}), http.StatusBadRequest)
		})
		t.Run("a stale IssueInstant", func(t *testing.T) {
			// Answered with a Requester status at the application's own
			// ACS (saml-core §3.4.1.4), never with an assertion.
			p := send(func(r *crewjam.AuthnRequest) { r.IssueInstant = h.clock.Now().Add(-10 * time.Minute) })
			action, fields := autoPost(t, p)
			resp := upstreamtest.ParseResponse(t, fields.Get("SAMLResponse"))
			if action != app.URL+"/saml/acs" || resp.Assertion != nil || resp.EncryptedAssertion != nil ||
				resp.Status.StatusCode.Value != crewjam.StatusRequester {
				t.Fatalf("stale request: %s %+v", action, resp.Status)
			}
		})
		t.Run("a replayed request id", func(t *testing.T) {
			u := app.RedirectURL(t, app.AuthnRequest(t, sso, nil), "")
			first := b.get(u)
			if _, fields := autoPost(t, first); fields.Get("SAMLResponse") == "" {
				t.Fatal("the first use was not answered")
			}
			wantSAMLRefused(t, "replay", b.get(u), http.StatusBadRequest)
			// Also from another browser, and over POST.
			req := app.AuthnRequest(t, sso, nil)
			c := h.browser()
			c.get(app.RedirectURL(t, req, ""))
			wantSAMLRefused(t, "replay by POST", c.postWith(sso, upstreamtest.Post(upstreamtest.RequestXML(t, req), ""),
				map[string]string{"Origin": app.URL, "Sec-Fetch-Site": "cross-site"}), http.StatusBadRequest)
		})
		t.Run("an unsigned request where signing is required", func(t *testing.T) {
			req := signed.AuthnRequest(t, sso, nil)
			wantSAMLRefused(t, "unsigned", b.get(upstreamtest.RawRedirect(sso, upstreamtest.RequestXML(t, req), "")), http.StatusBadRequest)
			// A signature from another key.
			other := h.samlApp(t, "Other", upstreamtest.SAMLSPOptions{SignRequest: true}, storage.SPSettings{})
			forged := other.AuthnRequest(t, sso, func(r *crewjam.AuthnRequest) { r.Issuer.Value = signed.EntityID })
			wantSAMLRefused(t, "signed by another key", b.get(other.RedirectURL(t, forged, "")), http.StatusBadRequest)
		})
		t.Run("a DTD, XXE", func(t *testing.T) {
			xxe := `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>` +
				`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="id-x" Version="2.0" IssueInstant="` +
				h.clock.Now().Format(time.RFC3339) + `"><saml:Issuer>` + app.EntityID + `&x;</saml:Issuer></samlp:AuthnRequest>`
			wantSAMLRefused(t, "XXE redirect", b.get(upstreamtest.RawRedirect(sso, []byte(xxe), "")), http.StatusBadRequest)
			wantSAMLRefused(t, "XXE post", b.postWith(sso, upstreamtest.Post([]byte(xxe), ""), nil), http.StatusBadRequest)
		})
		t.Run("a deflate bomb", func(t *testing.T) {
			// 16 MiB inflated from about 20 KiB: it fits in a URL and the
			// library stops inflating at 1 MiB. The server is in this
			// process, so what the request allocated is measurable: far
			// less than the 16 MiB the bomb holds.
			bomb := upstreamtest.DeflateBomb(sso, 16<<20)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			p := b.get(bomb)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if p.resp.StatusCode != http.StatusBadRequest || took > 10*time.Second {
				t.Fatalf("deflate bomb: %d after %s", p.resp.StatusCode, took)
			}
			// About 2.4 MiB here; without the cap, over 16 MiB.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 10<<20 {
				t.Fatalf("the deflate bomb made the server allocate %d MiB", alloc>>20)
			}
		})
		t.Run("an oversized request", func(t *testing.T) {
			big := strings.Repeat("A", 200<<10)
			wantSAMLRefused(t, "oversized query", b.get(sso+"?SAMLRequest="+big[:40<<10]), http.StatusBadRequest)
			// Beyond the server's header limit net/http answers itself.
			if p := b.get(sso + "?SAMLRequest=" + big); p.resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("query over the header limit: %d", p.resp.StatusCode)
			}
			wantSAMLRefused(t, "oversized body", b.postWith(sso, url.Values{"SAMLRequest": {big}}, nil), http.StatusBadRequest)
		})
		t.Run("a RelayState over 80 bytes", func(t *testing.T) {
			req := app.AuthnRequest(t, sso, nil)
			wantSAMLRefused(t, "long relay state", b.get(app.RedirectURL(t, req, strings.Repeat("r", 81))), http.StatusBadRequest)
		})
		t.Run("garbage", func(t *testing.T) {
			for _, u := range []string{sso, sso + "?SAMLRequest=%%%", sso + "?SAMLRequest=bm90IGRlZmxhdGU=", h.issuer + samlidp.PathContinue + "?id=nope",
				h.issuer + samlidp.PathSLO, h.issuer + samlidp.PathSLONext + "?id=nope", h.issuer + samlidp.PathInit + "?sp=nope"} {
				if p := b.get(u); p.resp.StatusCode < 400 || p.resp.StatusCode >= 500 {
					t.Errorf("%s: %d", u, p.resp.StatusCode)
				}
			}
		})
	})
}

// TestSAMLContinueSecurity: the continue URL issues once, only to the
// browser that finished the login, and not before.
func TestSAMLContinueSecurity(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		app := h.samlApp(t, "Expenses", upstreamtest.SAMLSPOptions{}, storage.SPSettings{})
		b := h.browser()
		login := b.get(app.URL + "/")
		id := login.hidden().Get("id")
		cont := h.web.SAML.ContinueURL(id)
		// Before the login: the application hears the login failed.
		early := b.get(cont)
		if _, f := autoPost(t, early); upstreamtest.ParseResponse(t, f.Get("SAMLResponse")).Status.StatusCode.Value == crewjam.StatusSuccess {
			t.Fatal("continue before the login issued a Response")
		}
		p := b.login(login, aliceEmail, alicePW)
		if _, f := autoPost(t, p); f.Get("SAMLResponse") == "" {
			t.Fatal("no Response after the login")
		}
		wantSAMLRefused(t, "continue again", b.get(cont), http.StatusBadRequest)
		// Another browser with the id of a finished login gets nothing;
		// the browser that finished it still does.
		c := h.browserStoppingAt(samlidp.PathContinue)
		p = c.login(c.get(app.URL+"/"), aliceEmail, alicePW)
		loc := p.resp.Header.Get("Location")
		if !strings.Contains(loc, samlidp.PathContinue) {
			t.Fatalf("expected the redirect to continue, got %d %q", p.resp.StatusCode, loc)
		}
		if !strings.HasPrefix(loc, "http") {
			loc = h.issuer + loc
		}
		wantSAMLRefused(t, "another browser", h.browser().get(loc), http.StatusBadRequest)
		c.client.CheckRedirect = nil
		if _, f := autoPost(t, c.get(loc)); f.Get("SAMLResponse") == "" {
			t.Fatal("the browser that logged in got no Response")
		}
	})
}
