package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// APIPrefix is where Mount registers the admin API.
const APIPrefix = "/admin/api/v1/"

// maxAPIBody bounds request bodies; the largest legitimate one (a client
// with many redirect URIs) is a few KiB.
const maxAPIBody = 1 << 20

// Principal is who called the admin API, as Authenticate established it.
type Principal struct {
	Subject string
	// Admin says the caller holds admin rights (for Gatehouse-issued
	// bearer tokens: the admin scope, granted only to admin users).
	Admin bool
	// OrgAdminOf lists the IDs of the organizations whose users the
	// caller may manage (the org-admin roles, storage.OrgAdminRole).
	// It gives only the routes marked for organization admins, on those
	// organizations' users.
	OrgAdminOf []string
}

// reach is which users p may act on.
func (p Principal) reach() Reach {
	if p.Admin {
		return Everyone
	}
	return OrgsReach(p.OrgAdminOf)
}

// API serves the admin actions as JSON over HTTP, for automation.
//
// It is not meant for browsers: callers authenticate with a bearer token in
// the Authorization header, never with cookies, so a cross-site request
// carries no credentials and there is nothing for CSRF to ride on. That is
// why there is no CSRF token here. Requiring Content-Type application/json
// on POST additionally keeps plain HTML forms out.
type API struct {
	Service *Service
	// Authenticate establishes the caller from the request. An error means
	// no valid credentials (401). A nil Authenticate refuses everyone: an
	// API mounted by mistake without it must fail closed.
	Authenticate func(r *http.Request) (Principal, error)
	Logger       *slog.Logger
}

// Mount registers the API under APIPrefix. Routing happens on an inner
// ServeMux so that path parameters work whatever mux the caller uses, and
// authentication wraps all of it, unknown paths included, so that probing
// without credentials learns nothing about the routes.
func (a *API) Mount(mux interface{ Handle(string, http.Handler) }) {
	inner := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range a.routes() {
		inner.Handle(rt.method+" "+APIPrefix+rt.path, a.handler(rt.org, rt.h))
		if !slices.Contains(allowed[rt.path], rt.method) {
			allowed[rt.path] = append(allowed[rt.path], rt.method)
		}
	}
	// Method-less patterns are less specific than the ones above, so they
	// only see the wrong methods: answer 405 in the API's JSON shape
	// rather than ServeMux's plain text.
	for path, methods := range allowed {
		allow := strings.Join(methods, ", ")
		inner.HandleFunc(APIPrefix+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use "+allow)
		})
	}
	inner.HandleFunc(APIPrefix, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such admin API endpoint")
	})
	mux.Handle(APIPrefix, a.authenticated(inner))
}

// route is one endpoint of the API. org marks the endpoints organization
// admins may call too (on their organizations' users only: the handler
// acts within Principal.reach); every other one is for admins alone.
type route struct {
	method, path string
	org          bool
	h            func(w http.ResponseWriter, r *http.Request, p Principal) error
}

