package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/passwordlogin"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The pages of federated logins: "Sign in with SSO", the step to the
// upstream, its callbacks (OIDC's redirect, SAML's POST), the proof of a
// local account before a link, and a connector's SP metadata. They parse
// and render; the flow decides (authflow/upstream.go).

// Paths of the federation pages. A connector's own URLs are
// federation.URLsFor's: ISSUER/federation/ID/{callback,acs,metadata}.
const (
	PathSSO        = "/login/sso"
	pathFederation = "/federation/"
	actionRestart  = "restart"
	actionSendCode = "send_code"
	fieldSSO       = "sso"
	// upstreamCookieTTL outlives the flow's wait for a callback a little.
	upstreamCookieTTL = 16 * time.Minute
)

// Binding cookie names: the __Host- prefix needs Secure, which dev mode on
// http://localhost cannot have (as the CSRF cookie).
const (
	upstreamCookieSecure   = "__Host-gatehouse-upstream"
	upstreamCookieInsecure = "gatehouse-upstream"
)

func (h *Handlers) mountFederation(handle func(pattern string, handler http.Handler)) {
	if h.Flow.Federation == nil {
		return
	}
	handle("GET "+PathSSO, http.HandlerFunc(h.ssoPage))
	handle("POST "+PathSSO, http.HandlerFunc(h.ssoSubmit))
	handle("GET "+pathFederation+"{id}/callback", http.HandlerFunc(h.upstreamCallback))
	handle("POST "+pathFederation+"{id}/acs", http.HandlerFunc(h.upstreamACS))
	handle("GET "+pathFederation+"{id}/metadata", http.HandlerFunc(h.upstreamMetadata))
}

func ssoURL(id string) string { return PathSSO + "?id=" + url.QueryEscape(id) }

// Messages of federated logins; none says whether an account exists.
const (
	msgSSORequired  = "Your organization requires you to sign in with its own sign-in page. Choose “Sign in with SSO”, or enter your work email and leave the password empty."
	msgPasswordNeed = "Enter your password. (No single sign-on is set up for that email address.)"
	msgUpstreamFail = "Your company sign-in did not complete. Please try again."
	msgNoSSO        = "We found no single sign-on for that email address or organization. Check it, or sign in with your email and password."
	msgAmbiguous    = "Your organization has more than one sign-in provider. Enter your work email instead."
	msgUpstreamDown = "Your company sign-in cannot be reached right now. Please try again in a moment."
	msgWrongBrowser = "This sign-in was started in another browser or window, or has already been used. Please go back to the application and start again."
)

func (h *Handlers) ssoPage(w http.ResponseWriter, r *http.Request) {
	b, err := h.Sessions.Browser(r)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	out, err := h.Flow.SSOForm(r.Context(), r.URL.Query().Get("id"), b)
	if err != nil {
		h.flowError(w, r, err)
		return
	}
	h.show(w, r, http.StatusOK, out, "")
}

func (h *Handlers) ssoSubmit(w http.ResponseWriter, r *http.Request) {
	id, b, ok := h.loginPost(w, r)
	if !ok {
		return
	}
	input := r.PostForm.Get(fieldSSO)
	if len(input) > MaxEmail || !storage.Storable(input) {
		input = ""
	}
	out, err := h.Flow.SSO(r.Context(), id, b, input)
	if err != nil {
		h.federationError(w, r, err)
		return
	}
	h.show(w, r, http.StatusOK, out, input)
}

// ssoForm renders the SSO page for an outcome with Method MethodSSO.
func (h *Handlers) ssoForm(w http.ResponseWriter, r *http.Request, status int, door Door, out authflow.Outcome, input string) {
	req := out.Request
	d := SSOData{PostURL: PathSSO, CSRFToken: h.CSRF.Token(w, r, req.ID), AuthRequestID: req.ID,
		ClientName: out.Party.Name, Input: input, BackURL: LoginURL(req.ID), Lang: "en"}
	switch {
	case errors.Is(out.Failure, authflow.ErrSSOAmbiguous):
		d.Error = msgAmbiguous
	case out.Failure != nil:
		d.Error = msgNoSSO
	}
	if d.ClientName == "" {
		d.ClientName = req.ClientID
	}
	if err := h.Render.RenderSSO(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render sso", "err", err)
	}
}

