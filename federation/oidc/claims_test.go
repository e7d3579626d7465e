package oidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-idp/gatehouse/federation"
)

func TestFill(t *testing.T) {
	defaults := claimNamesOf(federation.OIDCSettings{})
	custom := claimNamesOf(federation.OIDCSettings{EmailClaim: "mail", EmailVerifiedClaim: "mail_ok", NameClaim: "cn", GroupsClaim: "roles"})
	for _, tc := range []struct {
		name   string
		names  claimNames
		claims string
		want   federation.Identity
		got    field
	}{
		{"all", defaults, `{"email":"a@x.test","email_verified":true,"name":"A","groups":["g1","g2"]}`,
			federation.Identity{Email: "a@x.test", EmailVerified: true, Name: "A", Groups: []string{"g1", "g2"}}, allFields},
		{"email_verified as the string true", defaults, `{"email":"a@x.test","email_verified":"true"}`,
			federation.Identity{Email: "a@x.test", EmailVerified: true}, fieldEmail},
		{"email_verified false", defaults, `{"email":"a@x.test","email_verified":"false"}`,
			federation.Identity{Email: "a@x.test"}, fieldEmail},
		{"email_verified of another type", defaults, `{"email":"a@x.test","email_verified":1}`,
			federation.Identity{Email: "a@x.test"}, fieldEmail},
		{"email_verified without email", defaults, `{"email_verified":true}`, federation.Identity{}, 0},
		{"groups as one string", defaults, `{"groups":"g1"}`, federation.Identity{Groups: []string{"g1"}}, fieldGroups},
		{"groups with other members", defaults, `{"groups":["g1",2,null,"",{"a":1},"g2"]}`,
			federation.Identity{Groups: []string{"g1", "g2"}}, fieldGroups},
		{"empty values are missing", defaults, `{"email":"","name":"","groups":[]}`, federation.Identity{}, 0},
		{"values of another type", defaults, `{"email":["a@x.test"],"name":7,"groups":{"g":1}}`, federation.Identity{}, 0},
		{"claim names", custom, `{"email":"no@x.test","mail":"a@x.test","mail_ok":true,"cn":"A","roles":["r"]}`,
			federation.Identity{Email: "a@x.test", EmailVerified: true, Name: "A", Groups: []string{"r"}}, allFields},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var claims map[string]any
			if err := json.Unmarshal([]byte(tc.claims), &claims); err != nil {
				t.Fatal(err)
			}
			var id federation.Identity
			got := tc.names.fill(claims, &id, allFields)
			if !reflect.DeepEqual(id, tc.want) || got != tc.got {
				t.Errorf("fill = %+v, %b; want %+v, %b", id, got, tc.want, tc.got)
			}
		})
	}
}

// TestFillOnlyMissing: userinfo fills what the ID token lacked and
// nothing else; its email_verified never goes with the token's email.
func TestFillOnlyMissing(t *testing.T) {
	n := claimNamesOf(federation.OIDCSettings{})
	id := federation.Identity{Email: "token@x.test"}
	n.fill(map[string]any{"email": "info@x.test", "email_verified": true, "name": "Info", "groups": "g"}, &id, fieldName|fieldGroups)
	want := federation.Identity{Email: "token@x.test", Name: "Info", Groups: []string{"g"}}
	if !reflect.DeepEqual(id, want) {
		t.Errorf("fill = %+v; want %+v", id, want)
	}
}

