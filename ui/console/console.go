package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/csrf"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/ui"
)

//go:embed templates/*.html
var templates embed.FS

// Paths of the console.
const (
	PathHome     = "/admin"
	PathUsers    = "/admin/users"
	PathBulk     = "/admin/users/bulk"
	PathBulkRun  = "/admin/users/bulk/run"
	PathContinue = "/admin/continue"
)

const (
	// Protocol is the console door's protocol in the flow.
	Protocol = "console"
	// The door's two parties: the console, and the console asking for a
	// second factor (an admin's step-up).
	party    = "console"
	partyMFA = "console-mfa"
	// Recent is how fresh a sign-in a sensitive action needs.
	Recent = 10 * time.Minute
	// bindForms is the CSRF binding of the console's forms.
	bindForms = "console"

	msgUnavailable = "The console is temporarily unavailable. Please try again in a moment."
	msgForbidden   = "Your account has no access to this page. Ask an administrator if you need it."
	msgNotFound    = "There is no such page in the console."
	msgFailed      = "That could not be done. The server log has the detail."
)

// Admin is what the console needs of idp/admin.
type Admin interface {
	UserByID(ctx context.Context, reach admin.Reach, id string) (storage.User, error)
	SearchUsers(ctx context.Context, reach admin.Reach, f admin.UserFilter) (admin.UserPage, error)
	UsersByID(ctx context.Context, reach admin.Reach, ids []string) ([]storage.User, int, error)
	Bulk(ctx context.Context, actor string, reach admin.Reach, in admin.BulkInput) ([]admin.BulkResult, error)
	GetOverview(ctx context.Context, reach admin.Reach) (admin.Overview, error)
	GetUserDetail(ctx context.Context, reach admin.Reach, id string, beforeEvent int64) (admin.UserDetail, error)
	RevokeSession(ctx context.Context, actor string, reach admin.Reach, id, hash string) error
	RemoveLink(ctx context.Context, reach admin.Reach, actor, email, connectorID, subject string) error
	UpdateUserProfile(ctx context.Context, actor string, reach admin.Reach, id string, ch admin.ProfileChange) (storage.User, error)
	GrantRole(ctx context.Context, actor string, ch admin.RoleChange) (admin.RoleResult, error)
	RevokeRole(ctx context.Context, actor string, ch admin.RoleChange) (admin.RoleResult, error)
	ListOrgs(ctx context.Context) ([]storage.Organization, error)
	CreateOrg(ctx context.Context, actor string, in admin.CreateOrgInput) (storage.Organization, error)
	UpdateOrg(ctx context.Context, actor, org string, ch admin.OrgChange) (storage.Organization, error)
	SetMFAPolicy(ctx context.Context, actor, org string, in admin.MFAPolicyInput) (storage.Organization, error)
	GetPasswordPolicy(ctx context.Context, org string) (admin.PasswordPolicyInfo, error)
	SetPasswordPolicy(ctx context.Context, actor, org string, ch admin.PasswordPolicyChange) (admin.PasswordPolicyInfo, error)
	DefaultText(setting string) string
	SearchAudit(ctx context.Context, reach admin.Reach, f admin.AuditFilter) (admin.AuditPage, error)
}

var _ Admin = (*admin.Service)(nil)

// Assets gives the URLs of ui's static files (ui.Renderer).
type Assets interface {
	AssetURL(name string) string
}

// Handlers serves the console.
type Handlers struct {
	Flow     *authflow.Flow
	Sessions ui.Sessions
	Admin    Admin
	CSRF     *csrf.Protector
	Assets   Assets
	Logger   *slog.Logger
	// RequireMFA makes the console ask for a second factor (config
	// console.require_mfa: on whenever the server has an MFA method).
	RequireMFA bool
	// Methods are the second-factor methods an MFA reset may impose.
	Methods []string
	// Lockout is the server's lockout setting, shown on organization
	// pages.
	Lockout Lockout
	// Apps serves the applications section (idp/admin's clients and
	// service providers); Integration is what its panels show.
	Apps        Apps
	Integration Integration
	// Connectors serves the connectors section.
	Connectors Connectors
	// Keys serves the signing keys' page.
	Keys KeyAdmin

	pages map[string]*template.Template
}

