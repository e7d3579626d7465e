package oidcop

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/internal/testenv"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/keys"
	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// managerKeys adapts keys.Manager to Keys, as idp/instance does.
type managerKeys struct{ m *keys.Manager }

var _ Keys = managerKeys{}

func (k managerKeys) Signer(ctx context.Context, alg string) (SigningKey, error) {
	s, err := k.m.Signer(ctx, alg)
	return SigningKey(s), err
}

func (k managerKeys) PublicKeys(ctx context.Context) ([]PublicKey, error) {
	pubs, err := k.m.PublicKeys(ctx)
	out := make([]PublicKey, len(pubs))
	for i, p := range pubs {
		out[i] = PublicKey(p)
	}
	return out, err
}

// benchProvider is a Provider with only what signing needs: the real key
// manager over SQLite (keys served from its memory cache, as in serve).
func benchProvider(b *testing.B) *Provider {
	b.Helper()
	ctx := context.Background()
	st := testenv.SQLite(b)
	raw := make([]byte, masterkey.Size)
	for i := range raw {
		raw[i] = byte(i)
	}
	mk, err := masterkey.New(raw)
	if err != nil {
		b.Fatal(err)
	}
	m := &keys.Manager{Store: st, Sealer: mk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := m.Ensure(ctx); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	return &Provider{opts: Options{Issuer: "https://login.example.com", Keys: managerKeys{m}, Now: func() time.Time { return now }}}
}

// benchUser and benchGrant are a typical login: a confidential web client
// asking for "openid email profile offline_access" after a password login.
func benchUser(now time.Time) storage.User {
	return storage.User{ID: storage.NewID(), Email: "alice.example@example.com", EmailVerified: true,
		Name: "Alice Example", State: storage.UserActive, UpdatedAt: now.Add(-24 * time.Hour)}
}

func benchGrant(alg, format string, u *storage.User, now time.Time) grant {
	c := storage.Client{ID: "web-app-production", IDTokenSignedResponseAlg: alg, AccessTokenFormat: format,
		GrantTypes: []string{"authorization_code", "refresh_token"}}
	return grant{client: c, user: u, scopes: []string{"openid", "email", "profile", "offline_access"},
		authTime: now.Add(-time.Minute), amr: []string{authflow.AMRPassword}, acr: authflow.ACRPassword,
		nonce: "n-0S6_WzA2Mj", familyID: storage.NewID(), sessionID: storage.HashSecret("session"), refresh: true}
}

// BenchmarkSignIDToken is p.sign for a realistic ID token (all the claims
// build sets for that login): key lookup, JSON, signature, serialization.
func BenchmarkSignIDToken(b *testing.B) {
	p := benchProvider(b)
	ctx := context.Background()
	for _, alg := range keys.Algorithms() {
		b.Run(alg, func(b *testing.B) {
			now := p.now()
			u := benchUser(now)
			atHash, err := oidc.ClaimHash("gh_at_"+randomToken(), jose.SignatureAlgorithm(alg))
			if err != nil {
				b.Fatal(err)
			}
			claims := idClaims{Issuer: p.opts.Issuer, Subject: u.ID, Audience: []string{"web-app-production"},
				AZP: "web-app-production", IssuedAt: now.Unix(), Expiry: now.Add(time.Hour).Unix(),
				AuthTime: now.Add(-time.Minute).Unix(), Nonce: "n-0S6_WzA2Mj", ACR: authflow.ACRPassword,
				AMR: []string{authflow.AMRPassword}, AtHash: atHash,
				userClaims: userClaimsFor(u, []string{"openid", "email", "profile"})}
			tok, err := p.sign(ctx, alg, claims, "JWT")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.sign(ctx, alg, claims, "JWT"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(tok)), "B/token") // after the loop, which clears metrics
		})
	}
}

// BenchmarkBuild is all the CPU work of one token response, without
// storage or HTTP: random tokens, hashes, at_hash, claims and signatures.
// code/<alg> is a code exchange with offline_access (opaque access token,
// refresh token, ID token); client_credentials/jwt signs one ES256 access
// token.
func BenchmarkBuild(b *testing.B) {
	p := benchProvider(b)
	ctx := context.Background()
	now := p.now()
	u := benchUser(now)
	cases := []struct {
		name string
		g    grant
	}{
		{"code/RS256", benchGrant("RS256", "", &u, now)},
		{"code/ES256", benchGrant("ES256", "", &u, now)},
		{"code/EdDSA", benchGrant("EdDSA", "", &u, now)},
		{"client_credentials/opaque", grant{client: storage.Client{ID: "svc"}, scopes: []string{"reports.read"}, familyID: storage.NewID()}},
		{"client_credentials/jwt", grant{client: storage.Client{ID: "svc", AccessTokenFormat: "jwt"}, scopes: []string{"reports.read"}, familyID: storage.NewID()}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.build(ctx, tc.g); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