func TestScopes(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{nil, []string{"openid", "email", "profile"}},
		{[]string{"groups"}, []string{"openid", "groups"}},
		{[]string{"openid", "email", "email", "", "offline_access"}, []string{"openid", "email", "offline_access"}},
	} {
		if got := scopes(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("scopes(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestSigningAlgs(t *testing.T) {
	for _, tc := range []struct{ advertised, want []string }{
		{[]string{"RS256"}, []string{"RS256"}},
		{[]string{"none", "HS256", "ES256", "RS256"}, []string{"RS256", "ES256"}},
		{[]string{"none", "HS256"}, safeAlgs},
		{nil, safeAlgs},
	} {
		got := signingAlgs(tc.advertised)
		if !slices.Equal(got, tc.want) {
			t.Errorf("signingAlgs(%q) = %q; want %q", tc.advertised, got, tc.want)
		}
		if slices.Contains(got, "none") || slices.ContainsFunc(got, func(a string) bool { return strings.HasPrefix(a, "HS") }) {
			t.Errorf("signingAlgs(%q) = %q accepts none or HMAC", tc.advertised, got)
		}
	}
}

func TestAuthStyle(t *testing.T) {
	d := func(methods ...zoidc.AuthMethod) *discovery {
		return &discovery{DiscoveryConfiguration: zoidc.DiscoveryConfiguration{TokenEndpointAuthMethodsSupported: methods}}
	}
	for _, tc := range []struct {
		name   string
		secret string
		d      *discovery
		want   oauth2.AuthStyle
	}{
		{"public client", "", d(zoidc.AuthMethodBasic), oauth2.AuthStyleInParams},
		{"no methods named", "s", d(), oauth2.AuthStyleInHeader},
		{"basic and post", "s", d(zoidc.AuthMethodPost, zoidc.AuthMethodBasic), oauth2.AuthStyleInHeader},
		{"post only", "s", d(zoidc.AuthMethodPost), oauth2.AuthStyleInParams},
		{"private_key_jwt only", "s", d(zoidc.AuthMethodPrivateKeyJWT), oauth2.AuthStyleInHeader},
	} {
		if got := authStyle(tc.secret, tc.d); got != tc.want {
			t.Errorf("%s: authStyle = %v; want %v", tc.name, got, tc.want)
		}
	}
}

func TestVerifyError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string // "" is an outage
	}{
		{fmt.Errorf("%w: expected: a, got: b", zoidc.ErrIssuerInvalid), "issuer"},
		{zoidc.ErrAudience, "audience"},
		{zoidc.ErrAzpMissing, "audience"},
		{fmt.Errorf("%w: x", zoidc.ErrAzpInvalid), "audience"},
		{zoidc.ErrSignatureUnsupportedAlg, "signature"},
		{zoidc.ErrSignatureMissing, "signature"},
		{zoidc.ErrParse, "signature"},
		{zoidc.ErrAtHash, "signature"},
		{errors.New("json: cannot unmarshal"), "signature"},
		{zoidc.ErrExpired, "expired"},
		{zoidc.ErrIatMissing, "expired"},
		{fmt.Errorf("%w: (iat: x)", zoidc.ErrIatInFuture), "expired"},
		{fmt.Errorf("%w: expected \"ours\" but was \"theirs\"", zoidc.ErrNonceInvalid), "nonce"},
		{zoidc.ErrSubjectMissing, "no_subject"},
		{fmt.Errorf("%w (%w)", zoidc.ErrSignatureInvalid, &url.Error{Op: "Get", URL: "https://up.test/keys", Err: io.EOF}), ""},
	} {
		err := verifyError(tc.err)
		var r *federation.Refusal
		switch {
		case tc.want == "" && errors.As(err, &r):
			t.Errorf("verifyError(%v) = %v; want an outage", tc.err, err)
		case tc.want != "" && (!errors.As(err, &r) || r.Reason != tc.want):
			t.Errorf("verifyError(%v) = %v; want a refusal %q", tc.err, err, tc.want)
		case tc.want == "nonce" && strings.Contains(err.Error(), "ours"):
			t.Errorf("verifyError(%v) = %v: our nonce is in the audit text", tc.err, err)
		}
	}
}

