package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-idp/gatehouse/federation"
)

// Connectors and links over the API. Organization admins may call every
// route, on their organizations' connectors and users only; another
// organization's connector is answered as one that does not exist.
//
//	GET    connectors[?org=NAME]
//	POST   connectors {"id", "org", "type": "oidc"|"saml", "name", "domains", "trust_email", "trust_mfa", "jit",
//	               "require_sso", "enabled", "oidc": {...} | "saml": {...}, "client_secret"}
//	GET    connectors/{id}
//	PATCH  connectors/{id} {any of the above but id, org and type; "oidc"/"saml" name only the settings to change}
//	DELETE connectors/{id}
//	POST   connectors/{id}/test
//	GET    users/{email}/links
//	DELETE users/{email}/links/{connector}/{subject}  (the subject path-escaped: "/" as %2F)
//
// The settings objects are federation's OIDCSettings and SAMLSettings by
// their JSON names; "sp_certificate" is Gatehouse's own and is refused.
// Answers are ConnectorView, with the connector's URLs for the upstream;
// no answer ever holds a client secret or an SP key.

// connectorRequest is the body of POST connectors.
type connectorRequest struct {
	ID           string                   `json:"id"`
	Org          string                   `json:"org"`
	Type         string                   `json:"type"`
	Name         string                   `json:"name"`
	Domains      []string                 `json:"domains"`
	TrustEmail   bool                     `json:"trust_email"`
	TrustMFA     bool                     `json:"trust_mfa"`
	JIT          bool                     `json:"jit"`
	RequireSSO   bool                     `json:"require_sso"`
	Enabled      *bool                    `json:"enabled"`
	OIDC         *federation.OIDCSettings `json:"oidc"`
	SAML         *federation.SAMLSettings `json:"saml"`
	ClientSecret string                   `json:"client_secret"`
}

func (req connectorRequest) input() ConnectorInput {
	return ConnectorInput{ID: req.ID, Org: req.Org, Type: req.Type, Name: req.Name, Domains: req.Domains,
		TrustEmail: req.TrustEmail, TrustMFA: req.TrustMFA, JIT: req.JIT, RequireSSO: req.RequireSSO, Enabled: req.Enabled,
		OIDC: req.OIDC, SAML: req.SAML, ClientSecret: req.ClientSecret}
}

// createdConnectorView is a new connector, with the domains its creation
// added to the organization.
type createdConnectorView struct {
	ConnectorView
	ClaimedDomains []string `json:"claimed_domains"`
}

func (a *API) listConnectors(w http.ResponseWriter, r *http.Request, p Principal) error {
	cs, err := a.Service.ListConnectors(r.Context(), p.reach(), r.URL.Query().Get("org"))
	if err != nil {
		return err
	}
	out := make([]ConnectorView, len(cs))
	for i, c := range cs {
		out[i] = ViewConnector(c)
	}
	writeJSON(w, http.StatusOK, map[string]any{"connectors": out})
	return nil
}

func (a *API) createConnector(w http.ResponseWriter, r *http.Request, p Principal) error {
	var req connectorRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	res, err := a.Service.CreateConnector(r.Context(), p.reach(), actorOf(p), req.input())
	if err != nil {
		return err
	}
	w.Header().Set("Location", APIPrefix+"connectors/"+url.PathEscape(res.Connector.ID))
	writeJSON(w, http.StatusCreated, createdConnectorView{
		ConnectorView:  ViewConnector(ConnectorInfo{Connector: res.Connector, Org: req.Org, URLs: res.URLs}),
		ClaimedDomains: nonNil(res.ClaimedDomains)})
	return nil
}

