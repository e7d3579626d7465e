package admin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

// metadataServer serves whatever document the test sets, on loopback.
type metadataServer struct {
	*httptest.Server
	mu  sync.Mutex
	doc []byte
}

func newMetadataServer(t *testing.T, doc []byte) *metadataServer {
	m := &metadataServer{doc: doc}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.doc == nil {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(m.doc)
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *metadataServer) set(doc []byte) { m.mu.Lock(); m.doc = doc; m.mu.Unlock() }

func spAuditTypes(t *testing.T, s *Service, entityID string) []string {
	t.Helper()
	evs, err := backend(t, s).ListAuditEvents(context.Background(), storage.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	slices.Reverse(evs) // oldest first
	for _, e := range evs {
		if e.ClientID == entityID && strings.HasPrefix(e.Type, "saml.") {
			out = append(out, e.Type)
		}
	}
	return out
}

func TestServiceProviderLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	key, cert := upstreamtest.SPKey(t)
	const base = "https://hr.example"
	const entity = base + "/saml/metadata"
	doc := upstreamtest.SPMetadata(t, key, cert, base, now.Add(48*time.Hour), nil)

	sp, err := s.CreateServiceProvider(ctx, "cli", SPInput{Name: "HR", Metadata: doc, NameIDFormat: "emailAddress",
		NameIDFormats: []string{"persistent", "emailAddress"}, AllowIdPInitiated: true, EncryptAssertions: true,
		Attributes: []storage.SAMLAttribute{{Source: "email", Name: "Email", NameFormat: "basic"}}})
	if err != nil {
		t.Fatal(err)
	}
	if sp.EntityID != entity || sp.Source != SourceAPI || !slices.Equal(sp.Settings.NameIDFormats, []string{"emailAddress", "persistent"}) {
		t.Fatalf("created %+v", sp)
	}
	v := ViewServiceProvider(sp)
	if !slices.Equal(v.ACS, []string{base + "/saml/acs"}) || !v.SingleLogout {
		t.Errorf("view %+v", v)
	}
	if _, err := s.CreateServiceProvider(ctx, "cli", SPInput{Metadata: doc}); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("second create: %v", err)
	}

	up, err := s.UpdateServiceProvider(ctx, "cli", entity, func(in *SPInput) { in.RequireMFA, in.Name = true, "People" })
	if err != nil || !up.Settings.RequireMFA || up.Name != "People" || !up.Settings.EncryptAssertions {
		t.Fatalf("update: %+v %v", up, err)
	}
	if _, err := s.UpdateServiceProvider(ctx, "cli", entity, func(in *SPInput) {
		in.Metadata = upstreamtest.SPMetadata(t, key, cert, "https://other.example", now.Add(time.Hour), nil)
	}); err == nil || !strings.Contains(err.Error(), "is not the metadata's") {
		t.Errorf("update to another entity's metadata: %v", err)
	}
	if err := s.DeleteServiceProvider(ctx, "cli", entity); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetServiceProvider(ctx, entity); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	want := []string{audit.SAMLSPCreated, audit.SAMLSPUpdated, audit.SAMLSPDeleted}
	if got := spAuditTypes(t, s, entity); !slices.Equal(got, want) {
		t.Errorf("audit %v, want %v", got, want)
	}
}

