package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-idp/gatehouse/idp/clients"
)

const alicePW = "correct horse battery"

type idClaims struct {
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Name          string   `json:"name"`
	AuthTime      int64    `json:"auth_time"`
	AMR           []string `json:"amr"`
	ACR           string   `json:"acr"`
	AZP           string   `json:"azp"`
}

// TestCodeFlowGoOIDC is the main path: a confidential web app with PKCE,
// verified with coreos/go-oidc against the published JWKS.
func TestCodeFlowGoOIDC(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := h.ctx
		uid := h.user("alice@example.com", alicePW)
		secret := h.client("web", nil)

		provider, err := oidc.NewProvider(ctx, h.issuer)
		if err != nil {
			t.Fatal(err)
		}
		conf := oauth2.Config{ClientID: "web", ClientSecret: secret, Endpoint: provider.Endpoint(),
			RedirectURL: "https://" + rpHost + "/web/cb",
			Scopes:      []string{oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess}}
		verifier := oauth2.GenerateVerifier()
		b := h.browser()
		p := b.get(conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1")))
		q := b.login(p, "alice@example.com", alicePW).callback(t)
		if q.Get("state") != "state-1" || q.Get("iss") != h.issuer {
			t.Fatalf("callback state=%q iss=%q", q.Get("state"), q.Get("iss"))
		}

		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		rawID, _ := tok.Extra("id_token").(string)
		idt, err := provider.Verifier(&oidc.Config{ClientID: "web"}).Verify(ctx, rawID)
		if err != nil {
			t.Fatalf("ID token does not verify against JWKS: %v", err)
		}
		if idt.Subject != uid || idt.Nonce != "nonce-1" || idt.Issuer != h.issuer {
			t.Fatalf("id token sub=%q nonce=%q iss=%q", idt.Subject, idt.Nonce, idt.Issuer)
		}
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil || idt.AccessTokenHash == "" {
			t.Fatalf("at_hash %q: %v", idt.AccessTokenHash, err)
		}
		var c idClaims
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		if c.Email != "alice@example.com" || !c.EmailVerified || c.AZP != "web" || !slices.Equal(c.AMR, []string{"pwd"}) ||
			c.ACR == "" || c.AuthTime == 0 || c.Name == "" {
			t.Fatalf("claims %+v", c)
		}
		if alg := jwsAlg(t, rawID); alg != "RS256" {
			t.Fatalf("ID token alg %s; want RS256 (the default)", alg)
		}

		ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || ui.Subject != uid || ui.Email != "alice@example.com" {
			t.Fatalf("userinfo = %+v, %v", ui, err)
		}

		// Refresh rotates the refresh token.
		old := tok.RefreshToken
		if old == "" {
			t.Fatal("no refresh token for offline_access")
		}
		fresh, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: old, Expiry: time.Now().Add(-time.Hour)}).Token()
		if err != nil {
			t.Fatal(err)
		}
		if fresh.RefreshToken == "" || fresh.RefreshToken == old || fresh.AccessToken == tok.AccessToken {
			t.Fatal("refresh did not rotate")
		}
		// Replaying the old refresh token is reuse: refused, and the whole
		// family dies, including the token the legitimate refresh got.
		status, body := h.tokenRequest("web", secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}})
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("reuse: %d %v", status, body)
		}
		status, body = h.tokenRequest("web", secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fresh.RefreshToken}})
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("family member after reuse: %d %v", status, body)
		}
		if active := h.introspect(t, "web", secret, fresh.AccessToken); active {
			t.Fatal("access token of a revoked family is still active")
		}
	})
}

func jwsAlg(t *testing.T, raw string) string {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.Algorithm
}

func (h *harness) introspect(t *testing.T, clientID, secret, token string) bool {
	t.Helper()
	status, body := h.postJSON("/oauth/introspect", clientID, secret, url.Values{"token": {token}})
	if status != http.StatusOK {
		t.Fatalf("introspect: %d %v", status, body)
	}
	active, _ := body["active"].(bool)
	return active
}

