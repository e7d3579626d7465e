package console

import (
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/keys"
	"github.com/gatehouse-idp/gatehouse/idp/samlidp/spmeta"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The applications section: OIDC clients and SAML service providers, each
// with an "integration" panel of the values to paste into the
// application. Every page and form of it is an admin's (the admin API's
// clients and service providers are admin-only too); every change needs a
// recent sign-in. A new or rotated client secret is shown once, in the
// answer to the POST that made it, and never again.

// Paths of the applications section.
const (
	PathApps         = "/admin/apps"
	pathClientNew    = "/admin/apps/oidc"
	pathClient       = "/admin/apps/oidc/{id}"
	pathClientRotate = "/admin/apps/oidc/{id}/rotate"
	pathClientDelete = "/admin/apps/oidc/{id}/delete"
	pathSPNew        = "/admin/apps/saml"
	PathSP           = "/admin/apps/saml/sp" // ?entity=
	pathSPSave       = "/admin/apps/saml/sp/save"
	pathSPDelete     = "/admin/apps/saml/sp/delete"
	pathSPRefresh    = "/admin/apps/saml/sp/refresh"
)

// ClientURL is the page of OIDC client id.
func ClientURL(id string) string { return PathApps + "/oidc/" + url.PathEscape(id) }

// SPURL is the page of the SAML service provider entityID.
func SPURL(entityID string) string { return PathSP + "?entity=" + url.QueryEscape(entityID) }

// Integration is what the integration panels show: Gatehouse's own
// endpoints, from idp/instance.
type Integration struct {
	Issuer, Discovery, Authorize, Token, Userinfo, EndSession, JWKS string
	SAMLEntityID, SAMLMetadata, SAMLSSO, SAMLSLO                    string
}

// Apps is what the applications section needs of idp/admin.
type Apps interface {
	ListClients(ctx context.Context) ([]storage.Client, error)
	GetClient(ctx context.Context, id string) (storage.Client, error)
	CreateClient(ctx context.Context, actor string, in clients.Input) (storage.Client, string, error)
	UpdateClient(ctx context.Context, actor, id string, edit func(*clients.Input)) (storage.Client, error)
	RotateClientSecret(ctx context.Context, actor, id, supplied string) (string, error)
	DeleteClient(ctx context.Context, actor, id string) error
	ListServiceProviders(ctx context.Context) ([]storage.ServiceProvider, error)
	GetServiceProvider(ctx context.Context, entityID string) (storage.ServiceProvider, error)
	CreateServiceProvider(ctx context.Context, actor string, in admin.SPInput) (storage.ServiceProvider, error)
	UpdateServiceProvider(ctx context.Context, actor, entityID string, edit func(*admin.SPInput)) (storage.ServiceProvider, error)
	DeleteServiceProvider(ctx context.Context, actor, entityID string) error
	RefreshServiceProvider(ctx context.Context, actor, entityID string) (bool, error)
}

var _ Apps = (*admin.Service)(nil)

func (h *Handlers) mountApps(handle func(pattern string, handler http.Handler)) {
	handle("GET "+PathApps, http.HandlerFunc(h.apps))
	handle("POST "+pathClientNew, h.post(h.clientCreate))
	handle("GET "+pathClient, http.HandlerFunc(h.clientPage))
	handle("POST "+pathClient, h.post(h.clientSave))
	handle("POST "+pathClientRotate, h.post(h.clientRotate))
	handle("POST "+pathClientDelete, h.post(h.clientDelete))
	handle("POST "+pathSPNew, h.post(h.spCreate))
	handle("GET "+PathSP, http.HandlerFunc(h.spPage))
	handle("POST "+pathSPSave, h.post(h.spSave))
	handle("POST "+pathSPDelete, h.post(h.spDelete))
	handle("POST "+pathSPRefresh, h.post(h.spRefresh))
}

// clientForm is the OIDC client form, as shown or as typed.
type clientForm struct {
	ID, Name, Kind           string
	RedirectURIs, PostLogout string
	Grants                   []option
	Scopes                   string
	Algs, Formats            []option
	RequireMFA               bool
	InitiateLoginURI         string
	Locked                   bool // declared in the config file
}

var grantLabels = [][2]string{{clients.GrantAuthorizationCode, "Authorization code (users sign in)"},
	{clients.GrantRefreshToken, "Refresh token"}, {clients.GrantClientCredentials, "Client credentials (service to service)"}}

func newClientForm(in clients.Input) clientForm {
	f := clientForm{ID: in.ID, Name: in.Name, Kind: "confidential", RedirectURIs: strings.Join(in.RedirectURIs, "\n"),
		PostLogout: strings.Join(in.PostLogoutRedirectURIs, "\n"), Scopes: strings.Join(in.Scopes, " "),
		RequireMFA: in.RequireMFA, InitiateLoginURI: in.InitiateLoginURI}
	if in.Public {
		f.Kind = "public"
	}
	grants := in.GrantTypes
	if grants == nil {
		grants = clients.DefaultGrantTypes
	}
	for _, g := range grantLabels {
		f.Grants = append(f.Grants, option{Value: g[0], Label: g[1], Selected: slices.Contains(grants, g[0])})
	}
	alg := in.IDTokenSignedResponseAlg
	for _, a := range keys.Algorithms() { // the server signs with each
		f.Algs = append(f.Algs, option{Value: a, Label: a, Selected: a == alg || (alg == "" && a == clients.DefaultIDTokenAlg)})
	}
	format := in.AccessTokenFormat
	for _, a := range [][2]string{{clients.AccessTokenOpaque, "Opaque (checked by introspection)"}, {clients.AccessTokenJWT, "JWT (signed, checked by the resource server)"}} {
		f.Formats = append(f.Formats, option{Value: a[0], Label: a[1], Selected: a[0] == format || (format == "" && a[0] == clients.AccessTokenOpaque)})
	}
	return f
}

// lines splits a textarea into its non-empty lines, trimmed.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// readClientForm applies the posted form to in: the settings the form
// holds, the others (TTLs, the secret) as they are.
func readClientForm(f url.Values, in *clients.Input) {
	in.Name = strings.TrimSpace(f.Get("name"))
	in.RedirectURIs, in.PostLogoutRedirectURIs = lines(f.Get("redirect_uris")), lines(f.Get("post_logout_redirect_uris"))
	in.GrantTypes, in.Scopes = f["grant"], strings.Fields(f.Get("scopes"))
	in.IDTokenSignedResponseAlg, in.AccessTokenFormat = f.Get("id_token_alg"), f.Get("access_token_format")
	if in.IDTokenSignedResponseAlg == clients.DefaultIDTokenAlg {
		in.IDTokenSignedResponseAlg = ""
	}
	in.RequireMFA, in.InitiateLoginURI = f.Get("require_mfa") == "on", strings.TrimSpace(f.Get("initiate_login_uri"))
}

type appsData struct {
	Clients    []storage.Client
	SPs        []storage.ServiceProvider
	Notice     string
	ErrorIn    string
	Error      string
	New        clientForm
	SP         spForm
	CSRFToken  string
	Int        Integration
	NameIDs    []option
	AttrFormat []option
}

var appsNotices = map[string]string{"deleted": "The application is deleted; it can no longer sign anyone in."}

func (h *Handlers) apps(w http.ResponseWriter, r *http.Request) {
	c, ok := h.who(w, r, PathApps, false)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	h.appsPage(w, r, c, http.StatusOK, appsData{Notice: appsNotices[r.URL.Query().Get("done")],
		New: newClientForm(clients.Input{}), SP: spForm{NameID: "persistent"}})
}

func (h *Handlers) appsPage(w http.ResponseWriter, r *http.Request, c caller, status int, d appsData) {
	cs, err := h.Apps.ListClients(r.Context())
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	sps, err := h.Apps.ListServiceProviders(r.Context())
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	d.Clients, d.SPs, d.CSRFToken, d.Int = cs, sps, h.CSRF.Token(w, r, bindForms), h.Integration
	d.NameIDs, d.AttrFormat = nameIDOptions(d.SP.NameID), attrFormatOptions(d.SP.AttrFormat)
	h.render(w, r, status, pageApps, "Applications", &c, d)
}

// clientData is a client's page.
type clientData struct {
	Client    storage.Client
	Form      clientForm
	Secret    string // shown once: just created or rotated
	Notice    string
	Error     string
	CSRFToken string
	URL       string
	Int       Integration
}

var clientNotices = map[string]string{"saved": "The application's settings are saved."}

func (h *Handlers) clientCreate(w http.ResponseWriter, r *http.Request) {
	c, ok := h.who(w, r, PathApps, true)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	f := r.PostForm
	in := clients.Input{ID: strings.TrimSpace(f.Get("id")), Public: f.Get("kind") == "public"}
	readClientForm(f, &in)
	cl, secret, err := h.Apps.CreateClient(r.Context(), c.actor(), in)
	if msg, isInput := inputMessage(err); isInput {
		form := newClientForm(in)
		h.appsPage(w, r, c, http.StatusUnprocessableEntity, appsData{ErrorIn: "oidc", Error: msg, New: form, SP: spForm{NameID: "persistent"}})
		return
	} else if err != nil {
		h.actionError(w, r, err)
		return
	}
	h.clientShow(w, r, c, http.StatusOK, cl, clientData{Secret: secret, Notice: "The application is created."})
}

func (h *Handlers) clientShow(w http.ResponseWriter, r *http.Request, c caller, status int, cl storage.Client, d clientData) {
	d.Client, d.CSRFToken, d.URL, d.Int = cl, h.CSRF.Token(w, r, bindForms), ClientURL(cl.ID), h.Integration
	if d.Form.Grants == nil {
		d.Form = newClientForm(clients.InputOf(cl))
	}
	d.Form.Locked = cl.Source == admin.SourceConfig
	h.render(w, r, status, pageClient, cl.ID, &c, d)
}

func (h *Handlers) clientPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := h.who(w, r, ClientURL(id), false)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	cl, err := h.Apps.GetClient(r.Context(), id)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	h.clientShow(w, r, c, http.StatusOK, cl, clientData{Notice: clientNotices[r.URL.Query().Get("done")]})
}

