package oidcop

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/ui"
)

// SigningKey is a private key that signs now.
type SigningKey struct {
	ID, Algorithm string
	Key           crypto.Signer
}

// PublicKey is a published verification key.
type PublicKey struct {
	ID, Algorithm string
	Key           crypto.PublicKey
}

// Keys is what the provider needs of the key manager.
type Keys interface {
	Signer(ctx context.Context, alg string) (SigningKey, error)
	PublicKeys(ctx context.Context) ([]PublicKey, error)
}

// Store is the storage the provider uses: it reads clients, users and
// auth requests and issues and checks grants. It writes no auth request:
// authflow moves them.
type Store interface {
	Ping(ctx context.Context) error
	GetClient(ctx context.Context, id string) (storage.Client, error)
	GetUser(ctx context.Context, id string) (storage.User, error)
	GetAuthRequest(ctx context.Context, id string) (storage.AuthRequest, error)
	DeleteAuthRequest(ctx context.Context, id string) error
	storage.Grants
	// A federated login's tokens live only as long as its link and its
	// connector (upstream.go).
	GetConnector(ctx context.Context, id string) (storage.Connector, error)
	GetLink(ctx context.Context, connectorID, subject string) (storage.Link, error)
}

var _ Store = storage.Storage(nil)

// Sessions is what the provider needs of the browser session manager.
type Sessions interface {
	Browser(r *http.Request) (session.Browser, error)
}

// Pages are the user-facing pages the provider answers with (ui.Handlers):
// it parses and verifies its protocol, they render.
type Pages interface {
	// Error renders a generic error page, for failures that must not be
	// redirected to a client (unknown client, bad redirect URI).
	Error(w http.ResponseWriter, r *http.Request, status int, msg string)
	// AutoPost answers with a page that posts fields to action (form_post).
	AutoPost(w http.ResponseWriter, r *http.Request, action string, fields url.Values)
	ConfirmLogout(w http.ResponseWriter, r *http.Request, c ui.LogoutConfirm)
	VerifyLogoutForm(w http.ResponseWriter, r *http.Request) bool
	// SignOut ends the session (and the SAML applications' with it),
	// then redirects to returnTo or shows the signed-out page.
	SignOut(w http.ResponseWriter, r *http.Request, returnTo, clientName string)
}

// Options configure the provider.
type Options struct {
	Issuer   string
	Store    Store
	Flow     *authflow.Flow
	Keys     Keys
	Sessions Sessions
	Audit    *audit.Recorder
	Now      func() time.Time
	Logger   *slog.Logger
	// CryptoKey keys the library's internal encryption (unused by the
	// endpoints Gatehouse serves, but required by the library).
	CryptoKey [32]byte
	// LoginURL is where /authorize sends the browser to log in.
	LoginURL func(authRequestID string) string
	// Insecure allows an http issuer (dev mode on localhost).
	Insecure bool
	// CodeTTL bounds authorization codes (default and maximum 60 s).
	CodeTTL time.Duration
	Pages   Pages
}

// Provider is the OpenID Provider.
type Provider struct {
	opts    Options
	op      *op.Provider
	handler http.Handler
	signers signerCache
	// lastKeys keeps JWKS up through a storage outage (jwks.go).
	lastKeys lastKeys
}

// Paths of the endpoints.
const (
	PathAuthorize  = "/authorize"
	PathCallback   = "/authorize/callback"
	PathToken      = "/oauth/token"
	PathIntrospect = "/oauth/introspect"
	PathRevoke     = "/oauth/revoke"
	PathUserinfo   = "/userinfo"
	PathEndSession = "/end_session"
	PathKeys       = "/keys"
	PathDiscovery  = "/.well-known/openid-configuration"
)

