package samlidp

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/ui"
)

// Protocol is the SAML door's name on auth requests and in the flow's
// registry.
const Protocol = "saml"

// The door's endpoints.
const (
	PathMetadata = "/saml/metadata"
	PathSSO      = "/saml/sso"
	PathContinue = "/saml/continue"
	PathInit     = "/saml/init"
	PathSLO      = "/saml/slo"
	// PathSLONext drives a single logout from one service provider to the
	// next; the browser arrives there by GET, with its cookies.
	PathSLONext = "/saml/slo/next"
)

// SigningKey is the key that signs assertions now, with its certificate.
type SigningKey struct {
	ID          string
	Key         *rsa.PrivateKey
	Certificate *x509.Certificate
}

// Keys is what the door needs of the SAML key manager (idp/keys).
type Keys interface {
	Signer(ctx context.Context) (SigningKey, error)
	// Certificates are the published signing certificates: during a
	// rotation the next one (and a retired one in its grace) beside the
	// current one. The current one may be among them.
	Certificates(ctx context.Context) ([]*x509.Certificate, error)
}

// Store is the storage the door uses. It writes no auth request: authflow
// moves them.
type Store interface {
	GetServiceProvider(ctx context.Context, entityID string) (storage.ServiceProvider, error)
	ListServiceProviders(ctx context.Context) ([]storage.ServiceProvider, error)
	UseSAMLRequestID(ctx context.Context, entityID, id string, expiresAt, now time.Time) error
	PersistentNameID(ctx context.Context, entityID, userID, candidate string) (string, error)
	AddSAMLParticipant(ctx context.Context, p storage.SAMLParticipant) error
	ListSAMLParticipants(ctx context.Context, sessionHash string, now time.Time) ([]storage.SAMLParticipant, error)
	DeleteSAMLParticipants(ctx context.Context, sessionHash string) error
	CreateSAMLLogout(ctx context.Context, l storage.SAMLLogout) error
	GetSAMLLogout(ctx context.Context, id string, now time.Time) (storage.SAMLLogout, error)
	UpdateSAMLLogout(ctx context.Context, id string, now time.Time, fn func(storage.SAMLLogout) (storage.SAMLLogout, error)) (storage.SAMLLogout, error)
	DeleteSAMLLogout(ctx context.Context, id string) error
	GetUser(ctx context.Context, id string) (storage.User, error)
	GetOrganization(ctx context.Context, id string) (storage.Organization, error)
	GetLink(ctx context.Context, connectorID, subject string) (storage.Link, error)
}

var _ Store = storage.Storage(nil)

// Sessions is what the door needs of the browser session manager.
type Sessions interface {
	Browser(r *http.Request) (session.Browser, error)
}

// Pages are the user-facing pages the door answers with (ui.Handlers).
type Pages interface {
	// Error renders a generic error page.
	Error(w http.ResponseWriter, r *http.Request, status int, msg string)
	// AutoPost answers with a page that posts fields to action (the
	// HTTP-POST binding).
	AutoPost(w http.ResponseWriter, r *http.Request, action string, fields url.Values)
	// EndSession ends the browser's Gatehouse session; false when it
	// could not (the page is written).
	EndSession(w http.ResponseWriter, r *http.Request) bool
	// LoggedOut renders the signed-out page.
	LoggedOut(w http.ResponseWriter, r *http.Request, clientName string)
	// SingleLogoutDone renders the end of a single logout that did not
	// go cleanly: what each service provider answered, and the way back
	// to the one that asked.
	SingleLogoutDone(w http.ResponseWriter, r *http.Request, d ui.SingleLogoutData)
}

// Options configure the door.
type Options struct {
	// Issuer is Gatehouse's issuer URL; the IdP's entity id is
	// Issuer + PathMetadata.
	Issuer   string
	Store    Store
	Flow     *authflow.Flow
	Keys     Keys
	Sessions Sessions
	Pages    Pages
	Audit    *audit.Recorder
	Now      func() time.Time
	Logger   *slog.Logger
	// LoginURL is where a new request sends the browser to log in.
	LoginURL func(authRequestID string) string
}