func (h *Handlers) clientSave(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := h.who(w, r, ClientURL(id), true)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	var typed clients.Input
	_, err := h.Apps.UpdateClient(r.Context(), c.actor(), id, func(in *clients.Input) {
		readClientForm(r.PostForm, in)
		typed = *in
	})
	if msg, isInput := inputMessage(err); isInput {
		cl, gerr := h.Apps.GetClient(r.Context(), id)
		if gerr != nil {
			h.actionError(w, r, gerr)
			return
		}
		if typed.ID == "" {
			typed = clients.InputOf(cl) // refused before the form was read (a config client)
		}
		h.clientShow(w, r, c, http.StatusUnprocessableEntity, cl, clientData{Error: msg, Form: newClientForm(typed)})
		return
	} else if err != nil {
		h.actionError(w, r, err)
		return
	}
	http.Redirect(w, r, ClientURL(id)+"?done=saved", http.StatusSeeOther)
}

func (h *Handlers) clientRotate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := h.who(w, r, ClientURL(id), true)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	secret, err := h.Apps.RotateClientSecret(r.Context(), c.actor(), id, "")
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	cl, err := h.Apps.GetClient(r.Context(), id)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	h.clientShow(w, r, c, http.StatusOK, cl, clientData{Secret: secret,
		Notice: "The secret is replaced: the old one no longer works. Put the new one in the application now."})
}

