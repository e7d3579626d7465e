package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

// TestSAMLSingleLogout: signing out of one SAML application ends the
// Gatehouse session, signs the browser out of the other SAML application
// of the session, leaves the OIDC client's silent login needing a login,
// and answers the first application with a signed LogoutResponse; a
// failing application does not stop the others, and the last page says
// which.
func TestSAMLSingleLogout(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.client("web", nil)
		h.user(aliceEmail, alicePW)
		signs := upstreamtest.SAMLSPOptions{SignRequest: true}
		hr := h.samlApp(t, "HR", signs, storage.SPSettings{})
		wiki := h.samlApp(t, "Wiki", signs, storage.SPSettings{})
		b := h.browser()
		b.samlSignIn(t, hr, "/", aliceEmail)
		b.samlSignIn(t, wiki, "/", "")
		if q, _ := h.silent(b, "web", nil); q.Get("code") == "" {
			t.Fatalf("OIDC in the same session: %v", q)
		}
		sessionHash := h.browserSession(t, b)
		if parts, err := h.inst.Store.ListSAMLParticipants(h.ctx, sessionHash, h.clock.Now()); err != nil || len(parts) != 2 {
			t.Fatalf("participants %+v %v", parts, err)
		}

		// Sign out at HR: through the IdP and Wiki, back to HR.
		done := b.followPosts(t, b.get(hr.URL+"/logout"))
		// HR accepted the LogoutResponse (it checks our signature) and,
		// signed out, sends the browser to sign in again.
		if !done.isLoginForm() {
			t.Fatalf("logout ended at %d %s\n%s", done.resp.StatusCode, done.resp.Request.URL, done.body)
		}
		if h.sessionLive(sessionHash) {
			t.Fatal("the Gatehouse session survived single logout")
		}
		if q, _ := h.silent(b, "web", nil); q.Get("error") != "login_required" {
			t.Fatalf("OIDC silent login after logout: %v", q)
		}
		for _, app := range []*upstreamtest.SAMLSP{hr, wiki} {
			if p := b.get(app.URL + "/"); !p.isLoginForm() {
				t.Fatalf("%s still signed in after single logout: %d\n%s", app.URL, p.resp.StatusCode, p.body)
			}
		}
	})
}

// TestSAMLSingleLogoutPartial: an application without a logout endpoint,
// or one whose answer cannot be verified, is listed as not signed out;
// the others are, and the initiator hears PartialLogout.
func TestSAMLSingleLogoutPartial(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		hr := h.samlApp(t, "HR", upstreamtest.SAMLSPOptions{SignRequest: true}, storage.SPSettings{})
		// An application whose LogoutResponses are unsigned.
		loose := h.samlApp(t, "Loose", upstreamtest.SAMLSPOptions{}, storage.SPSettings{})
		b := h.browser()
		b.samlSignIn(t, hr, "/", aliceEmail)
		b.samlSignIn(t, loose, "/", "")
		p := b.followPosts(t, b.get(hr.URL+"/logout"))
		wantPage(t, "partial logout", p, http.StatusOK, "You are signed out of Gatehouse")
		if !strings.Contains(p.body, "Loose") || !strings.Contains(p.body, "could not be verified") || !strings.Contains(p.body, "Back to HR") {
			t.Fatalf("the page does not say what happened:\n%s", p.body)
		}
		// HR takes responses by HTTP-POST: the way back is a button.
		action, fields := autoPost(t, p)
		if action != hr.URL+"/saml/slo" {
			t.Fatalf("no way back to HR (form to %q):\n%s", action, p.body)
		}
		raw, err := base64.StdEncoding.DecodeString(fields.Get("SAMLResponse"))
		if err != nil || !bytes.Contains(raw, []byte("SignatureValue")) {
			t.Fatalf("the LogoutResponse is not signed (%v):\n%s", err, raw)
		}
		var resp crewjam.LogoutResponse
		if err := xml.Unmarshal(raw, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.Status.StatusCode.Value != crewjam.StatusSuccess || resp.Status.StatusCode.StatusCode == nil ||
			resp.Status.StatusCode.StatusCode.Value != crewjam.StatusPartialLogout {
			t.Fatalf("LogoutResponse status %+v", resp.Status)
		}
		// HR accepts it (it checks our signature) and, signed out, sends
		// the browser to sign in again.
		again := b.postWith(action, fields, map[string]string{"Origin": h.issuer, "Sec-Fetch-Site": "cross-site"})
		if !again.isLoginForm() {
			t.Fatalf("back at HR: %d %s\n%s", again.resp.StatusCode, again.resp.Request.URL, again.body)
		}
	})
}