// Provider is the SAML front door.
type Provider struct {
	opts                         Options
	entityID, ssoURL, sloURL     url.URL
	continueBase, nextBase, base string
}

// New checks opts and builds the door.
func New(opts Options) (*Provider, error) {
	switch {
	case opts.Store == nil, opts.Flow == nil, opts.Keys == nil, opts.Sessions == nil, opts.Pages == nil, opts.LoginURL == nil:
		return nil, errors.New("samlidp: Store, Flow, Keys, Sessions, Pages and LoginURL are required")
	}
	base, err := url.Parse(opts.Issuer)
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") {
		return nil, fmt.Errorf("samlidp: issuer %q is not an http(s) URL", opts.Issuer)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	at := func(path string) url.URL {
		u := *base
		u.Path = base.Path + path
		return u
	}
	p := &Provider{opts: opts, entityID: at(PathMetadata), ssoURL: at(PathSSO), sloURL: at(PathSLO)}
	p.base = opts.Issuer
	p.continueBase = opts.Issuer + PathContinue
	p.nextBase = opts.Issuer + PathSLONext
	return p, nil
}

// EntityID is the IdP's entity id (its metadata URL).
func (p *Provider) EntityID() string { return p.entityID.String() }

// Mount registers the door's endpoints.
func (p *Provider) Mount(handle func(pattern string, h http.Handler)) {
	handle("GET "+PathMetadata, http.HandlerFunc(p.serveMetadata))
	handle("GET "+PathSSO, http.HandlerFunc(p.serveSSO))
	handle("POST "+PathSSO, http.HandlerFunc(p.serveSSO))
	handle("GET "+PathContinue, http.HandlerFunc(p.serveContinue))
	handle("GET "+PathInit, http.HandlerFunc(p.serveInit))
	handle("GET "+PathSLO, http.HandlerFunc(p.serveSLO))
	handle("POST "+PathSLO, http.HandlerFunc(p.serveSLO))
	handle("GET "+PathSLONext, http.HandlerFunc(p.serveSLONext))
}

func (p *Provider) now() time.Time { return p.opts.Now().UTC() }

// Authentication context classes the door asserts and understands.
const (
	ClassPasswordProtectedTransport = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	// ClassREFEDSMFA is the REFEDS MFA profile: a second factor was used.
	ClassREFEDSMFA = "https://refeds.org/profile/mfa"
)

// classStrengths ranks the classes for RequestedAuthnContext comparisons:
// crewjam's defaults, with the REFEDS MFA profile above every
// single-factor class (a password plus a second factor).
func classStrengths() map[string]int {
	m := saml.DefaultAuthnContextClassStrengths()
	m[ClassREFEDSMFA] = m[ClassPasswordProtectedTransport] + 1
	return m
}

// identityProvider builds the library's IdP for one request, with the key
// that signs now: a rotation is seen by the next request, on every
// instance, without restarting anything.
func (p *Provider) identityProvider(ctx context.Context) (*saml.IdentityProvider, error) {
	k, err := p.opts.Keys.Signer(ctx)
	if err != nil {
		return nil, fmt.Errorf("samlidp: signing key: %w", err)
	}
	certs, err := p.opts.Keys.Certificates(ctx)
	if err != nil {
		return nil, fmt.Errorf("samlidp: certificates: %w", err)
	}
	var extra []*x509.Certificate
	for _, c := range certs {
		if !c.Equal(k.Certificate) {
			extra = append(extra, c)
		}
	}
	valid := metadataValidity
	return &saml.IdentityProvider{
		Key:               k.Key,
		Certificate:       k.Certificate,
		ExtraCertificates: extra,
		Logger:            slogLogger{p.opts.Logger},
		MetadataURL:       p.entityID,
		SSOURL:            p.ssoURL,
		LogoutURL:         p.sloURL,
		LogoutBindings:    []string{saml.HTTPRedirectBinding, saml.HTTPPostBinding},
		ValidDuration:     &valid,
		NameIDFormats: []saml.NameIDFormat{saml.PersistentNameIDFormat, saml.EmailAddressNameIDFormat,
			saml.TransientNameIDFormat, saml.UnspecifiedNameIDFormat},
		ServiceProviderProvider: spProvider{p},
		SessionProvider:         sessionProvider{p},
		ResponseWriter:          responseWriter{p},
		OnError:                 p.onError,
		// crewjam falls back to RSA-SHA1 when this is empty.
		SignatureMethod:      dsig.RSASHA256SignatureMethod,
		Clock:                dsig.NewFakeClockAt(p.now()),
		RejectSHA1Signatures: true,
		// AES-256-GCM for the assertion, its key wrapped with RSA-OAEP.
		AssertionEncrypter:           assertionEncrypter(),
		LimitRelayStateLength:        true,
		SendErrorResponses:           true,
		EnforceNameIDPolicy:          true,
		EnforceRequestedAuthnContext: true,
		AuthnContextClassStrengths:   classStrengths(),
	}, nil
}

