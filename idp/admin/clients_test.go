package admin

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func TestValidateRedirectURI(t *testing.T) {
	tests := []struct {
		uri     string
		wantErr string // "" means accepted
	}{
		{"https://app.example.com/cb", ""},
		{"https://app.example.com:8443/cb?tenant=a", ""},
		{"https://app.example.com", ""},
		{"http://localhost/cb", ""},
		{"http://localhost:53682/cb", ""},
		{"http://127.0.0.1:8000/cb", ""},
		{"http://[::1]:8000/cb", ""},
		{"com.example.app:/oauth2redirect", ""},
		{"com.example.app://callback", ""},

		{"", "empty"},
		{"/relative/cb", "absolute"},
		{"app.example.com/cb", "absolute"},
		{"//app.example.com/cb", "absolute"},
		{"https://app.example.com/cb#frag", "fragment"},
		{"https://app.example.com/cb#", "fragment"},
		{"https://*.example.com/cb", "wildcard"},
		{"https://app.example.com/*", "wildcard"},
		{"https://user@app.example.com/cb", "user info"},
		{"https://user:pw-s3cret@app.example.com/cb", "user info"},
		{"https://user:pw-s3cret@app.example.com/cb#f", "fragment"},
		{"https://user:pw-s3cret@app.example.com/c b", "space"},
		{"http://user:pw-s3cret@app.example.com/cb", "user info"},
		{"https://@app.example.com/cb", "user info"},
		{`https://app.example.com\@evil.example/cb`, "backslash"},
		{`https://app.example.com\cb`, "backslash"},
		{"http://app.example.com/cb", "http is allowed only"},
		{"http://localhost.evil.example/cb", "http is allowed only"},
		{"http://127.0.0.2/cb", "http is allowed only"},
		{"http://192.168.1.10/cb", "http is allowed only"},
		{"javascript:alert(1)", "javascript: scheme"},
		{"javascript://example.com/%0Aalert(1)", "javascript: scheme"},
		{"JavaScript:alert(1)", "javascript: scheme"},
		{"data:text/html,<script>alert(1)</script>", "data: scheme"},
		{"file:///etc/passwd", "file: scheme"},
		{"vbscript:msgbox", "vbscript: scheme"},
		{"myapp:/cb", "not allowed"},
		{"ftp://example.com/cb", "not allowed"},
		{"com.example.app:cb", "not a hierarchical"},
		{"https:///cb", "must have a host"},
		{"https:cb", "not a hierarchical"},
		{"https://app.example.com/c b", "space"},
		{"https://app.example.com/cb\n", "control"},
		{"https://app.example.com/" + strings.Repeat("a", 2048), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			err := ValidateRedirectURI(tt.uri)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatal("accepted")
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("error %q lacks %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "pw-s3cret") {
				t.Errorf("error echoes a password: %v", err)
			}
		})
	}
}

func validInput() ClientInput {
	return ClientInput{ID: "web", RedirectURIs: []string{"https://app.example.com/cb"}}
}

