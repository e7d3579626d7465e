package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The connectors section: an organization's corporate SSO (upstream OIDC
// and SAML). An organization admin sees and edits their organization's
// connectors only (idp/admin's reach). Adding one is two steps, so that
// the URLs to hand to the upstream are shown before anything is saved:
// the organization, type and id first (a GET), then the settings. Every
// change needs a recent sign-in.

// Paths of the connectors section.
const (
	PathConnectors       = "/admin/connectors"
	pathConnectorNew     = "/admin/connectors/new"
	pathConnector        = "/admin/connectors/{id}"
	pathConnectorTest    = "/admin/connectors/{id}/test"
	pathConnectorEnabled = "/admin/connectors/{id}/enabled"
	pathConnectorDelete  = "/admin/connectors/{id}/delete"
)

// ConnectorURL is the page of connector id.
func ConnectorURL(id string) string { return PathConnectors + "/" + url.PathEscape(id) }

// Connectors is what the connectors section needs of idp/admin.
type Connectors interface {
	ListConnectors(ctx context.Context, reach admin.Reach, org string) ([]admin.ConnectorInfo, error)
	GetConnector(ctx context.Context, reach admin.Reach, id string) (admin.ConnectorInfo, error)
	CreateConnector(ctx context.Context, reach admin.Reach, actor string, in admin.ConnectorInput) (admin.CreatedConnector, error)
	UpdateConnector(ctx context.Context, reach admin.Reach, actor, id string, ch admin.ConnectorChange) (admin.ConnectorInfo, error)
	DeleteConnector(ctx context.Context, reach admin.Reach, actor, id string) error
	TestConnector(ctx context.Context, reach admin.Reach, id string) ([]federation.Problem, error)
	ConnectorURLs(id string) (federation.URLs, error)
}

var _ Connectors = (*admin.Service)(nil)

func (h *Handlers) mountConnectors(handle func(pattern string, handler http.Handler)) {
	handle("GET "+PathConnectors, http.HandlerFunc(h.connectors))
	handle("GET "+pathConnectorNew, http.HandlerFunc(h.connectorNew))
	handle("POST "+PathConnectors, h.post(h.connectorCreate))
	handle("GET "+pathConnector, http.HandlerFunc(h.connectorPage))
	handle("POST "+pathConnector, h.post(h.connectorSave))
	handle("POST "+pathConnectorTest, h.post(h.connectorTest))
	handle("POST "+pathConnectorEnabled, h.post(h.connectorEnabled))
	handle("POST "+pathConnectorDelete, h.post(h.connectorDelete))
}

// connectorForm is the connector form, as shown or as typed.
type connectorForm struct {
	ID, Org, Type, Name, Domains          string
	TrustEmail, TrustMFA, JIT, RequireSSO bool
	// OIDC
	Issuer, ClientID, Scopes, GroupsPrefix string
	HasSecret                              bool
	// SAML
	MetadataURL, Metadata, Certificate, EmailAttribute, GroupsAttribute string
	EmailVerified                                                       bool
}

func formOfView(v admin.ConnectorView) connectorForm {
	f := connectorForm{ID: v.ID, Org: v.Org, Type: v.Type, Name: v.Name, Domains: strings.Join(v.Domains, "\n"),
		TrustEmail: v.TrustEmail, TrustMFA: v.TrustMFA, JIT: v.JIT, RequireSSO: v.RequireSSO, HasSecret: v.HasSecret}
	if o := v.OIDC; o != nil {
		f.Issuer, f.ClientID, f.Scopes, f.GroupsPrefix = o.Issuer, o.ClientID, strings.Join(o.Scopes, " "), o.GroupsPrefix
	}
	if s := v.SAML; s != nil {
		f.MetadataURL, f.Certificate, f.EmailAttribute, f.GroupsAttribute = s.MetadataURL, s.Certificate, s.EmailAttribute, s.GroupsAttribute
		f.GroupsPrefix, f.EmailVerified = s.GroupsPrefix, s.EmailVerified
	}
	return f
}

func readConnectorForm(v url.Values) connectorForm {
	on := func(k string) bool { return v.Get(k) == "on" }
	t := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	return connectorForm{ID: t("id"), Org: t("org"), Type: t("type"), Name: t("name"), Domains: v.Get("domains"),
		TrustEmail: on("trust_email"), TrustMFA: on("trust_mfa"), JIT: on("jit"), RequireSSO: on("require_sso"),
		Issuer: t("issuer"), ClientID: t("client_id"), Scopes: v.Get("scopes"), GroupsPrefix: t("groups_prefix"),
		MetadataURL: t("metadata_url"), Metadata: t("metadata"), Certificate: t("certificate"),
		EmailAttribute: t("email_attribute"), GroupsAttribute: t("groups_attribute"), EmailVerified: on("email_verified")}
}