func (h *Handlers) clientDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := h.who(w, r, ClientURL(id), true)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	if r.PostForm.Get("confirm") != id {
		cl, err := h.Apps.GetClient(r.Context(), id)
		if err != nil {
			h.actionError(w, r, err)
			return
		}
		h.clientShow(w, r, c, http.StatusUnprocessableEntity, cl, clientData{Error: "To delete the application, type its client ID."})
		return
	}
	if err := h.Apps.DeleteClient(r.Context(), c.actor(), id); err != nil {
		h.actionError(w, r, err)
		return
	}
	http.Redirect(w, r, PathApps+"?done=deleted", http.StatusSeeOther)
}

// spForm is the SAML service provider form, as shown or as typed.
type spForm struct {
	EntityID, Name, MetadataURL, Metadata string
	NameID                                string
	Attributes                            string
	AttrFormat                            string
	AllowIdPInitiated, SignResponse       bool
	EncryptAssertions, RequireSigned      bool
	RequireMFA                            bool
	DefaultRelayState                     string
}

func nameIDOptions(sel string) []option {
	var out []option
	for _, f := range storage.SAMLNameIDFormats {
		out = append(out, option{Value: f, Label: f, Selected: f == sel})
	}
	return out
}

func attrFormatOptions(sel string) []option {
	var out []option
	for _, f := range storage.SAMLAttributeNameForm {
		out = append(out, option{Value: f, Label: f, Selected: f == sel || (sel == "" && f == "uri")})
	}
	return out
}

