package admin

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func validInput() clients.Input {
	return clients.Input{ID: "web", RedirectURIs: []string{"https://app.example.com/cb"}}
}

func TestCreateClient(t *testing.T) {
	ctx := context.Background()
	s := newService(t)

	c, secret, err := s.CreateClient(ctx, "tester", validInput())
	if err != nil {
		t.Fatal(err)
	}
	if b, err := base64.RawURLEncoding.DecodeString(secret); err != nil || len(b) != 32 {
		t.Fatalf("generated secret decodes to %d bytes, %v", len(b), err)
	}
	stored, err := s.GetClient(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if stored.SecretHash != storage.HashSecret(secret) || stored.SecretHash == secret || c.SecretHash != stored.SecretHash {
		t.Fatal("the secret is not stored as its hash")
	}
	if !clients.VerifySecret(stored, secret) {
		t.Fatal("the returned secret does not verify")
	}
	if stored.Source != SourceAPI || !stored.CreatedAt.Equal(now) {
		t.Errorf("source %q created %v", stored.Source, stored.CreatedAt)
	}

	// Supplied secret: stored, not echoed back.
	supplied := strings.Repeat("x", 32)
	in := validInput()
	in.ID, in.Secret = "svc", supplied
	c, got, err := s.CreateClient(ctx, "tester", in)
	if err != nil || got != "" || !clients.VerifySecret(c, supplied) {
		t.Fatalf("supplied secret: returned %q, verifies %v, err %v", got, clients.VerifySecret(c, supplied), err)
	}

	// Public client: no secret at all.
	in = validInput()
	in.ID, in.Public = "spa", true
	c, got, err = s.CreateClient(ctx, "tester", in)
	if err != nil || got != "" || c.SecretHash != "" {
		t.Fatalf("public client: secret %q, hash %q, err %v", got, c.SecretHash, err)
	}

	_, _, err = s.CreateClient(ctx, "tester", validInput())
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate id: %v; want ErrConflict", err)
	}
	if _, err := s.GetClient(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetClient unknown: %v", err)
	}
	list, err := s.ListClients(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("ListClients = %d clients, %v", len(list), err)
	}
	if got := clientAuditTypes(t, s, "web"); !slices.Equal(got, []string{audit.ClientCreated}) {
		t.Errorf("audit %v", got)
	}
}

// CreateClient refuses what idp/clients refuses, as one *InputError that
// lists every problem on one line (the CLI prints it, the API returns it as
// error_description), and stores and audits nothing.
func TestCreateClientRefuses(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	secret := strings.Repeat("s", 40)
	tests := []struct {
		name string
		in   clients.Input
		want []string
	}{
		{"bad id and redirect URI", clients.Input{ID: "web app", RedirectURIs: []string{"javascript:alert(1)"}},
			[]string{`id: "web app" is not valid`, `redirect_uris: "javascript:alert(1)": the javascript: scheme is not allowed`}},
		{"public with a secret", clients.Input{ID: "spa", Public: true, Secret: secret, RedirectURIs: []string{"http://localhost/cb"}},
			[]string{"secret: a public client has no secret"}},
		{"short secret, bad grant", clients.Input{ID: "svc", Secret: "short", GrantTypes: []string{"password"}},
			[]string{`grant_types: "password" is not one of`, "secret: must be at least 32 characters, got 5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := s.CreateClient(ctx, "tester", tt.in)
			var ie *InputError
			if !errors.As(err, &ie) || got != "" {
				t.Fatalf("err = %v (%T), secret %q; want *InputError and no secret", err, err, got)
			}
			rest := ie.Msg
			for i, w := range tt.want {
				at := strings.Index(rest, w)
				if at < 0 || (i == 0 && at != 0) || (i > 0 && !strings.HasSuffix(rest[:at], "; ")) {
					t.Fatalf("message %q; want the problems %q, in order, joined by \"; \"", ie.Msg, tt.want)
				}
				rest = rest[at+len(w):]
			}
			if strings.Contains(ie.Msg, "\n") || strings.Contains(ie.Msg, secret) || strings.Contains(ie.Msg, "short") {
				t.Errorf("message spans lines or quotes the secret: %q", ie.Msg)
			}
			if _, err := s.Store.GetClient(ctx, tt.in.ID); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("refused client stored: %v", err)
			}
			if evs := clientAuditTypes(t, s, tt.in.ID); len(evs) != 0 {
				t.Errorf("refused client audited: %v", evs)
			}
		})
	}
}

func clientAuditTypes(t *testing.T, s *Service, clientID string) []string {
	t.Helper()
	evs, err := backend(t, s).ListAuditEvents(context.Background(), storage.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		if e.ClientID == clientID {
			types = append(types, e.Type)
		}
	}
	return types
}

