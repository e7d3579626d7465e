package oidcop

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Token prefixes make leaked tokens recognisable to secret scanners.
const (
	prefixAccess  = "gh_at_"
	prefixRefresh = "gh_rt_"
)

// Default lifetimes when a client sets none.
const (
	// Client defaults are idp/clients'; a stored client normally has
	// them filled in already, these cover rows that predate a default.
	defaultAccessTTL  = clients.DefaultAccessTokenTTL
	defaultIDTokenTTL = clients.DefaultIDTokenTTL
	defaultRefreshTTL = clients.DefaultRefreshTokenTTL
	// jwtAccessAlg signs JWT access tokens: ES256 costs a fortieth of RS256.
	jwtAccessAlg = "ES256"
)

// randomToken returns 256 random bits, base64url.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the platform is broken; nothing safe can continue
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// privilegedScopes are the scopes that grant a role rather than describe
// a user: each is released only to a principal that holds the role.
// ScopeAdmin goes to admins and to organization admins alike: the admin
// API reads the roles again at every call (AuthenticateBearer) and gives
// an organization admin only that organization's powers.
var privilegedScopes = map[string]func(storage.User) bool{
	ScopeAdmin: func(u storage.User) bool { return u.HasRole(storage.RoleAdmin) || len(u.OrgAdminOf()) > 0 },
}