func newSPForm(in admin.SPInput) spForm {
	f := spForm{EntityID: in.EntityID, Name: in.Name, MetadataURL: in.MetadataURL, NameID: in.NameIDFormat,
		AllowIdPInitiated: in.AllowIdPInitiated, SignResponse: in.SignResponse, EncryptAssertions: in.EncryptAssertions,
		RequireSigned: in.RequireSignedRequests, RequireMFA: in.RequireMFA, DefaultRelayState: in.DefaultRelayState}
	if f.NameID == "" {
		f.NameID = "persistent"
	}
	var attrs []string
	for _, a := range in.Attributes {
		attrs = append(attrs, a.Source+"="+a.Name)
		f.AttrFormat = a.NameFormat
	}
	f.Attributes = strings.Join(attrs, "\n")
	return f
}

// readSPForm applies the posted settings to in. An attribute line that is
// not SOURCE=NAME is kept whole as its source, which idp/admin refuses by
// name.
func readSPForm(f url.Values, in *admin.SPInput) {
	in.Name = strings.TrimSpace(f.Get("name"))
	in.NameIDFormat = f.Get("nameid_format")
	in.Attributes = nil
	for _, l := range lines(f.Get("attributes")) {
		src, name, _ := strings.Cut(l, "=")
		in.Attributes = append(in.Attributes, storage.SAMLAttribute{Source: strings.TrimSpace(src), Name: strings.TrimSpace(name),
			NameFormat: f.Get("attribute_format")})
	}
	in.AllowIdPInitiated, in.SignResponse = f.Get("allow_idp_initiated") == "on", f.Get("sign_response") == "on"
	in.EncryptAssertions, in.RequireSignedRequests = f.Get("encrypt_assertions") == "on", f.Get("require_signed_requests") == "on"
	in.RequireMFA, in.DefaultRelayState = f.Get("require_mfa") == "on", strings.TrimSpace(f.Get("default_relay_state"))
}

// metadataUpload is the uploaded metadata file, or nil.
func metadataUpload(r *http.Request) ([]byte, error) {
	if r.MultipartForm == nil {
		return nil, nil
	}
	fh := r.MultipartForm.File["metadata_file"]
	if len(fh) == 0 || fh[0].Size == 0 {
		return nil, nil
	}
	return readPart(fh[0])
}

func readPart(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// One byte past the bound, so that idp/admin refuses it by size.
	return io.ReadAll(io.LimitReader(f, spmeta.MaxSize+1))
}

func (h *Handlers) spCreate(w http.ResponseWriter, r *http.Request) {
	c, ok := h.who(w, r, PathApps, true)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	f := r.PostForm
	in := admin.SPInput{EntityID: strings.TrimSpace(f.Get("entity_id")), MetadataURL: strings.TrimSpace(f.Get("metadata_url"))}
	if xml := strings.TrimSpace(f.Get("metadata")); xml != "" {
		in.Metadata = []byte(xml)
	}
	up, err := metadataUpload(r)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "The metadata file could not be read. Choose it again.", err)
		return
	}
	if up != nil {
		in.Metadata = up
	}
	readSPForm(f, &in)
	sp, err := h.Apps.CreateServiceProvider(r.Context(), c.actor(), in)
	if msg, isInput := inputMessage(err); isInput {
		form := newSPForm(in)
		form.Metadata, form.Attributes, form.AttrFormat = f.Get("metadata"), f.Get("attributes"), f.Get("attribute_format")
		h.appsPage(w, r, c, http.StatusUnprocessableEntity, appsData{ErrorIn: "saml", Error: msg, New: newClientForm(clients.Input{}), SP: form})
		return
	} else if err != nil {
		h.actionError(w, r, err)
		return
	}
	http.Redirect(w, r, SPURL(sp.EntityID)+"&done=created", http.StatusSeeOther)
}

// spData is a service provider's page.
type spData struct {
	SP        admin.SPView
	Form      spForm
	Locked    bool
	Notice    string
	Error     string
	CSRFToken string
	NameIDs   []option
	AttrForm  []option
	Int       Integration
}

var spNotices = map[string]string{
	"created":   "The service provider is added. Give it the values of the integration panel.",
	"saved":     "The settings are saved.",
	"refreshed": "The metadata is fetched again.",
	"unchanged": "The metadata is fetched again; it has not changed.",
}

