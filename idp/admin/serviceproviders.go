package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/samlidp/spmeta"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// SPInput is a SAML service provider as an operator gives it: its
// metadata by URL or as a document, and the door's settings for it.
type SPInput struct {
	// EntityID, when set, must be the metadata's entityID (a check that
	// the right file was given).
	EntityID string
	Name     string
	// Exactly one of MetadataURL and Metadata.
	MetadataURL string
	Metadata    []byte
	// MetadataSigner is a PEM certificate that must sign the metadata
	// (optional; a signed metadata URL pins its signer at the first fetch).
	MetadataSigner string
	// NameIDFormat is given when a request names none ("" : persistent);
	// NameIDFormats are the others the provider may ask for.
	NameIDFormat          string
	NameIDFormats         []string
	Attributes            []storage.SAMLAttribute
	AllowIdPInitiated     bool
	DefaultRelayState     string
	SignResponse          bool
	EncryptAssertions     bool
	RequireSignedRequests bool
	RequireMFA            bool
}

// Limits of a service provider's settings.
const (
	MaxSPAttributes    = 50
	MaxSPAttributeName = 256
	maxRelayState      = 80 // the SAML bindings' bound
)

func spNotFound(id string) error {
	return &InputError{Msg: fmt.Sprintf("no SAML service provider with entity id %q", id), Err: storage.ErrNotFound}
}

func spConfigManaged(id string) error {
	return conflictErr("SAML service provider %q is declared in the config file; change it there", id)
}

// settings checks the input's own fields (not the metadata) and returns
// them as stored.
func (in SPInput) settings() (storage.SPSettings, []error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	st := storage.SPSettings{AllowIdPInitiated: in.AllowIdPInitiated, DefaultRelayState: in.DefaultRelayState,
		SignResponse: in.SignResponse, EncryptAssertions: in.EncryptAssertions,
		RequireSignedRequests: in.RequireSignedRequests, RequireMFA: in.RequireMFA, MetadataSigner: in.MetadataSigner}
	first := in.NameIDFormat
	if first == "" {
		first = "persistent"
	}
	for _, f := range append([]string{first}, in.NameIDFormats...) {
		if !slices.Contains(storage.SAMLNameIDFormats, f) {
			bad("nameid_format %q: want one of %s", f, strings.Join(storage.SAMLNameIDFormats, ", "))
			continue
		}
		if !slices.Contains(st.NameIDFormats, f) {
			st.NameIDFormats = append(st.NameIDFormats, f)
		}
	}
	if len(in.Attributes) > MaxSPAttributes {
		bad("attributes: at most %d", MaxSPAttributes)
	}
	names := map[string]bool{}
	for i, a := range in.Attributes {
		switch {
		case !slices.Contains(storage.SAMLAttributeSources, a.Source):
			bad("attributes[%d]: source %q: want one of %s", i, a.Source, strings.Join(storage.SAMLAttributeSources, ", "))
		case a.Name == "" || len(a.Name) > MaxSPAttributeName || !utf8.ValidString(a.Name) || strings.ContainsRune(a.Name, 0):
			bad("attributes[%d]: name must be 1 to %d bytes of text", i, MaxSPAttributeName)
		case a.NameFormat != "" && !slices.Contains(storage.SAMLAttributeNameForm, a.NameFormat):
			bad("attributes[%d]: name_format %q: want one of %s", i, a.NameFormat, strings.Join(storage.SAMLAttributeNameForm, ", "))
		case len(a.FriendlyName) > MaxSPAttributeName || !utf8.ValidString(a.FriendlyName):
			bad("attributes[%d]: friendly_name is longer than %d bytes", i, MaxSPAttributeName)
		case names[a.Name]:
			bad("attributes[%d]: name %q is given twice", i, a.Name)
		}
		names[a.Name] = true
	}
	st.Attributes = in.Attributes
	if len(in.DefaultRelayState) > maxRelayState {
		bad("default_relay_state: at most %d bytes", maxRelayState)
	}
	if in.MetadataSigner != "" {
		if _, err := spmeta.DecodeCert(in.MetadataSigner); err != nil {
			bad("metadata_signer: %v", err)
		}
	}
	if err := checkText("name", in.Name, MaxDisplayName); err != nil {
		errs = append(errs, err)
	}
	switch {
	case in.MetadataURL == "" && len(in.Metadata) == 0:
		bad("give the metadata: a metadata URL or a metadata file")
	case in.MetadataURL != "" && len(in.Metadata) > 0:
		bad("give the metadata once: a metadata URL or a metadata file, not both")
	}
	return st, errs
}

