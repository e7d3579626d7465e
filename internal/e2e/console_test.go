package e2e

// The admin console at /admin, through its pages: sign-in through the flow
// (a second factor enrolled at the first visit), the users list with its
// filters and bulk "Manage MFA" with a reason in each user's audit trail,
// the recent sign-in that bulk actions need, who is refused (403), and the
// CSRF and framing defences of every form and page.

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var consoleHiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// consoleForm is every hidden field of p's form posting to action, repeated
// names kept.
func consoleForm(t *testing.T, p page, action string) url.Values {
	t.Helper()
	for _, f := range pageFormRE.FindAllString(p.body, -1) {
		if strings.Contains(f, `action="`+action+`"`) {
			v := url.Values{}
			for _, m := range consoleHiddenRE.FindAllStringSubmatch(f, -1) {
				v.Add(m[1], html.UnescapeString(m[2]))
			}
			return v
		}
	}
	t.Fatalf("no form posting to %s:\n%s", action, p.body)
	return nil
}

// orgAdmin creates an account of organization org (by name) and makes it
// that organization's admin, as `gatehouse roles grant` does.
func (h *harness) orgAdmin(email, org string) storage.User {
	h.t.Helper()
	if _, err := h.inst.Admin.CreateUser(h.ctx, "test", admin.CreateUserInput{Org: org, Email: email, Password: alicePW, EmailVerified: true}); err != nil {
		h.t.Fatal(err)
	}
	res, err := h.inst.Admin.GrantRole(h.ctx, "test", admin.RoleChange{Email: email, Role: admin.RoleNameOrgAdmin, Org: org})
	if err != nil {
		h.t.Fatal(err)
	}
	return res.User
}

// consoleSignIn opens /admin/users in b as email, who enrols an
// authenticator app on the way (the console requires a second factor),
// and returns the users list.
func (h *harness) consoleSignIn(t *testing.T, b *browser, email string) page {
	t.Helper()
	p, _ := h.consoleSignInSecret(t, b, email)
	return p
}

// consoleSignInSecret is consoleSignIn that also returns the enrolled
// app's secret.
func (h *harness) consoleSignInSecret(t *testing.T, b *browser, email string) (page, []byte) {
	t.Helper()
	// The password first; then, as an admin, a second factor: none yet,
	// so the flow enrols one.
	p := b.login(b.get(h.issuer+"/admin/users"), email, alicePW)
	if strings.Contains(p.body, `data-page="mfa_choose"`) {
		p = b.press(p, `data-method="totp"`, nil)
	}
	wantPage(t, "the console's enrolment", p, http.StatusOK, "Set up an authenticator app")
	secret := totpSecret(t, p)
	n := b.press(p, `name="code"`, map[string]string{"code": h.code(t, secret)})
	wantPage(t, "after the enrolment", n, http.StatusOK, "Two-step sign-in is on")
	users := b.press(n, `id="finish"`, nil)
	wantPage(t, "the users list", users, http.StatusOK, `data-page="users"`)
	return users, secret
}