func (h *Handlers) spShow(w http.ResponseWriter, r *http.Request, c caller, status int, sp storage.ServiceProvider, d spData) {
	d.SP, d.Locked, d.CSRFToken, d.Int = admin.ViewServiceProvider(sp), sp.Source == admin.SourceConfig, h.CSRF.Token(w, r, bindForms), h.Integration
	if d.Form.NameID == "" {
		d.Form = newSPForm(admin.SPInputOf(sp))
	}
	d.NameIDs, d.AttrForm = nameIDOptions(d.Form.NameID), attrFormatOptions(d.Form.AttrFormat)
	h.render(w, r, status, pageSP, sp.EntityID, &c, d)
}

func (h *Handlers) spPage(w http.ResponseWriter, r *http.Request) {
	entity := r.URL.Query().Get("entity")
	c, ok := h.who(w, r, SPURL(entity), false)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	sp, err := h.Apps.GetServiceProvider(r.Context(), entity)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	h.spShow(w, r, c, http.StatusOK, sp, spData{Notice: spNotices[r.URL.Query().Get("done")]})
}

// spPost is the prologue of a service provider's POST: the caller, and
// the provider the form names.
func (h *Handlers) spPost(w http.ResponseWriter, r *http.Request) (caller, string, bool) {
	entity := r.PostForm.Get("entity")
	c, ok := h.who(w, r, SPURL(entity), true)
	if !ok || !h.adminOnly(w, r, c) {
		return c, "", false
	}
	return c, entity, true
}

func (h *Handlers) spSave(w http.ResponseWriter, r *http.Request) {
	c, entity, ok := h.spPost(w, r)
	if !ok {
		return
	}
	var typed admin.SPInput
	_, err := h.Apps.UpdateServiceProvider(r.Context(), c.actor(), entity, func(in *admin.SPInput) {
		readSPForm(r.PostForm, in)
		typed = *in
	})
	if msg, isInput := inputMessage(err); isInput {
		sp, gerr := h.Apps.GetServiceProvider(r.Context(), entity)
		if gerr != nil {
			h.actionError(w, r, gerr)
			return
		}
		form := spForm{}
		if typed.Name != "" || typed.NameIDFormat != "" {
			form = newSPForm(typed)
			form.Attributes, form.AttrFormat = r.PostForm.Get("attributes"), r.PostForm.Get("attribute_format")
		}
		h.spShow(w, r, c, http.StatusUnprocessableEntity, sp, spData{Error: msg, Form: form})
		return
	} else if err != nil {
		h.actionError(w, r, err)
		return
	}
	http.Redirect(w, r, SPURL(entity)+"&done=saved", http.StatusSeeOther)
}

func (h *Handlers) spRefresh(w http.ResponseWriter, r *http.Request) {
	c, entity, ok := h.spPost(w, r)
	if !ok {
		return
	}
	changed, err := h.Apps.RefreshServiceProvider(r.Context(), c.actor(), entity)
	if msg, isInput := inputMessage(err); isInput {
		sp, gerr := h.Apps.GetServiceProvider(r.Context(), entity)
		if gerr != nil {
			h.actionError(w, r, gerr)
			return
		}
		h.spShow(w, r, c, http.StatusUnprocessableEntity, sp, spData{Error: msg})
		return
	} else if err != nil {
		h.actionError(w, r, err)
		return
	}
	done := "unchanged"
	if changed {
		done = "refreshed"
	}
	http.Redirect(w, r, SPURL(entity)+"&done="+done, http.StatusSeeOther)
}

func (h *Handlers) spDelete(w http.ResponseWriter, r *http.Request) {
	c, entity, ok := h.spPost(w, r)
	if !ok {
		return
	}
	if r.PostForm.Get("confirm") != "on" {
		sp, err := h.Apps.GetServiceProvider(r.Context(), entity)
		if err != nil {
			h.actionError(w, r, err)
			return
		}
		h.spShow(w, r, c, http.StatusUnprocessableEntity, sp, spData{Error: "To delete the service provider, tick the box that confirms it."})
		return
	}
	if err := h.Apps.DeleteServiceProvider(r.Context(), c.actor(), entity); err != nil {
		h.actionError(w, r, err)
		return
	}
	http.Redirect(w, r, PathApps+"?done=deleted", http.StatusSeeOther)
}
