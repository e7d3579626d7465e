package oidcop

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// oauthError is an RFC 6749 §5.2 error. detail is for the log only.
type oauthError struct {
	status int
	code   string
	desc   string
	detail error
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func invalidGrant(desc string, detail error) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_grant", desc, detail}
}
func invalidRequest(desc string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_request", desc, nil}
}
func invalidClient(detail error) *oauthError {
	return &oauthError{http.StatusUnauthorized, "invalid_client", "client authentication failed", detail}
}

// retryAfter is what a 503 asks clients to wait, in seconds, as the admin
// API does.
const retryAfter = "5"

func serverError(detail error) *oauthError {
	// Storage unavailable is 503, so load balancers and clients retry
	// rather than treat it as a bad credential.
	if errors.Is(detail, storage.ErrUnavailable) {
		return &oauthError{http.StatusServiceUnavailable, "temporarily_unavailable", "try again later", detail}
	}
	return &oauthError{http.StatusInternalServerError, "server_error", "internal error", detail}
}

func (p *Provider) writeError(w http.ResponseWriter, r *http.Request, e *oauthError) {
	lvl := p.opts.Logger.InfoContext
	if e.status >= 500 {
		lvl = p.opts.Logger.ErrorContext
	}
	lvl(r.Context(), "oauth error", "endpoint", r.URL.Path, "error", e.code, "description", e.desc, "detail", e.detail)
	if e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter)
	}
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse"`)
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// authenticateClient implements client_secret_basic, client_secret_post and
// none (public clients). Unknown clients and wrong secrets cost the same
// and get the same answer.
func (p *Provider) authenticateClient(r *http.Request) (storage.Client, *oauthError) {
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: both are form-urlencoded inside Basic.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil || r.PostForm.Get("client_secret") != "" {
			return storage.Client{}, invalidClient(errors.New("malformed basic credentials or two methods"))
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id == "" {
		return storage.Client{}, invalidClient(errors.New("no client_id"))
	}
	c, err := p.opts.Store.GetClient(r.Context(), id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		clients.VerifySecret(storage.Client{}, secret)
		return storage.Client{}, invalidClient(errors.New("unknown client"))
	case err != nil:
		return storage.Client{}, serverError(err)
	case c.Public:
		if secret != "" {
			return storage.Client{}, invalidClient(errors.New("public client sent a secret"))
		}
		return c, nil
	case !clients.VerifySecret(c, secret):
		return storage.Client{}, invalidClient(errors.New("wrong secret"))
	}
	return c, nil
}

// formClient parses a form POST and authenticates its client, as the
// token, introspection and revocation endpoints all begin. When ok is
// false it has written the error response.
func (p *Provider) formClient(w http.ResponseWriter, r *http.Request) (c storage.Client, ok bool) {
	if err := r.ParseForm(); err != nil {
		p.writeError(w, r, invalidRequest("malformed form body"))
		return c, false
	}
	for name, vals := range r.PostForm {
		for _, v := range vals {
			if name == "client_id" || name == "client_secret" {
				continue // invalid_client, from authenticateClient
			}
			if !storage.Storable(name) || !storage.Storable(v) {
				p.writeError(w, r, invalidRequest("a parameter is not valid UTF-8 or holds NUL"))
				return c, false
			}
		}
	}
	c, oerr := p.authenticateClient(r)
	if oerr != nil {
		p.writeError(w, r, oerr)
		return c, false
	}
	return c, true
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	c, ok := p.formClient(w, r)
	if !ok {
		return
	}
	gt := r.PostForm.Get("grant_type")
	if !slices.Contains(c.GrantTypes, gt) {
		if gt == "" {
			p.writeError(w, r, invalidRequest("grant_type is missing"))
		} else {
			p.writeError(w, r, &oauthError{http.StatusBadRequest, "unauthorized_client", "grant type not allowed for this client", nil})
		}
		return
	}
	var res issued
	var oerr *oauthError
	switch gt {
	case string(oidc.GrantTypeCode):
		res, oerr = p.exchangeCode(r, c)
	case string(oidc.GrantTypeRefreshToken):
		res, oerr = p.refresh(r, c)
	case string(oidc.GrantTypeClientCredentials):
		res, oerr = p.clientCredentials(r, c)
	default:
		oerr = &oauthError{http.StatusBadRequest, "unsupported_grant_type", "unsupported grant_type", nil}
	}
	if oerr != nil {
		p.writeError(w, r, oerr)
		return
	}
	writeJSON(w, http.StatusOK, res.resp)
}

func (p *Provider) exchangeCode(r *http.Request, c storage.Client) (issued, *oauthError) {
	ctx := r.Context()
	code := r.PostForm.Get("code")
	if code == "" {
		return issued{}, invalidRequest("code is missing")
	}
	hash := storage.HashSecret(code)
	// The code is read, checked, and its tokens signed before anything is
	// written; RedeemAuthCode then consumes it and stores the tokens in one
	// transaction, which a replay racing this exchange cannot split.
	ac, err := p.opts.Store.GetAuthCode(ctx, hash)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return issued{}, invalidGrant("authorization code is invalid or expired", err)
	case err != nil:
		return issued{}, serverError(err)
	case !ac.ConsumedAt.IsZero():
		return issued{}, p.codeReplayed(r, c, ac)
	case !p.now().Before(ac.ExpiresAt):
		return issued{}, invalidGrant("authorization code is invalid or expired", storage.ErrExpired)
	}
	res, oerr := p.checkCode(r, c, ac)
	if oerr != nil && oerr.status >= 500 {
		return issued{}, oerr // our failure, not the request's: the code stays usable
	}
	if oerr != nil {
		// A code that fails a check is burnt, as a used one would be: it
		// may be in the wrong hands, and a second try must not work.
		if _, err := p.opts.Store.ConsumeAuthCode(ctx, hash, p.now()); err != nil &&
			!errors.Is(err, storage.ErrAlreadyUsed) && !errors.Is(err, storage.ErrExpired) {
			p.opts.Logger.WarnContext(ctx, "burning a refused authorization code failed", "error", err)
		}
		return issued{}, oerr
	}
	ac, err = p.opts.Store.RedeemAuthCode(ctx, hash, res.access, res.refresh, p.now())
	switch {
	case errors.Is(err, storage.ErrAlreadyUsed):
		// Used between the read and the redemption, which revoked the
		// grant already.
		p.recordCodeReplay(r, c, -1)
		return issued{}, invalidGrant("authorization code already used", err)
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrExpired):
		return issued{}, invalidGrant("authorization code is invalid or expired", err)
	case err != nil:
		return issued{}, storeError(err)
	}
	return res, nil
}

