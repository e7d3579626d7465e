package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

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
