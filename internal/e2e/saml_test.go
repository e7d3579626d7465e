package e2e

// The SAML front door against crewjam/saml's samlsp middleware, a service
// provider written by others, over real HTTP with a cookie-jar browser:
// SP-initiated sign-on over both bindings, IdP-initiated from "My apps",
// one sign-in shared with OIDC, MFA under the organization's policy,
// ForceAuthn, IsPassive, NameID formats, encrypted assertions and signed
// requests. saml_security_test.go has the attacks, saml_slo_test.go
// single logout.

import (
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/samlidp"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

// idpMetadata fetches Gatehouse's SAML metadata, as an admin gives it to
// an application.
func (h *harness) idpMetadata(t *testing.T) []byte {
	t.Helper()
	resp, err := http.Get(h.issuer + samlidp.PathMetadata)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/samlmetadata+xml" {
		t.Fatalf("metadata: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	return body
}

// samlApp starts a samlsp application and registers it with Gatehouse
// from its metadata.
func (h *harness) samlApp(t *testing.T, name string, o upstreamtest.SAMLSPOptions, settings storage.SPSettings) *upstreamtest.SAMLSP {
	t.Helper()
	if o.Now == nil {
		o.Now = h.clock.Now
	}
	sp := upstreamtest.NewSAMLSP(t, h.idpMetadata(t), o)
	// Registered as an administrator does, so the admin rules and the
	// metadata check (spmeta) stand between the application and the door.
	in := admin.SPInput{EntityID: sp.EntityID, Name: name, Metadata: sp.Metadata(t), Attributes: settings.Attributes,
		AllowIdPInitiated: settings.AllowIdPInitiated, DefaultRelayState: settings.DefaultRelayState,
		SignResponse: settings.SignResponse, EncryptAssertions: settings.EncryptAssertions,
		RequireSignedRequests: settings.RequireSignedRequests, RequireMFA: settings.RequireMFA}
	if f := settings.NameIDFormats; len(f) > 0 {
		in.NameIDFormat, in.NameIDFormats = f[0], f[1:]
	}
	if _, err := h.inst.Admin.CreateServiceProvider(h.ctx, "test", in); err != nil {
		t.Fatal(err)
	}
	return sp
}

// session reads the application's page of who signed in.
func spSession(t *testing.T, p page) upstreamtest.SAMLSPSession {
	t.Helper()
	var s upstreamtest.SAMLSPSession
	if p.resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(p.body), &s) != nil || s.NameID == "" {
		t.Fatalf("expected the application's page, got %d %s\n%s", p.resp.StatusCode, p.resp.Request.URL, p.body)
	}
	return s
}

// toApp posts the auto-submitting Response page to the application's ACS
// (cross-site, as a browser does) and returns the page it ends on.
func (b *browser) toApp(t *testing.T, sp *upstreamtest.SAMLSP, p page) (page, url.Values) {
	t.Helper()
	action, fields := autoPost(t, p)
	if action != sp.URL+"/saml/acs" || fields.Get("SAMLResponse") == "" {
		t.Fatalf("expected a Response posted to %s/saml/acs, got %s %v\n%s", sp.URL, action, fields, p.body)
	}
	return b.postWith(action, fields, map[string]string{"Origin": b.h.issuer, "Sec-Fetch-Site": "cross-site"}), fields
}

// samlSignIn opens path at the application in b, signs in as email at
// Gatehouse if asked, and returns the application's page.
func (b *browser) samlSignIn(t *testing.T, sp *upstreamtest.SAMLSP, path, email string) (upstreamtest.SAMLSPSession, url.Values) {
	t.Helper()
	p := b.get(sp.URL + path)
	if p.isLoginForm() {
		p = b.login(p, email, alicePW)
	}
	done, fields := b.toApp(t, sp, p)
	return spSession(t, done), fields
}

func assertionOf(t *testing.T, fields url.Values) (*crewjam.Response, string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(fields.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	return upstreamtest.ParseResponse(t, fields.Get("SAMLResponse")), string(raw)
}

// attr is an attribute as samlsp keeps it: by FriendlyName.
func attr(s upstreamtest.SAMLSPSession, name string) []string { return s.Attributes[name] }

func TestSAMLSignOn(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		annID := h.user(aliceEmail, alicePW)
		app := h.samlApp(t, "Expenses", upstreamtest.SAMLSPOptions{}, storage.SPSettings{})

		t.Run("SP-initiated over HTTP-Redirect, RelayState returned", func(t *testing.T) {
			b := h.browser()
			start := b.get(app.URL + "/reports?month=11")
			if !start.isLoginForm() || !strings.Contains(start.resp.Request.URL.String(), "/login?id=") {
				t.Fatalf("expected the login form, got %s", start.resp.Request.URL)
			}
			p := b.login(start, aliceEmail, alicePW)
			done, fields := b.toApp(t, app, p)
			s := spSession(t, done)
			if got := done.resp.Request.URL; got.Path != "/reports" || got.RawQuery != "month=11" {
				t.Errorf("landed on %s, want the page first asked for", got)
			}
			if s.NameIDFormat != string(crewjam.PersistentNameIDFormat) || s.NameID == aliceEmail || s.NameID == annID {
				t.Errorf("NameID %q (%s): want an opaque persistent id", s.NameID, s.NameIDFormat)
			}
			if !slices.Equal(attr(s, "mail"), []string{aliceEmail}) {
				t.Errorf("attributes %v", s.Attributes)
			}
			resp, raw := assertionOf(t, fields)
			as := app.LastAssertion()
			now := h.clock.Now()
			switch {
			case resp.Destination != app.URL+"/saml/acs", resp.InResponseTo == "":
				t.Errorf("response Destination %q InResponseTo %q", resp.Destination, resp.InResponseTo)
			case as.Conditions.AudienceRestrictions[0].Audience.Value != app.EntityID:
				t.Errorf("audience %v", as.Conditions.AudienceRestrictions)
			case as.Subject.SubjectConfirmations[0].SubjectConfirmationData.Recipient != app.URL+"/saml/acs":
				t.Errorf("recipient %+v", as.Subject.SubjectConfirmations[0].SubjectConfirmationData)
			case as.Subject.SubjectConfirmations[0].SubjectConfirmationData.InResponseTo != resp.InResponseTo:
				t.Errorf("confirmation InResponseTo %+v", as.Subject.SubjectConfirmations[0].SubjectConfirmationData)
			case !as.Conditions.NotOnOrAfter.Equal(now.Add(5 * time.Minute)):
				t.Errorf("NotOnOrAfter %s, want now + 5m (%s)", as.Conditions.NotOnOrAfter, now.Add(5*time.Minute))
			case as.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value != samlidp.ClassPasswordProtectedTransport:
				t.Errorf("class %q", as.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value)
			case as.AuthnStatements[0].SessionIndex == "", !as.AuthnStatements[0].AuthnInstant.Equal(now):
				t.Errorf("authn statement %+v", as.AuthnStatements[0])
			}
			if !strings.Contains(raw, "xmldsig-more#rsa-sha256") || strings.Contains(raw, "xmldsig#rsa-sha1") {
				t.Errorf("the assertion is not signed with RSA-SHA256:\n%s", raw)
			}

			// The next sign-in, from a new application session, asks for
			// nothing and names the same person the same way.
			b.clearCookies(app.URL)
			again, _ := b.samlSignIn(t, app, "/", "")
			if again.NameID != s.NameID {
				t.Errorf("persistent NameID changed: %q then %q", s.NameID, again.NameID)
			}
		})

		t.Run("SP-initiated over HTTP-POST", func(t *testing.T) {
			post := h.samlApp(t, "Wiki", upstreamtest.SAMLSPOptions{PostBinding: true}, storage.SPSettings{NameIDFormats: []string{"emailAddress"}})
			b := h.browser()
			form := b.get(post.URL + "/pages/home")
			action, fields := autoPost(t, form)
			if action != h.issuer+samlidp.PathSSO || fields.Get("SAMLRequest") == "" {
				t.Fatalf("the application did not post an AuthnRequest: %s %v", action, fields)
			}
			p := b.postWith(action, fields, map[string]string{"Origin": post.URL, "Sec-Fetch-Site": "cross-site"})
			p = b.login(p, aliceEmail, alicePW)
			done, _ := b.toApp(t, post, p)
			s := spSession(t, done)
			if s.NameID != aliceEmail || done.resp.Request.URL.Path != "/pages/home" {
				t.Errorf("NameID %q at %s", s.NameID, done.resp.Request.URL)
			}
		})
	})
}