// checkCode checks an unused code against the request that presents it and
// the authorization request it was issued for, and builds its tokens.
func (p *Provider) checkCode(r *http.Request, c storage.Client, ac storage.AuthCode) (issued, *oauthError) {
	f := r.PostForm
	if ac.ClientID != c.ID {
		return issued{}, invalidGrant("authorization code was issued to another client", nil)
	}
	req, err := p.opts.Store.GetAuthRequest(r.Context(), ac.AuthRequestID)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return issued{}, invalidGrant("authorization code is invalid or expired", err)
		}
		return issued{}, serverError(err)
	}
	if !authflow.Issued(req) || req.UserID == "" || req.OIDC == nil {
		return issued{}, invalidGrant("login is not complete", nil)
	}
	o := *req.OIDC
	if f.Get("redirect_uri") != o.RedirectURI {
		return issued{}, invalidGrant("redirect_uri does not match the authorization request", nil)
	}
	verifier := f.Get("code_verifier")
	switch {
	case o.CodeChallenge == "" && verifier != "":
		return issued{}, invalidGrant("code_verifier sent for a code issued without a challenge", nil)
	case o.CodeChallenge != "" && (len(verifier) < 43 || len(verifier) > 128):
		return issued{}, invalidGrant("code_verifier is missing or malformed", nil)
	case o.CodeChallenge != "" && !constantEqual(pkceS256(verifier), o.CodeChallenge):
		return issued{}, invalidGrant("code_verifier does not match the code challenge", nil)
	}
	u, oerr := p.activeUser(r, req.UserID)
	if oerr != nil {
		return issued{}, oerr
	}
	var link upstreamLink
	if up := req.Upstream; up != nil && up.Linked {
		if link, oerr = p.liveLink(r.Context(), up.ConnectorID, up.Subject, u.ID); oerr != nil {
			return issued{}, oerr
		}
	}
	res, err := p.build(r.Context(), grant{client: c, user: &u, scopes: grantedScopes(&u, o.Scopes), authTime: req.AuthTime, amr: req.AMR,
		acr: authflow.ACR(req.AMR), nonce: o.Nonce, familyID: ac.GrantID, sessionID: req.SessionID, link: link,
		refresh: hasScope(o.Scopes, oidc.ScopeOfflineAccess) && slices.Contains(c.GrantTypes, string(oidc.GrantTypeRefreshToken))})
	if err != nil {
		return issued{}, serverError(err)
	}
	return res, nil
}

// codeReplayed handles a code presented after it was used: it leaked, so
// what its first use got is revoked.
func (p *Provider) codeReplayed(r *http.Request, c storage.Client, ac storage.AuthCode) *oauthError {
	n, err := p.opts.Store.RevokeFamily(r.Context(), ac.GrantID, p.now())
	p.recordCodeReplay(r, c, n)
	if err != nil {
		return serverError(err)
	}
	return invalidGrant("authorization code already used", storage.ErrAlreadyUsed)
}

// recordCodeReplay audits a replayed code; revoked < 0 means the count is
// not known (the storage revoked inside the redemption).
func (p *Provider) recordCodeReplay(r *http.Request, c storage.Client, revoked int) {
	d := map[string]string{"kind": "authorization_code"}
	if revoked >= 0 {
		d["revoked"] = itoa(revoked)
	}
	_ = p.opts.Audit.Record(r.Context(), storage.AuditEvent{Type: audit.TokenReuse, ClientID: c.ID, Details: d})
}

