package oidcop

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

const (
	msgLinkExpired  = "This sign-in link has expired. Please start again from the application."
	msgUnavailable  = "Sign-in is temporarily unavailable. Please try again."
	msgOtherBrowser = "This sign-in could not be completed in this browser. Please start again from the application."
	msgCompleted    = "This sign-in was already completed. Please start again from the application."
)

// callback issues the authorization code once the login flow is done. It
// is Gatehouse's, not the library's: the flow's Complete binds it to the
// browser session that finished the login (someone who learns an auth
// request id cannot fetch its code) and lets it run once; the code is a
// random secret stored by hash; and form_post gets a page that works with
// the default CSP and without JavaScript.
func (p *Provider) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.URL.Query().Get("id")
	b, err := p.opts.Sessions.Browser(r)
	if err != nil {
		p.fail(w, r, "callback: session", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	// Completing the request and storing its code are one transaction: a
	// code that could not be stored leaves the request done, not issued
	// without a code.
	code := "gh_ac_" + randomToken()
	var req storage.AuthRequest
	var codeErr error
	err = storage.Atomically(ctx, p.opts.Store, func(ctx context.Context) error {
		var err error
		if req, err = p.opts.Flow.Complete(ctx, id, b); err != nil {
			return err
		}
		now := p.now()
		codeErr = p.opts.Store.CreateAuthCode(ctx, storage.AuthCode{
			Hash: storage.HashSecret(code), AuthRequestID: req.ID, ClientID: req.ClientID,
			GrantID: storage.NewID(), CreatedAt: now, ExpiresAt: now.Add(p.codeTTL()),
		})
		return codeErr
	})
	switch {
	case codeErr != nil:
		status, msg := http.StatusServiceUnavailable, msgUnavailable
		if errors.Is(codeErr, storage.ErrConflict) { // the client was deleted meanwhile
			status, msg = http.StatusBadRequest, msgLinkExpired
		}
		p.fail(w, r, "callback: save code", codeErr, status, msg)
		return
	case errors.Is(err, authflow.ErrIncomplete):
		// Reached before the login finished: tell the client, at its
		// validated redirect URI, that the user must interact.
		if req, lerr := p.opts.Flow.Load(ctx, id); lerr == nil {
			p.SendError(w, r, req, oidc.ErrInteractionRequired().WithDescription("the login is not complete"))
			return
		}
		p.fail(w, r, "callback: incomplete", err, http.StatusBadRequest, msgLinkExpired)
		return
	case errors.Is(err, authflow.ErrRequestGone):
		p.fail(w, r, "callback: load auth request", err, http.StatusBadRequest, msgLinkExpired)
		return
	case errors.Is(err, authflow.ErrWrongBrowser):
		p.fail(w, r, "callback: browser session does not match the login", err, http.StatusBadRequest, msgOtherBrowser)
		return
	case errors.Is(err, authflow.ErrOutOfTurn):
		p.fail(w, r, "callback: code already issued", err, http.StatusBadRequest, msgCompleted)
		return
	case err != nil:
		p.fail(w, r, "callback: complete", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	p.redirectResponse(w, r, req, url.Values{"code": {code}})
}

// redirectResponse delivers an authorization response (code or error) to
// the client's validated redirect URI, by query or form_post, with the
// state and the issuer (RFC 9207, against mix-up attacks).
func (p *Provider) redirectResponse(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, params url.Values) {
	o := authRequest{req}.oidc()
	if o.State != "" {
		params.Set("state", o.State)
	}
	params.Set("iss", p.opts.Issuer)
	if o.ResponseMode == string(oidc.ResponseModeFormPost) && webURL(o.RedirectURI) {
		p.opts.Pages.AutoPost(w, r, o.RedirectURI, params)
		return
	}
	u, err := url.Parse(o.RedirectURI)
	if err != nil || o.RedirectURI == "" {
		p.fail(w, r, "redirect: parse stored redirect_uri", err, http.StatusInternalServerError, "Something went wrong. Please try again.")
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// webURL reports whether u is an http(s) URL: the only kind a browser can
// post a form to. A native app's private-use scheme gets its response in
// the query (and /authorize refuses form_post for one).
func webURL(u string) bool {
	return strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")
}

// fail logs the detail and shows the user a generic page.
func (p *Provider) fail(w http.ResponseWriter, r *http.Request, what string, err error, status int, msg string) {
	p.opts.Logger.WarnContext(r.Context(), what, "err", err)
	p.opts.Pages.Error(w, r, status, msg)
}

// pkceS256 computes the S256 code challenge of a verifier.
func pkceS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
