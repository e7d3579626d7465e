package saml

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/gatehouse-idp/gatehouse/federation"
)

// maxMetadataSize bounds the IdP metadata read (one IdP, not a federation
// aggregate).
const maxMetadataSize = 4 << 20

// Refresh times of metadata read from a URL: its cacheDuration, within
// these bounds (default: a day), and not after its validUntil; after a
// failed fetch the old copy is kept and the next try waits retryAfter.
const (
	minRefresh = 5 * time.Minute
	maxRefresh = 24 * time.Hour
	retryAfter = 5 * time.Minute
)

// errUnreachable and errInvalidMetadata tell Check which problem a
// metadata error is.
var (
	errUnreachable     = errors.New("saml: IdP metadata unreachable")
	errInvalidMetadata = errors.New("saml: invalid IdP metadata")
)

// upstream is the IdP's metadata as last read; refreshAt is when to read
// it again (zero for inline metadata: never).
type upstream struct {
	desc      *crewjam.EntityDescriptor
	refreshAt time.Time
}

// idp returns the IdP's metadata, fetched again when it is due. When a
// refresh fails the copy in hand is kept (and used) until the next try.
func (c *Connector) idp(ctx context.Context, now time.Time) (*crewjam.EntityDescriptor, error) {
	c.mu.Lock()
	cur := c.up
	c.mu.Unlock()
	if cur.desc != nil && (c.settings.MetadataURL == "" || now.Before(cur.refreshAt)) {
		return cur.desc, nil
	}
	desc, err := c.fetchMetadata(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if cur.desc == nil {
			return nil, err
		}
		c.log.Warn("saml connector: IdP metadata refresh failed; keeping the copy in hand",
			"connector", c.id, "err", err)
		c.up.refreshAt = now.Add(retryAfter)
		return cur.desc, nil
	}
	c.up = upstream{desc: desc, refreshAt: refreshTime(desc, now)}
	return desc, nil
}

func refreshTime(desc *crewjam.EntityDescriptor, now time.Time) time.Time {
	d := desc.CacheDuration
	if d <= 0 {
		d = maxRefresh
	}
	d = min(max(d, minRefresh), maxRefresh)
	at := now.Add(d)
	if v := desc.ValidUntil; !v.IsZero() && v.Before(at) {
		at = v
		if soon := now.Add(minRefresh); at.Before(soon) {
			at = soon
		}
	}
	return at
}

// loadMetadata reads the IdP's metadata afresh: fetched from its URL, or
// the inline XML parsed again.
func (c *Connector) loadMetadata(ctx context.Context) (*crewjam.EntityDescriptor, error) {
	if c.settings.MetadataURL == "" {
		return parseMetadata([]byte(c.settings.Metadata), c.env.Dev)
	}
	return c.fetchMetadata(ctx)
}

// fetchMetadata fetches and parses the metadata at the settings' URL. Its
// errors wrap errUnreachable or errInvalidMetadata.
func (c *Connector) fetchMetadata(ctx context.Context) (*crewjam.EntityDescriptor, error) {
	raw := c.settings.MetadataURL
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnreachable, err)
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	resp, err := c.env.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnreachable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %s", errUnreachable, raw, resp.Status)
	}
	// A redirect must not lead off https either.
	if err := federation.CheckUpstreamURL(resp.Request.URL.String(), c.env.Dev); err != nil {
		return nil, fmt.Errorf("%w: redirected: %w", errUnreachable, err)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnreachable, err)
	}
	if len(data) > maxMetadataSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", errInvalidMetadata, maxMetadataSize)
	}
	return parseMetadata(data, c.env.Dev)
}

// parseMetadata reads an IdP's metadata: one IdP entity, with an SSO
// service by HTTP-Redirect or HTTP-POST at an upstream URL (https, or
// loopback http in dev). Its errors wrap errInvalidMetadata.
func parseMetadata(data []byte, dev bool) (*crewjam.EntityDescriptor, error) {
	if err := refuseDirectives(data); err != nil {
		return nil, fmt.Errorf("%w: %w", errInvalidMetadata, err)
	}
	desc, err := samlsp.ParseMetadata(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInvalidMetadata, err)
	}
	switch {
	case strings.TrimSpace(desc.EntityID) == "":
		return nil, fmt.Errorf("%w: no entityID", errInvalidMetadata)
	case len(desc.IDPSSODescriptors) == 0:
		return nil, fmt.Errorf("%w: no IDPSSODescriptor", errInvalidMetadata)
	}
	sp := crewjam.ServiceProvider{IDPMetadata: desc}
	found := false
	for _, b := range []string{crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding} {
		if loc := sp.GetSSOBindingLocation(b); loc != "" {
			if err := federation.CheckUpstreamURL(loc, dev); err != nil {
				return nil, fmt.Errorf("%w: SingleSignOnService: %w", errInvalidMetadata, err)
			}
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding", errInvalidMetadata)
	}
	if _, err := signingCertificates(desc); err != nil {
		return nil, err
	}
	return desc, nil
}

// signingCertificates are the certificates desc's IdP signs with (key
// descriptors of use "signing" or none).
func signingCertificates(desc *crewjam.EntityDescriptor) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, role := range desc.IDPSSODescriptors {
		for _, kd := range role.KeyDescriptors {
			if kd.Use != "" && kd.Use != "signing" {
				continue
			}
			for _, xc := range kd.KeyInfo.X509Data.X509Certificates {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(xc.Data), ""))
				if err != nil {
					return nil, fmt.Errorf("%w: signing certificate: %w", errInvalidMetadata, err)
				}
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					return nil, fmt.Errorf("%w: signing certificate: %w", errInvalidMetadata, err)
				}
				out = append(out, cert)
			}
		}
	}
	return out, nil
}

// Check reads the IdP's metadata afresh and reports what is wrong: it is
// unreachable or invalid, the certificates trusted to sign are missing,
// expired or expiring within 30 days, or the pinned certificate is no
// longer in the metadata (the IdP has rotated its key: logins fail until
// the pin is updated).
func (c *Connector) Check(ctx context.Context) []federation.Problem {
	now := c.env.Now()
	desc, err := c.loadMetadata(ctx)
	if err == nil {
		var certs []*x509.Certificate
		if certs, err = signingCertificates(desc); err == nil {
			return c.certificateProblems(certs, now)
		}
	}
	if errors.Is(err, errUnreachable) {
		return []federation.Problem{{Code: "unreachable",
			Message: fmt.Sprintf("The IdP metadata at %s could not be fetched: %v.", c.settings.MetadataURL, err)}}
	}
	return []federation.Problem{{Code: "invalid_metadata",
		Message: fmt.Sprintf("The IdP metadata cannot be used: %v.", err)}}
}

func (c *Connector) certificateProblems(inMetadata []*x509.Certificate, now time.Time) []federation.Problem {
	if c.pinned == nil {
		return federation.CertificateProblems(inMetadata, now)
	}
	problems := federation.CertificateProblems([]*x509.Certificate{c.pinned}, now)
	for _, cert := range inMetadata {
		if bytes.Equal(cert.Raw, c.pinned.Raw) {
			return problems
		}
	}
	return append(problems, federation.Problem{Code: "certificate_rotated",
		Message: fmt.Sprintf("The IdP has rotated its signing certificate: its metadata no longer lists the pinned certificate %q. "+
			"Logins fail until the connector's certificate is updated.", certificateName(c.pinned))})
}

func certificateName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.SerialNumber.String()
}