// clearCookies drops the cookies the jar holds for u (the application's
// session), keeping Gatehouse's. Both are on 127.0.0.1, and cookies do
// not tell ports apart, so only the application's names go.
func (b *browser) clearCookies(u string) {
	pu, _ := url.Parse(u)
	var keep []*http.Cookie
	for _, c := range b.client.Jar.Cookies(pu) {
		if c.Name == "token_"+pu.Port() || strings.HasPrefix(c.Name, "saml_") {
			keep = append(keep, &http.Cookie{Name: c.Name, Value: "", Path: "/", MaxAge: -1})
		}
	}
	b.client.Jar.SetCookies(pu, keep)
}

// TestSAMLSharesOneSignInWithOIDC: a SAML application and an OIDC
// application in one browser ask for the password once, whichever comes
// first; ForceAuthn asks again.
func TestSAMLSharesOneSignInWithOIDC(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		secret := h.client("web", nil)
		h.user(aliceEmail, alicePW)
		app := h.samlApp(t, "Expenses", upstreamtest.SAMLSPOptions{}, storage.SPSettings{})

		// SAML first, then OIDC silently.
		b := h.browser()
		b.samlSignIn(t, app, "/", aliceEmail)
		q, _ := h.silent(b, "web", nil)
		if q.Get("code") == "" {
			t.Fatalf("OIDC after SAML asked again: %v", q)
		}

		// OIDC first, then SAML without a password.
		c := h.browser()
		h.mustExchange("web", secret, h.loginFlow(c, "web", aliceEmail, nil))
		p := c.get(app.URL + "/")
		if p.isLoginForm() {
			t.Fatal("SAML after OIDC showed the login form")
		}
		done, _ := c.toApp(t, app, p)
		spSession(t, done)

		// ForceAuthn: a fresh login although the session is there.
		forced := h.samlApp(t, "Payroll", upstreamtest.SAMLSPOptions{ForceAuthn: true}, storage.SPSettings{})
		h.clock.Advance(time.Minute)
		p = c.get(forced.URL + "/")
		if !p.isLoginForm() {
			t.Fatalf("ForceAuthn did not ask for the password: %d\n%s", p.resp.StatusCode, p.body)
		}
		done, _ = c.toApp(t, forced, c.login(p, aliceEmail, alicePW))
		spSession(t, done)
		if as := forced.LastAssertion(); !as.AuthnStatements[0].AuthnInstant.Equal(h.clock.Now()) {
			t.Errorf("AuthnInstant %s after a forced login at %s", as.AuthnStatements[0].AuthnInstant, h.clock.Now())
		}
	})
}