func TestRotateAndDeleteClient(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	_, old, err := s.CreateClient(ctx, "tester", validInput())
	if err != nil {
		t.Fatal(err)
	}
	pub := validInput()
	pub.ID, pub.Public = "spa", true
	if _, _, err := s.CreateClient(ctx, "tester", pub); err != nil {
		t.Fatal(err)
	}

	fresh, err := s.RotateClientSecret(ctx, "tester", "web", "")
	if err != nil || fresh == "" || fresh == old {
		t.Fatalf("rotate = %q, %v", fresh, err)
	}
	c, _ := s.GetClient(ctx, "web")
	if clients.VerifySecret(c, old) || !clients.VerifySecret(c, fresh) {
		t.Fatal("after rotation the old secret must fail and the new one verify")
	}
	supplied := strings.Repeat("k", 40)
	if got, err := s.RotateClientSecret(ctx, "tester", "web", supplied); err != nil || got != "" {
		t.Fatalf("rotate with supplied secret = %q, %v", got, err)
	}
	c, _ = s.GetClient(ctx, "web")
	if !clients.VerifySecret(c, supplied) {
		t.Fatal("supplied secret does not verify")
	}

	errTests := []struct {
		name, id, secret string
		notFound, input  bool
	}{
		{"unknown", "nope", "", true, true},
		{"public", "spa", "", false, true},
		{"short supplied", "web", "short", false, true},
	}
	for _, tt := range errTests {
		_, err := s.RotateClientSecret(ctx, "tester", tt.id, tt.secret)
		var ie *InputError
		if errors.Is(err, storage.ErrNotFound) != tt.notFound || errors.As(err, &ie) != tt.input {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}

	if err := s.DeleteClient(ctx, "tester", "web"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteClient(ctx, "tester", "web"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	want := []string{audit.ClientDeleted, audit.ClientSecretRotated, audit.ClientSecretRotated, audit.ClientCreated}
	if got := clientAuditTypes(t, s, "web"); !slices.Equal(got, want) {
		t.Errorf("audit %v, want %v", got, want)
	}
}

func TestReconcileConfigClients(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	secretA, secretB := strings.Repeat("a", 32), strings.Repeat("b", 32)
	web := clients.Input{ID: "web", Secret: secretA, RedirectURIs: []string{"https://app.example.com/cb"}}
	spa := clients.Input{ID: "spa", Public: true, RedirectURIs: []string{"http://localhost:3000/cb"}}
	job := clients.Input{ID: "job", Secret: secretA, GrantTypes: []string{clients.GrantClientCredentials}}

	// A runtime client must survive every step.
	_, apiSecret, err := s.CreateClient(ctx, "tester", clients.Input{ID: "api-made", RedirectURIs: []string{"https://x.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}

	type state map[string]string // id -> source
	steps := []struct {
		name    string
		inputs  []clients.Input
		wantErr string
		want    state
		check   func(t *testing.T)
	}{
		{name: "create from config", inputs: []clients.Input{web, spa},
			want: state{"web": SourceConfig, "spa": SourceConfig, "api-made": SourceAPI},
			check: func(t *testing.T) {
				c, _ := s.GetClient(ctx, "web")
				if !clients.VerifySecret(c, secretA) {
					t.Error("config secret does not verify")
				}
				if got := clientAuditTypes(t, s, "web"); !slices.Equal(got, []string{audit.ClientCreated}) {
					t.Errorf("audit %v", got)
				}
			}},
		{name: "unchanged config writes nothing", inputs: []clients.Input{web, spa},
			want: state{"web": SourceConfig, "spa": SourceConfig, "api-made": SourceAPI},
			check: func(t *testing.T) {
				if got := clientAuditTypes(t, s, "web"); len(got) != 1 {
					t.Errorf("audit %v; want only the creation", got)
				}
			}},
		{name: "update when config changes", inputs: func() []clients.Input {
			w := web
			w.Secret, w.RedirectURIs, w.RequireMFA = secretB, []string{"https://app.example.com/cb2"}, true
			return []clients.Input{w, spa}
		}(),
			want: state{"web": SourceConfig, "spa": SourceConfig, "api-made": SourceAPI},
			check: func(t *testing.T) {
				c, _ := s.GetClient(ctx, "web")
				if clients.VerifySecret(c, secretA) || !clients.VerifySecret(c, secretB) || !c.RequireMFA ||
					!slices.Equal(c.RedirectURIs, []string{"https://app.example.com/cb2"}) || !c.CreatedAt.Equal(now) {
					t.Errorf("not updated: %+v", c)
				}
				evs, _ := backend(t, s).ListAuditEvents(ctx, storage.AuditQuery{Type: audit.ClientUpdated})
				if len(evs) != 1 || evs[0].ClientID != "web" || evs[0].Details["changed"] != "secret redirect_uris require_mfa" {
					t.Errorf("update events %+v", evs)
				}
				if strings.Contains(fmt.Sprint(evs), secretB) || strings.Contains(fmt.Sprint(evs), c.SecretHash) {
					t.Error("audit event carries the secret or its hash")
				}
			}},
		{name: "delete removed config clients", inputs: []clients.Input{job},
			want: state{"job": SourceConfig, "api-made": SourceAPI}},
		{name: "collision with an api client", inputs: []clients.Input{job, {ID: "api-made", Secret: secretA, RedirectURIs: []string{"https://x.example/cb"}}},
			wantErr: `clients[1] (id "api-made"): a client with this id was created through the CLI or admin API`,
			want:    state{"job": SourceConfig, "api-made": SourceAPI}},
		{name: "all problems at once, nothing changed", inputs: []clients.Input{
			{ID: "bad id"},
			{ID: "nosecret", RedirectURIs: []string{"https://x.example/cb"}},
			{ID: "evil", Secret: secretA, RedirectURIs: []string{"javascript:alert(1)"}},
			{ID: "evil", Secret: secretA, RedirectURIs: []string{"https://x.example/cb"}},
		},
			wantErr: "clients[0] (id \"bad id\")|clients[1] (id \"nosecret\"): secret: required for a confidential client|" +
				"clients[2] (id \"evil\"): redirect_uris: \"javascript:alert(1)\"|" +
				"clients[3] (id \"evil\"): id: \"evil\" is already the id of clients[2]",
			want: state{"job": SourceConfig, "api-made": SourceAPI}},
		{name: "empty config deletes every config client", inputs: nil,
			want: state{"api-made": SourceAPI}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := s.ReconcileConfigClients(ctx, st.inputs)
			switch {
			case st.wantErr == "" && err != nil:
				t.Fatalf("error: %v", err)
			case st.wantErr != "" && err == nil:
				t.Fatal("no error")
			}
			for _, w := range strings.Split(st.wantErr, "|") {
				if w != "" && !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if err != nil && strings.Contains(err.Error(), secretA) {
				t.Error("error quotes a secret")
			}
			list, lerr := s.ListClients(ctx)
			if lerr != nil {
				t.Fatal(lerr)
			}
			got := state{}
			for _, c := range list {
				got[c.ID] = c.Source
			}
			if fmt.Sprint(got) != fmt.Sprint(st.want) {
				t.Errorf("clients %v, want %v", got, st.want)
			}
			if st.check != nil {
				st.check(t)
			}
		})
	}
	c, _ := s.GetClient(ctx, "api-made")
	if !clients.VerifySecret(c, apiSecret) {
		t.Error("reconcile touched the api client's secret")
	}
}

// Config clients are managed by the file; the CLI and API must not change
// them, or the next start would silently undo the change.
func TestConfigClientsAreReadOnlyAtRuntime(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	if err := s.ReconcileConfigClients(ctx, []clients.Input{{ID: "web", Secret: strings.Repeat("a", 32),
		RedirectURIs: []string{"https://app.example.com/cb"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteClient(ctx, "tester", "web"); !errors.Is(err, storage.ErrConflict) || !strings.Contains(err.Error(), "config file") {
		t.Errorf("delete config client: %v", err)
	}
	if _, err := s.RotateClientSecret(ctx, "tester", "web", ""); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("rotate config client: %v", err)
	}
	if _, err := s.GetClient(ctx, "web"); err != nil {
		t.Errorf("config client gone: %v", err)
	}
}

// Several instances start at once with the same file: no errors, one row.
func TestReconcileConcurrent(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	in := []clients.Input{{ID: "web", Secret: strings.Repeat("a", 32), RedirectURIs: []string{"https://app.example.com/cb"}}}
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- s.ReconcileConfigClients(ctx, in) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := clientAuditTypes(t, s, "web"); !slices.Equal(got, []string{audit.ClientCreated}) {
		t.Errorf("audit %v; want one creation", got)
	}
}

func TestViewClientHasNoHash(t *testing.T) {
	c := storage.Client{ID: "web", SecretHash: storage.HashSecret("x"), AccessTokenTTL: time.Hour}
	v := ViewClient(c)
	if !v.HasSecret || v.IDTokenSignedResponseAlg != "RS256" || v.AccessTokenTTL != "1h0m0s" || v.RedirectURIs == nil {
		t.Errorf("view %+v", v)
	}
	if strings.Contains(fmt.Sprintf("%+v", v), c.SecretHash) {
		t.Error("view carries the hash")
	}
}
