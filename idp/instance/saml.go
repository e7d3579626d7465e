package instance

import (
	"context"
	"crypto/x509"
	"slices"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/keys"
	"github.com/gatehouse-idp/gatehouse/idp/samlidp"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/ui"
)

// newSAML builds the SAML front door and registers it with the flow.
func (i *Instance) newSAML(sessions *session.Manager, pages *ui.Handlers) (*samlidp.Provider, error) {
	p, err := samlidp.New(samlidp.Options{Issuer: i.Config.Issuer, Store: i.Store, Flow: i.Flow, Keys: samlKeys{i.SAMLKeys},
		Sessions: sessions, Pages: pages, Audit: i.Audit, Now: i.Now, Logger: i.Logger, LoginURL: ui.LoginURL})
	if err != nil {
		return nil, err
	}
	i.Flow.RegisterDoor(samlidp.Protocol, p)
	pages.Apps = myApps{saml: p, store: i.Store}
	pages.SingleLogout = p
	return p, nil
}

// samlKeys adapts the SAML key manager to what the door consumes.
type samlKeys struct{ m *keys.SAMLManager }

func (k samlKeys) Signer(ctx context.Context) (samlidp.SigningKey, error) {
	s, err := k.m.Signer(ctx)
	return samlidp.SigningKey{ID: s.ID, Key: s.Key, Certificate: s.Certificate}, err
}

func (k samlKeys) Certificates(ctx context.Context) ([]*x509.Certificate, error) {
	certs, err := k.m.Certificates(ctx)
	out := make([]*x509.Certificate, 0, len(certs))
	for _, c := range certs {
		out = append(out, c.Certificate)
	}
	return out, err
}

// myApps is "My apps": the SAML applications that allow IdP-initiated
// sign-on and the OIDC clients that registered an initiate_login_uri
// (OpenID Connect Core §4, third-party initiated login), by name.
type myApps struct {
	saml  *samlidp.Provider
	store Store
}

func (a myApps) UserApps(ctx context.Context, userID string) ([]ui.AppLink, error) {
	sps, err := a.saml.Apps(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ui.AppLink, 0, len(sps))
	for _, sp := range sps {
		out = append(out, ui.AppLink{Name: sp.Name, URL: sp.URL})
	}
	cls, err := a.store.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range cls {
		if c.InitiateLoginURI == "" {
			continue
		}
		name := c.Name
		if name == "" {
			name = c.ID
		}
		out = append(out, ui.AppLink{Name: name, URL: c.InitiateLoginURI})
	}
	slices.SortStableFunc(out, func(x, y ui.AppLink) int { return strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)) })
	return out, nil
}

// SAMLMetadata is the IdP's metadata as /saml/metadata serves it, for
// `gatehouse saml metadata`; it makes the first SAML key if there is none
// yet (as a start would), so the printed certificate is the one that
// signs.
func (i *Instance) SAMLMetadata(ctx context.Context) ([]byte, error) {
	if err := i.SAMLKeys.Ensure(ctx); err != nil {
		return nil, err
	}
	web, err := i.newWeb(strings.HasPrefix(i.Config.Issuer, "https://"))
	if err != nil {
		return nil, err
	}
	return web.SAML.Metadata(ctx)
}
