package clients

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func validInput() Input {
	return Input{ID: "web", RedirectURIs: []string{"https://app.example.com/cb"}}
}

// problems lists the leaves of a joined validation error, failing the test
// if one is not a *FieldError: every problem must name its field.
func problems(t *testing.T, err error) []*FieldError {
	t.Helper()
	var leaves []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		leaves = j.Unwrap()
	} else if err != nil {
		leaves = []error{err}
	}
	out := make([]*FieldError, 0, len(leaves))
	for _, e := range leaves {
		fe, ok := e.(*FieldError)
		if !ok {
			t.Fatalf("problem %v (%T) is not a *FieldError", e, e)
		}
		out = append(out, fe)
	}
	return out
}

// clientTests are TestClient's cases: each changes validInput and says
// what Client (or DeclaredClient) must make of it.
var clientTests = []struct {
	name     string
	mutate   func(in *Input)
	declared bool     // DeclaredClient instead of Client
	wantErr  []string // one substring per problem, in order; empty means valid
	check    func(t *testing.T, c storage.Client)
}{
	{name: "defaults", mutate: func(*Input) {}, check: func(t *testing.T, c storage.Client) {
		if !slices.Equal(c.GrantTypes, DefaultGrantTypes) || !slices.Equal(c.Scopes, DefaultScopes) ||
			c.AccessTokenFormat != AccessTokenOpaque || c.AccessTokenTTL != time.Hour || c.IDTokenTTL != time.Hour ||
			c.RefreshTokenTTL != 30*24*time.Hour || c.Name != "web" || c.IDTokenSignedResponseAlg != "" {
			t.Errorf("defaults not applied: %+v", c)
		}
		if c.SecretHash != "" || c.Source != "" || !c.CreatedAt.IsZero() {
			t.Errorf("conversion invented a secret or bookkeeping: %+v", c)
		}
	}},
	{name: "URIs stored exactly, duplicates dropped", mutate: func(in *Input) {
		in.RedirectURIs = []string{"https://App.Example.com:443/cb/../x?a=1", "https://App.Example.com:443/cb/../x?a=1", "", "http://127.0.0.1:9/"}
	}, check: func(t *testing.T, c storage.Client) {
		if want := []string{"https://App.Example.com:443/cb/../x?a=1", "http://127.0.0.1:9/"}; !slices.Equal(c.RedirectURIs, want) {
			t.Errorf("redirect URIs %q, want %q", c.RedirectURIs, want)
		}
	}},
	{name: "all settings", mutate: func(in *Input) {
		in.Name = "  Web app  "
		in.PostLogoutRedirectURIs = []string{"https://app.example.com/"}
		in.GrantTypes = []string{GrantAuthorizationCode, GrantClientCredentials}
		in.Scopes = []string{"openid", "api:read"}
		in.IDTokenSignedResponseAlg, in.AccessTokenFormat = "EdDSA", AccessTokenJWT
		in.AccessTokenTTL, in.IDTokenTTL, in.RefreshTokenTTL = 5*time.Minute, 24*time.Hour, 365*24*time.Hour
		in.RequireMFA = true
	}, check: func(t *testing.T, c storage.Client) {
		want := storage.Client{ID: "web", Name: "Web app", RedirectURIs: []string{"https://app.example.com/cb"},
			PostLogoutRedirectURIs: []string{"https://app.example.com/"},
			GrantTypes:             []string{GrantAuthorizationCode, GrantClientCredentials}, Scopes: []string{"openid", "api:read"},
			IDTokenSignedResponseAlg: "EdDSA", AccessTokenFormat: AccessTokenJWT,
			AccessTokenTTL: 5 * time.Minute, IDTokenTTL: 24 * time.Hour, RefreshTokenTTL: 365 * 24 * time.Hour, RequireMFA: true}
		if fmt.Sprintf("%#v", c) != fmt.Sprintf("%#v", want) {
			t.Errorf("got  %#v\nwant %#v", c, want)
		}
	}},
	{name: "supplied secret is hashed", mutate: func(in *Input) { in.Secret = strings.Repeat("s", 32) },
		check: func(t *testing.T, c storage.Client) {
			if c.SecretHash != storage.HashSecret(strings.Repeat("s", 32)) {
				t.Errorf("secret hash %q", c.SecretHash)
			}
		}},
	{name: "declared confidential with its secret", declared: true, mutate: func(in *Input) { in.Secret = strings.Repeat("s", 32) }},
	{name: "declared public client", declared: true, mutate: func(in *Input) { in.Public = true }},
	{name: "client_credentials only needs no redirect URI", mutate: func(in *Input) {
		in.RedirectURIs, in.GrantTypes = nil, []string{GrantClientCredentials}
	}},
	{name: "bad id", mutate: func(in *Input) { in.ID = "web app" }, wantErr: []string{`id: "web app" is not valid`}},
	{name: "empty id", mutate: func(in *Input) { in.ID = "" }, wantErr: []string{`id: required`}},
	{name: "long id", mutate: func(in *Input) { in.ID = strings.Repeat("a", 129) }, wantErr: []string{`id: "aaaa`}},
	{name: "long name", mutate: func(in *Input) { in.Name = strings.Repeat("n", 201) }, wantErr: []string{"name: is longer than 200"}},
	{name: "no redirect URI for code", mutate: func(in *Input) { in.RedirectURIs = nil },
		wantErr: []string{"redirect_uris: at least one redirect URI"}},
	{name: "bad redirect and post-logout URIs together", mutate: func(in *Input) {
		in.RedirectURIs = []string{"javascript:alert(1)"}
		in.PostLogoutRedirectURIs = []string{"https://x.example/#f"}
	}, wantErr: []string{`redirect_uris: "javascript:alert(1)"`, `post_logout_redirect_uris: "https://x.example/#f"`}},
	{name: "unknown grant", mutate: func(in *Input) { in.GrantTypes = []string{"implicit"} },
		wantErr: []string{`grant_types: "implicit" is not one of authorization_code, refresh_token, client_credentials`}},
	{name: "refresh without code", mutate: func(in *Input) { in.GrantTypes = []string{GrantRefreshToken, GrantClientCredentials} },
		wantErr: []string{"grant_types: refresh_token needs authorization_code"}},
	{name: "public with client_credentials", mutate: func(in *Input) {
		in.Public, in.GrantTypes = true, []string{GrantAuthorizationCode, GrantClientCredentials}
	}, wantErr: []string{"grant_types: a public client cannot use client_credentials"}},
	{name: "public with a secret", mutate: func(in *Input) { in.Public, in.Secret = true, strings.Repeat("s", 40) },
		wantErr: []string{"secret: a public client has no secret"}},
	{name: "public with a short secret is one problem", mutate: func(in *Input) { in.Public, in.Secret = true, "short-S3CRET" },
		wantErr: []string{"secret: a public client has no secret"}},
	{name: "short supplied secret", mutate: func(in *Input) { in.Secret = strings.Repeat("s", 31) },
		wantErr: []string{"secret: must be at least 32 characters, got 31"}},
	{name: "declared confidential without a secret", declared: true, mutate: func(*Input) {},
		wantErr: []string{"secret: required for a confidential client"}},
	{name: "declared public with a secret", declared: true, mutate: func(in *Input) { in.Public, in.Secret = true, strings.Repeat("s", 40) },
		wantErr: []string{"secret: a public client has no secret"}},
	{name: "bad scope", mutate: func(in *Input) { in.Scopes = []string{`a"b`} }, wantErr: []string{`scopes: "a\"b" is not a valid scope token`}},
	{name: "bad alg", mutate: func(in *Input) { in.IDTokenSignedResponseAlg = "none" },
		wantErr: []string{`id_token_signed_response_alg: "none" is not one of RS256, ES256, EdDSA`}},
	{name: "HS256 alg", mutate: func(in *Input) { in.IDTokenSignedResponseAlg = "HS256" }, wantErr: []string{"id_token_signed_response_alg"}},
	{name: "bad format", mutate: func(in *Input) { in.AccessTokenFormat = "paseto" }, wantErr: []string{`access_token_format: "paseto" is not one of opaque, jwt`}},
	{name: "TTLs out of range", mutate: func(in *Input) {
		in.AccessTokenTTL, in.IDTokenTTL, in.RefreshTokenTTL = time.Minute, 25*time.Hour, 59*time.Minute
	}, wantErr: []string{"access_token_ttl: must be between 5m0s and 24h0m0s", "id_token_ttl: must be between", "refresh_token_ttl: must be between"}},
	{name: "negative TTL", mutate: func(in *Input) { in.RefreshTokenTTL = -time.Hour }, wantErr: []string{"refresh_token_ttl"}},
	{name: "every problem at once", mutate: func(in *Input) {
		in.ID, in.GrantTypes, in.Scopes, in.AccessTokenFormat = "", []string{"password"}, []string{"a b"}, "x"
	}, wantErr: []string{"id: required", `grant_types: "password"`, "scopes:", "access_token_format:"}},
}