func TestConsoleBulkResetMFA(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		adminID := h.user(aliceEmail, alicePW)
		h.setAdmin(adminID, true)
		var ids []string
		for _, e := range []string{"ann@example.com", "bob@example.com", "cat@example.com", "dan@example.com"} {
			ids = append(ids, h.user(e, alicePW))
		}
		b := h.browser()
		list, adminSecret := h.consoleSignInSecret(t, b, aliceEmail)
		for _, want := range []string{"ann@example.com", "dan@example.com", `frame-ancestors`} {
			if !strings.Contains(list.body+list.resp.Header.Get("Content-Security-Policy"), want) {
				t.Fatalf("the list lacks %q", want)
			}
		}
		if csp := list.resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("CSP %q", csp)
		}
		// The search narrows the list.
		found := b.get(h.issuer + "/admin/users?q=bob")
		if !strings.Contains(found.body, "bob@example.com") || strings.Contains(found.body, "ann@example.com") {
			t.Fatalf("search for bob:\n%s", found.body)
		}

		// Tick three users, "Manage MFA": a confirmation with the count
		// and the names, which changes nothing yet.
		form := consoleForm(t, list, "/admin/users/bulk")
		form.Set("action", "reset-mfa")
		for _, id := range ids[:3] {
			form.Add("id", id)
		}
		confirm := b.post(h.issuer+"/admin/users/bulk", form)
		wantPage(t, "the confirmation", confirm, http.StatusOK, "Manage MFA (reset): 3 users")
		if !strings.Contains(confirm.body, "ann@example.com") || strings.Contains(confirm.body, "dan@example.com") {
			t.Fatalf("confirmation names:\n%s", confirm.body)
		}
		if u := h.storedUser(ids[0]); u.MFAEnrollRequired {
			t.Fatal("the confirmation page reset MFA")
		}
		// No reason: asked again, nothing done.
		run := consoleForm(t, confirm, "/admin/users/bulk/run")
		again := b.post(h.issuer+"/admin/users/bulk/run", run)
		wantPage(t, "run without a reason", again, http.StatusUnprocessableEntity, "Give a reason")
		run.Set("reason", "Phones replaced, ticket 7")
		done := b.post(h.issuer+"/admin/users/bulk/run", run)
		wantPage(t, "the results", done, http.StatusOK, "Done for 3")
		for i, id := range ids {
			if got := h.storedUser(id).MFAEnrollRequired; got != (i < 3) {
				t.Errorf("user %d MFAEnrollRequired = %v", i, got)
			}
			evs, err := h.inst.Store.ListAuditEvents(h.ctx, storage.AuditQuery{UserID: id, Type: audit.UserMFAReset})
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 1, false: 0}[i < 3]; len(evs) != want {
				t.Fatalf("user %d has %d reset events, want %d", i, len(evs), want)
			}
			if i < 3 && (evs[0].Details[audit.DetailAdminReason] != "Phones replaced, ticket 7" || evs[0].ActorID != "console:"+adminID) {
				t.Errorf("event %+v", evs[0])
			}
		}

		// Eleven minutes later a bulk action asks for the password again.
		h.clock.Advance(11 * time.Minute)
		stale := consoleForm(t, b.get(h.issuer+"/admin/users"), "/admin/users/bulk")
		stale.Set("action", "unlock")
		stale.Add("id", ids[3])
		p := b.post(h.issuer+"/admin/users/bulk", stale)
		if !p.isLoginForm() {
			t.Fatalf("a stale sign-in's bulk action: %d %s", p.resp.StatusCode, p.resp.Request.URL)
		}
		// The password again (the second factor is in the session): back
		// at the confirmation, the ticked user kept.
		again = b.login(p, aliceEmail, alicePW)
		if again.resp.StatusCode == http.StatusOK && strings.Contains(again.body, `name="code"`) {
			h.clock.Advance(31 * time.Second)
			again = b.press(again, `name="code"`, map[string]string{"code": h.code(t, adminSecret)})
		}
		wantPage(t, "the confirmation after the fresh sign-in", again, http.StatusOK, "Unlock: 1 user")
		if !strings.Contains(again.body, "dan@example.com") {
			t.Fatal("the fresh sign-in lost the ticked user")
		}

		// CSRF: no token, a wrong one, another site's Origin: 403 each,
		// before the handler (whose stale sign-in would answer a login).
		for _, c := range []struct {
			name      string
			token     string
			origin    string
			fetchSite string
		}{
			{"no token", "", h.issuer, "same-origin"},
			{"wrong token", strings.Repeat("A", 43), h.issuer, "same-origin"},
			{"cross-site", stale.Get("csrf_token"), "https://evil.example", "cross-site"},
		} {
			for _, path := range []string{"/admin/users/bulk", "/admin/users/bulk/run"} {
				v := url.Values{"action": {"disable"}, "id": {ids[3]}, "reason": {"x"}}
				if c.token != "" {
					v.Set("csrf_token", c.token)
				}
				req, _ := http.NewRequest(http.MethodPost, h.issuer+path, strings.NewReader(v.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", c.origin)
				req.Header.Set("Sec-Fetch-Site", c.fetchSite)
				if p := b.do(req); p.resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s to %s: %d, want 403", c.name, path, p.resp.StatusCode)
				}
			}
		}
		if h.storedUser(ids[3]).State == storage.UserDisabled {
			t.Fatal("a refused form disabled a user")
		}
	})
}

