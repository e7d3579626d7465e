package oidcop

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// callback issues the authorization code once the login flow is done. It
// is Gatehouse's, not the library's, for three reasons: the code is a
// random secret stored by hash; the callback is bound to the browser
// session that finished the login, so someone who learns an auth request id
// cannot fetch its code from the Location header; and form_post gets a page
// that works with the default CSP and without JavaScript.
func (p *Provider) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.URL.Query().Get("id")
	req, err := p.opts.Flow.Load(ctx, id)
	if err != nil {
		p.fail(w, r, "callback: load auth request", err, http.StatusBadRequest, "This sign-in link has expired. Please start again from the application.")
		return
	}
	if req.Step != authflow.StepDone {
		p.SendError(w, r, req, oidc.ErrInteractionRequired().WithDescription("the login is not complete"))
		return
	}
	sess, ok, err := p.opts.Sessions.Current(r)
	if err != nil {
		p.fail(w, r, "callback: session", err, http.StatusServiceUnavailable, "Sign-in is temporarily unavailable. Please try again.")
		return
	}
	if !ok || sess.Hash != req.SessionID {
		p.fail(w, r, "callback: browser session does not match the login", errors.New("session mismatch"),
			http.StatusBadRequest, "This sign-in could not be completed in this browser. Please start again from the application.")
		return
	}
	code := "gh_ac_" + randomToken()
	if err := (&opStorage{p: p}).SaveAuthCode(ctx, req.ID, code); err != nil {
		if errors.Is(err, storage.ErrUnavailable) {
			p.fail(w, r, "callback: save code", err, http.StatusServiceUnavailable, "Sign-in is temporarily unavailable. Please try again.")
			return
		}
		p.fail(w, r, "callback: save code", err, http.StatusBadRequest, "This sign-in was already completed. Please start again from the application.")
		return
	}
	_ = p.opts.Audit.Record(ctx, storage.AuditEvent{Type: audit.LoginSucceeded, OrgID: req.OrgID, UserID: req.UserID,
		ClientID: req.ClientID, Details: map[string]string{"amr": strings.Join(req.AMR, " ")}})
	p.redirectResponse(w, r, req, url.Values{"code": {code}})
}

// redirectResponse delivers an authorization response (code or error) to
// the client's validated redirect URI, by query or form_post, with the
// state and the issuer (RFC 9207, against mix-up attacks).
func (p *Provider) redirectResponse(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, params url.Values) {
	if req.State != "" {
		params.Set("state", req.State)
	}
	params.Set("iss", p.opts.Issuer)
	if req.ResponseMode == string(oidc.ResponseModeFormPost) {
		p.formPost(w, req.RedirectURI, params)
		return
	}
	u, err := url.Parse(req.RedirectURI)
	if err != nil {
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

var formPostPage = template.Must(template.New("form_post").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Signing you in…</title><script src="` + pathFormPostJS + `" defer></script></head>
<body><form method="post" action="{{.Action}}">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">
{{end}}<p>Signing you in…</p><button type="submit">Continue</button></form></body></html>`))

const formPostJS = "document.forms[0].submit();\n"

// formPost renders the form_post response. Its CSP allows posting to the
// client's origin only, and scripts from Gatehouse only: the auto-submit
// is a static file, and the button works without JavaScript.
func (p *Provider) formPost(w http.ResponseWriter, action string, params url.Values) {
	origin := action
	if u, err := url.Parse(action); err == nil {
		origin = u.Scheme + "://" + u.Host
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; form-action "+origin+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_ = formPostPage.Execute(w, struct {
		Action string
		Params url.Values
	}{action, params})
}

func serveFormPostJS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write([]byte(formPostJS))
}

// fail logs the detail and shows the user a generic page.
func (p *Provider) fail(w http.ResponseWriter, r *http.Request, what string, err error, status int, msg string) {
	p.opts.Logger.WarnContext(r.Context(), what, "err", err)
	if p.opts.Error != nil {
		p.opts.Error(w, r, status, msg)
		return
	}
	http.Error(w, msg, status)
}

// pkceS256 computes the S256 code challenge of a verifier.
func pkceS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