func (a *API) routes() []route {
	return []route{
		{http.MethodGet, "clients", false, a.listClients},
		{http.MethodPost, "clients", false, a.createClient},
		{http.MethodGet, "clients/{id}", false, a.getClient},
		{http.MethodDelete, "clients/{id}", false, a.deleteClient},
		{http.MethodPost, "clients/{id}/rotate-secret", false, a.rotateSecret},
		{http.MethodGet, "users", true, a.listUsers},
		{http.MethodPost, "users", false, a.createUser},
		{http.MethodPost, "users/reset-mfa", true, a.resetMFA},
		{http.MethodPost, "users/{email}/disable", true, a.disableUser},
		{http.MethodPost, "users/{email}/resend-invite", true, a.userLink(a.Service.SendInvite)},
		{http.MethodPost, "users/{email}/send-reset", false, a.userLink(a.Service.SendReset)},
		{http.MethodPost, "users/{email}/unlock", true, a.unlockUser},
		{http.MethodPut, "users/{email}/phone", true, a.setPhone},
		{http.MethodGet, "orgs", false, a.listOrgs},
		{http.MethodPost, "orgs", false, a.createOrg},
		{http.MethodGet, "orgs/{name}/password-policy", false, a.getPasswordPolicy},
		{http.MethodPost, "orgs/{name}/password-policy", false, a.setPasswordPolicy},
		{http.MethodGet, "orgs/{name}/mfa", false, a.getMFAPolicy},
		{http.MethodPut, "orgs/{name}/mfa", false, a.setMFAPolicy},
		{http.MethodGet, "connectors", true, a.listConnectors},
		{http.MethodPost, "connectors", true, a.createConnector},
		{http.MethodGet, "connectors/{id}", true, a.getConnector},
		{http.MethodPatch, "connectors/{id}", true, a.updateConnector},
		{http.MethodDelete, "connectors/{id}", true, a.deleteConnector},
		{http.MethodPost, "connectors/{id}/test", true, a.testConnector},
		{http.MethodGet, "users/{email}/links", true, a.listLinks},
		{http.MethodDelete, "users/{email}/links/{connector}/{subject}", true, a.removeLink},
		{http.MethodGet, "saml/service-providers", false, a.listServiceProviders},
		{http.MethodPost, "saml/service-providers", false, a.createServiceProvider},
		{http.MethodPatch, "saml/service-providers", false, a.updateServiceProvider},
		{http.MethodDelete, "saml/service-providers", false, a.deleteServiceProvider},
		{http.MethodPost, "saml/service-providers/refresh", false, a.refreshServiceProvider},
	}
}

type principalKey struct{}

// authenticated runs Authenticate once per request and refuses callers
// with neither admin nor organization-admin rights before any route runs.
func (a *API) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p Principal
		err := errors.New("admin API: no authenticator configured")
		if a.Authenticate != nil {
			p, err = a.Authenticate(r)
		}
		if errors.Is(err, storage.ErrUnavailable) {
			// The token could not be checked: that says nothing about
			// the caller, so no 401, which a client would take as "get
			// new credentials" rather than "retry".
			a.logger().ErrorContext(r.Context(), "admin API: storage unavailable during authentication", "err", err)
			w.Header().Set("Retry-After", "5")
			writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the service is temporarily unavailable")
			return
		}
		if err != nil {
			// The reason (expired, unknown, malformed) goes to the log,
			// not to whoever is probing.
			a.logger().InfoContext(r.Context(), "admin API: authentication failed", "err", err)
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(w, http.StatusUnauthorized, "invalid_token", "a valid bearer token is required")
			return
		}
		if !p.Admin && len(p.OrgAdminOf) == 0 {
			a.insufficient(w, r, p)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// insufficient is the 403 of a caller whose rights do not cover the route.
func (a *API) insufficient(w http.ResponseWriter, r *http.Request, p Principal) {
	a.logger().WarnContext(r.Context(), "admin API: caller lacks the rights", "subject", p.Subject,
		"method", r.Method, "path", r.URL.Path)
	w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope"`)
	writeError(w, http.StatusForbidden, "insufficient_scope", "admin rights are required")
}

// handler adapts a route to http.Handler: a caller who is no admin gets
// 403 unless org allows organization admins, and errors become JSON error
// bodies.
func (a *API) handler(org bool, h func(w http.ResponseWriter, r *http.Request, p Principal) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := r.Context().Value(principalKey{}).(Principal)
		if !p.Admin && !org {
			a.insufficient(w, r, p)
			return
		}
		if err := h(w, r, p); err != nil {
			a.writeErr(w, r, err)
		}
	})
}

// apiError is a failure in the request itself (body, content type), with
// its own status.
type apiError struct {
	status     int
	code, desc string
}

func (e *apiError) Error() string { return e.desc }