func TestExchangeError(t *testing.T) {
	retrieve := func(status int, code string) error {
		return &oauth2.RetrieveError{Response: &http.Response{StatusCode: status}, ErrorCode: code, ErrorDescription: "code\nreplayed"}
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{retrieve(400, "invalid_grant"), "exchange"},
		{retrieve(401, "invalid_client"), "exchange"},
		{retrieve(200, "invalid_grant"), "exchange"},
		{retrieve(429, ""), ""},
		{retrieve(503, ""), ""},
		{&url.Error{Op: "Post", URL: "https://up.test/token", Err: io.EOF}, ""},
		{errors.New("oauth2: server response missing access_token"), ""},
	} {
		err := exchangeError(tc.err)
		var r *federation.Refusal
		got := ""
		if errors.As(err, &r) {
			got = r.Reason
		}
		if got != tc.want || got != "" && strings.Contains(err.Error(), "\n") {
			t.Errorf("exchangeError(%v) = %v; want reason %q (a refusal on one line)", tc.err, err, tc.want)
		}
	}
}

func TestRedirectRefused(t *testing.T) {
	const ours = "https://gatehouse.test/federation/acme/callback"
	c := &connector{redirect: ours}
	back := func(q string) *http.Response {
		return &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {ours + "?" + q}},
			Request: &http.Request{URL: &url.URL{Scheme: "https", Host: "up.test", Path: "/authorize"}}}
	}
	for _, tc := range []struct {
		name    string
		resp    *http.Response
		refused bool
	}{
		{"a login page", &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {"/login?id=1"}},
			Request: &http.Request{URL: &url.URL{Scheme: "https", Host: "up.test", Path: "/authorize"}}}, false},
		{"the login page itself", &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, false},
		{"an error page", &http.Response{StatusCode: http.StatusBadRequest, Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
			Body: io.NopCloser(strings.NewReader("redirect_uri not registered"))}, true},
		{"back with unauthorized_client", back("error=unauthorized_client&state=x"), true},
		{"back with invalid_request about the redirect", back("error=invalid_request&error_description=bad+redirect_uri"), true},
		{"back with another invalid_request", back("error=invalid_request&error_description=missing+nonce"), false},
		{"back with invalid_scope", back("error=invalid_scope"), false},
		{"elsewhere with unauthorized_client", &http.Response{StatusCode: http.StatusFound,
			Header:  http.Header{"Location": {"https://evil.test/cb?error=unauthorized_client"}},
			Request: &http.Request{URL: &url.URL{Scheme: "https", Host: "up.test"}}}, false},
	} {
		why := c.redirectRefused(tc.resp)
		if (why != "") != tc.refused {
			t.Errorf("%s: redirectRefused = %q; want refused %v", tc.name, why, tc.refused)
		}
	}
}

func TestReadState(t *testing.T) {
	for _, raw := range []string{"", "{", `{"v":2,"relay":"r","verifier":"v","nonce":"n"}`, `{"v":1,"relay":"r","verifier":"v"}`, `{"v":1,"verifier":"v","nonce":"n"}`} {
		if _, err := readState([]byte(raw)); err == nil {
			t.Errorf("readState(%q): no error", raw)
		}
	}
}

func TestClip(t *testing.T) {
	if got := clip("a\x00b\nc\u202e"); got != "a?b?c?" {
		t.Errorf("clip = %q", got)
	}
	if got := clip(strings.Repeat("é", 300)); len([]rune(got)) != 201 {
		t.Errorf("clip of 300 runes has %d", len([]rune(got)))
	}
}

// FuzzIDClaims: any ID token payload decodes or fails, and maps to an
// identity, without panicking.
func FuzzIDClaims(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://up.test","sub":"1","aud":"c","exp":1,"iat":1,"nonce":"n","amr":"pwd"}`,
		`{"sub":"1","aud":["c","d"],"azp":"c","email":"a@x.test","email_verified":"true","groups":"g","amr":["pwd","otp"]}`,
		`{"groups":[1,"g",null],"name":{"a":1},"email":7,"at_hash":"x"}`,
		`[]`, `null`, `{"exp":"soon"}`,
	} {
		f.Add([]byte(s))
	}
	n := claimNamesOf(federation.OIDCSettings{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var c *idClaims
		if err := json.Unmarshal(b, &c); err != nil || c == nil {
			return
		}
		var id federation.Identity
		n.fill(c.raw, &id, allFields)
		_ = c.GetAudience()
		_ = c.GetExpiration()
	})
}
