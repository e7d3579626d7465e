package instance

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/csrf"
	"github.com/gatehouse-idp/gatehouse/idp/httpserver"
	"github.com/gatehouse-idp/gatehouse/idp/keys"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/oidcop"
	"github.com/gatehouse-idp/gatehouse/idp/samlidp"
	"github.com/gatehouse-idp/gatehouse/idp/samlidp/spmeta"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/ui"
	"github.com/gatehouse-idp/gatehouse/ui/console"
)

// ClientInputs converts the config file's clients for reconciliation.
func ClientInputs(cfg config.Config) []clients.Input {
	out := make([]clients.Input, 0, len(cfg.Clients))
	for _, cl := range cfg.Clients {
		out = append(out, cl.Input())
	}
	return out
}

// ConnectorInputs converts the config file's connectors for
// reconciliation.
func ConnectorInputs(cfg config.Config) []admin.ConnectorInput {
	out := make([]admin.ConnectorInput, 0, len(cfg.Connectors))
	for _, cn := range cfg.Connectors {
		in := admin.ConnectorInput{ID: cn.ID, Org: cn.Org, Type: cn.Type, Name: cn.Name, Domains: cn.Domains,
			TrustEmail: cn.TrustEmail, TrustMFA: cn.TrustMFA, JIT: cn.JIT, RequireSSO: cn.RequireSSO, Enabled: cn.Enabled}
		if cn.OIDC != nil {
			o := cn.OIDC.OIDCSettings()
			in.OIDC, in.ClientSecret = &o, cn.OIDC.ClientSecret.Reveal()
		}
		if cn.SAML != nil {
			s := cn.SAML.SAMLSettings()
			in.SAML = &s
		}
		out = append(out, in)
	}
	return out
}

// Start prepares a serving instance: signing keys (OIDC and SAML) exist
// and the config file's clients and connectors are in storage. Every
// instance may run it at once.
func (i *Instance) Start(ctx context.Context) error {
	if err := i.ensureKeys(ctx); err != nil {
		return err
	}
	if err := i.Admin.ReconcileConfigClients(ctx, ClientInputs(i.Config)); err != nil {
		return fmt.Errorf("clients from config: %w", err)
	}
	if err := i.Admin.ReconcileConfigConnectors(ctx, ConnectorInputs(i.Config)); err != nil {
		return fmt.Errorf("connectors from config: %w", err)
	}
	sps, err := ServiceProviderInputs(i.Config)
	if err != nil {
		return fmt.Errorf("SAML service providers from config: %w", err)
	}
	if err := i.Admin.ReconcileConfigServiceProviders(ctx, sps); err != nil {
		return fmt.Errorf("SAML service providers from config: %w", err)
	}
	return nil
}

// ServiceProviderInputs converts the config file's SAML service
// providers for reconciliation, reading metadata_file.
func ServiceProviderInputs(cfg config.Config) ([]admin.SPInput, error) {
	out := make([]admin.SPInput, 0, len(cfg.SAML.ServiceProviders))
	for i, sp := range cfg.SAML.ServiceProviders {
		in := admin.SPInput{EntityID: sp.EntityID, Name: sp.Name, MetadataURL: sp.MetadataURL,
			NameIDFormat: sp.NameIDFormat, NameIDFormats: sp.NameIDFormats, AllowIdPInitiated: sp.AllowIdPInitiated,
			DefaultRelayState: sp.DefaultRelayState, SignResponse: sp.SignResponse, EncryptAssertions: sp.EncryptAssertions,
			RequireSignedRequests: sp.RequireSignedRequests, RequireMFA: sp.RequireMFA, MetadataSigner: sp.MetadataSigner}
		for _, a := range sp.Attributes {
			in.Attributes = append(in.Attributes, storage.SAMLAttribute{Source: a.Source, Name: a.Name, NameFormat: a.NameFormat,
				FriendlyName: a.FriendlyName})
		}
		switch {
		case sp.Metadata != "":
			in.Metadata = []byte(sp.Metadata)
		case sp.MetadataFile != "":
			b, err := readLimited(sp.MetadataFile, spmeta.MaxSize)
			if err != nil {
				return nil, fmt.Errorf("saml.service_providers[%d].metadata_file: %w", i, err)
			}
			in.Metadata = b
		}
		out = append(out, in)
	}
	return out, nil
}

// readLimited reads a file of at most max bytes.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}

