package oidc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-idp/gatehouse/federation"
	fedoidc "github.com/gatehouse-idp/gatehouse/federation/oidc"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tc := range []struct {
		name string
		// issuer: the upstream's when empty.
		issuer string
		dev    bool
		// setup changes the upstream before Open.
		setup  func(*upstream)
		sealed []byte
		typ    string
		// want is errors.Is of Open's error; errAny any error.
		want error
	}{
		{name: "http issuer outside dev mode", dev: false, want: federation.ErrInsecureURL},
		{name: "http issuer not on loopback", issuer: "http://upstream.example", dev: true, want: federation.ErrInsecureURL},
		{name: "unreachable", issuer: closed.URL, dev: true, want: fedoidc.ErrUnreachable},
		{name: "discovery names another issuer", dev: true, want: fedoidc.ErrIssuerMismatch,
			setup: func(u *upstream) { u.editDiscovery = func(d map[string]any) { d["issuer"] = "https://evil.test" } }},
		{name: "issuer with a trailing slash", issuer: "/", dev: true, want: fedoidc.ErrIssuerMismatch},
		{name: "http token endpoint off loopback", dev: true, want: federation.ErrInsecureURL,
			setup: func(u *upstream) {
				u.editDiscovery = func(d map[string]any) { d["token_endpoint"] = "http://upstream.example/token" }
			}},
		{name: "no key set", dev: true, want: fedoidc.ErrInvalidMetadata,
			setup: func(u *upstream) { u.editDiscovery = func(d map[string]any) { delete(d, "jwks_uri") } }},
		{name: "a secret that does not unseal", dev: true, sealed: []byte("garbage"), want: errSeal},
		{name: "not an OIDC connector", dev: true, typ: "saml", want: errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUpstream(t, upstreamOpts{})
			if tc.setup != nil {
				u.set(tc.setup)
			}
			issuer := u.issuer
			switch {
			case tc.issuer == "/":
				issuer += "/"
			case tc.issuer != "":
				issuer = tc.issuer
			}
			r := row(t, federation.OIDCSettings{Issuer: issuer, ClientID: clientID}, false)
			if tc.sealed != nil {
				r.SecretSealed = tc.sealed
			}
			if tc.typ != "" {
				r.Type = tc.typ
			}
			e := env(&clock{})
			e.Dev = tc.dev
			c, err := fedoidc.Open(context.Background(), r, e)
			if err == nil || tc.want != errAny && !errors.Is(err, tc.want) || c != nil {
				t.Fatalf("Open: %v, %v; want %v", c, err, tc.want)
			}
			t.Logf("Open: %v", err)
		})
	}
}

var errAny = errors.New("any error")

func TestCheck(t *testing.T) {
	t.Parallel()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tc := range []struct {
		name string
		opts upstreamOpts
		// broken breaks the upstream after Open.
		broken func(*testing.T, *upstream)
		want   []string
		// says is in the message of the first problem.
		says string
	}{
		{name: "healthy"},
		{name: "unreachable", broken: func(_ *testing.T, u *upstream) { u.srv.Close() }, want: []string{"unreachable"}},
		{name: "issuer mismatch", want: []string{"issuer_mismatch"}, says: "https://evil.test",
			broken: func(_ *testing.T, u *upstream) {
				u.set(func(u *upstream) { u.editDiscovery = func(d map[string]any) { d["issuer"] = "https://evil.test" } })
			}},
		{name: "redirect URI refused", opts: upstreamOpts{redirectURIs: []string{"https://other.test/callback"}},
			want: []string{"redirect_uri_refused"}, says: callback},
		{name: "no signing key", want: []string{"no_signing_certificate"},
			broken: func(_ *testing.T, u *upstream) { u.set(func(u *upstream) { u.jwks = []byte(`{"keys":[]}`) }) }},
		{name: "only an encryption key", want: []string{"no_signing_certificate"},
			broken: func(t *testing.T, u *upstream) {
				u.set(func(u *upstream) { u.jwks = keySet(t, "enc", 90*24*time.Hour) })
			}},
		{name: "certificate expiring", want: []string{"certificate_expiring"},
			broken: func(t *testing.T, u *upstream) {
				u.set(func(u *upstream) { u.jwks = keySet(t, "sig", 10*24*time.Hour) })
			}},
		{name: "certificate expired", want: []string{"certificate_expired"},
			broken: func(t *testing.T, u *upstream) { u.set(func(u *upstream) { u.jwks = keySet(t, "sig", -time.Hour) }) }},
		{name: "certificate valid", broken: func(t *testing.T, u *upstream) {
			u.set(func(u *upstream) { u.jwks = keySet(t, "sig", 90*24*time.Hour) })
		}},
		{name: "key set unreachable", want: []string{"unreachable"}, says: "signing keys",
			broken: func(_ *testing.T, u *upstream) {
				u.set(func(u *upstream) { u.editDiscovery = func(d map[string]any) { d["jwks_uri"] = closed.URL } })
			}},
		{name: "http endpoint", want: []string{"invalid_metadata"}, says: "userinfo_endpoint",
			broken: func(_ *testing.T, u *upstream) {
				u.set(func(u *upstream) {
					u.editDiscovery = func(d map[string]any) { d["userinfo_endpoint"] = "http://upstream.example/userinfo" }
				})
			}},
		{name: "http key set is not fetched", want: []string{"invalid_metadata"}, says: "jwks_uri",
			broken: func(_ *testing.T, u *upstream) {
				u.set(func(u *upstream) {
					u.editDiscovery = func(d map[string]any) { d["jwks_uri"] = "http://upstream.example/keys" }
				})
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUpstream(t, tc.opts)
			c := open(t, u, federation.OIDCSettings{}, &clock{})
			if tc.broken != nil {
				tc.broken(t, u)
			}
			problems := c.Check(context.Background())
			var codes []string
			for _, p := range problems {
				codes = append(codes, p.Code)
				t.Logf("%s: %s", p.Code, p.Message)
			}
			if !slices.Equal(codes, tc.want) {
				t.Fatalf("Check: %v; want %v", problems, tc.want)
			}
			if tc.says != "" && !strings.Contains(problems[0].Message, tc.says) {
				t.Errorf("%q does not say %q", problems[0].Message, tc.says)
			}
		})
	}
}

// keySet is a JWKS of one P-256 key for use, with a self-signed
// certificate (x5c) that expires in validFor.
func keySet(t *testing.T, use string, validFor time.Duration) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "upstream signing"},
		NotBefore: now.Add(-365 * 24 * time.Hour), NotAfter: now.Add(validFor)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: use, Certificates: []*x509.Certificate{cert}}
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