func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, code: "invalid_request", desc: fmt.Sprintf(format, args...)}
}

// writeErr maps an error to a status. InputError messages are written for
// operators and are safe to return; anything else is logged with its
// detail and answered with a generic message, since it may name tables,
// hosts or driver internals.
func (a *API) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var ie *InputError
	switch {
	case errors.As(err, &ae):
		writeError(w, ae.status, ae.code, ae.desc)
	case errors.As(err, &ie) && errors.Is(err, ErrOutranked):
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope"`)
		writeError(w, http.StatusForbidden, "insufficient_scope", ie.Msg)
	case errors.As(err, &ie) && errors.Is(err, storage.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", ie.Msg)
	case errors.As(err, &ie) && errors.Is(err, storage.ErrConflict):
		writeError(w, http.StatusConflict, "conflict", ie.Msg)
	case errors.As(err, &ie):
		writeError(w, http.StatusBadRequest, "invalid_request", ie.Msg)
	case errors.Is(err, storage.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "not found")
	case errors.Is(err, storage.ErrConflict):
		writeError(w, http.StatusConflict, "conflict", "already exists")
	case errors.Is(err, storage.ErrInvalid):
		// Text storage cannot hold that no check before it caught.
		writeError(w, http.StatusBadRequest, "invalid_request", "a value contains a NUL byte or invalid UTF-8")
	case errors.Is(err, storage.ErrUnavailable):
		a.logger().ErrorContext(r.Context(), "admin API: storage unavailable", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the service is temporarily unavailable")
	default:
		a.logger().ErrorContext(r.Context(), "admin API: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "server_error", "internal error")
	}
}

func (a *API) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, errorBody{Error: code, Description: desc})
}

// writeJSON sets no-store because responses can carry a client secret.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decodeBody reads a JSON object into v. It requires Content-Type
// application/json, limits the body to maxAPIBody, rejects unknown fields
// (a typo such as "redirect_uri" must not silently register a client with
// no redirect URI) and trailing data. An empty body is allowed only when
// optional is set, and leaves v as it was.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &apiError{status: http.StatusUnsupportedMediaType, code: "invalid_request",
			desc: "Content-Type must be application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAPIBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return &apiError{status: http.StatusRequestEntityTooLarge, code: "invalid_request",
				desc: fmt.Sprintf("request body is larger than %d bytes", maxAPIBody)}
		case errors.Is(err, io.EOF):
			if optional {
				return nil
			}
			return badRequest("a JSON request body is required")
		}
		// encoding/json messages name fields and types, never values.
		return badRequest("invalid JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("invalid JSON body: unexpected data after the object")
	}
	return nil
}

func actorOf(p Principal) string { return "api:" + p.Subject }

// duration is a time.Duration written as a Go duration string ("1h",
// "720h"), the syntax of the config file.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`a duration must be a string such as "1h" or "30m"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (e.g. \"1h\" or \"30m\")", s)
	}
	*d = duration(v)
	return nil
}

// clientRequest is the body of POST /clients; its names match the config
// file's clients entries and clients.FieldError's field names. It is only
// the wire shape (JSON names, durations as strings): input converts it,
// and every rule is idp/clients'.
type clientRequest struct {
	ID                       string   `json:"id"`
	Name                     string   `json:"name"`
	Secret                   string   `json:"secret"`
	Public                   bool     `json:"public"`
	RedirectURIs             []string `json:"redirect_uris"`
	PostLogoutRedirectURIs   []string `json:"post_logout_redirect_uris"`
	GrantTypes               []string `json:"grant_types"`
	Scopes                   []string `json:"scopes"`
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg"`
	AccessTokenFormat        string   `json:"access_token_format"`
	AccessTokenTTL           duration `json:"access_token_ttl"`
	IDTokenTTL               duration `json:"id_token_ttl"`
	RefreshTokenTTL          duration `json:"refresh_token_ttl"`
	RequireMFA               bool     `json:"require_mfa"`
	InitiateLoginURI         string   `json:"initiate_login_uri"`
}