type connectorsData struct {
	Rows      []admin.ConnectorView
	Orgs      []orgOption
	Notice    string
	Error     string
	NewURL    string
	SelfURL   string
	CSRFToken string
}

var connectorNotices = map[string]string{"deleted": "The connector is deleted: nobody signs in through it any more."}

func (h *Handlers) connectors(w http.ResponseWriter, r *http.Request) {
	c, ok := h.who(w, r, PathConnectors, false)
	if !ok {
		return
	}
	list, err := h.Connectors.ListConnectors(r.Context(), c.reach, "")
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	d := connectorsData{Notice: connectorNotices[r.URL.Query().Get("done")], NewURL: pathConnectorNew, SelfURL: PathConnectors}
	for _, i := range list {
		d.Rows = append(d.Rows, admin.ViewConnector(i))
	}
	if d.Orgs, err = h.orgsInReach(r, c, "", byName); err != nil {
		h.actionError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, pageConnectors, "Connectors", &c, d)
}

// connectorData is the settings page of a connector, new or stored.
type connectorData struct {
	Form      connectorForm
	View      *admin.ConnectorView // nil while new
	URLs      admin.URLsView
	Orgs      []orgOption
	Problems  []federation.Problem
	Tested    bool
	Notice    string
	Error     string
	CSRFToken string
	PostURL   string
	Locked    bool
}

// connectorNew is the second step of adding a connector: the URLs of the
// id chosen, and the settings form.
func (h *Handlers) connectorNew(w http.ResponseWriter, r *http.Request) {
	c, ok := h.who(w, r, pathConnectorNew+queryOf(r), false)
	if !ok {
		return
	}
	q := r.URL.Query()
	f := connectorForm{ID: strings.TrimSpace(q.Get("id")), Org: q.Get("org"), Type: q.Get("type")}
	h.connectorNewPage(w, r, c, http.StatusOK, f, "")
}

func (h *Handlers) connectorNewPage(w http.ResponseWriter, r *http.Request, c caller, status int, f connectorForm, msg string) {
	if f.Type != storage.ConnectorOIDC && f.Type != storage.ConnectorSAML {
		h.fail(w, r, http.StatusUnprocessableEntity, "Choose OpenID Connect or SAML.", nil)
		return
	}
	urls, err := h.Connectors.ConnectorURLs(f.ID)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	orgs, err := h.orgsInReach(r, c, f.Org, byName)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	if !slices.ContainsFunc(orgs, func(o orgOption) bool { return o.ID == f.Org }) {
		h.fail(w, r, http.StatusUnprocessableEntity, "Choose one of your organizations.", nil)
		return
	}
	d := connectorData{Form: f, URLs: admin.ViewURLs(f.Type, urls), Orgs: orgs, Error: msg, CSRFToken: h.CSRF.Token(w, r, bindForms),
		PostURL: PathConnectors}
	h.render(w, r, status, pageConnector, "New connector "+f.ID, &c, d)
}

func (h *Handlers) connectorCreate(w http.ResponseWriter, r *http.Request) {
	c, ok := h.who(w, r, PathConnectors, true)
	if !ok {
		return
	}
	f := readConnectorForm(r.PostForm)
	in := admin.ConnectorInput{ID: f.ID, Org: f.Org, Type: f.Type, Name: f.Name, Domains: domainList(f.Domains),
		TrustEmail: f.TrustEmail, TrustMFA: f.TrustMFA, JIT: f.JIT, RequireSSO: f.RequireSSO, ClientSecret: r.PostForm.Get("client_secret")}
	switch f.Type {
	case storage.ConnectorOIDC:
		in.OIDC = &federation.OIDCSettings{Issuer: f.Issuer, ClientID: f.ClientID, Scopes: strings.Fields(f.Scopes), GroupsPrefix: f.GroupsPrefix}
	case storage.ConnectorSAML:
		in.SAML = &federation.SAMLSettings{MetadataURL: f.MetadataURL, Metadata: f.Metadata, Certificate: f.Certificate,
			EmailAttribute: f.EmailAttribute, GroupsAttribute: f.GroupsAttribute, GroupsPrefix: f.GroupsPrefix, EmailVerified: f.EmailVerified}
	}
	_, err := h.Connectors.CreateConnector(r.Context(), c.reach, c.actor(), in)
	if msg, isInput := inputMessage(err); isInput {
		h.connectorNewPage(w, r, c, http.StatusUnprocessableEntity, f, msg)
		return
	} else if err != nil {
		h.actionError(w, r, err)
		return
	}
	http.Redirect(w, r, ConnectorURL(f.ID)+"?done=created", http.StatusSeeOther)
}