// federate sends the browser to the upstream: the binding cookie first,
// then a page that continues there (or posts there, for SAML's POST
// binding).
func (h *Handlers) federate(w http.ResponseWriter, r *http.Request, out authflow.Outcome) {
	up := out.Upstream
	if up == nil || up.URL == "" {
		h.fail(w, r, http.StatusInternalServerError, msgUnavailable, errors.New("federate without an upstream"))
		return
	}
	name := upstreamCookieInsecure
	if h.SecureCookies {
		name = upstreamCookieSecure
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: up.Binding, Path: "/", MaxAge: int(upstreamCookieTTL / time.Second),
		HttpOnly: true, Secure: h.SecureCookies, SameSite: http.SameSiteLaxMode})
	if up.Form != nil {
		fields := make([]Field, 0, len(up.Form))
		for k, v := range up.Form {
			fields = append(fields, Field{Name: k, Value: v})
		}
		if err := h.Render.RenderAutoPost(w, AutoPostData{Branding: Branding{h.brandFor(r.Context(), out)}, Action: up.URL, Fields: fields, Heading: "Continuing to " + up.Name + "…", Lang: "en"}); err != nil {
			h.fail(w, r, http.StatusInternalServerError, msgUnavailable, err)
		}
		return
	}
	if err := h.Render.RenderUpstream(w, UpstreamData{Branding: Branding{h.brandFor(r.Context(), out)}, Name: up.Name, URL: up.URL, Lang: "en"}); err != nil {
		h.fail(w, r, http.StatusInternalServerError, msgUnavailable, err)
	}
}

// binding is the browser's binding cookie ("" when none).
func (h *Handlers) binding(r *http.Request) string {
	name := upstreamCookieInsecure
	if h.SecureCookies {
		name = upstreamCookieSecure
	}
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// upstreamCallback is an OIDC upstream's redirect back: ?code&state (or
// ?error&state).
func (h *Handlers) upstreamCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	h.callback(w, r, q.Get("state"), q)
}

// upstreamACS is a SAML upstream's POST of its response. The browser posts
// it from the IdP's page, a cross-site POST, which carries no SameSite=Lax
// cookie: the first POST is answered with a page that posts the same
// fields again from here (same-site, with the binding cookie), so that the
// binding holds without a SameSite=None cookie.
func (h *Handlers) upstreamACS(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxSAMLResponse)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, http.StatusBadRequest, msgUpstreamFail, err)
		return
	}
	relay := r.PostForm.Get("RelayState")
	if h.binding(r) == "" && r.URL.Query().Get("bounced") == "" {
		action := h.Issuer + pathFederation + url.PathEscape(r.PathValue("id")) + "/acs?bounced=1"
		fields := []Field{{Name: "SAMLResponse", Value: r.PostForm.Get("SAMLResponse")}, {Name: "RelayState", Value: relay}}
		if err := h.Render.RenderAutoPost(w, AutoPostData{Action: action, Fields: fields, Heading: "Signing you in…", Lang: "en"}); err != nil {
			h.fail(w, r, http.StatusInternalServerError, msgUnavailable, err)
		}
		return
	}
	h.callback(w, r, relay, r.PostForm)
}

// maxSAMLResponse bounds a SAML response POST (a signed response with a
// few certificates is tens of KiB).
const maxSAMLResponse = 256 << 10

func (h *Handlers) callback(w http.ResponseWriter, r *http.Request, relay string, in url.Values) {
	b, err := h.Sessions.Browser(r)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	if len(relay) > maxField || !storage.Storable(relay) {
		relay = ""
	}
	out, err := h.Flow.Callback(r.Context(), b, r.PathValue("id"), relay, h.binding(r), in)
	if err != nil {
		h.federationError(w, r, err)
		return
	}
	h.show(w, r, http.StatusOK, out, out.Request.LoginHint)
}