// TestSAMLMFA: in an organization with MFA on, the SAML login asks for the
// second factor, and the assertion says so; an application that asks for
// the REFEDS MFA profile gets a second factor even without the policy.
func TestSAMLMFA(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.client("web", nil)
		h.user(aliceEmail, alicePW)
		app := h.samlApp(t, "Expenses", upstreamtest.SAMLSPOptions{}, storage.SPSettings{})
		h.setMFA(storage.MFAPolicy{Required: true, AllowedMethods: []string{"totp"}})

		// The first SAML login enrols the app.
		b := h.browser()
		p := b.login(b.get(app.URL+"/"), aliceEmail, alicePW)
		wantPage(t, "enrolment", p, http.StatusOK, "Set up an authenticator app")
		secret := totpSecret(t, p)
		n := b.press(p, `name="code"`, map[string]string{"code": h.code(t, secret)})
		wantPage(t, "after the enrolment", n, http.StatusOK, "Two-step sign-in is on")
		done, _ := b.toApp(t, app, b.press(n, `id="finish"`, nil))
		spSession(t, done)
		if got := app.LastAssertion().AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value; got != samlidp.ClassREFEDSMFA {
			t.Fatalf("class after enrolment %q", got)
		}

		// A later login asks for the code.
		h.clock.Advance(time.Minute)
		c := h.browser()
		lp := c.login(c.get(app.URL+"/"), aliceEmail, alicePW)
		wantPage(t, "next login", lp, http.StatusOK, "Open your authenticator app")
		done, _ = c.toApp(t, app, c.press(lp, `name="code"`, map[string]string{"code": h.code(t, secret)}))
		spSession(t, done)
		if got := app.LastAssertion().AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value; got != samlidp.ClassREFEDSMFA {
			t.Fatalf("class %q", got)
		}

		// Without the policy, an application asking for MFA gets it.
		h.setMFA(storage.MFAPolicy{AllowedMethods: []string{"totp"}})
		strict := h.samlApp(t, "Vault", upstreamtest.SAMLSPOptions{RequestedAuthnContext: &crewjam.RequestedAuthnContext{
			Comparison: "exact", AuthnContextClassRefs: []string{samlidp.ClassREFEDSMFA}}}, storage.SPSettings{})
		h.clock.Advance(time.Minute)
		d := h.browser()
		lp = d.login(d.get(strict.URL+"/"), aliceEmail, alicePW)
		wantPage(t, "MFA asked by the application", lp, http.StatusOK, "Open your authenticator app")
		done, _ = d.toApp(t, strict, d.press(lp, `name="code"`, map[string]string{"code": h.code(t, secret)}))
		spSession(t, done)
	})
}

