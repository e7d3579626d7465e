package admin

import (
	"net/http"
	"net/url"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The SAML service providers' routes take the entity id, a URL, as the
// query parameter entity_id rather than a path segment.

// spRequest is a provider as the API takes it. metadata is the document
// itself (XML, as a JSON string).
type spRequest struct {
	EntityID              string                  `json:"entity_id"`
	Name                  string                  `json:"name"`
	MetadataURL           string                  `json:"metadata_url"`
	Metadata              string                  `json:"metadata"`
	MetadataSigner        string                  `json:"metadata_signer"`
	NameIDFormat          string                  `json:"nameid_format"`
	NameIDFormats         []string                `json:"nameid_formats"`
	Attributes            []storage.SAMLAttribute `json:"attributes"`
	AllowIdPInitiated     bool                    `json:"allow_idp_initiated"`
	DefaultRelayState     string                  `json:"default_relay_state"`
	SignResponse          bool                    `json:"sign_response"`
	EncryptAssertions     bool                    `json:"encrypt_assertions"`
	RequireSignedRequests bool                    `json:"require_signed_requests"`
	RequireMFA            bool                    `json:"require_mfa"`
}

func (req spRequest) input() SPInput {
	in := SPInput{EntityID: req.EntityID, Name: req.Name, MetadataURL: req.MetadataURL, MetadataSigner: req.MetadataSigner,
		NameIDFormat: req.NameIDFormat, NameIDFormats: req.NameIDFormats, Attributes: req.Attributes,
		AllowIdPInitiated: req.AllowIdPInitiated, DefaultRelayState: req.DefaultRelayState, SignResponse: req.SignResponse,
		EncryptAssertions: req.EncryptAssertions, RequireSignedRequests: req.RequireSignedRequests, RequireMFA: req.RequireMFA}
	if req.Metadata != "" {
		in.Metadata = []byte(req.Metadata)
	}
	return in
}

// spPatch changes what it names; a metadata or metadata_url replaces the
// other.
type spPatch struct {
	Name                  *string                  `json:"name"`
	MetadataURL           *string                  `json:"metadata_url"`
	Metadata              *string                  `json:"metadata"`
	MetadataSigner        *string                  `json:"metadata_signer"`
	NameIDFormat          *string                  `json:"nameid_format"`
	NameIDFormats         *[]string                `json:"nameid_formats"`
	Attributes            *[]storage.SAMLAttribute `json:"attributes"`
	AllowIdPInitiated     *bool                    `json:"allow_idp_initiated"`
	DefaultRelayState     *string                  `json:"default_relay_state"`
	SignResponse          *bool                    `json:"sign_response"`
	EncryptAssertions     *bool                    `json:"encrypt_assertions"`
	RequireSignedRequests *bool                    `json:"require_signed_requests"`
	RequireMFA            *bool                    `json:"require_mfa"`
}

func (p spPatch) apply(in *SPInput) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setB := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&in.Name, p.Name)
	if p.MetadataURL != nil {
		in.MetadataURL, in.Metadata = *p.MetadataURL, nil
	}
	if p.Metadata != nil {
		in.Metadata, in.MetadataURL = []byte(*p.Metadata), ""
	}
	set(&in.MetadataSigner, p.MetadataSigner)
	set(&in.NameIDFormat, p.NameIDFormat)
	if p.NameIDFormats != nil {
		in.NameIDFormats = *p.NameIDFormats
	}
	if p.Attributes != nil {
		in.Attributes = *p.Attributes
	}
	setB(&in.AllowIdPInitiated, p.AllowIdPInitiated)
	set(&in.DefaultRelayState, p.DefaultRelayState)
	setB(&in.SignResponse, p.SignResponse)
	setB(&in.EncryptAssertions, p.EncryptAssertions)
	setB(&in.RequireSignedRequests, p.RequireSignedRequests)
	setB(&in.RequireMFA, p.RequireMFA)
}

func entityParam(r *http.Request) (string, error) {
	id := r.URL.Query().Get("entity_id")
	if id == "" {
		return "", badRequest("the query parameter entity_id is required")
	}
	return id, nil
}

func (a *API) listServiceProviders(w http.ResponseWriter, r *http.Request, _ Principal) error {
	if id := r.URL.Query().Get("entity_id"); id != "" {
		sp, err := a.Service.GetServiceProvider(r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, ViewServiceProvider(sp))
		return nil
	}
	sps, err := a.Service.ListServiceProviders(r.Context())
	if err != nil {
		return err
	}
	out := make([]SPView, len(sps))
	for i, sp := range sps {
		out[i] = ViewServiceProvider(sp)
	}
	writeJSON(w, http.StatusOK, map[string]any{"service_providers": out})
	return nil
}

func (a *API) createServiceProvider(w http.ResponseWriter, r *http.Request, p Principal) error {
	var req spRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	sp, err := a.Service.CreateServiceProvider(r.Context(), actorOf(p), req.input())
	if err != nil {
		return err
	}
	w.Header().Set("Location", APIPrefix+"saml/service-providers?entity_id="+url.QueryEscape(sp.EntityID))
	writeJSON(w, http.StatusCreated, ViewServiceProvider(sp))
	return nil
}

func (a *API) updateServiceProvider(w http.ResponseWriter, r *http.Request, p Principal) error {
	id, err := entityParam(r)
	if err != nil {
		return err
	}
	var req spPatch
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	sp, err := a.Service.UpdateServiceProvider(r.Context(), actorOf(p), id, req.apply)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ViewServiceProvider(sp))
	return nil
}

func (a *API) deleteServiceProvider(w http.ResponseWriter, r *http.Request, p Principal) error {
	id, err := entityParam(r)
	if err != nil {
		return err
	}
	if err := a.Service.DeleteServiceProvider(r.Context(), actorOf(p), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) refreshServiceProvider(w http.ResponseWriter, r *http.Request, p Principal) error {
	id, err := entityParam(r)
	if err != nil {
		return err
	}
	if err := decodeBody(w, r, &struct{}{}, true); err != nil {
		return err
	}
	changed, err := a.Service.RefreshServiceProvider(r.Context(), actorOf(p), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"changed": changed})
	return nil
}
