package e2e

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/oidcop"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// setAdmin gives or takes the admin role.
func (h *harness) setAdmin(uid string, admin bool) {
	h.t.Helper()
	if _, err := h.inst.Store.UpdateUser(h.ctx, uid, func(u storage.User) (storage.User, error) {
		u.Roles = slices.DeleteFunc(u.Roles, func(r string) bool { return r == storage.RoleAdmin })
		if admin {
			u.Roles = append(u.Roles, storage.RoleAdmin)
		}
		return u, nil
	}); err != nil {
		h.t.Fatal(err)
	}
}

// scopeSays checks that the token response, the JWT access token's scope
// claim (for JWT clients) and introspection all agree on whether the access
// token carries gatehouse:admin.
func (h *harness) scopeSays(t *testing.T, what, clientID, secret string, tok map[string]any, jwt, wantAdmin bool) {
	t.Helper()
	has := func(scope string) bool { return slices.Contains(strings.Fields(scope), oidcop.ScopeAdmin) }
	if got := has(jsonStr(tok, "scope")); got != wantAdmin {
		t.Errorf("%s: token response scope %q; admin %v, want %v", what, jsonStr(tok, "scope"), got, wantAdmin)
	}
	at := jsonStr(tok, "access_token")
	if jwt {
		c := jwtClaims(t, at)
		s, _ := c["scope"].(string)
		if got := has(s); got != wantAdmin {
			t.Errorf("%s: JWT access token scope %q; admin %v, want %v", what, s, got, wantAdmin)
		}
	}
	st, in := h.postJSON("/oauth/introspect", clientID, secret, url.Values{"token": {at}})
	if st != http.StatusOK || in["active"] != true {
		t.Fatalf("%s: introspection %d %v", what, st, in)
	}
	if got := has(jsonStr(in, "scope")); got != wantAdmin {
		t.Errorf("%s: introspection scope %q; admin %v, want %v", what, jsonStr(in, "scope"), got, wantAdmin)
	}
}

// TestPrivilegedScopeOnlyToAdmins (issue 8): gatehouse:admin is granted
// through a login only to a user holding the admin role, at the code
// exchange and at every refresh; otherwise it is dropped silently, and the
// token response, the JWT access token and introspection all say so.
func TestPrivilegedScopeOnlyToAdmins(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		adminID := h.user(aliceEmail, alicePW)
		h.setAdmin(adminID, true)
		h.user(malloryEmail, alicePW)
		scope := url.Values{"scope": {"openid offline_access " + oidcop.ScopeAdmin}}
		for _, format := range []string{clients.AccessTokenOpaque, clients.AccessTokenJWT} {
			id := "adm-" + format
			secret := h.client(id, func(in *clients.Input) {
				in.Scopes = append(in.Scopes, oidcop.ScopeAdmin)
				in.AccessTokenFormat = format
			})
			jwt := format == clients.AccessTokenJWT
			for _, u := range []struct {
				email string
				admin bool
			}{{aliceEmail, true}, {malloryEmail, false}} {
				what := format + "/" + u.email
				tok := h.mustExchange(id, secret, h.loginFlow(h.browser(), id, u.email, scope))
				h.scopeSays(t, what+" exchange", id, secret, tok, jwt, u.admin)
				st, ref := h.refresh(id, secret, jsonStr(tok, "refresh_token"), "")
				if st != http.StatusOK {
					t.Fatalf("%s refresh: %d %v", what, st, ref)
				}
				h.scopeSays(t, what+" refresh", id, secret, ref, jwt, u.admin)
			}
		}

		// Demotion between the exchange and the refresh: the new access
		// token loses the privilege; the refresh token keeps the scope it
		// was granted (introspection of it says so), so the privilege
		// comes back only if the role does.
		secret := h.client("adm-demote", func(in *clients.Input) { in.Scopes = append(in.Scopes, oidcop.ScopeAdmin) })
		tok := h.mustExchange("adm-demote", secret, h.loginFlow(h.browser(), "adm-demote", aliceEmail, scope))
		h.scopeSays(t, "before demotion", "adm-demote", secret, tok, false, true)
		h.setAdmin(adminID, false)
		st, ref := h.refresh("adm-demote", secret, jsonStr(tok, "refresh_token"), "")
		if st != http.StatusOK {
			t.Fatalf("refresh after demotion: %d %v", st, ref)
		}
		h.scopeSays(t, "after demotion", "adm-demote", secret, ref, false, false)
		h.setAdmin(adminID, true)
		st, ref = h.refresh("adm-demote", secret, jsonStr(ref, "refresh_token"), "")
		if st != http.StatusOK {
			t.Fatalf("refresh after re-promotion: %d %v", st, ref)
		}
		h.scopeSays(t, "after re-promotion", "adm-demote", secret, ref, false, true)
	})
}