// storeError maps a failed write of issued tokens. A conflict is a foreign
// key the write needed and no longer finds: the client or the user was
// deleted during the request. That is a grant gone, not a server fault.
func storeError(err error) *oauthError {
	if errors.Is(err, storage.ErrConflict) {
		return invalidGrant("the client or user of this grant no longer exists", err)
	}
	return serverError(err)
}

// activeUser loads a user who may still receive tokens.
func (p *Provider) activeUser(r *http.Request, id string) (storage.User, *oauthError) {
	u, err := p.opts.Store.GetUser(r.Context(), id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return u, invalidGrant("the user no longer exists", err)
	case err != nil:
		return u, serverError(err)
	case !u.MayHoldTokens():
		return u, invalidGrant("the user is not active", nil)
	}
	return u, nil
}

func (p *Provider) refresh(r *http.Request, c storage.Client) (issued, *oauthError) {
	ctx := r.Context()
	raw := r.PostForm.Get("refresh_token")
	if raw == "" {
		return issued{}, invalidRequest("refresh_token is missing")
	}
	hash := storage.HashSecret(raw)
	old, err := p.opts.Store.GetRefreshToken(ctx, hash)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return issued{}, invalidGrant("refresh token is invalid", err)
	case err != nil:
		return issued{}, serverError(err)
	case old.ClientID != c.ID:
		return issued{}, invalidGrant("refresh token was issued to another client", nil)
	case old.CreatedAt.Before(c.CreatedAt):
		// The client was deleted and registered again under the same id:
		// tokens of the old registration must not work for the new one.
		return issued{}, invalidGrant("refresh token predates the client's registration", nil)
	}
	scopes := old.Scopes
	if s := r.PostForm.Get("scope"); s != "" {
		scopes = splitScope(s)
		for _, sc := range scopes {
			if !hasScope(old.Scopes, sc) {
				return issued{}, &oauthError{http.StatusBadRequest, "invalid_scope", "a refresh cannot widen the scope", nil}
			}
		}
	}
	u, oerr := p.activeUser(r, old.UserID)
	if oerr != nil {
		return issued{}, oerr
	}
	var link upstreamLink
	if old.ConnectorID != "" {
		if link, oerr = p.liveLink(ctx, old.ConnectorID, old.UpstreamSubject, u.ID); oerr != nil {
			return issued{}, oerr
		}
	}
	// The user's roles are checked again: a privilege lost since the
	// grant is not carried into a new access token.
	res, err := p.build(ctx, grant{client: c, user: &u, scopes: grantedScopes(&u, scopes), authTime: old.AuthTime, amr: old.AMR, acr: authflow.ACR(old.AMR),
		familyID: old.FamilyID, sessionID: old.SessionID, refresh: true, link: link})
	if err != nil {
		return issued{}, serverError(err)
	}
	// The refresh token keeps the scope it was granted; only the access
	// token is narrowed.
	res.refresh.Scopes = old.Scopes
	_, err = p.opts.Store.RotateRefreshToken(ctx, hash, *res.refresh, &res.access, p.now())
	switch {
	case errors.Is(err, storage.ErrAlreadyUsed):
		_ = p.opts.Audit.Record(ctx, storage.AuditEvent{Type: audit.TokenReuse, ClientID: c.ID, UserID: old.UserID,
			Details: map[string]string{"kind": "refresh_token", "family": old.FamilyID}})
		return issued{}, invalidGrant("refresh token was already used; its grant is revoked", err)
	case errors.Is(err, storage.ErrRevoked), errors.Is(err, storage.ErrExpired), errors.Is(err, storage.ErrNotFound):
		return issued{}, invalidGrant("refresh token is invalid", err)
	case err != nil:
		return issued{}, storeError(err)
	}
	return res, nil
}

func (p *Provider) clientCredentials(r *http.Request, c storage.Client) (issued, *oauthError) {
	if c.Public {
		return issued{}, &oauthError{http.StatusBadRequest, "unauthorized_client", "public clients cannot use client_credentials", nil}
	}
	var scopes []string
	for _, s := range splitScope(r.PostForm.Get("scope")) {
		// OIDC scopes describe a user; a client acting for itself has none.
		if s == oidc.ScopeOpenID || s == oidc.ScopeOfflineAccess || !hasScope(c.Scopes, s) {
			return issued{}, &oauthError{http.StatusBadRequest, "invalid_scope", "scope " + s + " is not allowed for this client", nil}
		}
		scopes = append(scopes, s)
	}
	res, err := p.build(r.Context(), grant{client: c, scopes: scopes, familyID: storage.NewID()})
	if err != nil {
		return issued{}, serverError(err)
	}
	if err := p.opts.Store.CreateAccessToken(r.Context(), res.access); err != nil {
		return issued{}, storeError(err)
	}
	return res, nil
}

func constantEqual(a, b string) bool {
	return len(a) == len(b) && subtleEq(a, b)
}