func (req clientRequest) input() clients.Input {
	return clients.Input{
		ID: req.ID, Name: req.Name, Secret: req.Secret, Public: req.Public,
		RedirectURIs: req.RedirectURIs, PostLogoutRedirectURIs: req.PostLogoutRedirectURIs,
		GrantTypes: req.GrantTypes, Scopes: req.Scopes,
		IDTokenSignedResponseAlg: req.IDTokenSignedResponseAlg, AccessTokenFormat: req.AccessTokenFormat,
		AccessTokenTTL: time.Duration(req.AccessTokenTTL), IDTokenTTL: time.Duration(req.IDTokenTTL),
		RefreshTokenTTL: time.Duration(req.RefreshTokenTTL), RequireMFA: req.RequireMFA,
		InitiateLoginURI: req.InitiateLoginURI,
	}
}

// clientResponse is a client plus, right after creation or rotation only,
// its secret in the clear. It is the only place a secret leaves Gatehouse.
type clientResponse struct {
	ClientView
	Secret string `json:"secret,omitempty"`
}

func (a *API) listClients(w http.ResponseWriter, r *http.Request, _ Principal) error {
	cs, err := a.Service.ListClients(r.Context())
	if err != nil {
		return err
	}
	out := make([]ClientView, len(cs))
	for i, c := range cs {
		out[i] = ViewClient(c)
	}
	writeJSON(w, http.StatusOK, map[string]any{"clients": out})
	return nil
}

func (a *API) createClient(w http.ResponseWriter, r *http.Request, p Principal) error {
	var req clientRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	c, secret, err := a.Service.CreateClient(r.Context(), actorOf(p), req.input())
	if err != nil {
		return err
	}
	w.Header().Set("Location", APIPrefix+"clients/"+c.ID)
	writeJSON(w, http.StatusCreated, clientResponse{ClientView: ViewClient(c), Secret: secret})
	return nil
}

func (a *API) getClient(w http.ResponseWriter, r *http.Request, _ Principal) error {
	c, err := a.Service.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ViewClient(c))
	return nil
}