// New parses the console's templates; a broken one stops start-up.
func (h *Handlers) New() error {
	h.pages = map[string]*template.Template{}
	funcs := template.FuncMap{"when": when, "userURL": UserURL, "clientURL": ClientURL, "spURL": SPURL, "connectorURL": ConnectorURL,
		"spFields": func(f spForm, nameIDs, formats []option) any {
			return struct {
				F                spForm
				NameIDs, Formats []option
			}{f, nameIDs, formats}
		},
		"chartOf": func(id string, c chart) any {
			return struct {
				ID string
				C  chart
			}{id, c}
		},
		"sel": func(name, label string, opts []option) any {
			return struct {
				Name, Label string
				Options     []option
			}{name, label, opts}
		}}
	var errs []error
	for _, name := range []string{pageOverview, pageUsers, pageBulkConfirm, pageBulkDone, pageError, pageUser, pageOrgs, pageOrg, pageAudit, pageApps, pageClient, pageSP, pageConnectors, pageConnector, pageKeys} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templates, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			errs = append(errs, fmt.Errorf("console: page %s: %w", name, err))
			continue
		}
		h.pages[name] = t
	}
	return errors.Join(errs...)
}

// when formats a time for a table cell; the zero time is "never".
func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// Mount registers the console's pages. Every POST passes the CSRF check
// (token and Origin) before its handler runs.
func (h *Handlers) Mount(handle func(pattern string, handler http.Handler)) {
	handle("GET "+PathHome, http.HandlerFunc(h.overview))
	handle("GET "+PathUsers, http.HandlerFunc(h.users))
	handle("POST "+PathBulk, h.post(h.bulkConfirm))
	// The confirmation changes nothing, so a fresh sign-in may return to
	// it by GET with the users still ticked.
	handle("GET "+PathBulk, http.HandlerFunc(h.bulkConfirm))
	handle("POST "+PathBulkRun, h.post(h.bulkRun))
	handle("GET "+PathContinue, http.HandlerFunc(h.resume))
	handle("GET "+pathUser, http.HandlerFunc(h.userPage))
	handle("POST "+pathUserRevoke, h.post(h.userRevoke))
	handle("POST "+pathUserUnlink, h.post(h.userUnlink))
	handle("POST "+pathUserEdit, h.post(h.userEdit))
	handle("POST "+pathUserRoles, h.post(h.userRoles))
	handle("GET "+PathOrgs, http.HandlerFunc(h.orgs))
	handle("POST "+PathOrgs, h.post(h.orgCreate))
	handle("GET "+pathOrg, http.HandlerFunc(h.orgPage))
	handle("POST "+pathOrgDetails, h.post(h.orgDetails))
	handle("POST "+pathOrgMFA, h.post(h.orgMFA))
	handle("POST "+pathOrgPassword, h.post(h.orgPassword))
	handle("POST "+pathOrgBranding, h.post(h.orgBranding))
	handle("GET "+PathAudit, http.HandlerFunc(h.audit))
	handle("GET "+PathAuditCSV, http.HandlerFunc(h.auditCSV))
	h.mountApps(handle)
	h.mountConnectors(handle)
	handle("GET "+PathKeys, http.HandlerFunc(h.keysPage))
	handle("POST "+pathKeysRotate, h.post(h.keysRotate))
	// Any other console path is the console's 404, not the home page's.
	handle(PathHome+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, msgNotFound, nil)
	}))
}

func (h *Handlers) post(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A metadata file is the largest thing a form sends (1 MiB at most).
		r.Body = http.MaxBytesReader(w, r.Body, 2<<20)
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			// The token is one of the parts; files stay on disk only past
			// the memory bound, which the body's bound makes moot.
			if err := r.ParseMultipartForm(2 << 20); err != nil {
				h.fail(w, r, http.StatusBadRequest, "This form could not be read. Please go back and try again.", err)
				return
			}
		}
		if err := h.CSRF.Verify(r, bindForms); err != nil {
			h.Logger.WarnContext(r.Context(), "console: form refused", "reason", err.Error(), "path", r.URL.Path)
			h.fail(w, r, http.StatusForbidden, "This form has expired. Please go back, reload the page and try again.", nil)
			return
		}
		next(w, r)
	})
}