func TestBuildClient(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(in *ClientInput)
		wantErr []string // substrings; empty means valid
		check   func(t *testing.T, c storage.Client)
	}{
		{name: "defaults", mutate: func(*ClientInput) {}, check: func(t *testing.T, c storage.Client) {
			if !slices.Equal(c.GrantTypes, DefaultGrantTypes) || !slices.Equal(c.Scopes, DefaultScopes) ||
				c.AccessTokenFormat != AccessTokenOpaque || c.AccessTokenTTL != time.Hour || c.IDTokenTTL != time.Hour ||
				c.RefreshTokenTTL != 30*24*time.Hour || c.Name != "web" || c.IDTokenSignedResponseAlg != "" {
				t.Errorf("defaults not applied: %+v", c)
			}
		}},
		{name: "URIs stored exactly, duplicates dropped", mutate: func(in *ClientInput) {
			in.RedirectURIs = []string{"https://App.Example.com:443/cb/../x?a=1", "https://App.Example.com:443/cb/../x?a=1", "http://127.0.0.1:9/"}
		}, check: func(t *testing.T, c storage.Client) {
			if want := []string{"https://App.Example.com:443/cb/../x?a=1", "http://127.0.0.1:9/"}; !slices.Equal(c.RedirectURIs, want) {
				t.Errorf("redirect URIs %q, want %q", c.RedirectURIs, want)
			}
		}},
		{name: "all settings", mutate: func(in *ClientInput) {
			in.GrantTypes = []string{GrantAuthorizationCode, GrantClientCredentials}
			in.Scopes = []string{"openid", "api:read"}
			in.IDTokenSignedResponseAlg, in.AccessTokenFormat = "EdDSA", AccessTokenJWT
			in.AccessTokenTTL, in.IDTokenTTL, in.RefreshTokenTTL = 5*time.Minute, 24*time.Hour, 365*24*time.Hour
		}},
		{name: "client_credentials only needs no redirect URI", mutate: func(in *ClientInput) {
			in.RedirectURIs, in.GrantTypes = nil, []string{GrantClientCredentials}
		}},
		{name: "bad id", mutate: func(in *ClientInput) { in.ID = "web app" }, wantErr: []string{`client id "web app"`}},
		{name: "empty id", mutate: func(in *ClientInput) { in.ID = "" }, wantErr: []string{`client id ""`}},
		{name: "long id", mutate: func(in *ClientInput) { in.ID = strings.Repeat("a", 129) }, wantErr: []string{"client id"}},
		{name: "no redirect URI for code", mutate: func(in *ClientInput) { in.RedirectURIs = nil }, wantErr: []string{"at least one redirect URI"}},
		{name: "bad redirect and post-logout URIs together", mutate: func(in *ClientInput) {
			in.RedirectURIs = []string{"javascript:alert(1)"}
			in.PostLogoutRedirectURIs = []string{"https://x.example/#f"}
		}, wantErr: []string{"redirect URI \"javascript:alert(1)\"", "post-logout redirect URI \"https://x.example/#f\""}},
		{name: "unknown grant", mutate: func(in *ClientInput) { in.GrantTypes = []string{"implicit"} }, wantErr: []string{`grant type "implicit"`}},
		{name: "refresh without code", mutate: func(in *ClientInput) { in.GrantTypes = []string{GrantRefreshToken, GrantClientCredentials} },
			wantErr: []string{"refresh_token needs authorization_code"}},
		{name: "public with client_credentials", mutate: func(in *ClientInput) {
			in.Public, in.GrantTypes = true, []string{GrantAuthorizationCode, GrantClientCredentials}
		}, wantErr: []string{"public client cannot use client_credentials"}},
		{name: "public with a secret", mutate: func(in *ClientInput) { in.Public, in.Secret = true, strings.Repeat("s", 40) },
			wantErr: []string{"public client has no secret"}},
		{name: "short supplied secret", mutate: func(in *ClientInput) { in.Secret = strings.Repeat("s", 31) },
			wantErr: []string{"at least 32 characters"}},
		{name: "bad scope", mutate: func(in *ClientInput) { in.Scopes = []string{`a"b`} }, wantErr: []string{"scope"}},
		{name: "bad alg", mutate: func(in *ClientInput) { in.IDTokenSignedResponseAlg = "none" }, wantErr: []string{`"none" is not one of`}},
		{name: "HS256 alg", mutate: func(in *ClientInput) { in.IDTokenSignedResponseAlg = "HS256" }, wantErr: []string{"id_token_signed_response_alg"}},
		{name: "bad format", mutate: func(in *ClientInput) { in.AccessTokenFormat = "paseto" }, wantErr: []string{"access_token_format"}},
		{name: "TTLs out of range", mutate: func(in *ClientInput) {
			in.AccessTokenTTL, in.IDTokenTTL, in.RefreshTokenTTL = time.Minute, 25*time.Hour, 59*time.Minute
		}, wantErr: []string{"access_token_ttl must be between 5m0s and 24h0m0s", "id_token_ttl", "refresh_token_ttl"}},
		{name: "negative TTL", mutate: func(in *ClientInput) { in.RefreshTokenTTL = -time.Hour }, wantErr: []string{"refresh_token_ttl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validInput()
			tt.mutate(&in)
			c, err := buildClient(in)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if tt.check != nil {
					tt.check(t, c)
				}
				return
			}
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v (%T); want *InputError", err, err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if in.Secret != "" && strings.Contains(err.Error(), in.Secret) {
				t.Errorf("error quotes the secret")
			}
		})
	}
}

func TestNewClientSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := NewClientSecret()
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != 32 {
			t.Fatalf("secret %q decodes to %d bytes, %v; want 32", s, len(b), err)
		}
		if seen[s] {
			t.Fatal("repeated secret")
		}
		seen[s] = true
	}
}

func TestVerifyClientSecret(t *testing.T) {
	secret := NewClientSecret()
	conf := storage.Client{ID: "c", SecretHash: storage.HashSecret(secret)}
	tests := []struct {
		name   string
		c      storage.Client
		secret string
		want   bool
	}{
		{"right", conf, secret, true},
		{"wrong", conf, NewClientSecret(), false},
		{"prefix", conf, secret[:42], false},
		{"empty given", conf, "", false},
		{"the hash itself", conf, conf.SecretHash, false},
		{"public client", storage.Client{ID: "p", Public: true}, "", false},
		{"public client with a stray hash", storage.Client{ID: "p", Public: true, SecretHash: storage.HashSecret(secret)}, secret, false},
		{"unknown client (zero value)", storage.Client{}, secret, false},
		{"unknown client, empty secret", storage.Client{}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifyClientSecret(tt.c, tt.secret); got != tt.want {
				t.Fatalf("VerifyClientSecret = %v, want %v", got, tt.want)
			}
		})
	}
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
	if !VerifyClientSecret(stored, secret) {
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
	if err != nil || got != "" || !VerifyClientSecret(c, supplied) {
		t.Fatalf("supplied secret: returned %q, verifies %v, err %v", got, VerifyClientSecret(c, supplied), err)
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
	if VerifyClientSecret(c, old) || !VerifyClientSecret(c, fresh) {
		t.Fatal("after rotation the old secret must fail and the new one verify")
	}
	supplied := strings.Repeat("k", 40)
	if got, err := s.RotateClientSecret(ctx, "tester", "web", supplied); err != nil || got != "" {
		t.Fatalf("rotate with supplied secret = %q, %v", got, err)
	}
	c, _ = s.GetClient(ctx, "web")
	if !VerifyClientSecret(c, supplied) {
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
	web := ClientInput{ID: "web", Secret: secretA, RedirectURIs: []string{"https://app.example.com/cb"}}
	spa := ClientInput{ID: "spa", Public: true, RedirectURIs: []string{"http://localhost:3000/cb"}}
	job := ClientInput{ID: "job", Secret: secretA, GrantTypes: []string{GrantClientCredentials}}

	// A runtime client must survive every step.
	_, apiSecret, err := s.CreateClient(ctx, "tester", ClientInput{ID: "api-made", RedirectURIs: []string{"https://x.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}

	type state map[string]string // id -> source
	steps := []struct {
		name    string
		inputs  []ClientInput
		wantErr string
		want    state
		check   func(t *testing.T)
	}{
		{name: "create from config", inputs: []ClientInput{web, spa},
			want: state{"web": SourceConfig, "spa": SourceConfig, "api-made": SourceAPI},
			check: func(t *testing.T) {
				c, _ := s.GetClient(ctx, "web")
				if !VerifyClientSecret(c, secretA) {
					t.Error("config secret does not verify")
				}
				if got := clientAuditTypes(t, s, "web"); !slices.Equal(got, []string{audit.ClientCreated}) {
					t.Errorf("audit %v", got)
				}
			}},
		{name: "unchanged config writes nothing", inputs: []ClientInput{web, spa},
			want: state{"web": SourceConfig, "spa": SourceConfig, "api-made": SourceAPI},
			check: func(t *testing.T) {
				if got := clientAuditTypes(t, s, "web"); len(got) != 1 {
					t.Errorf("audit %v; want only the creation", got)
				}
			}},
		{name: "update when config changes", inputs: func() []ClientInput {
			w := web
			w.Secret, w.RedirectURIs, w.RequireMFA = secretB, []string{"https://app.example.com/cb2"}, true
			return []ClientInput{w, spa}
		}(),
			want: state{"web": SourceConfig, "spa": SourceConfig, "api-made": SourceAPI},
			check: func(t *testing.T) {
				c, _ := s.GetClient(ctx, "web")
				if VerifyClientSecret(c, secretA) || !VerifyClientSecret(c, secretB) || !c.RequireMFA ||
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
		{name: "delete removed config clients", inputs: []ClientInput{job},
			want: state{"job": SourceConfig, "api-made": SourceAPI}},
		{name: "collision with an api client", inputs: []ClientInput{job, {ID: "api-made", Secret: secretA, RedirectURIs: []string{"https://x.example/cb"}}},
			wantErr: `clients[1] (id "api-made"): a client with this id was created through the CLI or admin API`,
			want:    state{"job": SourceConfig, "api-made": SourceAPI}},
		{name: "all problems at once, nothing changed", inputs: []ClientInput{
			{ID: "bad id"},
			{ID: "nosecret", RedirectURIs: []string{"https://x.example/cb"}},
			{ID: "evil", Secret: secretA, RedirectURIs: []string{"javascript:alert(1)"}},
			{ID: "evil", Secret: secretA, RedirectURIs: []string{"https://x.example/cb"}},
		},
			wantErr: "clients[0] (id \"bad id\")|clients[1] (id \"nosecret\"): a confidential client needs secret|" +
				"clients[2] (id \"evil\"): redirect URI \"javascript:alert(1)\"|clients[3] (id \"evil\"): the id is declared twice",
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
	if !VerifyClientSecret(c, apiSecret) {
		t.Error("reconcile touched the api client's secret")
	}
}

// Config clients are managed by the file; the CLI and API must not change
// them, or the next start would silently undo the change.
func TestConfigClientsAreReadOnlyAtRuntime(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	if err := s.ReconcileConfigClients(ctx, []ClientInput{{ID: "web", Secret: strings.Repeat("a", 32),
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
	in := []ClientInput{{ID: "web", Secret: strings.Repeat("a", 32), RedirectURIs: []string{"https://app.example.com/cb"}}}
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

func TestClientInputRedacts(t *testing.T) {
	secret := "super-secret-value-that-is-long-enough"
	in := ClientInput{ID: "web", Secret: secret}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "client", in)
	for what, out := range map[string]string{
		"%v": fmt.Sprintf("%v", in), "%+v": fmt.Sprintf("%+v", in), "%#v": fmt.Sprintf("%#v", in),
		"%s": fmt.Sprintf("%s", in), "slog": buf.String(),
	} {
		if strings.Contains(out, secret) {
			t.Errorf("%s leaks the secret: %s", what, out)
		}
		if !strings.Contains(out, "web") {
			t.Errorf("%s lost the id: %s", what, out)
		}
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

// FuzzValidateRedirectURI: never panics, and whatever it accepts keeps the
// properties the authorization endpoint relies on.
func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{"https://app.example.com/cb", "http://[::1]:80/", "com.example.app:/cb",
		"javascript:alert(1)", "https://u:p@h/#x", "http://localhost\\@evil", "%", "https://[::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if ValidateRedirectURI(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.User != nil || strings.ContainsAny(raw, "#*\\ ") {
			t.Fatalf("accepted %q", raw)
		}
		switch {
		case u.Scheme == "https" && u.Hostname() != "":
		case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		case strings.Contains(u.Scheme, ".") && u.Opaque == "":
		default:
			t.Fatalf("accepted %q with scheme %q", raw, u.Scheme)
		}
	})
}
