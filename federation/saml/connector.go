package saml

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Connector is one live upstream SAML IdP.
type Connector struct {
	id       string
	settings federation.SAMLSettings
	env      federation.Env
	log      *slog.Logger

	entityID string
	metadata url.URL
	acs      url.URL

	// key and cert are the SP's key pair (nil: the SP signs nothing).
	key  *rsa.PrivateKey
	cert *x509.Certificate
	// pinned, when not nil, is the only certificate trusted to sign.
	pinned *x509.Certificate

	mu sync.Mutex
	up upstream // the IdP's metadata as last read
}

var (
	_ federation.Connector = (*Connector)(nil)
	_ federation.Metadata  = (*Connector)(nil)
	_ federation.Opener    = Open
	_ slog.LogValuer       = (*Connector)(nil)
)

// defaultHTTP fetches metadata when env.HTTP is nil.
var defaultHTTP = &http.Client{Timeout: 10 * time.Second}

// Open builds the connector c from its settings (federation.DecodeSAML),
// its sealed SP key and the IdP's metadata. Settings, keys and inline
// metadata that cannot work are errors; metadata at a URL that cannot be
// fetched now is fetched again at the next login (and Check reports it).
func Open(ctx context.Context, c storage.Connector, env federation.Env) (federation.Connector, error) {
	s, err := federation.DecodeSAML(c.Config, env.Dev)
	if err != nil {
		return nil, fmt.Errorf("saml connector %q: %w", c.ID, err)
	}
	switch {
	case c.Type != storage.ConnectorSAML:
		return nil, fmt.Errorf("saml connector %q: type is %q", c.ID, c.Type)
	case env.Issuer == "", env.Now == nil, env.Assertions == nil:
		return nil, fmt.Errorf("saml connector %q: env needs Issuer, Now and Assertions", c.ID)
	}
	conn := &Connector{id: c.ID, settings: s, env: env, log: env.Logger}
	if conn.log == nil {
		conn.log = slog.Default()
	}
	if conn.env.HTTP == nil {
		conn.env.HTTP = defaultHTTP
	}
	if err := conn.setURLs(); err != nil {
		return nil, fmt.Errorf("saml connector %q: %w", c.ID, err)
	}
	if s.Certificate != "" {
		if conn.pinned, err = parseCertificatePEM(s.Certificate); err != nil {
			return nil, fmt.Errorf("saml connector %q: pinned certificate: %w", c.ID, err)
		}
	}
	if conn.key, conn.cert, err = spKeyPair(c.SecretSealed, s.SPCertificate, env.Open); err != nil {
		return nil, fmt.Errorf("saml connector %q: %w", c.ID, err)
	}
	if s.Metadata != "" {
		desc, err := parseMetadata([]byte(s.Metadata), env.Dev)
		if err != nil {
			return nil, fmt.Errorf("saml connector %q: %w", c.ID, err)
		}
		conn.up = upstream{desc: desc}
		return conn, nil
	}
	if _, err := conn.idp(ctx, env.Now()); err != nil {
		conn.log.Warn("saml connector: IdP metadata not read; trying again at the next login",
			"connector", c.ID, "err", err)
	}
	return conn, nil
}

func (c *Connector) setURLs() error {
	urls := federation.URLsFor(c.env.Issuer, c.id)
	md, err := url.Parse(urls.Metadata)
	if err != nil {
		return err
	}
	acs, err := url.Parse(urls.ACS)
	if err != nil {
		return err
	}
	c.entityID, c.metadata, c.acs = urls.Metadata, *md, *acs
	return nil
}

// LogValue names the connector without its keys.
func (c *Connector) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", storage.ConnectorSAML), slog.String("id", c.id))
}