func TestServiceProviderInputErrors(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	key, cert := upstreamtest.SPKey(t)
	doc := upstreamtest.SPMetadata(t, key, cert, "https://hr.example", now.Add(48*time.Hour), nil)
	noEnc := upstreamtest.SPMetadata(t, key, cert, "https://hr.example", now.Add(48*time.Hour), func(ed *crewjam.EntityDescriptor) {
		ed.SPSSODescriptors[0].KeyDescriptors, ed.SPSSODescriptors[0].AuthnRequestsSigned = nil, nil
	})
	for _, tc := range []struct {
		name string
		in   SPInput
		want string
	}{
		{"no metadata", SPInput{}, "give the metadata"},
		{"both", SPInput{Metadata: doc, MetadataURL: "https://x.example/md"}, "not both"},
		{"bad format", SPInput{Metadata: doc, NameIDFormat: "email"}, `nameid_format "email"`},
		{"bad source", SPInput{Metadata: doc, Attributes: []storage.SAMLAttribute{{Source: "phone", Name: "p"}}}, `source "phone"`},
		{"no name", SPInput{Metadata: doc, Attributes: []storage.SAMLAttribute{{Source: "email"}}}, "name must be"},
		{"bad name format", SPInput{Metadata: doc, Attributes: []storage.SAMLAttribute{{Source: "email", Name: "m", NameFormat: "x"}}}, "name_format"},
		{"twice", SPInput{Metadata: doc, Attributes: []storage.SAMLAttribute{{Source: "email", Name: "m"}, {Source: "name", Name: "m"}}}, "given twice"},
		{"relay state", SPInput{Metadata: doc, DefaultRelayState: strings.Repeat("r", 81)}, "default_relay_state"},
		{"wrong entity", SPInput{Metadata: doc, EntityID: "https://other.example"}, "is not the metadata's"},
		{"encrypt without a key", SPInput{Metadata: noEnc, EncryptAssertions: true}, "no encryption certificate"},
		{"signed requests without a key", SPInput{Metadata: noEnc, RequireSignedRequests: true}, "no signing certificate"},
		{"http ACS", SPInput{Metadata: upstreamtest.SPMetadata(t, key, cert, "http://hr.example", now.Add(time.Hour), nil)}, "use https"},
		{"expired", SPInput{Metadata: upstreamtest.SPMetadata(t, key, cert, "https://hr.example", now.Add(-time.Hour), nil)}, "expired"},
		{"DTD", SPInput{Metadata: append([]byte(`<!DOCTYPE x>`), doc...)}, "document type"},
		{"bad signer", SPInput{Metadata: doc, MetadataSigner: "junk"}, "metadata_signer"},
		{"plain http URL", SPInput{MetadataURL: "http://hr.example/md"}, "use https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateServiceProvider(ctx, "cli", tc.in)
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an InputError with %q", err, tc.want)
			}
		})
	}
}

