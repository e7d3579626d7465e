package oidcop

import (
	"context"
	"errors"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The op.Storage methods below belong to the token, introspection,
// revocation, userinfo and end-session endpoints of the library. Gatehouse
// serves those endpoints itself (see doc.go), routes no request to the
// library's versions, and so these are never called. They fail closed, so
// that a future change of routing cannot silently issue or accept a token
// through a path that skips Gatehouse's checks.
var errNotServedByOP = errors.New("oidcop: endpoint served by gatehouse, not by the op library")

// SaveAuthCode belongs to the library's authorize callback. Gatehouse's
// callback (callback.go) issues codes itself, after authflow.Complete.
func (s *opStorage) SaveAuthCode(context.Context, string, string) error { return errNotServedByOP }

func (s *opStorage) AuthRequestByCode(context.Context, string) (op.AuthRequest, error) {
	return nil, oidc.ErrInvalidGrant().WithParent(errNotServedByOP)
}
func (s *opStorage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	return "", time.Time{}, errNotServedByOP
}
func (s *opStorage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errNotServedByOP
}
func (s *opStorage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, oidc.ErrInvalidGrant().WithParent(errNotServedByOP)
}
func (s *opStorage) TerminateSession(context.Context, string, string) error { return errNotServedByOP }
func (s *opStorage) RevokeToken(context.Context, string, string, string) *oidc.Error {
	return oidc.ErrServerError().WithParent(errNotServedByOP)
}
func (s *opStorage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}
func (s *opStorage) AuthorizeClientIDSecret(context.Context, string, string) error {
	return oidc.ErrInvalidClient().WithParent(errNotServedByOP)
}
func (s *opStorage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return errNotServedByOP
}
func (s *opStorage) SetUserinfoFromToken(context.Context, *oidc.UserInfo, string, string, string) error {
	return errNotServedByOP
}
func (s *opStorage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errNotServedByOP
}
func (s *opStorage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, errNotServedByOP
}

// GetKeyByIDAndClientID serves private_key_jwt client authentication and the
// JWT profile grant, neither of which Gatehouse offers.
func (s *opStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotServedByOP
}
func (s *opStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNotServedByOP
}