// metadata gets and checks the provider's metadata: from in.Metadata or
// fetched from in.MetadataURL. pinned is the signer already trusted.
func (s *Service) spMetadata(ctx context.Context, url string, doc []byte, pinned string) (spmeta.Metadata, error) {
	if url != "" {
		var err error
		if doc, err = spmeta.Fetch(ctx, s.MetadataClient, url); err != nil {
			return spmeta.Metadata{}, err
		}
	}
	trusted, err := spmeta.DecodeCert(pinned)
	if err != nil {
		return spmeta.Metadata{}, fmt.Errorf("metadata_signer: %w", err)
	}
	return spmeta.Check(doc, trusted, s.Now())
}

// buildSP checks in and its metadata together and returns the row to
// store (without Source and times). stored, when not nil, is the
// provider's stored document, used instead of fetching in.MetadataURL
// again (it was checked, and its signature removed, when it was stored).
func (s *Service) buildSP(ctx context.Context, prefix string, in SPInput, stored []byte) (storage.ServiceProvider, error) {
	if stored != nil {
		in.Metadata, in.MetadataURL = stored, ""
	}
	st, errs := in.settings()
	if len(errs) > 0 {
		return storage.ServiceProvider{}, inputError(prefix, errors.Join(errs...))
	}
	signer := st.MetadataSigner
	if stored != nil {
		signer = ""
	}
	m, err := s.spMetadata(ctx, in.MetadataURL, in.Metadata, signer)
	if err != nil {
		return storage.ServiceProvider{}, &InputError{Msg: prefix + err.Error()}
	}
	if in.EntityID != "" && in.EntityID != m.EntityID {
		errs = append(errs, fmt.Errorf("entity_id %q is not the metadata's (%q)", in.EntityID, m.EntityID))
	}
	if st.EncryptAssertions && !m.EncryptionCert {
		errs = append(errs, errors.New("encrypt_assertions: the metadata has no encryption certificate"))
	}
	if st.RequireSignedRequests && m.SigningCerts == 0 {
		errs = append(errs, errors.New("require_signed_requests: the metadata has no signing certificate"))
	}
	if len(errs) > 0 {
		return storage.ServiceProvider{}, inputError(prefix, errors.Join(errs...))
	}
	if st.MetadataSigner == "" && in.MetadataURL != "" && m.Signer != nil {
		st.MetadataSigner = spmeta.EncodeCert(m.Signer) // pinned for the next fetch
	}
	sp := storage.ServiceProvider{EntityID: m.EntityID, Name: in.Name, Metadata: m.Document, MetadataURL: in.MetadataURL, Settings: st}
	if in.MetadataURL != "" {
		sp.MetadataFetchedAt = s.Now()
	}
	return sp, nil
}

// CreateServiceProvider registers a runtime ("api") SAML service provider.
func (s *Service) CreateServiceProvider(ctx context.Context, actor string, in SPInput) (storage.ServiceProvider, error) {
	sp, err := s.buildSP(ctx, "", in, nil)
	if err != nil {
		return storage.ServiceProvider{}, err
	}
	now := s.Now()
	sp.Source, sp.CreatedAt, sp.UpdatedAt = SourceAPI, now, now
	if err := s.Store.CreateServiceProvider(ctx, sp); errors.Is(err, storage.ErrConflict) {
		return storage.ServiceProvider{}, conflictErr("a SAML service provider with entity id %q already exists", sp.EntityID)
	} else if err != nil {
		return storage.ServiceProvider{}, fmt.Errorf("create service provider: %w", err)
	}
	return sp, s.Audit.Record(ctx, storage.AuditEvent{Type: audit.SAMLSPCreated, ActorID: actor, ClientID: sp.EntityID,
		Details: map[string]string{"source": sp.Source, "metadata_url": sp.MetadataURL}})
}

// ListServiceProviders lists every SAML service provider by entity id.
func (s *Service) ListServiceProviders(ctx context.Context) ([]storage.ServiceProvider, error) {
	out, err := s.Store.ListServiceProviders(ctx)
	if err != nil {
		return nil, fmt.Errorf("list service providers: %w", err)
	}
	return out, nil
}

