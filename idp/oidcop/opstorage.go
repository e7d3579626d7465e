package oidcop

import (
	"context"
	"errors"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// opStorage implements op.Storage over Gatehouse storage for the endpoints
// the library serves (authorize, callback, discovery, keys). The token-side
// methods are unreachable: see unreachable.go.
type opStorage struct{ p *Provider }

var _ op.Storage = (*opStorage)(nil)

// CreateAuthRequest starts a login in the one flow. The library has
// checked the redirect URI, scopes, response type and prompt; Authorize
// (server.go) has checked PKCE before this is reached.
func (s *opStorage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, hintSubject string) (op.AuthRequest, error) {
	r := storage.AuthRequest{
		Protocol: Protocol,
		ClientID: req.ClientID,
		OIDC: &storage.OIDCParams{
			RedirectURI:         req.RedirectURI,
			State:               req.State,
			Nonce:               req.Nonce,
			Scopes:              req.Scopes,
			ResponseType:        string(req.ResponseType),
			ResponseMode:        string(req.ResponseMode),
			CodeChallenge:       req.CodeChallenge,
			CodeChallengeMethod: string(req.CodeChallengeMethod),
		},
		// OIDC's prompt values none and login are the flow's own terms.
		Prompt:      req.Prompt,
		LoginHint:   req.LoginHint,
		ACRValues:   req.ACRValues,
		SubjectHint: hintSubject,
	}
	if req.MaxAge != nil {
		v := int64(*req.MaxAge)
		r.MaxAge = &v
	}
	for _, t := range req.UILocales {
		r.UILocales = append(r.UILocales, t.String())
	}
	r, err := s.p.opts.Flow.Begin(ctx, r)
	if err != nil {
		return nil, err
	}
	return authRequest{r}, nil
}

func (s *opStorage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	r, err := s.p.opts.Flow.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	return authRequest{r}, nil
}

func (s *opStorage) DeleteAuthRequest(ctx context.Context, id string) error {
	return s.p.opts.Store.DeleteAuthRequest(ctx, id)
}

func (s *opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.p.opts.Store.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		// An oidc.Error passes through the library unchanged: a 400 that
		// is never redirected (the redirect URI cannot be trusted), not
		// the 500 a plain error becomes.
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown client_id").WithParent(err)
	} else if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return client{c: c, loginURL: s.p.opts.LoginURL}, nil
}

func (s *opStorage) Health(ctx context.Context) error { return s.p.opts.Store.Ping(ctx) }

// SignatureAlgorithms lists what discovery advertises for ID tokens.
func (s *opStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}, nil
}

// SigningKey is the library's default signer (RS256, as the spec's default).
func (s *opStorage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	k, err := s.p.opts.Keys.Signer(ctx, "RS256")
	if err != nil {
		return nil, err
	}
	return opSigningKey{k}, nil
}

// KeySet verifies id_token_hint (JWKS is Gatehouse's: jwks.go), from the
// last key set loaded while storage is unavailable.
func (s *opStorage) KeySet(ctx context.Context) ([]op.Key, error) {
	pubs, err := s.p.publicKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, 0, len(pubs))
	for _, k := range pubs {
		out = append(out, opKey{k})
	}
	return out, nil
}

type opSigningKey struct{ k SigningKey }

func (k opSigningKey) SignatureAlgorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(k.k.Algorithm)
}
func (k opSigningKey) Key() any   { return k.k.Key }
func (k opSigningKey) ID() string { return k.k.ID }

type opKey struct{ k PublicKey }

func (k opKey) ID() string                         { return k.k.ID }
func (k opKey) Algorithm() jose.SignatureAlgorithm { return jose.SignatureAlgorithm(k.k.Algorithm) }
func (k opKey) Use() string                        { return "sig" }
func (k opKey) Key() any                           { return k.k.Key }

// hasScope reports whether scopes (space separated or a list) holds s.
func hasScope(scopes []string, s string) bool { return slices.Contains(scopes, s) }

func splitScope(s string) []string { return strings.Fields(s) }
