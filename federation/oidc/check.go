package oidc

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-idp/gatehouse/federation"
)

// Check reads the upstream's discovery document and keys again and asks
// its authorization endpoint whether it takes our redirect URI.
func (c *connector) Check(ctx context.Context) []federation.Problem {
	d, err := discover(ctx, c.env.HTTP, c.settings.Issuer)
	if err != nil {
		return []federation.Problem{fetchProblem("The discovery document", err)}
	}
	var out []federation.Problem
	if err := d.issuerErr(c.settings.Issuer); err != nil {
		out = append(out, federation.Problem{Code: "issuer_mismatch", Message: fmt.Sprintf(
			"The discovery document at %s names the issuer %q, but the connector is configured for %q: "+
				"correct the issuer, or the upstream is not who it should be.", d.url, d.Issuer, c.settings.Issuer)})
	}
	usable := map[string]bool{"jwks_uri": true, "authorization_endpoint": true}
	for _, e := range d.endpointIssues(c.env.Dev) {
		out = append(out, federation.Problem{Code: "invalid_metadata", Message: e.sentence()})
		usable[e.name] = false
	}
	if usable["jwks_uri"] {
		out = append(out, c.checkKeys(ctx, d.JwksURI)...)
	}
	if usable["authorization_endpoint"] {
		out = append(out, c.checkRedirect(ctx, d.AuthorizationEndpoint)...)
	}
	return out
}

// fetchProblem says that what could not be read.
func fetchProblem(what string, err error) federation.Problem {
	var fe *fetchError
	if !errors.As(err, &fe) {
		return federation.Problem{Code: "unreachable", Message: fmt.Sprintf("%s cannot be fetched: %v.", what, err)}
	}
	if fe.kind == ErrUnreachable {
		return federation.Problem{Code: "unreachable", Message: fmt.Sprintf("%s at %s cannot be fetched: %s.", what, fe.url, fe.reason())}
	}
	return federation.Problem{Code: "invalid_metadata", Message: fmt.Sprintf("%s at %s is not usable: %s.", what, fe.url, fe.reason())}
}

// checkKeys: the key set answers, has a signing key, and the
// certificates its keys carry (x5c) are not expired nor expiring soon.
func (c *connector) checkKeys(ctx context.Context, jwks string) []federation.Problem {
	ks, err := fetchKeys(ctx, c.env.HTTP, jwks)
	if err != nil {
		return []federation.Problem{fetchProblem("The signing keys", err)}
	}
	var out []federation.Problem
	for _, err := range ks.bad {
		out = append(out, federation.Problem{Code: "invalid_metadata",
			Message: fmt.Sprintf("The key set at %s has a key that cannot be read (%v).", jwks, err)})
	}
	signing := ks.signing()
	if len(signing) == 0 {
		return append(out, federation.Problem{Code: "no_signing_certificate",
			Message: fmt.Sprintf("The key set at %s has no key to check ID token signatures with.", jwks)})
	}
	var certs []*x509.Certificate
	for _, k := range signing {
		if len(k.Certificates) > 0 {
			certs = append(certs, k.Certificates[0])
		}
	}
	if len(certs) > 0 {
		out = append(out, federation.CertificateProblems(certs, c.env.Now())...)
	}
	return out
}

// checkRedirect sends the authorization endpoint a request such as Begin
// makes, without following its answer. Where the upstream can tell, it
// refuses an unregistered redirect URI with a 4xx page, or by sending the
// browser back to it with an error about it; a redirect to its login page
// is healthy. (The upstream may keep the request it never sees finished.)
func (c *connector) checkRedirect(ctx context.Context, endpoint string) []federation.Problem {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil // CheckUpstreamURL parsed it
	}
	q := u.Query()
	for k, v := range map[string]string{
		"client_id": c.settings.ClientID, "redirect_uri": c.redirect, "response_type": "code",
		"scope": strings.Join(scopes(c.settings.Scopes), " "), "state": random(), "nonce": random(),
		"code_challenge": zoidc.NewSHACodeChallenge(random()), "code_challenge_method": "S256",
	} {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil
	}
	client := *c.env.HTTP
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	client.Jar = nil
	resp, err := client.Do(req)
	if err != nil {
		return []federation.Problem{{Code: "unreachable",
			Message: fmt.Sprintf("The authorization endpoint %s cannot be reached: %s.", endpoint, cause(err))}}
	}
	defer resp.Body.Close()
	if why := c.redirectRefused(resp); why != "" {
		return []federation.Problem{{Code: "redirect_uri_refused", Message: fmt.Sprintf(
			"The upstream refused a sign-in request with the redirect URI %s (%s). "+
				"Register %s as a redirect URI of client %q at the upstream.", c.redirect, why, c.redirect, c.settings.ClientID)}}
	}
	if resp.StatusCode >= 500 {
		return []federation.Problem{{Code: "unreachable",
			Message: fmt.Sprintf("The authorization endpoint %s answered HTTP %d.", endpoint, resp.StatusCode)}}
	}
	return nil
}

// redirectRefused is why resp refuses our redirect URI, or "".
func (c *connector) redirectRefused(resp *http.Response) string {
	switch {
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		why := fmt.Sprintf("HTTP %d", resp.StatusCode)
		if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct == "text/plain" {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			if s := clip(strings.TrimSpace(string(body))); s != "" {
				why += ": " + s
			}
		}
		return why
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		loc, err := resp.Location()
		if err != nil {
			return ""
		}
		q := loc.Query()
		loc.RawQuery, loc.Fragment = "", ""
		code, desc := q.Get("error"), q.Get("error_description")
		if loc.String() != c.redirect {
			return ""
		}
		if code == "unauthorized_client" || code == "invalid_request" && strings.Contains(strings.ToLower(desc), "redirect") {
			return clip(strings.TrimSpace(code + ": " + desc))
		}
	}
	return ""
}