// browserSession is the hash of b's Gatehouse session.
func (h *harness) browserSession(t *testing.T, b *browser) string {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, h.issuer+"/", nil)
	for _, c := range b.client.Jar.Cookies(r.URL) {
		r.AddCookie(c)
	}
	br, err := h.web.Sessions.Browser(r)
	if err != nil || br.Session == nil {
		t.Fatalf("no session in the browser: %v", err)
	}
	return br.Session.Hash
}

// followPosts submits the auto-submitting SAML forms p leads to, as a
// browser with JavaScript would (cross-site, from the page's origin), and
// returns the first page that is not one.
func (b *browser) followPosts(t *testing.T, p page) page {
	t.Helper()
	for range 10 {
		// Ours are marked data-autopost, the library's SAMLRequestForm or
		// SAMLResponseForm; a page with a button to press is not one.
		if !strings.Contains(p.body, "data-autopost") && !strings.Contains(p.body, `id="SAMLRequestForm"`) &&
			!strings.Contains(p.body, `id="SAMLResponseForm"`) {
			return p
		}
		action, fields := autoPost(t, p)
		origin := p.resp.Request.URL.Scheme + "://" + p.resp.Request.URL.Host
		p = b.postWith(action, fields, map[string]string{"Origin": origin, "Sec-Fetch-Site": "cross-site"})
	}
	t.Fatalf("more than 10 auto-submitted forms: at %s", p.resp.Request.URL)
	return p
}

// TestSAMLLogoutFromGatehouse: a sign-out that starts at Gatehouse (an
// OIDC client's RP-initiated logout, or Gatehouse's own sign-out page)
// signs the browser out of the session's SAML applications too, then goes
// where it was going; the logout link works only for the session it was
// made for.
func TestSAMLLogoutFromGatehouse(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		secret := h.client("web", nil)
		h.user(aliceEmail, alicePW)
		signs := upstreamtest.SAMLSPOptions{SignRequest: true}
		hr := h.samlApp(t, "HR", signs, storage.SPSettings{})
		wiki := h.samlApp(t, "Wiki", signs, storage.SPSettings{})

		// RP-initiated logout of the OIDC client.
		b := h.browser()
		tokens := h.mustExchange("web", secret, h.loginFlow(b, "web", aliceEmail, nil))
		b.samlSignIn(t, hr, "/", "")
		b.samlSignIn(t, wiki, "/", "")
		hash := h.browserSession(t, b)
		es := url.Values{"id_token_hint": {tokens["id_token"].(string)}, "post_logout_redirect_uri": {postLogoutURI("web")}, "state": {"bye"}}
		done := b.followPosts(t, b.get(h.issuer+"/end_session?"+es.Encode()))
		if loc := done.resp.Header.Get("Location"); loc != postLogoutURI("web")+"?state=bye" {
			t.Fatalf("after the SAML logouts: %d Location %q\n%s", done.resp.StatusCode, loc, done.body)
		}
		if h.sessionLive(hash) {
			t.Fatal("the Gatehouse session survived")
		}
		for _, app := range []*upstreamtest.SAMLSP{hr, wiki} {
			if p := b.get(app.URL + "/"); !p.isLoginForm() {
				t.Fatalf("%s still signed in: %d\n%s", app.URL, p.resp.StatusCode, p.body)
			}
		}

		// Gatehouse's own sign-out page; another browser opening the
		// logout link first ends nothing of its own.
		c := h.browserStoppingAt("/saml/slo/next")
		c.samlSignIn(t, hr, "/", aliceEmail)
		form := c.get(h.issuer + "/logout").hidden()
		start := c.post(h.issuer+"/logout", form)
		link := start.resp.Header.Get("Location")
		if start.resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(link, h.issuer+"/saml/slo/next?id=") {
			t.Fatalf("sign-out with a SAML application: %d %q", start.resp.StatusCode, link)
		}
		other := h.browser()
		other.samlSignIn(t, wiki, "/", aliceEmail)
		otherHash := h.browserSession(t, other)
		if p := other.get(link); p.resp.StatusCode != http.StatusBadRequest || !h.sessionLive(otherHash) {
			t.Fatalf("another browser on the logout link: %d, its session live: %v", p.resp.StatusCode, h.sessionLive(otherHash))
		}
		c.client.CheckRedirect = b.client.CheckRedirect
		end := c.followPosts(t, c.get(link))
		wantPage(t, "signed out", end, http.StatusOK, "signed out")
		if p := c.get(hr.URL + "/"); !p.isLoginForm() {
			t.Fatalf("HR still signed in after Gatehouse's sign-out")
		}
	})
}
