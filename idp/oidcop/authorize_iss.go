package oidcop

import (
	"net/http"
	"net/url"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// authorizeErrorsIss completes the error redirects the library answers
// /authorize with, once it has validated the redirect URI (op.TryErrorRedirect:
// for its own checks, for those of server.Authorize, and inside
// LegacyServer.Authorize). The library builds them without the issuer,
// which RFC 9207 §2 requires on error responses as on codes, and offers no
// hook for it (its error encoder is fixed when the handler is built). It
// also ignores response_mode=form_post for errors: AuthResponseURL puts them
// in the query (or, for implicit response types, the fragment), where a
// client that asked for form_post does not look (OAuth 2.0 Form Post
// Response Mode §2 applies to error responses too).
//
// So the redirect is held back and answered again: with form_post, by
// Gatehouse's form_post page (redirectResponse, the one the callback uses:
// its CSP allows no inline script, unlike the library's own form_post
// template, which is never used); otherwise as the library built it, with
// iss added where the error is. Only a redirect to the request's
// redirect_uri that carries an error is touched; the redirect to the login
// page, and every error page, pass through.
//
// It relies on singleParams: redirect_uri, state and response_mode each
// occur at most once, so r.Form holds exactly what the library read.
func (p *Provider) authorizeErrorsIss(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &heldErrorRedirect{ResponseWriter: w, redirectURI: r.Form.Get("redirect_uri")}
		next.ServeHTTP(hw, r)
		if hw.location == nil {
			return
		}
		h := w.Header()
		h.Del("Location")
		h.Del("Content-Type")
		if r.Form.Get("response_mode") == string(oidc.ResponseModeFormPost) {
			params := url.Values{}
			for _, k := range []string{"error", "error_description", "error_uri"} {
				if v := hw.params.Get(k); v != "" {
					params.Set(k, v)
				}
			}
			p.redirectResponse(w, r, storage.AuthRequest{Protocol: Protocol, OIDC: &storage.OIDCParams{
				RedirectURI: hw.redirectURI, State: r.Form.Get("state"), ResponseMode: string(oidc.ResponseModeFormPost)}}, params)
			return
		}
		hw.params.Set("iss", p.opts.Issuer)
		if hw.inFragment {
			// As the library's setFragment: the encoded form is the raw one.
			hw.location.RawFragment = hw.params.Encode()
			hw.location.Fragment, _ = url.PathUnescape(hw.location.RawFragment)
		} else {
			hw.location.RawQuery = hw.params.Encode()
		}
		http.Redirect(w, r, hw.location.String(), hw.status)
	})
}

// heldErrorRedirect passes a response through unless it is a redirect to
// redirectURI with an error in its query or fragment; that one it holds
// back (status, parsed Location, and the parameters of the part that has
// the error), and drops its body.
type heldErrorRedirect struct {
	http.ResponseWriter
	redirectURI string

	status     int
	location   *url.URL
	params     url.Values
	inFragment bool
	passed     bool
}

func (h *heldErrorRedirect) WriteHeader(status int) {
	if !h.passed && h.location == nil && (status == http.StatusFound || status == http.StatusSeeOther) {
		if loc, params, frag, ok := errorRedirect(h.Header().Get("Location"), h.redirectURI); ok {
			h.status, h.location, h.params, h.inFragment = status, loc, params, frag
			return
		}
	}
	h.passed = true
	h.ResponseWriter.WriteHeader(status)
}

func (h *heldErrorRedirect) Write(b []byte) (int, error) {
	if h.location != nil {
		return len(b), nil
	}
	h.passed = true
	return h.ResponseWriter.Write(b)
}

// errorRedirect parses location and reports whether it is an error
// response sent to redirectURI (same URI but for query and fragment), and
// where the error is: the fragment's parameters if it has one, else the
// query's.
func errorRedirect(location, redirectURI string) (loc *url.URL, params url.Values, inFragment, ok bool) {
	if location == "" || redirectURI == "" {
		return nil, nil, false, false
	}
	loc, err := url.Parse(location)
	if err != nil {
		return nil, nil, false, false
	}
	want, err := url.Parse(redirectURI)
	if err != nil || stripped(loc) != stripped(want) {
		return nil, nil, false, false
	}
	if frag, err := url.ParseQuery(loc.EscapedFragment()); err == nil && frag.Has("error") {
		return loc, frag, true, true
	}
	if q, err := url.ParseQuery(loc.RawQuery); err == nil && q.Has("error") {
		return loc, q, false, true
	}
	return nil, nil, false, false
}

// stripped is u without its query and fragment.
func stripped(u *url.URL) string {
	c := *u
	c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = "", false, "", ""
	return c.String()
}