// caller is who is using the console.
type caller struct {
	user  storage.User
	reach admin.Reach
	admin bool
	orgs  []string
}

func (c caller) actor() string { return "console:" + c.user.ID }

// who establishes the caller of a console page, or answers for it: a
// login through the flow when there is no session, the session lacks the
// second factor the console requires, or a sensitive action's sign-in is
// older than Recent; 403 for an account without an admin role.
func (h *Handlers) who(w http.ResponseWriter, r *http.Request, page string, sensitive bool) (caller, bool) {
	b, err := h.Sessions.Browser(r)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return caller{}, false
	}
	s := b.Session
	if s == nil {
		// A first sign-in asks what the organization asks; the role is
		// known after it, and only an admin is then asked for more.
		h.signIn(w, r, page, false, false)
		return caller{}, false
	}
	u, err := h.Admin.UserByID(r.Context(), admin.Everyone, s.UserID)
	if err != nil {
		var in *admin.InputError
		if errors.As(err, &in) {
			h.signIn(w, r, page, false, false) // the account is gone
		} else {
			h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		}
		return caller{}, false
	}
	if !u.MayHoldTokens() {
		// Disabled since the session began (disabling ends sessions; this
		// covers a race with it): the flow refuses the sign-in.
		h.signIn(w, r, page, false, false)
		return caller{}, false
	}
	c := caller{user: u, admin: u.HasRole(storage.RoleAdmin), orgs: u.OrgAdminOf()}
	switch {
	case c.admin:
		c.reach = admin.Everyone
	case len(c.orgs) > 0:
		c.reach = admin.OrgsReach(c.orgs)
	default:
		h.Logger.WarnContext(r.Context(), "console: no admin role", "user_id", u.ID, "path", r.URL.Path)
		h.fail(w, r, http.StatusForbidden, msgForbidden, nil)
		return caller{}, false
	}
	if h.RequireMFA && !slices.Contains(s.AMR, authflow.AMRMFA) {
		// Step up: the flow asks this session for a second factor, or
		// enrols one.
		h.signIn(w, r, page, false, true)
		return caller{}, false
	}
	if sensitive && h.Flow.Now().Sub(s.AuthTime) > Recent {
		h.signIn(w, r, page, true, h.RequireMFA)
		return caller{}, false
	}
	return c, true
}

type doorData struct {
	Return string `json:"return"`
}

// signIn begins a console login that returns to page; fresh asks for the
// password again (prompt=login), mfa for a second factor.
func (h *Handlers) signIn(w http.ResponseWriter, r *http.Request, page string, fresh, mfa bool) {
	data, _ := json.Marshal(doorData{Return: page})
	// The second factor is the party's demand (Door.Party), so the flow
	// asks for it, or enrols one, as it does for any application's.
	ar := storage.AuthRequest{Protocol: Protocol, ClientID: party, DoorData: data}
	if mfa {
		ar.ClientID = partyMFA
	}
	if fresh {
		ar.Prompt = []string{"login"}
	}
	req, err := h.Flow.Begin(r.Context(), ar)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	http.Redirect(w, r, ui.LoginURL(req.ID), http.StatusSeeOther)
}

// resume is where a finished console login arrives.
func (h *Handlers) resume(w http.ResponseWriter, r *http.Request) {
	b, err := h.Sessions.Browser(r)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	req, err := h.Flow.Complete(r.Context(), r.URL.Query().Get("id"), b)
	if err != nil || req.Protocol != Protocol {
		h.fail(w, r, http.StatusBadRequest, "This sign-in has expired or was already used. Open the console again.", err)
		return
	}
	var d doorData
	_ = json.Unmarshal(req.DoorData, &d)
	http.Redirect(w, r, consolePath(d.Return), http.StatusSeeOther)
}