// upstreamMetadata serves a SAML connector's SP metadata, for the IT team
// to give their IdP.
func (h *Handlers) upstreamMetadata(w http.ResponseWriter, r *http.Request) {
	_, conn, err := h.Flow.Federation.Upstreams.Open(r.Context(), r.PathValue("id"))
	if errors.Is(err, storage.ErrNotFound) {
		http.NotFound(w, r)
		return
	} else if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUpstreamDown, err)
		return
	}
	md, ok := conn.(federation.Metadata)
	if !ok {
		http.NotFound(w, r)
		return
	}
	xml, err := md.Metadata(r.Context())
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(xml)
}

// federationError renders the flow's federation errors; others as
// flowError.
func (h *Handlers) federationError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, authflow.ErrUpstreamUnavailable):
		h.fail(w, r, http.StatusServiceUnavailable, msgUpstreamDown, err)
	case errors.Is(err, authflow.ErrNotForThisBrowser), errors.Is(err, authflow.ErrOutOfTurn):
		h.fail(w, r, http.StatusBadRequest, msgWrongBrowser, err)
	case errors.Is(err, authflow.ErrUpstreamRefused):
		h.fail(w, r, http.StatusBadRequest, msgUpstreamFail, err)
	default:
		h.flowError(w, r, err)
	}
}

// linkAccountForm renders the proof of a local account before a link.
func (h *Handlers) linkAccountForm(w http.ResponseWriter, r *http.Request, status int, door Door, out authflow.Outcome) {
	req := out.Request
	d := LinkData{Branding: Branding{h.brandFor(r.Context(), out)}, PostURL: PathLogin, CSRFToken: h.CSRF.Token(w, r, req.ID), AuthRequestID: req.ID,
		Email: out.Account, Method: out.Method, FormActionOrigins: door.ResponseOrigins(req), Lang: "en",
		CodeOffered: slices.Contains(out.Methods, authflow.MethodLinkCode)}
	if out.View != nil {
		d.CodeSent = true // the flow shows the code's form
		if out.View.Notice != nil {
			d.Notice = sentence(out.View.Notice.Error())
		}
	}
	if out.Failure != nil {
		d.Error = msgBadCreds
		if r.PostForm.Get("method") == authflow.MethodLinkCode {
			d.Error = failureText(out.Failure)
		}
		if status < 400 {
			status = http.StatusUnauthorized
		}
	}
	if err := h.Render.RenderLink(w, status, d); err != nil {
		h.Logger.ErrorContext(r.Context(), "render link", "err", err)
	}
}

// noAccount tells the person who just signed in upstream that its email
// matches no account here (the address is theirs: they just used it).
func (h *Handlers) noAccount(w http.ResponseWriter, r *http.Request, out authflow.Outcome) {
	msg := fmt.Sprintf("The email address your company sign-in gave us (%s) does not match an account here. Ask your administrator.", out.Account)
	if strings.TrimSpace(out.Account) == "" {
		msg = "Your company sign-in gave us no email address that matches an account here. Ask your administrator."
	}
	h.Logger.InfoContext(r.Context(), "federated login matches no account", "auth_request", out.Request.ID)
	data := ErrorData{Title: "No account here", Message: msg, BackURL: LoginURL(out.Request.ID), Lang: "en"}
	if h.RequestID != nil {
		data.RequestID = h.RequestID(r.Context())
	}
	if err := h.Render.RenderError(w, http.StatusForbidden, data); err != nil {
		h.Logger.ErrorContext(r.Context(), "render error page", "err", err)
	}
}

// loginMessage is the login form's message for a failure of the flow.
func loginMessage(failure error) string {
	switch {
	case errors.Is(failure, authflow.ErrSSORequired):
		return msgSSORequired
	case errors.Is(failure, authflow.ErrPasswordNeeded):
		return msgPasswordNeed
	case errors.Is(failure, authflow.ErrUpstreamRefused):
		return msgUpstreamFail
	case errors.Is(failure, authflow.ErrThrottled):
		return msgThrottled
	}
	return msgBadCreds
}

// identifyOnly reports whether a login form names an email and no
// password: an email alone goes to home-realm discovery.
func identifyOnly(method string, in authflow.Input) bool {
	return method == passwordlogin.Name && in[passwordlogin.FieldPassword] == "" && in[passwordlogin.FieldEmail] != ""
}
