package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-idp/gatehouse/federation"
)

// leeway is the clock skew allowed between the upstream and us.
//
// rp's verifier reads time.Now and has no clock to inject: it takes one
// Offset, added to time.Now in both time checks (exp must be after
// now+Offset, iat must not be after now+Offset). So the verifier of each
// Finish gets Offset = (env.Now - time.Now) + leeway: the checks run on
// env.Now, an upstream clock up to leeway ahead still passes iat, and the
// price is that a token with less than leeway left counts as expired
// (harmless for a token fresh from the token endpoint).
const leeway = 30 * time.Second

// verifier is the ID token verifier of one login: our issuer and client
// id, the upstream's keys, its algorithms from safeAlgs, this login's
// nonce, env.Now.
func (c *connector) verifier(nonce string) *rp.IDTokenVerifier {
	offset := c.env.Now().Sub(time.Now()) + leeway
	return rp.NewIDTokenVerifier(c.settings.Issuer, c.settings.ClientID, c.keys,
		rp.WithNonce(func(context.Context) string { return nonce }),
		rp.WithIssuedAtOffset(offset),
		rp.WithSupportedSigningAlgorithms(c.algs...))
}

// verifyError sorts rp's verdict on an ID token into the Refusal reasons;
// the key set not answering is an outage.
func verifyError(err error) error {
	reason := "signature" // a bad or missing signature, alg, at_hash, or a malformed token
	switch {
	case outage(err):
		return fmt.Errorf("federation/oidc: fetching the upstream's keys to verify the ID token: %w", err)
	case errors.Is(err, zoidc.ErrIssuerInvalid):
		reason = "issuer"
	case errors.Is(err, zoidc.ErrAudience), errors.Is(err, zoidc.ErrAzpMissing), errors.Is(err, zoidc.ErrAzpInvalid):
		reason = "audience"
	case errors.Is(err, zoidc.ErrExpired), errors.Is(err, zoidc.ErrIatMissing),
		errors.Is(err, zoidc.ErrIatInFuture), errors.Is(err, zoidc.ErrIatToOld):
		reason = "expired"
	case errors.Is(err, zoidc.ErrNonceInvalid):
		// rp's message quotes our nonce; the audit log needs no more
		// than the fact.
		return federation.Refuse("nonce", errNonce)
	case errors.Is(err, zoidc.ErrSubjectMissing):
		reason = "no_subject"
	}
	return federation.Refuse(reason, err)
}

var errNonce = errors.New("the ID token's nonce is not this login's")

// idClaims are an ID token's claims: the registered ones rp checks, and
// all of them as JSON values for the mapping (claims.go), so that a claim
// of an unexpected type (email_verified as "true") does not fail the
// token.
type idClaims struct {
	zoidc.TokenClaims
	AccessTokenHash string
	raw             map[string]any
}

var _ zoidc.IDClaims = (*idClaims)(nil)

func (c *idClaims) GetAccessTokenHash() string { return c.AccessTokenHash }

func (c *idClaims) UnmarshalJSON(b []byte) error {
	var hash struct {
		AtHash string `json:"at_hash"`
	}
	if err := json.Unmarshal(b, &c.TokenClaims); err != nil {
		return err
	}
	if err := json.Unmarshal(b, &hash); err != nil {
		return err
	}
	c.AccessTokenHash = hash.AtHash
	return json.Unmarshal(b, &c.raw)
}

// keysClient is env.HTTP for the key set, with an HTTP 5xx or 429 turned
// into a transport error: rp's key set reports any failure to fetch keys
// as a bad signature, and only a *url.Error lets verifyError see an
// outage in it.
func keysClient(base *http.Client) *http.Client {
	c := *base
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = statusTransport{next}
	return &c
}

type statusTransport struct{ next http.RoundTripper }

func (t statusTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err == nil && (resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests) {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %s answered HTTP %d", ErrUnreachable, req.URL.Redacted(), resp.StatusCode)
	}
	return resp, err
}