func (a *API) deleteClient(w http.ResponseWriter, r *http.Request, p Principal) error {
	if err := a.Service.DeleteClient(r.Context(), actorOf(p), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request, p Principal) error {
	var req struct {
		Secret string `json:"secret"`
	}
	if err := decodeBody(w, r, &req, true); err != nil {
		return err
	}
	id := r.PathValue("id")
	secret, err := a.Service.RotateClientSecret(r.Context(), actorOf(p), id, req.Secret)
	if err != nil {
		return err
	}
	c, err := a.Service.GetClient(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, clientResponse{ClientView: ViewClient(c), Secret: secret})
	return nil
}

// userView never includes the password hash.
type userView struct {
	ID            string            `json:"id"`
	Email         string            `json:"email"`
	EmailVerified bool              `json:"email_verified"`
	Name          string            `json:"name"`
	Phone         string            `json:"phone"` // E.164, "" for none
	OrgID         string            `json:"org_id"`
	State         storage.UserState `json:"state"`
	Roles         []string          `json:"roles"`
	HasPassword   bool              `json:"has_password"`
	// LockedUntil is set while a temporary lock may be in force (it
	// ends by itself at that time).
	LockedUntil *time.Time `json:"locked_until,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

func viewUser(u storage.User) userView {
	v := userView{ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name, Phone: u.Phone,
		OrgID: u.OrgID, State: u.State, Roles: nonNil(u.Roles), HasPassword: u.PasswordHash != "", CreatedAt: u.CreatedAt.UTC()}
	if !u.LockedUntil.IsZero() {
		t := u.LockedUntil.UTC()
		v.LockedUntil = &t
	}
	return v
}

// maxUserPage bounds one page of GET /users.
const maxUserPage = 500

// listUsers pages by email: ?org=NAME&after=EMAIL&limit=N. next_after is
// the cursor for the following page, absent on the last one.
func (a *API) listUsers(w http.ResponseWriter, r *http.Request, p Principal) error {
	q := r.URL.Query()
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxUserPage {
			return badRequest("limit must be a number from 1 to %d", maxUserPage)
		}
		limit = n
	}
	users, err := a.Service.ListUsersInReach(r.Context(), p.reach(), q.Get("org"), storage.NormalizeEmail(q.Get("after")), limit)
	if err != nil {
		return err
	}
	out := make([]userView, len(users))
	for i, u := range users {
		out[i] = viewUser(u)
	}
	body := map[string]any{"users": out}
	if len(users) == limit {
		body["next_after"] = users[len(users)-1].Email
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// knownUser is a 404 for an email that names no user in p's reach, the
// same for a user of another organization as for none. The service's
// actions report an unknown user as a plain InputError (400); an API path
// that names a missing resource is a 404.
func (a *API) knownUser(r *http.Request, p Principal, op, email string) error {
	_, err := a.Service.UserInReach(r.Context(), p.reach(), op, email)
	return err
}

func (a *API) disableUser(w http.ResponseWriter, r *http.Request, p Principal) error {
	if err := decodeBody(w, r, &struct{}{}, true); err != nil {
		return err
	}
	email := r.PathValue("email")
	if err := a.knownUser(r, p, "disable user", email); err != nil {
		return err
	}
	u, err := a.Service.DisableUser(r.Context(), actorOf(p), email)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewUser(u))
	return nil
}

// unlockResponse is the user after an unlock, with what it reset.
type unlockResponse struct {
	userView
	FailuresReset  int        `json:"failures_reset"`
	WasLockedUntil *time.Time `json:"was_locked_until,omitempty"`
}

func (a *API) unlockUser(w http.ResponseWriter, r *http.Request, p Principal) error {
	if err := decodeBody(w, r, &struct{}{}, true); err != nil {
		return err
	}
	email := r.PathValue("email")
	if err := a.knownUser(r, p, "unlock user", email); err != nil {
		return err
	}
	res, err := a.Service.UnlockUser(r.Context(), actorOf(p), email)
	if err != nil {
		return err
	}
	out := unlockResponse{userView: viewUser(res.User), FailuresReset: res.Failures}
	if !res.WasLockedUntil.IsZero() {
		t := res.WasLockedUntil.UTC()
		out.WasLockedUntil = &t
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type orgView struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name"`
	Domains     []string  `json:"domains"`
	MFARequired bool      `json:"mfa_required"`
	CreatedAt   time.Time `json:"created_at"`
}

func viewOrg(o storage.Organization) orgView {
	return orgView{ID: o.ID, Name: o.Name, DisplayName: o.DisplayName, Domains: nonNil(o.Domains),
		MFARequired: o.MFA.Required, CreatedAt: o.CreatedAt.UTC()}
}

func (a *API) listOrgs(w http.ResponseWriter, r *http.Request, _ Principal) error {
	orgs, err := a.Service.ListOrgs(r.Context())
	if err != nil {
		return err
	}
	out := make([]orgView, len(orgs))
	for i, o := range orgs {
		out[i] = viewOrg(o)
	}
	writeJSON(w, http.StatusOK, map[string]any{"orgs": out})
	return nil
}

func (a *API) createOrg(w http.ResponseWriter, r *http.Request, p Principal) error {
	var req struct {
		Name        string   `json:"name"`
		DisplayName string   `json:"display_name"`
		Domains     []string `json:"domains"`
	}
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	o, err := a.Service.CreateOrg(r.Context(), actorOf(p), CreateOrgInput{Name: req.Name, DisplayName: req.DisplayName, Domains: req.Domains})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewOrg(o))
	return nil
}