// TestSAMLPassive: IsPassive without a session answers NoPassive at the
// ACS, with no page; with a session it signs in silently.
func TestSAMLPassive(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		app := h.samlApp(t, "Expenses", upstreamtest.SAMLSPOptions{}, storage.SPSettings{})
		passive := func(b *browser) *crewjam.Response {
			req := app.AuthnRequest(t, h.issuer+samlidp.PathSSO, func(r *crewjam.AuthnRequest) { r.IsPassive = ptr(true) })
			p := b.get(app.RedirectURL(t, req, "rs"))
			action, fields := autoPost(t, p)
			if action != app.URL+"/saml/acs" || fields.Get("RelayState") != "rs" {
				t.Fatalf("passive answer went to %s %v", action, fields)
			}
			return upstreamtest.ParseResponse(t, fields.Get("SAMLResponse"))
		}
		b := h.browser()
		resp := passive(b)
		if resp.Status.StatusCode.Value != crewjam.StatusResponder || resp.Status.StatusCode.StatusCode == nil ||
			resp.Status.StatusCode.StatusCode.Value != crewjam.StatusNoPassive || resp.Assertion != nil {
			t.Fatalf("passive without a session: %+v", resp.Status)
		}
		b.samlSignIn(t, app, "/", aliceEmail)
		if resp := passive(b); resp.Status.StatusCode.Value != crewjam.StatusSuccess {
			t.Fatalf("passive with a session: %+v", resp.Status)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestSAMLNameIDFormats: each format, as the application asks for it, and
// a format it may not have refused with InvalidNameIDPolicy.
func TestSAMLNameIDFormats(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		all := storage.SPSettings{NameIDFormats: []string{"persistent", "emailAddress", "transient", "unspecified"}}
		b := h.browser()
		var persistent string
		for _, tc := range []struct {
			format crewjam.NameIDFormat
			check  func(s upstreamtest.SAMLSPSession) bool
		}{
			{crewjam.EmailAddressNameIDFormat, func(s upstreamtest.SAMLSPSession) bool { return s.NameID == aliceEmail }},
			{crewjam.UnspecifiedNameIDFormat, func(s upstreamtest.SAMLSPSession) bool {
				return s.NameID == aliceEmail && s.NameIDFormat == string(crewjam.UnspecifiedNameIDFormat)
			}},
			{crewjam.PersistentNameIDFormat, func(s upstreamtest.SAMLSPSession) bool {
				persistent = s.NameID
				return !strings.Contains(s.NameID, "@") && len(s.NameID) >= 20
			}},
			{crewjam.TransientNameIDFormat, func(s upstreamtest.SAMLSPSession) bool {
				return s.NameID != persistent && strings.HasPrefix(s.NameID, "_")
			}},
		} {
			app := h.samlApp(t, "App "+string(tc.format), upstreamtest.SAMLSPOptions{NameIDFormat: tc.format}, all)
			s, _ := b.samlSignIn(t, app, "/", aliceEmail)
			if !tc.check(s) {
				t.Errorf("%s: NameID %q format %q", tc.format, s.NameID, s.NameIDFormat)
			}
		}
		// A persistent NameID is the same at each login, and another
		// application's differs.
		app := h.samlApp(t, "Persistent", upstreamtest.SAMLSPOptions{NameIDFormat: crewjam.PersistentNameIDFormat}, all)
		first, _ := b.samlSignIn(t, app, "/", aliceEmail)
		b.clearCookies(app.URL)
		second, _ := b.samlSignIn(t, app, "/", aliceEmail)
		if first.NameID != second.NameID || first.NameID == persistent {
			t.Errorf("persistent NameIDs %q, %q (other app %q)", first.NameID, second.NameID, persistent)
		}

		only := h.samlApp(t, "Only persistent", upstreamtest.SAMLSPOptions{NameIDFormat: crewjam.EmailAddressNameIDFormat}, storage.SPSettings{})
		p := b.get(only.URL + "/")
		action, fields := autoPost(t, p)
		resp := upstreamtest.ParseResponse(t, fields.Get("SAMLResponse"))
		if action != only.URL+"/saml/acs" || resp.Assertion != nil || resp.Status.StatusCode.StatusCode == nil ||
			resp.Status.StatusCode.StatusCode.Value != crewjam.StatusInvalidNameIDPolicy {
			t.Fatalf("a format not allowed: %s %+v", action, resp.Status)
		}

		// AllowCreate="false": no new persistent NameID is made for it;
		// one that exists is given.
		fresh := h.samlApp(t, "No create", upstreamtest.SAMLSPOptions{}, storage.SPSettings{})
		noCreate := func() *crewjam.Response {
			req := fresh.AuthnRequest(t, h.issuer+samlidp.PathSSO, func(r *crewjam.AuthnRequest) {
				r.NameIDPolicy = &crewjam.NameIDPolicy{Format: ptr(string(crewjam.PersistentNameIDFormat)), AllowCreate: ptr(false)}
			})
			_, fields := autoPost(t, b.get(fresh.RedirectURL(t, req, "")))
			return upstreamtest.ParseResponse(t, fields.Get("SAMLResponse"))
		}
		if r := noCreate(); r.Assertion != nil || r.Status.StatusCode.StatusCode == nil ||
			r.Status.StatusCode.StatusCode.Value != crewjam.StatusInvalidNameIDPolicy {
			t.Fatalf("AllowCreate=false without a NameID: %+v", r.Status)
		}
		made, _ := b.samlSignIn(t, fresh, "/", "")
		if r := noCreate(); r.Status.StatusCode.Value != crewjam.StatusSuccess {
			t.Fatalf("AllowCreate=false with a NameID: %+v (made %q)", r.Status, made.NameID)
		}
	})
}