// serviceProvider is the crewjam SP for one call, with idp as the IdP's
// metadata and now as its clock (crewjam reads ServiceProvider.Clock for
// every time check and certificate validity; its package-level TimeNow
// is only a fallback, which we never use).
func (c *Connector) serviceProvider(idp *crewjam.EntityDescriptor, now time.Time) *crewjam.ServiceProvider {
	sp := &crewjam.ServiceProvider{
		EntityID:                         c.entityID,
		MetadataURL:                      c.metadata,
		AcsURL:                           c.acs,
		IDPMetadata:                      idp,
		AuthnNameIDFormat:                crewjam.UnspecifiedNameIDFormat,
		AssertionConsumerServiceBindings: []string{crewjam.HTTPPostBinding},
		// The metadata is handed to the IdP's administrators once: it
		// must not expire in their IdP two days later.
		MetadataOmitValidUntil: true,
		AllowIDPInitiated:      false,
		RejectSHA1Signatures:   true,
		HTTPClient:             c.env.HTTP,
		Clock:                  dsig.NewFakeClockAt(now),
	}
	if c.key != nil {
		sp.Key, sp.Certificate = c.key, c.cert
		// Named explicitly: with an empty SignatureMethod crewjam
		// sends requests unsigned, and no default is left to choose.
		sp.SignatureMethod = dsig.RSASHA256SignatureMethod
	}
	if c.pinned != nil {
		// crewjam then trusts this certificate alone, not the metadata's.
		pin := base64.StdEncoding.EncodeToString(c.pinned.Raw)
		sp.IDPCertificate = &pin
	}
	return sp
}

// Metadata is the SP's metadata XML, for the IdP's administrators: entity
// id, the ACS (HTTP-POST), WantAssertionsSigned, and with a key pair the SP
// certificate (signing and encryption) and AuthnRequestsSigned.
func (c *Connector) Metadata(ctx context.Context) ([]byte, error) {
	sp := c.serviceProvider(&crewjam.EntityDescriptor{}, c.env.Now())
	out, err := xml.MarshalIndent(sp.Metadata(), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("saml connector %q: metadata: %w", c.id, err)
	}
	return append([]byte(xml.Header), out...), nil
}

// loginState is Start.State: what Finish needs of the login Begin started.
type loginState struct {
	RequestID string    `json:"request_id"`
	Relay     string    `json:"relay"`
	At        time.Time `json:"at"`
}

// Begin makes an AuthnRequest for the IdP: by HTTP-Redirect when the IdP
// offers it, otherwise by HTTP-POST (Start.Form), signed when the SP has a
// key, with relay as its RelayState.
func (c *Connector) Begin(ctx context.Context, relay string) (federation.Start, error) {
	if relay == "" {
		return federation.Start{}, errors.New("saml: Begin needs a relay")
	}
	now := c.env.Now()
	idp, err := c.idp(ctx, now)
	if err != nil {
		return federation.Start{}, err
	}
	sp := c.serviceProvider(idp, now)
	var start federation.Start
	var id string
	if loc := sp.GetSSOBindingLocation(crewjam.HTTPRedirectBinding); loc != "" {
		req, err := sp.MakeAuthenticationRequest(loc, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
		if err != nil {
			return start, fmt.Errorf("saml: authn request: %w", err)
		}
		u, err := req.Redirect(relay, sp)
		if err != nil {
			return start, fmt.Errorf("saml: authn request: %w", err)
		}
		start.URL, id = u.String(), req.ID
	} else {
		loc := sp.GetSSOBindingLocation(crewjam.HTTPPostBinding)
		req, err := sp.MakeAuthenticationRequest(loc, crewjam.HTTPPostBinding, crewjam.HTTPPostBinding)
		if err != nil {
			return start, fmt.Errorf("saml: authn request: %w", err)
		}
		form, err := postForm(req, relay)
		if err != nil {
			return start, err
		}
		start.URL, start.Form, id = loc, form, req.ID
	}
	if start.State, err = json.Marshal(loginState{RequestID: id, Relay: relay, At: now}); err != nil {
		return federation.Start{}, err
	}
	return start, nil
}

// postForm is the HTTP-POST binding's form for req.
func postForm(req *crewjam.AuthnRequest, relay string) (map[string]string, error) {
	doc := etree.NewDocument()
	doc.SetRoot(req.Element())
	buf, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("saml: authn request: %w", err)
	}
	return map[string]string{
		"SAMLRequest": base64.StdEncoding.EncodeToString(buf),
		"RelayState":  relay,
	}, nil
}