// TestConsoleRefusesWhoHasNoRole: a signed-in user without a role gets 403
// at every console page and form; an organization admin cannot reach
// another organization's users by id.
func TestConsoleRefusesWhoHasNoRole(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		adminless := h.user(aliceEmail, alicePW)
		b := h.browser()
		// Told after the password, without being made to enrol a factor
		// for a console they cannot use.
		p := b.login(b.get(h.issuer+"/admin"), aliceEmail, alicePW)
		wantPage(t, "a user without a role", p, http.StatusForbidden, "no access")
		for _, path := range []string{"/admin", "/admin/users", "/admin/users?q=a", "/admin/users/" + adminless} {
			got := b.get(h.issuer + path)
			if got.resp.StatusCode != http.StatusForbidden || strings.Contains(got.body, aliceEmail) {
				t.Errorf("GET %s: %d, want 403 showing no user", path, got.resp.StatusCode)
			}
		}
		anon := h.browser()
		if got := anon.get(h.issuer + "/admin/users"); !got.isLoginForm() {
			t.Errorf("anonymous GET /admin/users: %d, want the login form", got.resp.StatusCode)
		}
		if got := anon.post(h.issuer+"/admin/users/bulk", url.Values{"action": {"disable"}}); got.resp.StatusCode != http.StatusForbidden {
			t.Errorf("anonymous POST without a token: %d, want 403", got.resp.StatusCode)
		}
	})
}

// TestConsoleOrgAdminSeesOnlyTheirOrganization: an organization admin's
// list, filters, overview and bulk actions stop at their organization;
// another organization's ids in the URL or the form are refused.
func TestConsoleOrgAdminSeesOnlyTheirOrganization(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		if _, err := h.inst.Admin.CreateOrg(h.ctx, "test", admin.CreateOrgInput{Name: "beta", DisplayName: "Beta Corp"}); err != nil {
			t.Fatal(err)
		}
		outsider := h.user("zed@example.com", alicePW) // in the default organization
		h.orgAdmin("oa@beta.example", "beta")
		member, err := h.inst.Admin.CreateUser(h.ctx, "test", admin.CreateUserInput{Org: "beta", Email: "mia@beta.example",
			Password: alicePW, EmailVerified: true})
		if err != nil {
			t.Fatal(err)
		}
		b := h.browser()
		list := h.consoleSignIn(t, b, "oa@beta.example")
		if !strings.Contains(list.body, "mia@beta.example") || strings.Contains(list.body, "zed@example.com") {
			t.Fatalf("the org admin's list:\n%s", list.body)
		}
		def, err := h.inst.Store.GetOrganizationByName(h.ctx, "default")
		if err != nil {
			t.Fatal(err)
		}
		if p := b.get(h.issuer + "/admin/users?org=" + url.QueryEscape(def.ID)); p.resp.StatusCode != http.StatusUnprocessableEntity ||
			strings.Contains(p.body, "zed@example.com") {
			t.Errorf("another organization's list by id: %d", p.resp.StatusCode)
		}
		if ov := b.get(h.issuer + "/admin"); !strings.Contains(ov.body, "Beta Corp") || strings.Contains(ov.body, "org="+def.ID) {
			t.Errorf("the org admin's overview:\n%s", ov.body)
		}
		form := consoleForm(t, list, "/admin/users/bulk")
		form.Set("action", "disable")
		form.Add("id", outsider)
		if p := b.post(h.issuer+"/admin/users/bulk", form); p.resp.StatusCode != http.StatusNotFound {
			t.Errorf("bulk confirmation of another organization's user: %d", p.resp.StatusCode)
		}
		run := url.Values{"csrf_token": {form.Get("csrf_token")}, "action": {"disable"}, "id": {outsider, member.ID}, "reason": {"r"}}
		done := b.post(h.issuer+"/admin/users/bulk/run", run)
		wantPage(t, "a run naming another organization's user", done, http.StatusOK, "Done for 1; not done for 1")
		if h.storedUser(outsider).State == storage.UserDisabled || h.storedUser(member.ID).State != storage.UserDisabled {
			t.Fatal("the run reached past the organization, or did not do its own")
		}
	})
}

