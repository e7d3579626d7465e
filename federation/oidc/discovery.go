package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-idp/gatehouse/federation"
)

var (
	// ErrUnreachable: the upstream's discovery document or keys could
	// not be fetched (no answer, or not HTTP 200).
	ErrUnreachable = errors.New("federation/oidc: the upstream cannot be reached")
	// ErrIssuerMismatch: the discovery document names another issuer
	// than the configured one (the mix-up defence).
	ErrIssuerMismatch = errors.New("federation/oidc: the discovery document names another issuer")
	// ErrInvalidMetadata: the discovery document or key set is not JSON,
	// or the document lacks an endpoint or names one that is not https.
	ErrInvalidMetadata = errors.New("federation/oidc: the upstream's metadata is not usable")
)

// maxDocument bounds a discovery document or key set read from upstream.
const maxDocument = 1 << 20

type discovery struct {
	zoidc.DiscoveryConfiguration
	url string
}

// discover fetches issuer's discovery document.
func discover(ctx context.Context, client *http.Client, issuer string) (*discovery, error) {
	d := &discovery{url: strings.TrimSuffix(issuer, "/") + zoidc.DiscoveryEndpoint}
	if err := getJSON(ctx, client, d.url, &d.DiscoveryConfiguration); err != nil {
		return nil, err
	}
	return d, nil
}

// check is what Open refuses in the document: another issuer, a missing
// or insecure endpoint.
func (d *discovery) check(issuer string, dev bool) error {
	if err := d.issuerErr(issuer); err != nil {
		return err
	}
	return d.endpointsErr(dev)
}

func (d *discovery) issuerErr(issuer string) error {
	if d.Issuer != issuer {
		return fmt.Errorf("%w: the document at %s names %q, the connector is configured for %q",
			ErrIssuerMismatch, d.url, d.Issuer, issuer)
	}
	return nil
}

func (d *discovery) endpointsErr(dev bool) error {
	var errs []error
	for _, e := range []struct{ name, url string }{
		{"authorization_endpoint", d.AuthorizationEndpoint},
		{"token_endpoint", d.TokenEndpoint},
		{"jwks_uri", d.JwksURI},
		{"userinfo_endpoint", d.UserinfoEndpoint},
	} {
		switch {
		case e.url == "" && e.name == "userinfo_endpoint":
		case e.url == "":
			errs = append(errs, fmt.Errorf("it has no %s", e.name))
		default:
			if err := federation.CheckUpstreamURL(e.url, dev); err != nil {
				errs = append(errs, fmt.Errorf("its %s: %w", e.name, err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s: %w", ErrInvalidMetadata, d.url, errors.Join(errs...))
	}
	return nil
}

// getJSON GETs url into v: ErrUnreachable without an HTTP 200,
// ErrInvalidMetadata when the body is not JSON.
func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidMetadata, url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered HTTP %d", ErrUnreachable, url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, url, err)
	}
	if len(body) > maxDocument {
		return fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalidMetadata, url, maxDocument)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidMetadata, url, err)
	}
	return nil
}

// keySet is an upstream's JWKS as Check reads it: the keys that parse,
// and what is wrong with the others.
type keySet struct {
	keys []jose.JSONWebKey
	bad  []error
}

func fetchKeys(ctx context.Context, client *http.Client, url string) (keySet, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(ctx, client, url, &raw); err != nil {
		return keySet{}, err
	}
	var ks keySet
	for i, r := range raw.Keys {
		var k jose.JSONWebKey
		switch err := k.UnmarshalJSON(r); {
		case errors.Is(err, jose.ErrUnsupportedKeyType):
			// A key type go-jose does not know (rp skips it too).
		case err != nil:
			ks.bad = append(ks.bad, fmt.Errorf("key %d: %w", i, err))
		default:
			ks.keys = append(ks.keys, k)
		}
	}
	return ks, nil
}

// signing is the keys that can verify an ID token: public, asymmetric,
// for signatures.
func (ks keySet) signing() []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, k := range ks.keys {
		if (k.Use == "" || k.Use == "sig") && k.Valid() && k.IsPublic() {
			out = append(out, k)
		}
	}
	return out
}