func TestClient(t *testing.T) {
	for _, tt := range clientTests {
		t.Run(tt.name, func(t *testing.T) {
			in := validInput()
			tt.mutate(&in)
			convert := in.Client
			if tt.declared {
				convert = in.DeclaredClient
			}
			c, err := convert()
			if !tt.declared && (err == nil) != (in.Validate() == nil) {
				t.Errorf("Client says %v, Validate says %v", err, in.Validate())
			}
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if tt.check != nil {
					tt.check(t, c)
				}
				return
			}
			got := problems(t, err)
			if len(got) != len(tt.wantErr) {
				t.Fatalf("%d problems, want %d:\n%v", len(got), len(tt.wantErr), err)
			}
			for i, w := range tt.wantErr {
				if !strings.Contains(got[i].Error(), w) {
					t.Errorf("problem %q lacks %q", got[i], w)
				}
				if !strings.HasPrefix(got[i].Error(), got[i].Field+": ") {
					t.Errorf("problem %q does not start with its field %q", got[i], got[i].Field)
				}
			}
			if in.Secret != "" && strings.Contains(err.Error(), in.Secret) {
				t.Errorf("error quotes the secret")
			}
		})
	}
}

// The stored client must not share memory with the caller's input, or a
// caller reusing its slices would change a client after validation.
func TestClientCopiesLists(t *testing.T) {
	in := validInput()
	in.Scopes = []string{"openid"}
	c, err := in.Client()
	if err != nil {
		t.Fatal(err)
	}
	in.RedirectURIs[0], in.Scopes[0] = "javascript:alert(1)", "admin"
	if c.RedirectURIs[0] != "https://app.example.com/cb" || c.Scopes[0] != "openid" {
		t.Errorf("client changed with its input: %+v", c)
	}
	c.GrantTypes[0] = "changed"
	if DefaultGrantTypes[0] != GrantAuthorizationCode {
		t.Error("the client shares DefaultGrantTypes")
	}
}