func TestServiceProviderMetadataURL(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	clock := now
	s.Now = func() time.Time { return clock }
	key, cert := upstreamtest.SPKey(t)
	fedKey, fedCert := upstreamtest.SPKey(t)
	base := "https://hr.example"
	entity := base + "/saml/metadata"
	doc := upstreamtest.SPMetadata(t, key, cert, base, now.Add(30*24*time.Hour), nil)
	srv := newMetadataServer(t, upstreamtest.SignMetadata(t, fedKey, fedCert, doc))

	sp, err := s.CreateServiceProvider(ctx, "cli", SPInput{MetadataURL: srv.URL + "/md"})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Settings.MetadataSigner == "" || !sp.MetadataFetchedAt.Equal(now) {
		t.Fatalf("the first signed fetch did not pin its signer: %+v", sp.Settings)
	}

	// New metadata signed by the same key is taken.
	newer := upstreamtest.SPMetadata(t, key, cert, base, now.Add(30*24*time.Hour), func(ed *crewjam.EntityDescriptor) {
		ed.SPSSODescriptors[0].AssertionConsumerServices[0].Location = base + "/saml/acs2"
	})
	srv.set(upstreamtest.SignMetadata(t, fedKey, fedCert, newer))
	clock = now.Add(25 * time.Hour)
	if err := s.RefreshDueMetadata(ctx, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetServiceProvider(ctx, entity)
	if v := ViewServiceProvider(got); !slices.Equal(v.ACS, []string{base + "/saml/acs2"}) || !got.MetadataFetchedAt.Equal(clock) {
		t.Fatalf("after refresh: ACS %v fetched %s", v.ACS, got.MetadataFetchedAt)
	}

	// Metadata signed by another key, unsigned metadata and an outage
	// are refused; the stored metadata stays and the row says why.
	otherKey, otherCert := upstreamtest.SPKey(t)
	for name, d := range map[string][]byte{
		"signed by another key": upstreamtest.SignMetadata(t, otherKey, otherCert, doc),
		"unsigned":              doc,
		"down":                  nil,
	} {
		srv.set(d)
		if _, err := s.RefreshServiceProvider(ctx, "cli", entity); err == nil {
			t.Errorf("%s: refresh accepted", name)
		}
		cur, _ := s.GetServiceProvider(ctx, entity)
		if string(cur.Metadata) != string(got.Metadata) || cur.MetadataError == "" {
			t.Errorf("%s: stored metadata changed or no error recorded (%q)", name, cur.MetadataError)
		}
	}
	// Moving to a metadata file drops the URL's pinned signer.
	moved, err := s.UpdateServiceProvider(ctx, "cli", entity, func(in *SPInput) { in.Metadata, in.MetadataURL = doc, "" })
	if err != nil || moved.MetadataURL != "" || moved.Settings.MetadataSigner != "" {
		t.Fatalf("to a file: %+v %v", moved.Settings, err)
	}
	srv.set(nil)
	if _, err := s.UpdateServiceProvider(ctx, "cli", entity, func(in *SPInput) { in.Metadata, in.MetadataURL = nil, srv.URL+"/md" }); err == nil {
		t.Fatal("back to a URL that is down: accepted")
	}
	srv.set(upstreamtest.SignMetadata(t, fedKey, fedCert, doc))
	if back, err := s.UpdateServiceProvider(ctx, "cli", entity, func(in *SPInput) { in.Metadata, in.MetadataURL = nil, srv.URL+"/md" }); err != nil || back.Settings.MetadataSigner == "" {
		t.Fatalf("back to the URL: %+v %v", back.Settings, err)
	}
	// Not due yet: nothing is fetched.
	srv.set(nil)
	clock = clock.Add(time.Hour)
	if err := s.RefreshDueMetadata(ctx, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	types := spAuditTypes(t, s, entity)
	if n := strings.Count(strings.Join(types, " "), audit.SAMLSPMetadataFailed); n != 3 || !slices.Contains(types, audit.SAMLSPMetadataRefreshed) {
		t.Errorf("audit %v", types)
	}
}

func TestReconcileConfigServiceProviders(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	key, cert := upstreamtest.SPKey(t)
	docA := upstreamtest.SPMetadata(t, key, cert, "https://a.example", now.Add(48*time.Hour), nil)
	docB := upstreamtest.SPMetadata(t, key, cert, "https://b.example", now.Add(48*time.Hour), nil)
	srv := newMetadataServer(t, docB)
	decl := []SPInput{{Name: "A", Metadata: docA}, {EntityID: "https://b.example/saml/metadata", MetadataURL: srv.URL}}
	if err := s.ReconcileConfigServiceProviders(ctx, decl); err != nil {
		t.Fatal(err)
	}
	sps, _ := s.ListServiceProviders(ctx)
	if len(sps) != 2 || sps[0].Source != SourceConfig || sps[1].MetadataURL != srv.URL {
		t.Fatalf("after the first start: %+v", sps)
	}
	// A second start with the URL down still starts: the stored copy
	// stands; and an unchanged file writes nothing.
	srv.set(nil)
	if err := s.ReconcileConfigServiceProviders(ctx, decl); err != nil {
		t.Fatalf("restart with the metadata URL down: %v", err)
	}
	if got := spAuditTypes(t, s, "https://a.example/saml/metadata"); len(got) != 1 {
		t.Errorf("an unchanged start audited %v", got)
	}
	// Config providers are not the CLI's.
	if err := s.DeleteServiceProvider(ctx, "cli", "https://a.example/saml/metadata"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("delete of a config provider: %v", err)
	}
	// Removed from the file: deleted. A runtime one is left alone, and
	// declaring its entity id is an error.
	if _, err := s.CreateServiceProvider(ctx, "cli", SPInput{Metadata: docB, EntityID: ""}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("runtime create of a config entity: %v", err)
	}
	if err := s.ReconcileConfigServiceProviders(ctx, decl[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateServiceProvider(ctx, "cli", SPInput{Metadata: docB}); err != nil {
		t.Fatal(err)
	}
	srv.set(docB)
	if err := s.ReconcileConfigServiceProviders(ctx, decl); err == nil || !strings.Contains(err.Error(), "CLI or admin API") {
		t.Fatalf("declaring a runtime provider: %v", err)
	}
	dup := []SPInput{{Metadata: docA}, {Metadata: docA}}
	if err := s.ReconcileConfigServiceProviders(ctx, dup); err == nil || !strings.Contains(err.Error(), "declared twice") {
		t.Fatalf("duplicate: %v", err)
	}
}
