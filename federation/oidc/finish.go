package oidc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"golang.org/x/oauth2"

	"github.com/gatehouse-idp/gatehouse/federation"
)

// UpstreamError is an error the upstream sent to the callback (RFC 6749
// section 4.1.2.1), as the Err of a Refusal "upstream_error", so that the
// flow can tell access_denied (the user said no) from the rest.
type UpstreamError struct {
	Code        string
	Description string
}

func (e *UpstreamError) Error() string {
	if e.Description == "" {
		return "the upstream answered " + e.Code
	}
	return "the upstream answered " + e.Code + ": " + e.Description
}

// Finish checks the callback's query against the login's state, exchanges
// the code and verifies the ID token, and returns the identity it proves.
func (c *connector) Finish(ctx context.Context, state []byte, in url.Values) (federation.Identity, error) {
	s, err := readState(state)
	if err != nil {
		return federation.Identity{}, err
	}
	if err := c.checkCallback(s, in); err != nil {
		return federation.Identity{}, err
	}
	tokens, err := rp.CodeExchange[*idClaims](ctx, in.Get("code"), c.rp, rp.WithCodeVerifier(s.Verifier))
	if err != nil {
		return federation.Identity{}, exchangeError(err)
	}
	raw, _ := tokens.Extra("id_token").(string)
	if raw == "" {
		return federation.Identity{}, federation.Refuse("exchange", errors.New("the token response has no id_token"))
	}
	claims, err := rp.VerifyTokens[*idClaims](ctx, tokens.AccessToken, raw, c.verifier(s.Nonce))
	if err != nil {
		return federation.Identity{}, verifyError(err)
	}
	// rp does not look at nbf.
	if nbf := claims.NotBefore.AsTime(); !nbf.IsZero() && nbf.After(c.env.Now().Add(leeway)) {
		return federation.Identity{}, federation.Refuse("expired",
			fmt.Errorf("the ID token is not valid before %s", nbf.UTC().Format(time.RFC3339)))
	}
	return c.identity(ctx, claims, tokens.Token)
}

// checkCallback is what the callback's query says before any exchange:
// an error from the upstream, the relay, the login's age, RFC 9207's iss
// when the upstream sends it, a code.
func (c *connector) checkCallback(s loginState, in url.Values) error {
	if code := in.Get("error"); code != "" {
		return federation.Refuse("upstream_error", &UpstreamError{Code: clip(code), Description: clip(in.Get("error_description"))})
	}
	if subtle.ConstantTimeCompare([]byte(in.Get("state")), []byte(s.Relay)) != 1 {
		return federation.Refuse("state", errors.New("the callback's state is not this login's"))
	}
	switch age := c.env.Now().Sub(s.Began); {
	case age > maxLoginAge:
		return federation.Refuse("state", fmt.Errorf("the login began %s ago, more than %s", age.Round(time.Second), maxLoginAge))
	case age < -leeway:
		return federation.Refuse("state", fmt.Errorf("the login began %s from now", (-age).Round(time.Second)))
	}
	if iss := in.Get("iss"); iss != "" && iss != c.settings.Issuer {
		return federation.Refuse("issuer", fmt.Errorf("the callback names the issuer %q", clip(iss)))
	}
	if in.Get("code") == "" {
		return federation.Refuse("exchange", errors.New("the callback has no code"))
	}
	return nil
}

// exchangeError sorts a failed code exchange: the token endpoint refusing
// the code (an HTTP 4xx or an OAuth error: a replayed or stolen code, a
// wrong verifier) is a refusal; no answer or a 5xx is an outage.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 && re.Response.StatusCode != 429 {
		why := clip(re.ErrorCode)
		if why == "" {
			why = fmt.Sprintf("HTTP %d", re.Response.StatusCode)
		}
		if d := clip(re.ErrorDescription); d != "" {
			why += ": " + d
		}
		return federation.Refuse("exchange", fmt.Errorf("the token endpoint refused the code: %s", why))
	}
	return fmt.Errorf("federation/oidc: exchanging the code: %w", err)
}

// outage reports whether err is the network's, not the upstream's answer.
func outage(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// clip makes outside text fit for an audit line: printable, 200 runes.
func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
