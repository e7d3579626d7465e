package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
	for _, e := range d.endpointIssues(dev) {
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s: %w", ErrInvalidMetadata, d.url, errors.Join(errs...))
	}
	return nil
}

// endpointIssue is an endpoint the document lacks (err nil) or one that
// is not https.
type endpointIssue struct {
	name, url string
	err       error
}

func (e endpointIssue) Error() string {
	if e.err == nil {
		return "it has no " + e.name
	}
	return "its " + e.name + ": " + e.err.Error()
}

func (e endpointIssue) Unwrap() error { return e.err }

// sentence says it for an administrator.
func (e endpointIssue) sentence() string {
	if e.err == nil {
		return fmt.Sprintf("The discovery document has no %s.", e.name)
	}
	return fmt.Sprintf("The discovery document's %s %q is not https (http is allowed only on loopback, in dev mode).", e.name, e.url)
}

func (d *discovery) endpointIssues(dev bool) []endpointIssue {
	var out []endpointIssue
	for _, e := range []endpointIssue{
		{name: "authorization_endpoint", url: d.AuthorizationEndpoint},
		{name: "token_endpoint", url: d.TokenEndpoint},
		{name: "jwks_uri", url: d.JwksURI},
		{name: "userinfo_endpoint", url: d.UserinfoEndpoint},
	} {
		switch {
		case e.url == "" && e.name == "userinfo_endpoint": // optional
		case e.url == "":
			out = append(out, e)
		default:
			if e.err = federation.CheckUpstreamURL(e.url, dev); e.err != nil {
				out = append(out, e)
			}
		}
	}
	return out
}

// fetchError is a document that could not be read: kind is
// ErrUnreachable or ErrInvalidMetadata.
type fetchError struct {
	kind error
	url  string
	// why says it, or err: what failed.
	why string
	err error
}

func (e *fetchError) Error() string { return e.kind.Error() + ": " + e.url + ": " + e.reason() }

func (e *fetchError) Unwrap() []error { return []error{e.kind, e.err} }

// reason is why, or what failed.
func (e *fetchError) reason() string {
	if e.why != "" {
		return e.why
	}
	return cause(e.err)
}

// cause is err without the method and URL a *url.Error repeats.
func cause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// getJSON GETs addr into v: ErrUnreachable without an HTTP 200,
// ErrInvalidMetadata when the body is not JSON.
func getJSON(ctx context.Context, client *http.Client, addr string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr, nil)
	if err != nil {
		return &fetchError{kind: ErrInvalidMetadata, url: addr, err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return &fetchError{kind: ErrUnreachable, url: addr, err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &fetchError{kind: ErrUnreachable, url: addr, why: fmt.Sprintf("HTTP %d", resp.StatusCode)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return &fetchError{kind: ErrUnreachable, url: addr, err: err}
	}
	if len(body) > maxDocument {
		return &fetchError{kind: ErrInvalidMetadata, url: addr, why: fmt.Sprintf("larger than %d bytes", maxDocument)}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &fetchError{kind: ErrInvalidMetadata, url: addr, err: err}
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
