package oidcop

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Protocol is the OIDC door's name on auth requests and in the flow's
// registry.
const Protocol = "oidc"

// The provider is the OIDC front door of the login flow: authflow asks it
// about relying parties, the login pages (ui.Door) where the browser
// continues, and it answers the client itself.
var _ authflow.Door = (*Provider)(nil)

// Party describes an OIDC client to the flow. An unknown client is an
// error wrapping storage.ErrNotFound: the flow then stops the login rather
// than guess the client's MFA policy.
func (p *Provider) Party(ctx context.Context, clientID string) (authflow.Party, error) {
	c, err := p.opts.Store.GetClient(ctx, clientID)
	if err != nil {
		return authflow.Party{}, fmt.Errorf("oidcop: client %q: %w", clientID, err)
	}
	name := c.Name
	if name == "" {
		name = c.ID
	}
	return authflow.Party{Name: name, RequireMFA: c.RequireMFA}, nil
}

// ContinueURL is where the login pages send the browser once the flow is
// done: the callback, which completes the request and issues the code.
func (p *Provider) ContinueURL(authRequestID string) string { return p.CallbackURL(authRequestID) }

// LoginRequired ends a silent (prompt=none) login at the client.
func (p *Provider) LoginRequired(w http.ResponseWriter, r *http.Request, req storage.AuthRequest) {
	p.SendError(w, r, req, oidc.ErrLoginRequired())
}

// ResponseOrigins is the origin of the request's redirect_uri, where the
// authorization response takes the browser.
func (p *Provider) ResponseOrigins(req storage.AuthRequest) []string {
	if req.OIDC == nil {
		return nil
	}
	u, err := url.Parse(req.OIDC.RedirectURI)
	if err != nil || u.Host == "" {
		return nil
	}
	return []string{u.Scheme + "://" + u.Host}
}
