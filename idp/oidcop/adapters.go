package oidcop

import (
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// authRequest adapts storage.AuthRequest to op.AuthRequest.
type authRequest struct{ r storage.AuthRequest }

// oidc is the request's OIDC data; a zero value for another door's.
func (a authRequest) oidc() storage.OIDCParams {
	if a.r.OIDC == nil {
		return storage.OIDCParams{}
	}
	return *a.r.OIDC
}

var _ op.AuthRequest = authRequest{}

func (a authRequest) GetID() string          { return a.r.ID }
func (a authRequest) GetACR() string         { return authflow.ACR(a.r.AMR) }
func (a authRequest) GetAMR() []string       { return a.r.AMR }
func (a authRequest) GetAudience() []string  { return []string{a.r.ClientID} }
func (a authRequest) GetAuthTime() time.Time { return a.r.AuthTime }
func (a authRequest) GetClientID() string    { return a.r.ClientID }
func (a authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	o := a.oidc()
	if o.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: o.CodeChallenge, Method: oidc.CodeChallengeMethod(o.CodeChallengeMethod)}
}
func (a authRequest) GetNonce() string       { return a.oidc().Nonce }
func (a authRequest) GetRedirectURI() string { return a.oidc().RedirectURI }
func (a authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(a.oidc().ResponseType)
}
func (a authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(a.oidc().ResponseMode)
}
func (a authRequest) GetScopes() []string { return a.oidc().Scopes }
func (a authRequest) GetState() string    { return a.oidc().State }
func (a authRequest) GetSubject() string  { return a.r.UserID }

// Done is the gate for the library: true only while the flow says the
// request is done and not yet issued. The library's own callback, which
// would act on it, is not routed (callback.go is Gatehouse's).
func (a authRequest) Done() bool { return authflow.StepOf(a.r) == authflow.StepDone }

// client adapts storage.Client to op.Client.
type client struct {
	c        storage.Client
	loginURL func(id string) string
}

var _ op.Client = client{}

func (c client) GetID() string                    { return c.c.ID }
func (c client) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c client) PostLogoutRedirectURIs() []string { return c.c.PostLogoutRedirectURIs }
func (c client) ApplicationType() op.ApplicationType {
	if c.c.Public {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}
func (c client) AuthMethod() oidc.AuthMethod {
	if c.c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

// ResponseTypes: the code flow only; implicit and hybrid are never served.
func (c client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c client) GrantTypes() []oidc.GrantType {
	out := make([]oidc.GrantType, 0, len(c.c.GrantTypes))
	for _, g := range c.c.GrantTypes {
		out = append(out, oidc.GrantType(g))
	}
	return out
}
func (c client) LoginURL(id string) string { return c.loginURL(id) }
func (c client) AccessTokenType() op.AccessTokenType {
	if c.c.AccessTokenFormat == clients.AccessTokenJWT {
		return op.AccessTokenTypeJWT
	}
	return op.AccessTokenTypeBearer
}
func (c client) IDTokenLifetime() time.Duration { return c.c.IDTokenTTL }

// DevMode would relax redirect URI checks; never.
func (c client) DevMode() bool { return false }
func (c client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed is asked for scopes beyond the standard ones.
func (c client) IsScopeAllowed(scope string) bool     { return slices.Contains(c.c.Scopes, scope) }
func (c client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c client) ClockSkew() time.Duration             { return 0 }
