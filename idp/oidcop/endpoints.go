package oidcop

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// lookupAccess finds the stored row of a presented access token: opaque
// tokens by hash; JWT access tokens by their jti after the signature checks.
// ok is false for anything unknown, forged, revoked or expired.
func (p *Provider) lookupAccess(ctx context.Context, raw string) (storage.AccessToken, bool, error) {
	key := ""
	switch {
	case strings.HasPrefix(raw, prefixAccess):
		key = storage.HashSecret(raw)
	case strings.Count(raw, ".") == 2:
		jti, err := p.verifyJWTAccess(ctx, raw)
		if err != nil {
			return storage.AccessToken{}, false, err
		}
		if jti == "" {
			return storage.AccessToken{}, false, nil
		}
		key = storage.HashSecret(jti)
	default:
		return storage.AccessToken{}, false, nil
	}
	t, err := p.opts.Store.GetAccessToken(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return t, false, nil
	} else if err != nil {
		return t, false, err
	}
	return t, t.RevokedAt.IsZero() && p.now().Before(t.ExpiresAt), nil
}

// verifyJWTAccess checks a JWT access token's signature (ES256 only: the
// one algorithm Gatehouse signs them with, so "none", HS256 and embedded
// keys are refused by construction) and issuer, and returns its jti ("" when
// it is not ours).
func (p *Provider) verifyJWTAccess(ctx context.Context, raw string) (string, error) {
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jwtAccessAlg})
	if err != nil || len(jws.Signatures) != 1 {
		return "", nil
	}
	kid := jws.Signatures[0].Header.KeyID
	pubs, err := p.opts.Keys.PublicKeys(ctx)
	if err != nil {
		return "", err
	}
	for _, k := range pubs {
		if k.ID != kid || k.Algorithm != jwtAccessAlg {
			continue
		}
		payload, err := jws.Verify(k.Key)
		if err != nil {
			return "", nil
		}
		var c accessClaims
		if json.Unmarshal(payload, &c) != nil || c.Issuer != p.opts.Issuer {
			return "", nil
		}
		return c.JTI, nil
	}
	return "", nil
}

func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	raw := ""
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		raw = strings.TrimSpace(h[7:])
	} else if r.Method == http.MethodPost {
		raw = r.PostFormValue("access_token")
	}
	deny := func(detail string) {
		p.opts.Logger.InfoContext(r.Context(), "userinfo refused", "reason", detail)
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
	}
	if raw == "" {
		deny("no token")
		return
	}
	t, ok, err := p.lookupAccess(r.Context(), raw)
	if err != nil {
		p.writeError(w, r, serverError(err))
		return
	}
	if !ok || t.UserID == "" || !hasScope(t.Scopes, "openid") {
		deny("inactive token, client token, or no openid scope")
		return
	}
	u, err := p.opts.Store.GetUser(r.Context(), t.UserID)
	if err != nil || !u.MayHoldTokens() {
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			p.writeError(w, r, serverError(err))
			return
		}
		deny("user gone or inactive")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Subject string `json:"sub"`
		userClaims
	}{u.ID, userClaimsFor(u, t.Scopes)})
}

// introspect implements RFC 7662 for authenticated confidential clients
// (resource servers register as clients).
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	c, ok := p.formClient(w, r)
	if !ok {
		return
	}
	if c.Public {
		p.writeError(w, r, invalidClient(errors.New("public clients cannot introspect")))
		return
	}
	raw := r.PostForm.Get("token")
	ctx := r.Context()
	inactive := map[string]any{"active": false}
	if strings.HasPrefix(raw, prefixRefresh) {
		t, err := p.opts.Store.GetRefreshToken(ctx, storage.HashSecret(raw))
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			p.writeError(w, r, serverError(err))
			return
		}
		if err != nil || !t.RevokedAt.IsZero() || !t.UsedAt.IsZero() || !p.now().Before(t.ExpiresAt) {
			writeJSON(w, http.StatusOK, inactive)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"active": true, "token_type": "refresh_token", "client_id": t.ClientID,
			"sub": t.UserID, "scope": strings.Join(t.Scopes, " "), "iat": t.CreatedAt.Unix(), "exp": t.ExpiresAt.Unix(), "iss": p.opts.Issuer})
		return
	}
	t, ok, err := p.lookupAccess(ctx, raw)
	if err != nil {
		p.writeError(w, r, serverError(err))
		return
	}
	if !ok {
		writeJSON(w, http.StatusOK, inactive)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"active": true, "token_type": "Bearer", "client_id": t.ClientID,
		"sub": t.Subject, "aud": t.Audience, "scope": strings.Join(t.Scopes, " "), "iat": t.CreatedAt.Unix(),
		"exp": t.ExpiresAt.Unix(), "iss": p.opts.Issuer})
}