// GetServiceProvider returns one provider.
func (s *Service) GetServiceProvider(ctx context.Context, entityID string) (storage.ServiceProvider, error) {
	sp, err := s.Store.GetServiceProvider(ctx, entityID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.ServiceProvider{}, spNotFound(entityID)
	} else if err != nil {
		return storage.ServiceProvider{}, fmt.Errorf("get service provider: %w", err)
	}
	return sp, nil
}

// SPInputOf is a stored provider as an input, for an update to edit.
func SPInputOf(sp storage.ServiceProvider) SPInput {
	in := SPInput{EntityID: sp.EntityID, Name: sp.Name, MetadataURL: sp.MetadataURL, MetadataSigner: sp.Settings.MetadataSigner,
		Attributes: sp.Settings.Attributes, AllowIdPInitiated: sp.Settings.AllowIdPInitiated,
		DefaultRelayState: sp.Settings.DefaultRelayState, SignResponse: sp.Settings.SignResponse,
		EncryptAssertions: sp.Settings.EncryptAssertions, RequireSignedRequests: sp.Settings.RequireSignedRequests,
		RequireMFA: sp.Settings.RequireMFA}
	if sp.MetadataURL == "" {
		in.Metadata = sp.Metadata
	}
	if f := sp.Settings.NameIDFormats; len(f) > 0 {
		in.NameIDFormat, in.NameIDFormats = f[0], slices.Clone(f[1:])
	}
	return in
}

// UpdateServiceProvider changes a runtime provider: edit gets its current
// settings as an input and changes what the operator asked. New metadata
// (a new URL or document) is fetched and checked like at creation; its
// entity id must stay the same.
func (s *Service) UpdateServiceProvider(ctx context.Context, actor, entityID string, edit func(*SPInput)) (storage.ServiceProvider, error) {
	old, err := s.GetServiceProvider(ctx, entityID)
	if err != nil {
		return storage.ServiceProvider{}, err
	}
	if old.Source == SourceConfig {
		return storage.ServiceProvider{}, spConfigManaged(entityID)
	}
	in := SPInputOf(old)
	edit(&in)
	in.EntityID = entityID
	if in.MetadataURL != old.MetadataURL && in.MetadataSigner == old.Settings.MetadataSigner && old.MetadataURL != "" {
		// The pinned signer was the old URL's; a new source pins its own
		// unless the operator gives one.
		in.MetadataSigner = ""
	}
	// The same URL keeps the stored document rather than fetch
	// (`saml sps refresh` fetches); the same document is the stored one.
	var stored []byte
	sameURL := in.MetadataURL != "" && in.MetadataURL == old.MetadataURL
	if sameURL || (in.MetadataURL == "" && old.MetadataURL == "" && string(in.Metadata) == string(old.Metadata)) {
		stored = old.Metadata
	}
	want, err := s.buildSP(ctx, "", in, stored)
	if err != nil {
		return storage.ServiceProvider{}, err
	}
	if sameURL {
		want.MetadataURL, want.MetadataFetchedAt, want.MetadataError = old.MetadataURL, old.MetadataFetchedAt, old.MetadataError
	}
	var changed []string
	now := s.Now()
	sp, err := s.Store.UpdateServiceProvider(ctx, entityID, func(cur storage.ServiceProvider) (storage.ServiceProvider, error) {
		if cur.Source == SourceConfig {
			return cur, spConfigManaged(entityID)
		}
		changed = spChanges(cur, want)
		if len(changed) == 0 {
			return cur, errUnchanged
		}
		want.Source, want.CreatedAt, want.UpdatedAt = cur.Source, cur.CreatedAt, now
		return want, nil
	})
	var ie *InputError
	switch {
	case errors.Is(err, errUnchanged):
		return old, nil
	case errors.As(err, &ie):
		return storage.ServiceProvider{}, ie
	case errors.Is(err, storage.ErrNotFound):
		return storage.ServiceProvider{}, spNotFound(entityID)
	case err != nil:
		return storage.ServiceProvider{}, fmt.Errorf("update service provider: %w", err)
	}
	return sp, s.Audit.Record(ctx, storage.AuditEvent{Type: audit.SAMLSPUpdated, ActorID: actor, ClientID: entityID,
		Details: map[string]string{"source": sp.Source, "changed": strings.Join(changed, " ")}})
}