// TestSAMLEncryptionAndSignedRequests: an application that asks for
// encrypted assertions gets them (AES-GCM, RSA-OAEP) and reads them; one
// that must sign its requests is refused unsigned ones.
func TestSAMLEncryptionAndSignedRequests(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		enc := h.samlApp(t, "Encrypted", upstreamtest.SAMLSPOptions{SignRequest: true},
			storage.SPSettings{EncryptAssertions: true, RequireSignedRequests: true, SignResponse: true})
		b := h.browser()
		s, fields := b.samlSignIn(t, enc, "/", aliceEmail)
		_, raw := assertionOf(t, fields)
		if !strings.Contains(raw, "EncryptedAssertion") || !strings.Contains(raw, "xmlenc11#aes256-gcm") ||
			!strings.Contains(raw, "rsa-oaep") || strings.Contains(raw, aliceEmail) {
			t.Fatalf("the assertion is not encrypted as asked:\n%s", raw)
		}
		if !slices.Equal(attr(s, "mail"), []string{aliceEmail}) {
			t.Errorf("the application could not read the encrypted assertion: %v", s.Attributes)
		}
		if strings.Count(raw, "<ds:Signature") < 1 || !strings.Contains(raw[:strings.Index(raw, "EncryptedAssertion")], "Signature") {
			t.Errorf("the response is not signed:\n%s", raw)
		}
		// The same application's request without its signature.
		req := enc.AuthnRequest(t, h.issuer+samlidp.PathSSO, nil)
		p := b.get(upstreamtest.RawRedirect(h.issuer+samlidp.PathSSO, upstreamtest.RequestXML(t, req), ""))
		if p.resp.StatusCode != http.StatusBadRequest || strings.Contains(p.body, "SAMLResponse") {
			t.Fatalf("an unsigned request where signing is required: %d\n%s", p.resp.StatusCode, p.body)
		}
	})
}