// consolePath is p when it is a path of the console (with its query),
// else the console's home: a login can only return into the console, and
// a path with dot segments is not one however it starts.
func consolePath(p string) string {
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.Contains(p, "\\") || strings.HasPrefix(p, "//") ||
		path.Clean(u.Path) != u.Path || (u.Path != PathHome && !strings.HasPrefix(u.Path, PathHome+"/")) {
		return PathHome
	}
	return u.RequestURI()
}

// Door is the console's front door in the flow.
type Door struct{ h *Handlers }

// Door returns the console's door; register it under Protocol.
func (h *Handlers) Door() *Door { return &Door{h: h} }

var _ ui.Door = (*Door)(nil)

// Party is the console itself.
func (d *Door) Party(_ context.Context, id string) (authflow.Party, error) {
	switch id {
	case party:
		return authflow.Party{Name: "the admin console"}, nil
	case partyMFA:
		return authflow.Party{Name: "the admin console", RequireMFA: true}, nil
	}
	return authflow.Party{}, fmt.Errorf("console: party %q: %w", id, storage.ErrNotFound)
}

// ContinueURL completes the login at the console.
func (d *Door) ContinueURL(id string) string { return PathContinue + "?id=" + url.QueryEscape(id) }

// LoginRequired cannot happen: the console never asks for a silent login.
func (d *Door) LoginRequired(w http.ResponseWriter, r *http.Request, _ storage.AuthRequest) {
	d.h.fail(w, r, http.StatusBadRequest, "This sign-in has expired. Open the console again.", nil)
}

// ResponseOrigins: the console answers on Gatehouse's own origin.
func (d *Door) ResponseOrigins(storage.AuthRequest) []string { return nil }

// Page names.
const (
	pageOverview    = "overview"
	pageUsers       = "users"
	pageBulkConfirm = "bulk_confirm"
	pageBulkDone    = "bulk_done"
	pageError       = "error"
	pageUser        = "user"
	pageOrgs        = "orgs"
	pageOrg         = "org"
	pageAudit       = "audit"
	pageApps        = "apps"
	pageClient      = "client"
	pageSP          = "sp"
	pageConnectors  = "connectors"
	pageConnector   = "connector"
	pageKeys        = "keys"
)

// view is what the layout sees.
type view struct {
	Title  string
	Name   string
	CSS    string
	Icon   string
	Nav    string // the current section
	Signed string // the signed-in account
	// Admin: the caller is an admin (the navigation shows the sections
	// only an admin may open).
	Admin bool
	Page  any
}

func (h *Handlers) render(w http.ResponseWriter, r *http.Request, status int, page, title string, c *caller, data any) {
	v := view{Title: title, Name: page, CSS: h.Assets.AssetURL("gatehouse.css"), Icon: h.Assets.AssetURL("mark.svg"), Nav: page, Page: data}
	if c != nil {
		v.Signed, v.Admin = c.user.Email, c.admin
	}
	var buf bytes.Buffer
	if err := h.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		h.Logger.ErrorContext(r.Context(), "console: render", "page", page, "err", err)
		status, buf = http.StatusServiceUnavailable, *bytes.NewBufferString("The console is temporarily unavailable.")
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", ui.CSP())
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

type errorData struct{ Message string }

// fail answers with the console's error page: msg for the person, err
// (when set) for the log.
func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	if err != nil {
		h.Logger.ErrorContext(r.Context(), "console", "status", status, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", ui.RetryAfter)
	}
	h.render(w, r, status, pageError, http.StatusText(status), nil, errorData{Message: msg})
}

// actionError answers an error of idp/admin: an InputError's message (the
// operator's mistake) on the page, anything else logged and generic.
func (h *Handlers) actionError(w http.ResponseWriter, r *http.Request, err error) {
	var in *admin.InputError
	switch {
	case errors.As(err, &in) && errors.Is(err, storage.ErrNotFound):
		h.fail(w, r, http.StatusNotFound, in.Msg, nil)
	case errors.As(err, &in):
		h.fail(w, r, http.StatusUnprocessableEntity, in.Msg, nil)
	case errors.Is(err, storage.ErrUnavailable):
		h.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
	default:
		h.fail(w, r, http.StatusServiceUnavailable, msgFailed, err)
	}
}