func TestCheckID(t *testing.T) {
	tests := []struct{ id, want string }{
		{"web", ""},
		{"a.b_c-D9", ""},
		{strings.Repeat("a", 128), ""},
		{"", "id: required"},
		{"web app", `id: "web app" is not valid`},
		{"web/app", `id: "web/app" is not valid`},
		{"wéb", `id: "wéb" is not valid`},
		{strings.Repeat("a", 129), "is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			err := CheckID(tt.id)
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("CheckID(%q) = %v; want %q", tt.id, err, tt.want)
			}
		})
	}
}

func TestCheckUniqueIDs(t *testing.T) {
	tests := []struct {
		name string
		ids  []string
		want map[int]string
	}{
		{"distinct", []string{"a", "b"}, map[int]string{}},
		{"empty ids are not duplicates", []string{"", "a", ""}, map[int]string{}},
		{"each repeat names the first", []string{"web", "spa", "web", "web"},
			map[int]string{2: `id: "web" is already the id of clients[0]`, 3: `id: "web" is already the id of clients[0]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckUniqueIDs(tt.ids)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v; want %v", got, tt.want)
			}
			for i, w := range tt.want {
				if got[i] == nil || got[i].Error() != w {
					t.Errorf("[%d] = %v; want %q", i, got[i], w)
				}
			}
		})
	}
}

func TestInputRedacts(t *testing.T) {
	secret := "super-secret-value-that-is-long-enough"
	in := Input{ID: "web", Secret: secret}
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

func TestFieldErrorUnwraps(t *testing.T) {
	err := CheckSecret("short")
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "secret" || errors.Unwrap(err) != fe.Err {
		t.Fatalf("CheckSecret error %#v", err)
	}
}