// ensureKeys runs the OIDC and SAML Ensures side by side: on a fresh
// database each makes an RSA key, which dominates the start.
func (i *Instance) ensureKeys(ctx context.Context) error {
	var oidcErr, samlErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := i.Keys.Ensure(ctx); err != nil {
			oidcErr = fmt.Errorf("signing keys: %w", err)
		}
	})
	wg.Go(func() {
		if err := i.SAMLKeys.Ensure(ctx); err != nil {
			samlErr = fmt.Errorf("SAML signing keys: %w", err)
		}
	})
	wg.Wait()
	return errors.Join(oidcErr, samlErr)
}

// derive gives each consumer of the master key its own key, so that no two
// uses (cookies, CSRF, the OIDC library) ever share one.
func (i *Instance) derive(purpose string) ([]byte, error) {
	return hkdf.Key(sha256.New, i.masterRaw, nil, "gatehouse "+purpose, 32)
}

// Web is the assembled browser- and protocol-facing part.
type Web struct {
	OIDC     *oidcop.Provider
	SAML     *samlidp.Provider
	Pages    *ui.Handlers
	Console  *console.Handlers
	Sessions *session.Manager
}

// NewServer builds the HTTP server with every route mounted.
// ErrResetNeedsMail: forgot-password is on but no email can be sent.
var ErrResetNeedsMail = errors.New(`"forgot password" (reset.enabled, on by default) sends email, and no email is configured: ` +
	"set smtp.host and smtp.from (see README, Email), or set reset.enabled: false")

func (i *Instance) NewServer(hopts httpserver.Options) (*httpserver.Server, *Web, error) {
	if hopts.Logger == nil {
		hopts.Logger = i.Logger
	}
	if hopts.Ready == nil {
		hopts.Ready = i.Store.Ping
	}
	if i.Config.Reset.Enabled && !i.MailConfigured() {
		// The login page would offer "Forgot password?" and every use of
		// it would fail: refuse now, and say what to change.
		return nil, nil, ErrResetNeedsMail
	}
	secure := strings.HasPrefix(i.Config.Issuer, "https://")
	hopts.IssuerHTTPS = secure
	srv := httpserver.New(hopts)

	web, err := i.newWeb(secure)
	if err != nil {
		return nil, nil, err
	}
	web.OIDC.Mount(srv.Handle)
	web.SAML.Mount(srv.Handle)
	web.Pages.Mount(srv.Handle)
	web.Console.Mount(srv.Handle)
	api := &admin.API{Service: i.Admin, Logger: i.Logger, Authenticate: func(r *http.Request) (admin.Principal, error) {
		b, err := web.OIDC.AuthenticateBearer(r)
		return admin.Principal{Subject: b.Subject, Admin: b.Admin, OrgAdminOf: b.OrgAdminOf}, err
	}}
	api.Mount(srv)
	return srv, web, nil
}

func (i *Instance) newWeb(secure bool) (*Web, error) {
	sessSecret, err := i.derive("session cookie")
	if err != nil {
		return nil, err
	}
	csrfSecret, err := i.derive("csrf")
	if err != nil {
		return nil, err
	}
	opCrypto, err := i.derive("oidc library crypto")
	if err != nil {
		return nil, err
	}
	sessions, err := session.New(session.Options{Store: i.Store, Secret: sessSecret, Secure: secure, Now: i.Now,
		IP: httpserver.ClientIP, Logger: i.Logger})
	if err != nil {
		return nil, err
	}
	render, err := ui.New(ui.Options{ProductName: "Gatehouse"})
	if err != nil {
		return nil, err
	}
	pages := &ui.Handlers{Flow: i.Flow, Sessions: sessions, Render: render, Logger: i.Logger, RequestID: httpserver.RequestID,
		DiscoveryURL: i.Config.Issuer + oidcop.PathDiscovery, ClientIP: httpserver.ClientIP, MinLength: i.rules.MinLength}
	pages.Self, pages.Forgot, pages.Factors = i.SelfService, i.Config.Reset.Enabled, i.SelfService
	pages.Issuer, pages.SecureCookies, pages.SSOOffered = i.Config.Issuer, secure, i.Connectors.Offered
	pages.Links, pages.Devices, pages.Profiles = i.Admin, i.SelfService, i.SelfService
	pages.Brands = brands{i.Store}
	prot, err := csrf.New(csrf.Options{Secret: csrfSecret, Secure: secure, AllowedOrigins: []string{i.Config.Issuer},
		Logger: i.Logger, Reject: func(w http.ResponseWriter, r *http.Request, status int) {
			pages.Error(w, r, status, "This form has expired. Please go back and try again.")
		}})
	if err != nil {
		return nil, err
	}
	pages.CSRF = prot
	var key [32]byte
	copy(key[:], opCrypto)
	provider, err := oidcop.New(oidcop.Options{
		Issuer: i.Config.Issuer, Store: i.Store, Flow: i.Flow, Keys: oidcKeys{i.Keys}, Sessions: sessions,
		Audit: i.Audit, Now: i.Now, Logger: i.Logger, CryptoKey: key, LoginURL: ui.LoginURL,
		Insecure: !secure, Pages: pages,
	})
	if err != nil {
		return nil, err
	}
	i.Flow.Sessions = sessions
	i.Flow.RegisterDoor(oidcop.Protocol, provider)
	i.Flow.RegisterDoor(ui.AccountProtocol, pages.AccountDoor())
	// The console asks admins for a second factor unless configured not
	// to (console.require_mfa): the server always has one to offer
	// (authenticator apps).
	cons := &console.Handlers{Flow: i.Flow, Sessions: sessions, Admin: i.Admin, CSRF: prot, Assets: render, Logger: i.Logger,
		RequireMFA: i.Config.Console.RequireMFA, Methods: mfa.Known,
		Lockout: console.Lockout{MaxFailures: i.Config.Lockout.MaxFailures, Duration: i.Config.Lockout.Duration},
		Apps:    i.Admin, Integration: integration(i.Config.Issuer), Connectors: i.Admin, Keys: i.Admin}
	if err := cons.New(); err != nil {
		return nil, err
	}
	i.Flow.RegisterDoor(console.Protocol, cons.Door())
	samlDoor, err := i.newSAML(sessions, pages)
	if err != nil {
		return nil, err
	}
	if err := pages.CheckDoors(); err != nil {
		return nil, err
	}
	return &Web{OIDC: provider, SAML: samlDoor, Pages: pages, Console: cons, Sessions: sessions}, nil
}