// TestIDTokenAlgorithms: the client's id_token_signed_response_alg picks
// the signing key; JWT access tokens are ES256.
func TestIDTokenAlgorithms(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user("alice@example.com", alicePW)
		for _, alg := range []string{"ES256", "EdDSA"} {
			t.Run(alg, func(t *testing.T) {
				id := "app-" + strings.ToLower(alg)
				secret := h.client(id, func(in *clients.Input) {
					in.IDTokenSignedResponseAlg = alg
					in.AccessTokenFormat = "jwt"
				})
				provider, err := oidc.NewProvider(h.ctx, h.issuer)
				if err != nil {
					t.Fatal(err)
				}
				conf := oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: provider.Endpoint(),
					RedirectURL: "https://" + rpHost + "/" + id + "/cb", Scopes: []string{oidc.ScopeOpenID, "email"}}
				verifier := oauth2.GenerateVerifier()
				b := h.browser()
				q := b.login(b.get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier))), "alice@example.com", alicePW).callback(t)
				tok, err := conf.Exchange(h.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
				if err != nil {
					t.Fatal(err)
				}
				rawID, _ := tok.Extra("id_token").(string)
				if got := jwsAlg(t, rawID); got != alg {
					t.Fatalf("id token alg %s; want %s", got, alg)
				}
				if _, err := provider.Verifier(&oidc.Config{ClientID: id, SupportedSigningAlgs: []string{alg}}).Verify(h.ctx, rawID); err != nil {
					t.Fatal(err)
				}
				if got := jwsAlg(t, tok.AccessToken); got != "ES256" {
					t.Fatalf("JWT access token alg %s; want ES256", got)
				}
				ui, err := provider.UserInfo(h.ctx, oauth2.StaticTokenSource(tok))
				if err != nil || ui.Email != "alice@example.com" {
					t.Fatalf("userinfo with a JWT access token: %+v %v", ui, err)
				}
			})
		}
	})
}

// TestClientCredentialsIntrospectRevoke: a service client gets a token for
// itself; a resource server introspects it; revocation kills it.
func TestClientCredentialsIntrospectRevoke(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		secret := h.client("svc", func(in *clients.Input) {
			in.RedirectURIs, in.PostLogoutRedirectURIs = nil, nil
			in.GrantTypes = []string{"client_credentials"}
			in.Scopes = []string{"reports.read"}
		})
		rsSecret := h.client("resource-server", func(in *clients.Input) {
			in.RedirectURIs, in.PostLogoutRedirectURIs = nil, nil
			in.GrantTypes = []string{"client_credentials"}
			in.Scopes = []string{"x"}
		})
		cc := clientcredentials.Config{ClientID: "svc", ClientSecret: secret, TokenURL: h.issuer + "/oauth/token",
			Scopes: []string{"reports.read"}}
		tok, err := cc.Token(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := tok.Extra("id_token").(string); ok || tok.RefreshToken != "" {
			t.Fatal("client credentials must give neither an ID token nor a refresh token")
		}
		status, body := h.postJSON("/oauth/introspect", "resource-server", rsSecret, url.Values{"token": {tok.AccessToken}})
		if status != 200 || body["active"] != true || body["client_id"] != "svc" || body["sub"] != "svc" || body["scope"] != "reports.read" {
			t.Fatalf("introspect: %d %v", status, body)
		}
		// Scopes the client was not allowed, and openid, are refused.
		for _, scope := range []string{"admin", "openid"} {
			status, body = h.tokenRequest("svc", secret, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})
			if status != 400 || body["error"] != "invalid_scope" {
				t.Fatalf("scope %s: %d %v", scope, status, body)
			}
		}
		// Another client revoking it: 200, but nothing happens.
		if status, _ := h.postJSON("/oauth/revoke", "resource-server", rsSecret, url.Values{"token": {tok.AccessToken}}); status != 200 {
			t.Fatalf("revoke by another client: %d", status)
		}
		if !h.introspect(t, "resource-server", rsSecret, tok.AccessToken) {
			t.Fatal("another client's revocation took effect")
		}
		if status, _ := h.postJSON("/oauth/revoke", "svc", secret, url.Values{"token": {tok.AccessToken}}); status != 200 {
			t.Fatalf("revoke: %d", status)
		}
		if h.introspect(t, "resource-server", rsSecret, tok.AccessToken) {
			t.Fatal("revoked token still active")
		}
		// Unknown tokens are simply inactive; bad credentials are 401.
		if h.introspect(t, "resource-server", rsSecret, "gh_at_nope") {
			t.Fatal("unknown token active")
		}
		status, body = h.postJSON("/oauth/introspect", "resource-server", "wrong-secret-wrong-secret-wrong-secret", url.Values{"token": {tok.AccessToken}})
		if status != 401 || body["error"] != "invalid_client" {
			t.Fatalf("bad client secret: %d %v", status, body)
		}
	})
}

// decodeSegment reads a JWT's payload without verifying it.
func decodeSegment(t *testing.T, raw string, v any) {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), v); err != nil {
		t.Fatal(err)
	}
}