func assertionEncrypter() xmlenc.Encrypter {
	e := xmlenc.OAEP()
	e.BlockCipher = xmlenc.AES256GCM
	return e
}

// metadataValidity is the validUntil of the metadata: service providers
// that cache it fetch it again within a day, so a rotated key is seen.
const metadataValidity = 48 * time.Hour

// spProvider looks service providers up for the library.
type spProvider struct{ p *Provider }

// GetServiceProvider returns the provider's metadata, adjusted by its
// settings: a provider that must sign its requests is treated as if its
// metadata said AuthnRequestsSigned, so the library refuses unsigned ones.
func (s spProvider) GetServiceProvider(r *http.Request, entityID string) (*saml.EntityDescriptor, error) {
	sp, err := s.p.opts.Store.GetServiceProvider(r.Context(), entityID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, os.ErrNotExist
	} else if err != nil {
		return nil, err
	}
	return descriptor(sp)
}

// descriptor parses a stored provider's metadata for the library (it was
// checked when it was stored) and applies the provider's settings.
func descriptor(sp storage.ServiceProvider) (*saml.EntityDescriptor, error) {
	ed, err := parseEntity(sp.Metadata)
	if err != nil {
		return nil, fmt.Errorf("samlidp: metadata of %q: %w", sp.EntityID, err)
	}
	if ed.EntityID != sp.EntityID {
		return nil, fmt.Errorf("samlidp: metadata of %q names %q", sp.EntityID, ed.EntityID)
	}
	for i := range ed.SPSSODescriptors {
		d := &ed.SPSSODescriptors[i]
		if sp.Settings.RequireSignedRequests {
			yes := true
			d.AuthnRequestsSigned = &yes
		}
		if !sp.Settings.EncryptAssertions {
			// The library encrypts to any encryption certificate in
			// the metadata; whether to is the provider's setting.
			d.KeyDescriptors = signingOnly(d.KeyDescriptors)
		}
	}
	return ed, nil
}

// signingOnly drops the encryption keys; a key without a use is for both
// and is kept as a signing key.
func signingOnly(kds []saml.KeyDescriptor) []saml.KeyDescriptor {
	out := make([]saml.KeyDescriptor, 0, len(kds))
	for _, kd := range kds {
		switch kd.Use {
		case "encryption":
			continue
		case "":
			kd.Use = "signing"
		}
		out = append(out, kd)
	}
	return out
}

// parseEntity reads an EntityDescriptor, or an EntitiesDescriptor that
// holds one service provider.
func parseEntity(data []byte) (*saml.EntityDescriptor, error) {
	var ed saml.EntityDescriptor
	err := xml.Unmarshal(data, &ed)
	if err == nil && ed.EntityID != "" {
		return &ed, nil
	}
	var eds saml.EntitiesDescriptor
	if err2 := xml.Unmarshal(data, &eds); err2 == nil {
		for i := range eds.EntityDescriptors {
			if len(eds.EntityDescriptors[i].SPSSODescriptors) > 0 {
				return &eds.EntityDescriptors[i], nil
			}
		}
	}
	if err == nil {
		err = errors.New("no entity descriptor")
	}
	return nil, err
}

