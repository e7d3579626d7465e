package oidc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var (
	_ federation.Opener    = Open
	_ federation.Connector = (*connector)(nil)
)

// connector is one live upstream OIDC provider. It is immutable after
// Open and safe for concurrent use.
type connector struct {
	id       string
	settings federation.OIDCSettings
	claims   claimNames
	redirect string
	env      federation.Env
	log      *slog.Logger

	// From discovery at Open.
	rp       relyingParty
	keys     zoidc.KeySet
	algs     []string
	userinfo string
}

// relyingParty is rp's OAuth-only relying party with the userinfo
// endpoint from our discovery, which rp.Userinfo asks it for.
type relyingParty struct {
	rp.RelyingParty
	userinfo string
}

func (r relyingParty) UserinfoEndpoint() string { return r.userinfo }

// Open builds the connector of row c: it decodes c.Config, unseals the
// client secret (none: a public client, PKCE only) and reads the upstream's
// discovery document, whose issuer must be the configured one exactly.
func Open(ctx context.Context, c storage.Connector, env federation.Env) (federation.Connector, error) {
	if c.Type != storage.ConnectorOIDC {
		return nil, fmt.Errorf("federation/oidc: connector %q is of type %q", c.ID, c.Type)
	}
	s, err := federation.DecodeOIDC(c.Config, env.Dev)
	if err != nil {
		return nil, fmt.Errorf("connector %q: %w", c.ID, err)
	}
	if env.HTTP == nil {
		return nil, errors.New("federation/oidc: no HTTP client in the environment")
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	var secret string
	if c.SecretSealed != nil {
		if env.Open == nil {
			return nil, fmt.Errorf("federation/oidc: connector %q has a sealed secret and nothing opens it", c.ID)
		}
		plain, err := env.Open(c.SecretSealed)
		if err != nil {
			return nil, fmt.Errorf("federation/oidc: connector %q: unsealing the client secret: %w", c.ID, err)
		}
		secret = string(plain)
	}
	d, err := discover(ctx, env.HTTP, s.Issuer)
	if err != nil {
		return nil, fmt.Errorf("connector %q: %w", c.ID, err)
	}
	if err := d.check(s.Issuer, env.Dev); err != nil {
		return nil, fmt.Errorf("connector %q: %w", c.ID, err)
	}
	conn := &connector{
		id: c.ID, settings: s, claims: claimNamesOf(s),
		redirect: federation.URLsFor(env.Issuer, c.ID).Callback,
		env:      env, log: env.Logger,
		keys:     rp.NewRemoteKeySet(keysClient(env.HTTP), d.JwksURI),
		algs:     signingAlgs(d.IDTokenSigningAlgValuesSupported),
		userinfo: d.UserinfoEndpoint,
	}
	if conn.log == nil {
		conn.log = slog.Default()
	}
	conn.rp, err = newRelyingParty(conn, secret, d)
	if err != nil {
		return nil, fmt.Errorf("connector %q: %w", c.ID, err)
	}
	return conn, nil
}

func newRelyingParty(c *connector, secret string, d *discovery) (relyingParty, error) {
	config := &oauth2.Config{
		ClientID:     c.settings.ClientID,
		ClientSecret: secret,
		RedirectURL:  c.redirect,
		Scopes:       scopes(c.settings.Scopes),
		Endpoint:     oauth2.Endpoint{AuthURL: d.AuthorizationEndpoint, TokenURL: d.TokenEndpoint},
	}
	r, err := rp.NewRelyingPartyOAuth(config, rp.WithHTTPClient(c.env.HTTP), rp.WithAuthStyle(authStyle(secret, d)))
	if err != nil {
		return relyingParty{}, err
	}
	return relyingParty{RelyingParty: r, userinfo: d.UserinfoEndpoint}, nil
}

// authStyle is how the client authenticates at the token endpoint: a
// public client sends only its client_id in the form; a confidential one
// uses HTTP Basic unless the upstream offers client_secret_post alone.
func authStyle(secret string, d *discovery) oauth2.AuthStyle {
	methods := d.TokenEndpointAuthMethodsSupported
	switch {
	case secret == "":
		return oauth2.AuthStyleInParams
	case len(methods) == 0 || slices.Contains(methods, zoidc.AuthMethodBasic):
		return oauth2.AuthStyleInHeader
	case slices.Contains(methods, zoidc.AuthMethodPost):
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// scopes are openid, then the configured ones (default email profile),
// each once.
func scopes(configured []string) []string {
	if len(configured) == 0 {
		configured = []string{zoidc.ScopeEmail, zoidc.ScopeProfile}
	}
	out := []string{zoidc.ScopeOpenID}
	for _, s := range configured {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// safeAlgs are the ID token signature algorithms accepted: asymmetric
// ones only. none and the HMAC family (keyed with the client secret, so
// anyone holding it could forge) are never accepted.
var safeAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// signingAlgs narrows safeAlgs to those the upstream says it signs ID
// tokens with; an upstream that names none of them keeps all of safeAlgs
// (its tokens then fail as "signature" if they use anything else).
func signingAlgs(advertised []string) []string {
	var out []string
	for _, a := range safeAlgs {
		if slices.Contains(advertised, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return slices.Clone(safeAlgs)
	}
	return out
}

// LogValue names the connector without its secret.
func (c *connector) LogValue() slog.Value {
	return slog.GroupValue(slog.String("connector", c.id), slog.String("issuer", c.settings.Issuer),
		slog.String("client_id", c.settings.ClientID))
}