// spChanges names what differs between two providers' rows.
func spChanges(a, b storage.ServiceProvider) []string {
	var out []string
	add := func(name string, differs bool) {
		if differs {
			out = append(out, name)
		}
	}
	add("name", a.Name != b.Name)
	add("metadata", string(a.Metadata) != string(b.Metadata))
	add("metadata_url", a.MetadataURL != b.MetadataURL)
	sa, sb := a.Settings, b.Settings
	add("nameid_formats", !slices.Equal(sa.NameIDFormats, sb.NameIDFormats))
	add("attributes", !slices.Equal(sa.Attributes, sb.Attributes))
	add("allow_idp_initiated", sa.AllowIdPInitiated != sb.AllowIdPInitiated)
	add("default_relay_state", sa.DefaultRelayState != sb.DefaultRelayState)
	add("sign_response", sa.SignResponse != sb.SignResponse)
	add("encrypt_assertions", sa.EncryptAssertions != sb.EncryptAssertions)
	add("require_signed_requests", sa.RequireSignedRequests != sb.RequireSignedRequests)
	add("require_mfa", sa.RequireMFA != sb.RequireMFA)
	add("metadata_signer", sa.MetadataSigner != sb.MetadataSigner)
	return out
}

// DeleteServiceProvider deletes a runtime provider (its request ids,
// persistent NameIDs and session records go with it).
func (s *Service) DeleteServiceProvider(ctx context.Context, actor, entityID string) error {
	sp, err := s.GetServiceProvider(ctx, entityID)
	if err != nil {
		return err
	}
	if sp.Source == SourceConfig {
		return spConfigManaged(entityID)
	}
	if err := s.Store.DeleteServiceProvider(ctx, entityID); errors.Is(err, storage.ErrNotFound) {
		return spNotFound(entityID)
	} else if err != nil {
		return fmt.Errorf("delete service provider: %w", err)
	}
	return s.Audit.Record(ctx, storage.AuditEvent{Type: audit.SAMLSPDeleted, ActorID: actor, ClientID: entityID,
		Details: map[string]string{"source": sp.Source}})
}

// RefreshServiceProvider fetches a provider's metadata from its URL again
// and stores it when it checks (signed by the pinned signer, if one is
// pinned, with the same entity id, and still fitting the settings). A
// failure keeps the stored metadata and is recorded on the row
// (MetadataError) and in the audit log. changed says whether the
// document differs from the stored one.
func (s *Service) RefreshServiceProvider(ctx context.Context, actor, entityID string) (changed bool, err error) {
	sp, err := s.GetServiceProvider(ctx, entityID)
	if err != nil {
		return false, err
	}
	if sp.MetadataURL == "" {
		return false, inputErr("SAML service provider %q has no metadata URL to refresh from", entityID)
	}
	m, ferr := s.spMetadata(ctx, sp.MetadataURL, nil, sp.Settings.MetadataSigner)
	if ferr == nil && m.EntityID != entityID {
		ferr = fmt.Errorf("the metadata now names entity id %q", m.EntityID)
	}
	if ferr == nil && sp.Settings.EncryptAssertions && !m.EncryptionCert {
		ferr = errors.New("the metadata no longer has an encryption certificate, and assertions are encrypted")
	}
	now := s.Now()
	_, err = s.Store.UpdateServiceProvider(ctx, entityID, func(cur storage.ServiceProvider) (storage.ServiceProvider, error) {
		if ferr != nil {
			cur.MetadataError = shorten(ferr.Error())
			return cur, nil
		}
		changed = string(cur.Metadata) != string(m.Document)
		cur.Metadata, cur.MetadataFetchedAt, cur.MetadataError = m.Document, now, ""
		if cur.Settings.MetadataSigner == "" && m.Signer != nil {
			cur.Settings.MetadataSigner = spmeta.EncodeCert(m.Signer)
		}
		if changed {
			cur.UpdatedAt = now
		}
		return cur, nil
	})
	if err != nil {
		return false, fmt.Errorf("refresh service provider: %w", err)
	}
	switch {
	case ferr != nil:
		if aerr := s.Audit.Record(ctx, storage.AuditEvent{Type: audit.SAMLSPMetadataFailed, ActorID: actor, ClientID: entityID,
			Details: map[string]string{"error": shorten(ferr.Error())}}); aerr != nil {
			return false, aerr
		}
		return false, &InputError{Msg: fmt.Sprintf("refresh %q: %v (the stored metadata stays)", entityID, ferr)}
	case changed:
		return true, s.Audit.Record(ctx, storage.AuditEvent{Type: audit.SAMLSPMetadataRefreshed, ActorID: actor, ClientID: entityID})
	}
	return false, nil
}