// slogLogger gives the library our logger.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) {
	s.l.Info("saml", "msg", fmt.Sprintf(format, v...))
}
func (s slogLogger) Print(v ...any)   { s.l.Info("saml", "msg", fmt.Sprint(v...)) }
func (s slogLogger) Println(v ...any) { s.l.Info("saml", "msg", fmt.Sprint(v...)) }
func (s slogLogger) Fatal(v ...any)   { s.l.Error("saml", "msg", fmt.Sprint(v...)) }
func (s slogLogger) Fatalf(format string, v ...any) {
	s.l.Error("saml", "msg", fmt.Sprintf(format, v...))
}
func (s slogLogger) Fatalln(v ...any) { s.l.Error("saml", "msg", fmt.Sprint(v...)) }
func (s slogLogger) Panic(v ...any)   { s.l.Error("saml", "msg", fmt.Sprint(v...)) }
func (s slogLogger) Panicf(format string, v ...any) {
	s.l.Error("saml", "msg", fmt.Sprintf(format, v...))
}
func (s slogLogger) Panicln(v ...any) { s.l.Error("saml", "msg", fmt.Sprint(v...)) }

// Messages for the user; the detail goes to the log.
const (
	msgBadRequest   = "This sign-in request from the application is not valid. Please go back to the application and try again."
	msgReplayed     = "This sign-in request was already used. Please go back to the application and start again."
	msgUnknownApp   = "This application is not set up for sign-in here. Please contact your administrator."
	msgLinkExpired  = "This sign-in link has expired. Please start again from the application."
	msgUnavailable  = "Sign-in is temporarily unavailable. Please try again."
	msgOtherBrowser = "This sign-in could not be completed in this browser. Please start again from the application."
	msgCompleted    = "This sign-in was already completed. Please start again from the application."
	msgBadLogout    = "This sign-out request is not valid. You may still be signed in: sign out from the application again."
)

// onError is the library's error hook: the user gets a generic page, the
// log the detail. Nothing the library fails on is our fault or an outage
// but the keys and storage, which reach here as 500s: those are 503s, and
// never a 500.
func (p *Provider) onError(w http.ResponseWriter, r *http.Request, status int, err error) {
	msg := msgBadRequest
	switch {
	case errors.Is(err, saml.ErrUnknownServiceProvider):
		msg = msgUnknownApp
	case status >= 500:
		status, msg = http.StatusServiceUnavailable, msgUnavailable
	}
	p.fail(w, r, "saml", err, status, msg)
}

// fail logs the detail and shows the user a generic page.
func (p *Provider) fail(w http.ResponseWriter, r *http.Request, what string, err error, status int, msg string) {
	lvl := p.opts.Logger.InfoContext
	if status >= 500 {
		lvl = p.opts.Logger.WarnContext
	}
	lvl(r.Context(), what, "status", status, "err", err)
	p.opts.Pages.Error(w, r, status, msg)
}

// responseWriter sends the library's Responses (successful or not) with
// the pages' auto-posting form, which works under our CSP and without
// JavaScript.
type responseWriter struct{ p *Provider }

func (rw responseWriter) WriteResponse(w http.ResponseWriter, req *saml.IdpAuthnRequest) error {
	form, err := req.PostBinding()
	if err != nil {
		return err
	}
	rw.p.post(w, req.HTTPRequest, form)
	return nil
}

func (p *Provider) post(w http.ResponseWriter, r *http.Request, form saml.IdpAuthnRequestForm) {
	fields := url.Values{"SAMLResponse": {form.SAMLResponse}}
	if form.RelayState != "" {
		fields.Set("RelayState", form.RelayState)
	}
	p.opts.Pages.AutoPost(w, r, form.URL, fields)
}