// oidcKeys adapts the key manager to what the provider consumes.
type oidcKeys struct{ m *keys.Manager }

func (k oidcKeys) Signer(ctx context.Context, alg string) (oidcop.SigningKey, error) {
	s, err := k.m.Signer(ctx, alg)
	return oidcop.SigningKey(s), err
}

func (k oidcKeys) PublicKeys(ctx context.Context) ([]oidcop.PublicKey, error) {
	pubs, err := k.m.PublicKeys(ctx)
	out := make([]oidcop.PublicKey, len(pubs))
	for j, p := range pubs {
		out[j] = oidcop.PublicKey(p)
	}
	return out, err
}

// integration is what the console's integration panels show: this
// server's endpoints.
func integration(issuer string) console.Integration {
	return console.Integration{Issuer: issuer, Discovery: issuer + oidcop.PathDiscovery, Authorize: issuer + oidcop.PathAuthorize,
		Token: issuer + oidcop.PathToken, Userinfo: issuer + oidcop.PathUserinfo, EndSession: issuer + oidcop.PathEndSession,
		JWKS: issuer + oidcop.PathKeys, SAMLEntityID: issuer + samlidp.PathMetadata, SAMLMetadata: issuer + samlidp.PathMetadata,
		SAMLSSO: issuer + samlidp.PathSSO, SAMLSLO: issuer + samlidp.PathSLO}
}

// brands gives the sign-in pages the look of the organization a login
// belongs to (storage.Organization.Branding).
type brands struct{ st storage.Storage }

var _ ui.Brands = brands{}

func (b brands) org(ctx context.Context, orgID string) (ui.Brand, bool, error) {
	o, err := b.st.GetOrganization(ctx, orgID)
	if errors.Is(err, storage.ErrNotFound) {
		return ui.Brand{}, false, nil
	} else if err != nil {
		return ui.Brand{}, false, fmt.Errorf("brand: %w", err)
	}
	if !o.Branding.Branded() {
		return ui.Brand{}, false, nil
	}
	return ui.Brand{Name: o.DisplayName, LogoURL: o.Branding.LogoURL, Accent: o.Branding.Accent}, true, nil
}

func (b brands) UserBrand(ctx context.Context, userID string) (ui.Brand, bool, error) {
	u, err := b.st.GetUser(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return ui.Brand{}, false, nil
	} else if err != nil {
		return ui.Brand{}, false, fmt.Errorf("brand: %w", err)
	}
	return b.org(ctx, u.OrgID)
}

func (b brands) ConnectorBrand(ctx context.Context, connectorID string) (ui.Brand, bool, error) {
	c, err := b.st.GetConnector(ctx, connectorID)
	if errors.Is(err, storage.ErrNotFound) {
		return ui.Brand{}, false, nil
	} else if err != nil {
		return ui.Brand{}, false, fmt.Errorf("brand: %w", err)
	}
	return b.org(ctx, c.OrgID)
}