// TestConsoleUserPage: an admin opens a user's page, sees their session
// and factors (no secrets), signs the session out, and runs an action for
// that one user with a reason.
func TestConsoleUserPage(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		adminID := h.user(aliceEmail, alicePW)
		h.setAdmin(adminID, true)
		annID := h.user("ann@example.com", alicePW)
		ann := h.browser()
		if p := ann.login(ann.get(h.issuer+"/me/mfa"), "ann@example.com", alicePW); p.resp.StatusCode != http.StatusOK {
			t.Fatalf("ann's sign-in: %d", p.resp.StatusCode)
		}
		// An application holds a refresh token from ann's session.
		secret := h.client("app", nil)
		q, verifier := withPKCE(url.Values{"scope": {"openid offline_access"}})
		cb := ann.get(h.authURL("app", q)).callback(t)
		tokens := h.mustExchange("app", secret, loginResult{b: ann, q: cb, verifier: verifier})
		b := h.browser()
		h.consoleSignIn(t, b, aliceEmail)
		page := b.get(h.issuer + "/admin/users/" + annID)
		wantPage(t, "ann's page", page, http.StatusOK, "<h1>ann@example.com</h1>")
		for _, want := range []string{"No second factor.", "Sign out", "Audit trail", "login.succeeded"} {
			if !strings.Contains(page.body, want) {
				t.Fatalf("ann's page lacks %q:\n%s", want, page.body)
			}
		}
		done := b.post(h.issuer+"/admin/users/"+annID+"/sessions/revoke", consoleForm(t, page, "/admin/users/"+annID+"/sessions/revoke"))
		wantPage(t, "after the sign-out", done, http.StatusOK, "That session is signed out.")
		if p := ann.get(h.issuer + "/me/mfa"); !p.isLoginForm() {
			t.Fatalf("ann's revoked session still opens /me/mfa: %d", p.resp.StatusCode)
		}
		// What the application got from that session ends with it.
		status, body := h.refresh("app", secret, jsonStr(tokens, "refresh_token"), "")
		wantOAuthError(t, "a refresh from the signed-out session", status, body, http.StatusBadRequest, "invalid_grant")
		evs, _ := h.inst.Store.ListAuditEvents(h.ctx, storage.AuditQuery{UserID: annID, Type: audit.SessionRevoked})
		if len(evs) != 1 || evs[0].ActorID != "console:"+adminID {
			t.Fatalf("session.revoked events %+v", evs)
		}
		// The profile: a number without its country code is refused
		// with what to fix, what was typed kept; then it is saved.
		edit := consoleForm(t, done, "/admin/users/"+annID+"/profile")
		edit.Set("name", "Ann Example")
		edit.Set("phone", "07700 900123")
		bad := b.post(h.issuer+"/admin/users/"+annID+"/profile", edit)
		wantPage(t, "a number without a country code", bad, http.StatusUnprocessableEntity, "include the country code")
		if !strings.Contains(bad.body, `value="07700 900123"`) {
			t.Error("the profile form lost the number typed")
		}
		edit.Set("phone", "+44 7700 900123")
		saved := b.post(h.issuer+"/admin/users/"+annID+"/profile", edit)
		wantPage(t, "the saved profile", saved, http.StatusOK, "The profile is saved.")
		if u := h.storedUser(annID); u.Name != "Ann Example" || u.Phone != "+447700900123" || u.EmailVerified {
			t.Fatalf("stored profile %q %q verified=%v", u.Name, u.Phone, u.EmailVerified)
		}
		if evs, _ := h.inst.Store.ListAuditEvents(h.ctx, storage.AuditQuery{UserID: annID, Type: audit.UserEmailVerified}); len(evs) != 1 {
			t.Fatalf("%d email_verified events (the form unticked it), want 1", len(evs))
		}
		// A new address, taken by another account: refused; a free one:
		// saved, unverified.
		h.user("taken@example.com", alicePW)
		edit.Set("email", "taken@example.com")
		wantPage(t, "a taken address", b.post(h.issuer+"/admin/users/"+annID+"/profile", edit), http.StatusUnprocessableEntity, "has the email")
		edit.Set("email", "ann.new@example.com")
		wantPage(t, "a new address", b.post(h.issuer+"/admin/users/"+annID+"/profile", edit), http.StatusOK, "The profile is saved.")
		if u := h.storedUser(annID); u.Email != "ann.new@example.com" || u.EmailVerified {
			t.Fatalf("after the new address %q verified=%v", u.Email, u.EmailVerified)
		}

		// Roles: grant ann the org-admin role, revoke it; one's own admin
		// role stays.
		grant := consoleForm(t, saved, "/admin/users/"+annID+"/roles")
		grant.Set("op", "grant")
		grant.Set("role", "org-admin")
		grant.Set("org", "default")
		granted := b.post(h.issuer+"/admin/users/"+annID+"/roles", grant)
		wantPage(t, "the granted role", granted, http.StatusOK, "The roles are changed.")
		if len(h.storedUser(annID).OrgAdminOf()) != 1 {
			t.Fatal("ann is not an org admin")
		}
		revoke := b.post(h.issuer+"/admin/users/"+annID+"/roles", url.Values{"csrf_token": {grant.Get("csrf_token")}, "op": {"revoke"},
			"role": {"org-admin"}, "org": {"default"}})
		wantPage(t, "the revoked role", revoke, http.StatusOK, "The roles are changed.")
		if len(h.storedUser(annID).Roles) != 0 {
			t.Fatalf("ann's roles %v", h.storedUser(annID).Roles)
		}
		own := b.post(h.issuer+"/admin/users/"+adminID+"/roles", url.Values{"csrf_token": {grant.Get("csrf_token")}, "op": {"revoke"}, "role": {"admin"}})
		wantPage(t, "revoking one's own admin role", own, http.StatusUnprocessableEntity, "your own admin role")

		// One user's action goes through the bulk run, with its reason.
		run := consoleForm(t, done, "/admin/users/bulk/run")
		run.Set("action", "disable")
		run.Set("reason", "left the company")
		res := b.post(h.issuer+"/admin/users/bulk/run", run)
		wantPage(t, "disable from the user page", res, http.StatusOK, "Done for 1")
		if h.storedUser(annID).State != storage.UserDisabled {
			t.Fatal("ann is not disabled")
		}
		// Another user's page of an id that is none: 404, not 500.
		if p := b.get(h.issuer + "/admin/users/nobody"); p.resp.StatusCode != http.StatusNotFound {
			t.Errorf("an unknown user's page: %d", p.resp.StatusCode)
		}
	})
}

// TestConsoleWithoutRequiredMFA: with console.require_mfa off, an admin
// without a second factor reaches the console with the password alone.
func TestConsoleWithoutRequiredMFA(t *testing.T) {
	h := newHarnessWith(t, config.StorageSQLite, harnessOptions{config: func(c *config.Config) { c.Console.RequireMFA = false }})
	h.setAdmin(h.user(aliceEmail, alicePW), true)
	b := h.browser()
	p := b.login(b.get(h.issuer+"/admin/users"), aliceEmail, alicePW)
	wantPage(t, "the users list after the password alone", p, http.StatusOK, `data-page="users"`)
}