// New builds the provider.
func New(opts Options) (*Provider, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &Provider{opts: opts}
	cfg := &op.Config{
		CryptoKey:             opts.CryptoKey,
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		SupportedScopes:       []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess},
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "acr", "amr", "azp",
			"at_hash", "email", "email_verified", "name", "preferred_username", "updated_at"},
	}
	popts := []op.Option{op.WithLogger(opts.Logger),
		// id_token_hint is verified against exactly what Gatehouse signs
		// with: never "none", never HS256 keyed by a client secret.
		op.WithIDTokenHintVerifierOpts(op.WithSupportedIDTokenHintSigningAlgorithms("RS256", "ES256", "EdDSA"))}
	if opts.Insecure {
		popts = append(popts, op.WithAllowInsecure())
	}
	prov, err := op.NewProvider(cfg, &opStorage{p: p}, op.StaticIssuer(opts.Issuer), popts...)
	if err != nil {
		return nil, fmt.Errorf("oidcop: %w", err)
	}
	p.op = prov
	endpoints := op.Endpoints{
		Authorization: op.NewEndpoint(PathAuthorize[1:]),
		Token:         op.NewEndpoint(PathToken[1:]),
		Introspection: op.NewEndpoint(PathIntrospect[1:]),
		Userinfo:      op.NewEndpoint(PathUserinfo[1:]),
		Revocation:    op.NewEndpoint(PathRevoke[1:]),
		EndSession:    op.NewEndpoint(PathEndSession[1:]),
		JwksURI:       op.NewEndpoint(PathKeys[1:]),
	}
	srv := &server{LegacyServer: op.NewLegacyServer(prov, endpoints), p: p}
	// nil turns the library's CORS off: it allows any origin with
	// credentials, on /authorize too. Mount sets Gatehouse's (cors.go).
	p.handler = op.RegisterLegacyServer(srv, p.callback, op.WithServerCORSOptions(nil))
	return p, nil
}

// Handle is how routes are registered (httpserver.Server.Handle).
type Handle func(pattern string, h http.Handler)

// Mount registers every endpoint. Routes are listed one by one, not as a
// catch-all, so that metrics are labelled per endpoint and nothing the
// library serves is exposed by accident.
func (p *Provider) Mount(handle Handle) {
	lib := p.handler
	handle("GET "+PathDiscovery, publicCORS(lib))
	handle("GET "+PathKeys, publicCORS(http.HandlerFunc(p.keys)))
	handle("GET "+PathAuthorize, p.authorizeEndpoint(p.htmlErrors(lib)))
	handle("POST "+PathAuthorize, p.authorizeEndpoint(p.htmlErrors(lib)))
	handle("GET "+PathCallback, http.HandlerFunc(p.callback))
	handle("GET "+PathEndSession, http.HandlerFunc(p.endSession))
	handle("POST "+PathEndSession, http.HandlerFunc(p.endSession))
	handle("POST "+PathToken, publicCORS(http.HandlerFunc(p.token)))
	handle("POST "+PathIntrospect, http.HandlerFunc(p.introspect)) // resource servers, not pages
	handle("POST "+PathRevoke, publicCORS(http.HandlerFunc(p.revoke)))
	handle("GET "+PathUserinfo, publicCORS(http.HandlerFunc(p.userinfo)))
	handle("POST "+PathUserinfo, publicCORS(http.HandlerFunc(p.userinfo)))
	for path, methods := range map[string]string{
		PathDiscovery: "GET", PathKeys: "GET", PathToken: "POST", PathRevoke: "POST", PathUserinfo: "GET, POST",
	} {
		handle("OPTIONS "+path, preflight(methods))
	}
}

// CallbackURL is where the login UI sends the browser once the flow is done.
func (p *Provider) CallbackURL(authRequestID string) string {
	return PathCallback + "?id=" + url.QueryEscape(authRequestID)
}

// SendError ends an auth request at the client with an OAuth error (for
// prompt=none: login_required). The redirect URI was validated at
// /authorize, so the error may go there.
func (p *Provider) SendError(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, err error) {
	var oerr *oidc.Error
	if !errors.As(err, &oerr) {
		oerr = oidc.ErrServerError().WithParent(err)
	}
	p.redirectResponse(w, r, req, url.Values{"error": {string(oerr.ErrorType)}, "error_description": {oerr.Description}})
}

func (p *Provider) now() time.Time { return p.opts.Now() }

func (p *Provider) codeTTL() time.Duration {
	if p.opts.CodeTTL <= 0 || p.opts.CodeTTL > time.Minute {
		return time.Minute
	}
	return p.opts.CodeTTL
}

func (p *Provider) logger(ctx context.Context) *slog.Logger { return p.opts.Logger }
