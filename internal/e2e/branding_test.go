package e2e

// An organization's branding of the sign-in pages: set in the console
// (a colour too light for white text refused), shown to the
// organization's users once they are known (after the password, on the
// MFA pages), with the page's CSP admitting the logo's origin and the
// style rule by its hash; not before the user is known, not to another
// organization's users.

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var styleRE = regexp.MustCompile(`<style>([^<]*)</style>`)

func TestBranding(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.setAdmin(h.user(aliceEmail, alicePW), true)
		if _, err := h.inst.Admin.CreateOrg(h.ctx, "test", admin.CreateOrgInput{Name: "acme", DisplayName: "Acme Corp", Domains: []string{"acme.test"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.inst.Admin.CreateUser(h.ctx, "test", admin.CreateUserInput{Org: "acme", Email: "ann@acme.test", Password: alicePW, EmailVerified: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.inst.Admin.SetMFAPolicy(h.ctx, "test", "acme", admin.MFAPolicyInput{Required: true, Methods: []string{"totp"}}); err != nil {
			t.Fatal(err)
		}
		b := h.browser()
		h.consoleSignIn(t, b, aliceEmail)
		org := b.get(h.issuer + "/admin/orgs/acme")
		form := consoleForm(t, org, "/admin/orgs/acme/branding")
		form.Set("logo_url", "https://cdn.acme.test/logo.svg")
		form.Set("accent", "#ffff66")
		wantPage(t, "a light accent", b.post(h.issuer+"/admin/orgs/acme/branding", form), http.StatusUnprocessableEntity, "too light")
		form.Set("accent", "#0F5132")
		saved := b.post(h.issuer+"/admin/orgs/acme/branding", form)
		wantPage(t, "the saved branding", saved, http.StatusOK, "The branding is saved")
		if o := h.org("acme"); o.Branding != (storage.Branding{LogoURL: "https://cdn.acme.test/logo.svg", Accent: "#0f5132"}) {
			t.Fatalf("stored %+v", o.Branding)
		}

		// Ann signs in: the login form is Gatehouse's; the enrolment after
		// the password is Acme's.
		ann := h.browser()
		login := ann.get(h.issuer + "/me")
		if strings.Contains(login.body, "data-brand") {
			t.Fatal("the login form, before anyone is known, is branded")
		}
		enrol := ann.login(login, "ann@acme.test", alicePW)
		wantPage(t, "the branded enrolment", enrol, http.StatusOK, "data-brand")
		for _, want := range []string{"Acme Corp", `src="https://cdn.acme.test/logo.svg"`, "background:#0f5132"} {
			if !strings.Contains(enrol.body, want) {
				t.Errorf("the enrolment lacks %q", want)
			}
		}
		csp := enrol.resp.Header.Get("Content-Security-Policy")
		m := styleRE.FindStringSubmatch(enrol.body)
		if m == nil {
			t.Fatal("no style rule")
		}
		sum := sha256.Sum256([]byte(html.UnescapeString(m[1])))
		for _, want := range []string{"img-src 'self' https://cdn.acme.test data:", "style-src 'self' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'",
			"frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}

		// Another organization's user sees Gatehouse's pages.
		h.setMFAPolicy(admin.MFAPolicyInput{Required: true, Methods: []string{"totp"}})
		h.user("bob@example.com", alicePW)
		bob := h.browser()
		p := bob.login(bob.get(h.issuer+"/me"), "bob@example.com", alicePW)
		if p.resp.StatusCode != http.StatusOK || strings.Contains(p.body, "data-brand") || strings.Contains(p.resp.Header.Get("Content-Security-Policy"), "style-src") {
			t.Fatalf("the default organization's user got a brand: %d", p.resp.StatusCode)
		}
	})
}