// TestPrivilegedScopeClientCredentials: a client acting for itself gets
// gatehouse:admin only when registered for it.
func TestPrivilegedScopeClientCredentials(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		cc := func(in *clients.Input) {
			in.GrantTypes = []string{"client_credentials"}
			in.RedirectURIs, in.PostLogoutRedirectURIs = nil, nil
			in.Scopes = nil
		}
		for _, format := range []string{clients.AccessTokenOpaque, clients.AccessTokenJWT} {
			reg := "svc-reg-" + format
			regSecret := h.client(reg, func(in *clients.Input) {
				cc(in)
				in.Scopes = []string{oidcop.ScopeAdmin}
				in.AccessTokenFormat = format
			})
			st, tok := h.tokenRequest(reg, regSecret, url.Values{"grant_type": {"client_credentials"}, "scope": {oidcop.ScopeAdmin}})
			if st != http.StatusOK {
				t.Fatalf("%s: client_credentials: %d %v", reg, st, tok)
			}
			h.scopeSays(t, reg, reg, regSecret, tok, format == clients.AccessTokenJWT, true)

			not := "svc-not-" + format
			notSecret := h.client(not, func(in *clients.Input) { cc(in); in.AccessTokenFormat = format })
			st, body := h.tokenRequest(not, notSecret, url.Values{"grant_type": {"client_credentials"}, "scope": {oidcop.ScopeAdmin}})
			wantOAuthError(t, not+": client_credentials for an unregistered scope", st, body, http.StatusBadRequest, "invalid_scope")
		}
	})
}

// TestOrgAdminToken (issue 10): an organization admin's login is granted
// gatehouse:admin like an admin's, and its token calls the admin API with
// that organization's powers only: its users, never another
// organization's (those answer as unknown) and none of the admin-only
// routes. Its MFA reset of a user ends that user's session and refresh
// tokens. The roles are read at each call, so a revoked role stops the
// token at once.
func TestOrgAdminToken(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		h.user(malloryEmail, alicePW)
		if _, err := h.inst.Admin.CreateOrg(h.ctx, "test", admin.CreateOrgInput{Name: "acme"}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.inst.Admin.CreateUser(h.ctx, "test", admin.CreateUserInput{Email: "bob@acme.example", Org: "acme", Password: alicePW}); err != nil {
			t.Fatal(err)
		}
		role := admin.RoleChange{Email: aliceEmail, Role: admin.RoleNameOrgAdmin}
		if _, err := h.inst.Admin.GrantRole(h.ctx, "test", role); err != nil {
			t.Fatal(err)
		}
		secret := h.client("console", func(in *clients.Input) { in.Scopes = append(in.Scopes, oidcop.ScopeAdmin) })
		scope := url.Values{"scope": {"openid " + oidcop.ScopeAdmin}}
		tok := h.mustExchange("console", secret, h.loginFlow(h.browser(), "console", aliceEmail, scope))
		h.scopeSays(t, "org admin", "console", secret, tok, false, true)
		malloryBrowser := h.browser()
		plain := h.mustExchange("console", secret, h.loginFlow(malloryBrowser, "console", malloryEmail,
			url.Values{"scope": {"openid offline_access " + oidcop.ScopeAdmin}}))
		h.scopeSays(t, "plain user", "console", secret, plain, false, false)

		bearer := "Bearer " + jsonStr(tok, "access_token")
		api := func(method, path, body string) (int, string) {
			t.Helper()
			req, _ := http.NewRequest(method, h.issuer+"/admin/api/v1/"+path, strings.NewReader(body))
			req.Header.Set("Authorization", bearer)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		for _, tc := range []struct {
			name, method, path, body string
			status                   int
			want, not                string
		}{
			{"own users", "GET", "users", "", 200, aliceEmail, "bob@acme.example"},
			{"another org's users", "GET", "users?org=acme", "", 400, `organization \"acme\" does not exist`, ""},
			{"clients are admin-only", "GET", "clients", "", 403, "insufficient_scope", ""},
			{"policies are admin-only", "PUT", "orgs/default/mfa", `{"required":false}`, 403, "insufficient_scope", ""},
			{"another org's user is unknown", "POST", "users/bob@acme.example/unlock", "{}", 404, `no user with email \"bob@acme.example\"`, ""},
			{"reset an own user", "POST", "users/reset-mfa", `{"emails":["` + malloryEmail + `","bob@acme.example"]}`, 200,
				`"ok":true`, `"email":"bob@acme.example","ok":true`},
		} {
			if status, body := api(tc.method, tc.path, tc.body); status != tc.status || !strings.Contains(body, tc.want) || (tc.not != "" && strings.Contains(body, tc.not)) {
				t.Errorf("%s: %d %s; want %d with %q", tc.name, status, body, tc.status, tc.want)
			}
		}
		if u, err := h.inst.Store.GetUserByEmail(h.ctx, "bob@acme.example"); err != nil || u.MFAEnrollRequired {
			t.Errorf("the org admin reset another organization's user: %+v %v", u, err)
		}
		// The reset user's refresh token and browser session are dead.
		st, body := h.refresh("console", secret, jsonStr(plain, "refresh_token"), "")
		wantOAuthError(t, "refresh after an MFA reset", st, body, http.StatusBadRequest, "invalid_grant")
		if q, _ := h.silent(malloryBrowser, "console", nil); q.Get("error") != "login_required" {
			t.Errorf("prompt=none after an MFA reset: %v; want login_required", q)
		}
		if _, err := h.inst.Admin.RevokeRole(h.ctx, "test", role); err != nil {
			t.Fatal(err)
		}
		if status, body := api("GET", "users", ""); status != http.StatusForbidden {
			t.Errorf("after the role was revoked: %d %s; want 403", status, body)
		}
	})
}