func (a *API) getConnector(w http.ResponseWriter, r *http.Request, p Principal) error {
	c, err := a.Service.GetConnector(r.Context(), p.reach(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ViewConnector(c))
	return nil
}

// connectorPatch is the body of PATCH connectors/{id}: a field left out
// (or null) stays as it is.
type connectorPatch struct {
	Name         *string         `json:"name"`
	Domains      *[]string       `json:"domains"`
	Enabled      *bool           `json:"enabled"`
	TrustEmail   *bool           `json:"trust_email"`
	TrustMFA     *bool           `json:"trust_mfa"`
	JIT          *bool           `json:"jit"`
	RequireSSO   *bool           `json:"require_sso"`
	OIDC         json.RawMessage `json:"oidc"`
	SAML         json.RawMessage `json:"saml"`
	ClientSecret *string         `json:"client_secret"`
}

// change turns the patch into a ConnectorChange. The settings objects are
// decoded here once, strictly, so that the edit applied to the stored
// settings (the same JSON over them: what it names changes) cannot fail.
func (req connectorPatch) change() (ConnectorChange, error) {
	ch := ConnectorChange{Name: req.Name, Domains: req.Domains, Enabled: req.Enabled, TrustEmail: req.TrustEmail,
		TrustMFA: req.TrustMFA, JIT: req.JIT, RequireSSO: req.RequireSSO, ClientSecret: req.ClientSecret}
	if given(req.OIDC) {
		if err := strictSettings("oidc", req.OIDC, &federation.OIDCSettings{}); err != nil {
			return ch, err
		}
		raw := req.OIDC
		ch.EditOIDC = func(s *federation.OIDCSettings) { _ = json.Unmarshal(raw, s) }
	}
	if given(req.SAML) {
		var probe federation.SAMLSettings
		if err := strictSettings("saml", req.SAML, &probe); err != nil {
			return ch, err
		}
		if probe.SPCertificate != "" {
			return ch, badRequest("saml.sp_certificate is Gatehouse's own: it cannot be set")
		}
		raw := req.SAML
		ch.EditSAML = func(s *federation.SAMLSettings) { _ = json.Unmarshal(raw, s) }
	}
	if ch.Empty() {
		return ch, badRequest("give at least one setting to change")
	}
	return ch, nil
}

func given(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// strictSettings decodes raw into v refusing unknown keys, as decodeBody
// does for the body itself.
func strictSettings(name string, raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid %s settings: %s", name, strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

func (a *API) updateConnector(w http.ResponseWriter, r *http.Request, p Principal) error {
	var req connectorPatch
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	ch, err := req.change()
	if err != nil {
		return err
	}
	c, err := a.Service.UpdateConnector(r.Context(), p.reach(), actorOf(p), r.PathValue("id"), ch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ViewConnector(c))
	return nil
}

func (a *API) deleteConnector(w http.ResponseWriter, r *http.Request, p Principal) error {
	if err := a.Service.DeleteConnector(r.Context(), p.reach(), actorOf(p), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// problemView is one federation.Problem.
type problemView struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (a *API) testConnector(w http.ResponseWriter, r *http.Request, p Principal) error {
	if err := decodeBody(w, r, &struct{}{}, true); err != nil {
		return err
	}
	ps, err := a.Service.TestConnector(r.Context(), p.reach(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]problemView, len(ps))
	for i, pr := range ps {
		out[i] = problemView{Code: pr.Code, Message: pr.Message}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": len(ps) == 0, "problems": out})
	return nil
}

func (a *API) listLinks(w http.ResponseWriter, r *http.Request, p Principal) error {
	ls, err := a.Service.ListLinks(r.Context(), p.reach(), r.PathValue("email"))
	if err != nil {
		return err
	}
	out := make([]LinkView, len(ls))
	for i, l := range ls {
		out[i] = ViewLink(l)
	}
	writeJSON(w, http.StatusOK, map[string]any{"links": out})
	return nil
}

func (a *API) removeLink(w http.ResponseWriter, r *http.Request, p Principal) error {
	err := a.Service.RemoveLink(r.Context(), p.reach(), actorOf(p), r.PathValue("email"), r.PathValue("connector"), r.PathValue("subject"))
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