// RefreshDueMetadata refreshes every provider whose metadata was last
// fetched from its URL at least every ago; one whose fetch keeps failing
// is tried again at each call (the caller's tick). Each failure is logged
// and recorded; it does not stop the others. Several instances may run it
// at once: the worst case is a fetch twice.
func (s *Service) RefreshDueMetadata(ctx context.Context, every time.Duration) error {
	sps, err := s.ListServiceProviders(ctx)
	if err != nil {
		return err
	}
	now := s.Now()
	for _, sp := range sps {
		if sp.MetadataURL == "" || now.Sub(sp.MetadataFetchedAt) < every {
			continue
		}
		if _, err := s.RefreshServiceProvider(ctx, refreshActor, sp.EntityID); err != nil {
			s.logger().WarnContext(ctx, "saml: metadata refresh failed; the stored metadata stays",
				"entity_id", sp.EntityID, "url", sp.MetadataURL, "err", err)
		}
	}
	return nil
}

// ReconcileConfigServiceProviders makes the config providers in storage
// match inputs, like ReconcileConfigClients: missing ones are created,
// changed ones updated, undeclared config ones deleted, runtime ones
// never touched. A declared metadata_url is fetched only when the
// provider is new or its URL changed; otherwise the refresh schedule
// keeps it current, so a start does not wait on every provider's server.
func (s *Service) ReconcileConfigServiceProviders(ctx context.Context, inputs []SPInput) error {
	existing, err := s.ListServiceProviders(ctx)
	if err != nil {
		return fmt.Errorf("reconcile config service providers: %w", err)
	}
	byID := map[string]storage.ServiceProvider{}
	for _, sp := range existing {
		byID[sp.EntityID] = sp
	}
	var errs []error
	var want []storage.ServiceProvider
	seen := map[string]bool{}
	for i, in := range inputs {
		prefix := fmt.Sprintf("saml.service_providers[%d]: ", i)
		old, ok := byID[in.EntityID]
		sameURL := ok && in.EntityID != "" && in.MetadataURL != "" && old.MetadataURL == in.MetadataURL
		var stored []byte
		if sameURL {
			stored = old.Metadata // refreshed on schedule
		}
		sp, err := s.buildSP(ctx, prefix, in, stored)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if sameURL {
			sp.MetadataURL, sp.MetadataFetchedAt, sp.MetadataError = old.MetadataURL, old.MetadataFetchedAt, old.MetadataError
			if sp.Settings.MetadataSigner == "" {
				sp.Settings.MetadataSigner = old.Settings.MetadataSigner // pinned at the first fetch
			}
		}
		want = append(want, sp)
		if seen[sp.EntityID] {
			errs = append(errs, &InputError{Msg: prefix + fmt.Sprintf("entity id %q is declared twice", sp.EntityID)})
			continue
		}
		seen[sp.EntityID] = true
		if old := byID[sp.EntityID]; old.EntityID != "" && old.Source != SourceConfig {
			errs = append(errs, &InputError{Msg: prefix + fmt.Sprintf("entity id %q was registered through the CLI or admin API; "+
				"delete it there or remove the config entry", sp.EntityID), Err: storage.ErrConflict})
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("config service providers: %w", errors.Join(errs...))
	}
	now := s.Now()
	for _, sp := range want {
		sp.Source = SourceConfig
		if err := s.reconcileSP(ctx, sp, byID[sp.EntityID].EntityID != "", now); err != nil {
			return fmt.Errorf("reconcile config service provider %q: %w", sp.EntityID, err)
		}
	}
	for _, old := range existing {
		if old.Source != SourceConfig || seen[old.EntityID] {
			continue
		}
		if err := s.Store.DeleteServiceProvider(ctx, old.EntityID); errors.Is(err, storage.ErrNotFound) {
			continue
		} else if err != nil {
			return fmt.Errorf("reconcile config service providers: delete %q: %w", old.EntityID, err)
		}
		if err := s.Audit.Record(ctx, storage.AuditEvent{Type: audit.SAMLSPDeleted, ActorID: configActor, ClientID: old.EntityID,
			Details: map[string]string{"source": SourceConfig}}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) reconcileSP(ctx context.Context, want storage.ServiceProvider, exists bool, now time.Time) error {
	if !exists {
		sp := want
		sp.CreatedAt, sp.UpdatedAt = now, now
		err := s.Store.CreateServiceProvider(ctx, sp)
		if err == nil {
			return s.Audit.Record(ctx, storage.AuditEvent{Type: audit.SAMLSPCreated, ActorID: configActor, ClientID: sp.EntityID,
				Details: map[string]string{"source": SourceConfig, "metadata_url": sp.MetadataURL}})
		}
		if !errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("create: %w", err)
		}
	}
	var changed []string
	_, err := s.Store.UpdateServiceProvider(ctx, want.EntityID, func(old storage.ServiceProvider) (storage.ServiceProvider, error) {
		if old.Source != SourceConfig {
			return old, conflictErr("registered through the CLI or admin API")
		}
		changed = spChanges(old, want)
		if len(changed) == 0 {
			return old, errUnchanged
		}
		next := want
		next.CreatedAt, next.UpdatedAt = old.CreatedAt, now
		return next, nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return nil
	case err != nil:
		return fmt.Errorf("update: %w", err)
	}
	return s.Audit.Record(ctx, storage.AuditEvent{Type: audit.SAMLSPUpdated, ActorID: configActor, ClientID: want.EntityID,
		Details: map[string]string{"source": SourceConfig, "changed": strings.Join(changed, " ")}})
}

// SPView is a provider as the CLI and the API show it.
type SPView struct {
	EntityID          string                  `json:"entity_id"`
	Name              string                  `json:"name,omitempty"`
	Source            string                  `json:"source"`
	MetadataURL       string                  `json:"metadata_url,omitempty"`
	MetadataFetchedAt *time.Time              `json:"metadata_fetched_at,omitempty"`
	MetadataError     string                  `json:"metadata_error,omitempty"`
	ACS               []string                `json:"acs_urls"`
	SingleLogout      bool                    `json:"single_logout"`
	NameIDFormats     []string                `json:"nameid_formats"`
	Attributes        []storage.SAMLAttribute `json:"attributes,omitempty"`
	AllowIdPInitiated bool                    `json:"allow_idp_initiated"`
	DefaultRelayState string                  `json:"default_relay_state,omitempty"`
	SignResponse      bool                    `json:"sign_response"`
	EncryptAssertions bool                    `json:"encrypt_assertions"`
	RequireSigned     bool                    `json:"require_signed_requests"`
	RequireMFA        bool                    `json:"require_mfa"`
	MetadataSigned    bool                    `json:"metadata_signer_pinned"`
	CreatedAt         time.Time               `json:"created_at"`
	UpdatedAt         time.Time               `json:"updated_at"`
}

// ViewServiceProvider describes sp; the endpoints come from its metadata.
func ViewServiceProvider(sp storage.ServiceProvider) SPView {
	v := SPView{EntityID: sp.EntityID, Name: sp.Name, Source: sp.Source, MetadataURL: sp.MetadataURL, MetadataError: sp.MetadataError,
		NameIDFormats: sp.Settings.NameIDFormats, Attributes: sp.Settings.Attributes, AllowIdPInitiated: sp.Settings.AllowIdPInitiated,
		DefaultRelayState: sp.Settings.DefaultRelayState, SignResponse: sp.Settings.SignResponse,
		EncryptAssertions: sp.Settings.EncryptAssertions, RequireSigned: sp.Settings.RequireSignedRequests,
		RequireMFA: sp.Settings.RequireMFA, MetadataSigned: sp.Settings.MetadataSigner != "", CreatedAt: sp.CreatedAt, UpdatedAt: sp.UpdatedAt,
		ACS: []string{}}
	if len(v.NameIDFormats) == 0 {
		v.NameIDFormats = []string{"persistent"}
	}
	if !sp.MetadataFetchedAt.IsZero() {
		t := sp.MetadataFetchedAt
		v.MetadataFetchedAt = &t
	}
	// The zero time: stored metadata was checked when stored, and a view
	// must not fail on a validUntil that has passed since.
	if m, err := spmeta.Check(sp.Metadata, nil, time.Time{}); err == nil {
		v.ACS, v.SingleLogout = m.ACS, m.SLO
	}
	return v
}

// refreshActor is the audit actor of scheduled metadata refreshes.
const refreshActor = "schedule"