var connectorPageNotices = map[string]string{
	"created":  "The connector is added. Give the upstream the URLs above, then test the connection.",
	"saved":    "The settings are saved.",
	"enabled":  "The connector is on: its users sign in through it.",
	"disabled": "The connector is off: it starts no sign-in, and sessions that stood on it end.",
}

func (h *Handlers) connectorShow(w http.ResponseWriter, r *http.Request, c caller, status int, id string, d connectorData) {
	i, err := h.Connectors.GetConnector(r.Context(), c.reach, id)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	v := admin.ViewConnector(i)
	d.View, d.URLs, d.Locked = &v, v.URLs, v.Source == admin.SourceConfig
	if d.Form.Type == "" {
		d.Form = formOfView(v)
	}
	d.Form.ID, d.Form.Type, d.Form.Org, d.Form.HasSecret = v.ID, v.Type, v.Org, v.HasSecret
	d.CSRFToken, d.PostURL = h.CSRF.Token(w, r, bindForms), ConnectorURL(id)
	h.render(w, r, status, pageConnector, v.ID, &c, d)
}

func (h *Handlers) connectorPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := h.who(w, r, ConnectorURL(id), false)
	if !ok {
		return
	}
	h.connectorShow(w, r, c, http.StatusOK, id, connectorData{Notice: connectorPageNotices[r.URL.Query().Get("done")]})
}

func (h *Handlers) connectorSave(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := h.who(w, r, ConnectorURL(id), true)
	if !ok {
		return
	}
	f := readConnectorForm(r.PostForm)
	domains := domainList(f.Domains)
	ch := admin.ConnectorChange{Name: &f.Name, Domains: &domains, TrustEmail: &f.TrustEmail, TrustMFA: &f.TrustMFA, JIT: &f.JIT,
		RequireSSO: &f.RequireSSO}
	if s := r.PostForm.Get("client_secret"); s != "" {
		ch.ClientSecret = &s // empty: the stored secret stays
	}
	switch r.PostForm.Get("type") {
	case storage.ConnectorOIDC:
		ch.EditOIDC = func(o *federation.OIDCSettings) {
			o.Issuer, o.ClientID, o.Scopes, o.GroupsPrefix = f.Issuer, f.ClientID, strings.Fields(f.Scopes), f.GroupsPrefix
		}
	case storage.ConnectorSAML:
		ch.EditSAML = func(s *federation.SAMLSettings) {
			switch {
			case f.Metadata != "":
				s.Metadata, s.MetadataURL = f.Metadata, ""
			case f.MetadataURL != "":
				s.MetadataURL = f.MetadataURL
			}
			s.Certificate, s.EmailAttribute, s.GroupsAttribute = f.Certificate, f.EmailAttribute, f.GroupsAttribute
			s.GroupsPrefix, s.EmailVerified = f.GroupsPrefix, f.EmailVerified
		}
	}
	_, err := h.Connectors.UpdateConnector(r.Context(), c.reach, c.actor(), id, ch)
	if msg, isInput := inputMessage(err); isInput {
		h.connectorShow(w, r, c, http.StatusUnprocessableEntity, id, connectorData{Form: f, Error: msg})
		return
	} else if err != nil {
		h.actionError(w, r, err)
		return
	}
	http.Redirect(w, r, ConnectorURL(id)+"?done=saved", http.StatusSeeOther)
}

// connectorTest runs the check of `gatehouse connectors test` and shows
// what it found.
func (h *Handlers) connectorTest(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := h.who(w, r, ConnectorURL(id), true)
	if !ok {
		return
	}
	problems, err := h.Connectors.TestConnector(r.Context(), c.reach, id)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	h.connectorShow(w, r, c, http.StatusOK, id, connectorData{Problems: problems, Tested: true})
}

func (h *Handlers) connectorEnabled(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := h.who(w, r, ConnectorURL(id), true)
	if !ok {
		return
	}
	on := r.PostForm.Get("enabled") == "on"
	if _, err := h.Connectors.UpdateConnector(r.Context(), c.reach, c.actor(), id, admin.ConnectorChange{Enabled: &on}); err != nil {
		h.actionError(w, r, err)
		return
	}
	done := "disabled"
	if on {
		done = "enabled"
	}
	http.Redirect(w, r, ConnectorURL(id)+"?done="+done, http.StatusSeeOther)
}

func (h *Handlers) connectorDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := h.who(w, r, ConnectorURL(id), true)
	if !ok {
		return
	}
	if r.PostForm.Get("confirm") != id {
		h.connectorShow(w, r, c, http.StatusUnprocessableEntity, id, connectorData{Error: "To delete the connector, type its id."})
		return
	}
	if err := h.Connectors.DeleteConnector(r.Context(), c.reach, c.actor(), id); err != nil {
		h.actionError(w, r, err)
		return
	}
	http.Redirect(w, r, PathConnectors+"?done=deleted", http.StatusSeeOther)
}
