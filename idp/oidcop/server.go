package oidcop

import (
	"context"
	"errors"
	"net/http"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// server embeds the library's LegacyServer and overrides what Gatehouse
// decides differently.
type server struct {
	*op.LegacyServer
	p *Provider
}

// Limits on /authorize parameters: generous for real clients, small enough
// that a hostile request cannot make us store or reflect megabytes.
const (
	maxRedirectURI = 2048
	maxState       = 2048
	maxNonce       = 512
)

func (s *server) VerifyAuthRequest(ctx context.Context, r *op.Request[oidc.AuthRequest]) (*op.ClientRequest[oidc.AuthRequest], error) {
	if len(r.Data.RedirectURI) > maxRedirectURI {
		// Not redirected: an over-long redirect_uri cannot be registered.
		return nil, op.NewStatusError(oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri is too long"), http.StatusBadRequest)
	}
	cr, err := s.LegacyServer.VerifyAuthRequest(ctx, r)
	return cr, unavailable(err)
}

// unavailable turns a storage outage met while serving /authorize into a
// 503 that is rendered here, never redirected: the request may be fine,
// and the client should not be told otherwise. htmlErrors shows the person
// the "temporarily unavailable" page with Retry-After. Other errors pass
// unchanged.
func unavailable(err error) error {
	if err != nil && errors.Is(err, storage.ErrUnavailable) {
		return op.NewStatusError(oidc.ErrServerError().WithDescription("temporarily unavailable").WithParent(err), http.StatusServiceUnavailable)
	}
	return err
}

// Authorize runs after the library validated the redirect URI, so its
// errors go back to the client. It enforces what the library leaves open:
// the code flow only, PKCE with S256 only (the library would treat any
// other method as plain), PKCE required for public clients.
func (s *server) Authorize(ctx context.Context, r *op.ClientRequest[oidc.AuthRequest]) (*op.Redirect, error) {
	d := r.Data
	switch {
	case len(d.State) > maxState || len(d.Nonce) > maxNonce:
		return nil, op.NewStatusError(oidc.ErrInvalidRequest().WithDescription("state or nonce is too long"), http.StatusBadRequest)
	case d.ResponseType != oidc.ResponseTypeCode:
		return nil, &oidc.Error{ErrorType: "unsupported_response_type", Description: "only response_type=code is supported"}
	case d.ResponseMode != "" && d.ResponseMode != oidc.ResponseModeQuery && d.ResponseMode != oidc.ResponseModeFormPost:
		return nil, oidc.ErrInvalidRequest().WithDescription("response_mode must be query or form_post")
	case d.ResponseMode == oidc.ResponseModeFormPost && !webURL(d.RedirectURI):
		// A browser can only post a form to a web origin; a native app's
		// private-use scheme takes its response in the query.
		return nil, oidc.ErrInvalidRequest().WithDescription("response_mode=form_post needs an http(s) redirect_uri")
	case d.CodeChallenge == "" && d.CodeChallengeMethod != "":
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method without code_challenge")
	case d.CodeChallenge != "" && d.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	case d.CodeChallenge != "" && !validChallenge(d.CodeChallenge):
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge must be a base64url SHA-256 (43 characters)")
	case d.CodeChallenge == "" && r.Client.AuthMethod() == oidc.AuthMethodNone:
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE (code_challenge with S256) is required for public clients")
	case d.IDTokenHint != "" && isAccessTokenJWT(d.IDTokenHint):
		return nil, oidc.ErrLoginRequired().WithDescription("id_token_hint is not an ID token")
	}
	red, err := s.LegacyServer.Authorize(ctx, r)
	return red, unavailable(err)
}

// isAccessTokenJWT tells a JWT access token (typ at+jwt, RFC 9068) from an
// ID token. Both are signed with published keys, so without this check a
// resource server holding a user's access token could pass it off as an
// id_token_hint (and, at end_session, log the user out silently).
func isAccessTokenJWT(raw string) bool {
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil || len(jws.Signatures) != 1 {
		return false // not ours to judge here: the library's verifier refuses it
	}
	typ, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string)
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	for _, ch := range c {
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}

// Discovery states exactly what Gatehouse serves, overriding the
// library's defaults where they claim more.
func (s *server) Discovery(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	resp, err := s.LegacyServer.Discovery(ctx, r)
	if err != nil {
		return nil, err
	}
	if d, ok := resp.Data.(*oidc.DiscoveryConfiguration); ok {
		d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
		d.ResponseModesSupported = []string{string(oidc.ResponseModeQuery), string(oidc.ResponseModeFormPost)}
		d.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials}
		d.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
		d.TokenEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}
		d.RevocationEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}
		d.IntrospectionEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost}
		d.SubjectTypesSupported = []string{"public"}
		d.ClaimsParameterSupported = false
		d.RequestParameterSupported = false
		d.RequestURIParameterSupported = false
		// Only what a login can reach today: there is no second factor
		// yet, so the mfa class would be a promise nothing keeps.
		d.ACRValuesSupported = []string{"urn:gatehouse:acr:pwd"}
		// Clients authenticate with a secret (basic or post) or not at all
		// (public): no private_key_jwt or client_secret_jwt, so no signing
		// algorithms for client assertions. Request objects are refused and
		// userinfo answers plain JSON, so none for those either.
		d.TokenEndpointAuthSigningAlgValuesSupported = nil
		d.RevocationEndpointAuthSigningAlgValuesSupported = nil
		d.IntrospectionEndpointAuthSigningAlgValuesSupported = nil
		d.RequestObjectSigningAlgValuesSupported = nil
		d.UserinfoSigningAlgValuesSupported = nil
		d.CheckSessionIframe = ""
		d.DeviceAuthorizationEndpoint = ""
		resp.Data = discoveryDocument{DiscoveryConfiguration: d, AuthorizationResponseISSParameterSupported: true}
	}
	return resp, nil
}

// discoveryDocument is the library's document plus what it has no field
// for. Every authorization response names the issuer (codes and errors
// alike: callback.go and authorize_iss.go), and RFC 9207 §3 has the
// provider say so: a client that knows it can refuse a response without
// iss as a mix-up attempt.
type discoveryDocument struct {
	*oidc.DiscoveryConfiguration
	AuthorizationResponseISSParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
}