// grantedScopes is the one rule for what a user's token carries of the
// scopes requested (the client's registration and the authorization request
// allowed them already): a privileged scope only while the user holds its
// role, anything else as asked. A scope the user may not have is dropped
// silently, not refused: the login is still good for the rest. It is applied
// at the code exchange and again at every refresh, so a demoted admin's next
// access token loses the privilege (the refresh token keeps the scope it was
// granted, and a re-promoted admin's refresh gets it back). Clients acting
// for themselves (client_credentials, user nil) get what their
// registration lists.
func grantedScopes(u *storage.User, requested []string) []string {
	if u == nil {
		return requested
	}
	out := make([]string, 0, len(requested))
	for _, s := range requested {
		if holds, ok := privilegedScopes[s]; ok && !holds(*u) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// grant is what a token response is issued for.
type grant struct {
	client    storage.Client
	user      *storage.User // nil for client_credentials
	scopes    []string
	authTime  time.Time
	amr       []string
	acr       string
	nonce     string
	familyID  string
	sessionID string
	refresh   bool
	// link is the upstream link a federated login stood on (zero for a
	// local login); its groups go into the groups claim.
	link upstreamLink
}

// tokenResponse is RFC 6749 §5.1 plus id_token.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// issued holds the rows to persist for a response. build writes nothing:
// each grant stores its rows in one storage call (RedeemAuthCode,
// RotateRefreshToken, CreateAccessToken), after the slow part, signing.
type issued struct {
	resp    tokenResponse
	access  storage.AccessToken
	refresh *storage.RefreshToken
}

func ttl(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (p *Provider) build(ctx context.Context, g grant) (issued, error) {
	now := p.now()
	c := g.client
	atTTL := ttl(c.AccessTokenTTL, defaultAccessTTL)
	subject, userID := c.ID, ""
	if g.user != nil {
		subject, userID = g.user.ID, g.user.ID
	}
	out := issued{resp: tokenResponse{TokenType: oidc.BearerToken, ExpiresIn: int64(atTTL / time.Second), Scope: strings.Join(g.scopes, " ")}}
	out.access = storage.AccessToken{FamilyID: g.familyID, ClientID: c.ID, UserID: userID, Subject: subject,
		Scopes: g.scopes, Audience: []string{c.ID}, CreatedAt: now, ExpiresAt: now.Add(atTTL)}
	if c.AccessTokenFormat == clients.AccessTokenJWT {
		jti := storage.NewID()
		tok, err := p.sign(ctx, jwtAccessAlg, accessClaims{Issuer: p.opts.Issuer, Subject: subject, Audience: []string{c.ID},
			ClientID: c.ID, Scope: out.resp.Scope, IssuedAt: now.Unix(), Expiry: now.Add(atTTL).Unix(), JTI: jti}, "at+jwt")
		if err != nil {
			return issued{}, err
		}
		out.resp.AccessToken = tok
		out.access.Hash = storage.HashSecret(jti)
	} else {
		out.resp.AccessToken = prefixAccess + randomToken()
		out.access.Hash = storage.HashSecret(out.resp.AccessToken)
	}
	if g.refresh {
		rt := prefixRefresh + randomToken()
		out.resp.RefreshToken = rt
		out.refresh = &storage.RefreshToken{Hash: storage.HashSecret(rt), FamilyID: g.familyID, ClientID: c.ID, UserID: userID,
			SessionID: g.sessionID, Scopes: g.scopes, Audience: []string{c.ID}, AMR: g.amr, AuthTime: g.authTime,
			ConnectorID: g.link.connector, UpstreamSubject: g.link.subject, CreatedAt: now, ExpiresAt: now.Add(ttl(c.RefreshTokenTTL, defaultRefreshTTL))}
	}
	if g.user != nil && hasScope(g.scopes, oidc.ScopeOpenID) {
		alg := c.IDTokenSignedResponseAlg
		if alg == "" {
			alg = clients.DefaultIDTokenAlg // the spec's default when the client registered none
		}
		atHash, err := oidc.ClaimHash(out.resp.AccessToken, jose.SignatureAlgorithm(alg))
		if err != nil {
			return issued{}, fmt.Errorf("at_hash: %w", err)
		}
		claims := idClaims{Issuer: p.opts.Issuer, Subject: subject, Audience: []string{c.ID}, AZP: c.ID,
			IssuedAt: now.Unix(), Expiry: now.Add(ttl(c.IDTokenTTL, defaultIDTokenTTL)).Unix(),
			AuthTime: g.authTime.Unix(), Nonce: g.nonce, ACR: g.acr, AMR: g.amr, AtHash: atHash}
		claims.userClaims = userClaimsFor(*g.user, g.scopes)
		if hasScope(g.scopes, ScopeGroups) {
			claims.Groups = g.link.groups
		}
		if out.resp.IDToken, err = p.sign(ctx, alg, claims, "JWT"); err != nil {
			return issued{}, err
		}
	}
	return out, nil
}

type accessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	IssuedAt int64    `json:"iat"`
	Expiry   int64    `json:"exp"`
	JTI      string   `json:"jti"`
}

type idClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	AZP      string   `json:"azp"`
	IssuedAt int64    `json:"iat"`
	Expiry   int64    `json:"exp"`
	AuthTime int64    `json:"auth_time"`
	Nonce    string   `json:"nonce,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	AtHash   string   `json:"at_hash,omitempty"`
	// Groups are a federated login's upstream groups (with the
	// connector's prefix), for the scope "groups".
	Groups []string `json:"groups,omitempty"`
	userClaims
}

// userClaims are the user's claims, released by scope.
type userClaims struct {
	Email             string `json:"email,omitempty"`
	EmailVerified     *bool  `json:"email_verified,omitempty"`
	Name              string `json:"name,omitempty"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	UpdatedAt         int64  `json:"updated_at,omitempty"`
}

func userClaimsFor(u storage.User, scopes []string) userClaims {
	var c userClaims
	if hasScope(scopes, oidc.ScopeEmail) {
		v := u.EmailVerified
		c.Email, c.EmailVerified = u.Email, &v
	}
	if hasScope(scopes, oidc.ScopeProfile) {
		c.Name, c.PreferredUsername = u.Name, u.Email
		if !u.UpdatedAt.IsZero() {
			c.UpdatedAt = u.UpdatedAt.Unix()
		}
	}
	return c
}

// signerCache keeps one jose.Signer per key id: building one is cheaper
// than signing with RSA, but not free, and keys are immutable.
type signerCache struct{ m sync.Map }

func (p *Provider) sign(ctx context.Context, alg string, claims any, typ string) (string, error) {
	k, err := p.opts.Keys.Signer(ctx, alg)
	if err != nil {
		return "", fmt.Errorf("signing key %s: %w", alg, err)
	}
	cacheKey := k.ID + "|" + typ
	s, ok := p.signers.m.Load(cacheKey)
	if !ok {
		js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k.Key},
			(&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", k.ID))
		if err != nil {
			return "", fmt.Errorf("signer %s: %w", k.ID, err)
		}
		s, _ = p.signers.m.LoadOrStore(cacheKey, js)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := s.(jose.Signer).Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return jws.CompactSerialize()
}