// revoke implements RFC 7009. It answers 200 for unknown tokens and for
// tokens of other clients (revoking nothing), so it reveals nothing.
// Revoking a refresh token revokes its whole grant, access tokens included.
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	c, ok := p.formClient(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	raw := r.PostForm.Get("token")
	now := p.now()
	var err error
	if strings.HasPrefix(raw, prefixRefresh) {
		var t storage.RefreshToken
		t, err = p.opts.Store.GetRefreshToken(ctx, storage.HashSecret(raw))
		if err == nil && t.ClientID == c.ID {
			_, err = p.opts.Store.RevokeFamily(ctx, t.FamilyID, now)
		}
	} else {
		var t storage.AccessToken
		var ok bool
		t, ok, err = p.lookupAccess(ctx, raw)
		if err == nil && ok && t.ClientID == c.ID {
			err = p.opts.Store.RevokeAccessToken(ctx, t.Hash, now)
		}
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		p.writeError(w, r, serverError(err))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// ScopeAdmin grants the admin API. A client may request it only if its
// registration lists it; a user token carries it only for admins and
// organization admins.
const ScopeAdmin = "gatehouse:admin"

// ErrNotAuthenticated: no usable bearer token.
var ErrNotAuthenticated = errors.New("oidcop: no valid bearer token")

// Bearer is who presented a Gatehouse-issued access token, and the admin
// powers it carries. Without ScopeAdmin it carries none, whatever the
// user's roles.
type Bearer struct {
	Subject string
	// Admin: the token may administer the whole install.
	Admin bool
	// OrgAdminOf lists the IDs of the organizations whose users the token
	// may administer.
	OrgAdminOf []string
}

// AuthenticateBearer establishes who calls an API with a Gatehouse-issued
// access token. A token with ScopeAdmin carries admin powers when it
// belongs to a client acting for itself (client_credentials), whose
// registration allowed the scope, or to an active user; then the user's
// roles are read now, so that a demoted admin loses access at once: the
// admin role gives Admin, org-admin roles give OrgAdminOf.
func (p *Provider) AuthenticateBearer(r *http.Request) (Bearer, error) {
	h := r.Header.Get("Authorization")
	if len(h) <= 7 || !strings.EqualFold(h[:7], "bearer ") {
		return Bearer{}, ErrNotAuthenticated
	}
	t, ok, err := p.lookupAccess(r.Context(), strings.TrimSpace(h[7:]))
	if err != nil {
		return Bearer{}, err
	}
	if !ok {
		return Bearer{}, ErrNotAuthenticated
	}
	b := Bearer{Subject: t.Subject}
	if !hasScope(t.Scopes, ScopeAdmin) {
		return b, nil
	}
	if t.UserID == "" {
		b.Admin = true
		return b, nil
	}
	u, err := p.opts.Store.GetUser(r.Context(), t.UserID)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return Bearer{}, ErrNotAuthenticated
		}
		return Bearer{}, err
	}
	if u.MayHoldTokens() {
		b.Admin, b.OrgAdminOf = u.HasRole(storage.RoleAdmin), u.OrgAdminOf()
	}
	return b, nil
}