// TestSAMLIdPInitiated: "My apps" lists the applications that allow it;
// the link signs the user in with an unsolicited Response; an application
// that does not allow it is refused.
func TestSAMLIdPInitiated(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		open := h.samlApp(t, "Expenses", upstreamtest.SAMLSPOptions{AllowIdPInitiated: true},
			storage.SPSettings{AllowIdPInitiated: true, DefaultRelayState: "/reports"})
		closed := h.samlApp(t, "Payroll", upstreamtest.SAMLSPOptions{AllowIdPInitiated: true}, storage.SPSettings{})
		b := h.browser()
		apps := b.get(h.issuer + "/me/apps")
		if apps.isLoginForm() {
			apps = b.login(apps, aliceEmail, alicePW)
		}
		wantPage(t, "my apps", apps, http.StatusOK, "Expenses")
		if strings.Contains(apps.body, "Payroll") {
			t.Error("My apps lists an application that does not allow IdP-initiated sign-on")
		}
		link := hrefRE.FindStringSubmatch(apps.body[strings.Index(apps.body, `class="apps"`):])
		if link == nil || !strings.HasPrefix(html.UnescapeString(link[1]), samlidp.PathInit) {
			t.Fatalf("no sign-in link on My apps:\n%s", apps.body)
		}
		p := b.get(h.issuer + html.UnescapeString(link[1]))
		done, fields := b.toApp(t, open, p)
		spSession(t, done)
		if resp := upstreamtest.ParseResponse(t, fields.Get("SAMLResponse")); resp.InResponseTo != "" || fields.Get("RelayState") != "/reports" {
			t.Errorf("unsolicited response InResponseTo %q RelayState %q", resp.InResponseTo, fields.Get("RelayState"))
		}
		if p := b.get(h.issuer + samlidp.InitURL(closed.EntityID)); p.resp.StatusCode != http.StatusForbidden || strings.Contains(p.body, "SAMLResponse") {
			t.Fatalf("IdP-initiated into an application that does not allow it: %d", p.resp.StatusCode)
		}
		if p := b.get(h.issuer + samlidp.InitURL(open.EntityID) + "&RelayState=" + strings.Repeat("x", 81)); p.resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("RelayState over 80 bytes: %d", p.resp.StatusCode)
		}
	})
}

var hrefRE = regexp.MustCompile(`href="([^"]+)"`)

// xffTransport adds X-Forwarded-For to the requests for host, as a reverse
// proxy in front of Gatehouse does.
type xffTransport struct {
	host, client string
	next         http.RoundTripper
}

func (x xffTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == x.host {
		r = r.Clone(r.Context())
		r.Header.Set("X-Forwarded-For", x.client)
	}
	return x.next.RoundTrip(r)
}

// TestSAMLClientAddressBehindProxy: behind a trusted proxy, the
// assertion's Address is the client's, not the proxy's.
func TestSAMLClientAddressBehindProxy(t *testing.T) {
	h := newHarnessWith(t, config.StorageSQLite, harnessOptions{config: func(c *config.Config) {
		c.Server.TrustedProxies = []string{"127.0.0.0/8"}
	}})
	h.user(aliceEmail, alicePW)
	app := h.samlApp(t, "Expenses", upstreamtest.SAMLSPOptions{}, storage.SPSettings{})
	b := h.browser()
	u, _ := url.Parse(h.issuer)
	b.client.Transport = xffTransport{host: u.Host, client: "203.0.113.7", next: http.DefaultTransport}
	b.samlSignIn(t, app, "/", aliceEmail)
	as := app.LastAssertion()
	if got := as.Subject.SubjectConfirmations[0].SubjectConfirmationData.Address; got != "203.0.113.7" {
		t.Errorf("SubjectConfirmationData Address %q, want the client's", got)
	}
	if got := as.AuthnStatements[0].SubjectLocality; got == nil || got.Address != "203.0.113.7" {
		t.Errorf("SubjectLocality %+v, want the client's address", got)
	}
}
