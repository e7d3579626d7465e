package samlidp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The provider is the SAML front door of the login flow: authflow asks it
// about service providers, the login pages (ui.Door) where the browser
// continues, and it answers the service provider itself.
var _ authflow.Door = (*Provider)(nil)

// Party describes a service provider to the flow. An unknown one is an
// error wrapping storage.ErrNotFound.
func (p *Provider) Party(ctx context.Context, entityID string) (authflow.Party, error) {
	sp, err := p.opts.Store.GetServiceProvider(ctx, entityID)
	if err != nil {
		return authflow.Party{}, fmt.Errorf("samlidp: service provider %q: %w", entityID, err)
	}
	return authflow.Party{Name: spName(sp), RequireMFA: sp.Settings.RequireMFA}, nil
}

func spName(sp storage.ServiceProvider) string {
	if sp.Name != "" {
		return sp.Name
	}
	return sp.EntityID
}

// ContinueURL is where the login pages send the browser once the flow is
// done: the door completes the request there and posts the Response.
func (p *Provider) ContinueURL(authRequestID string) string {
	return p.continueBase + "?id=" + url.QueryEscape(authRequestID)
}

// LoginRequired ends a passive request (IsPassive) that would need a page:
// the service provider gets a NoPassive status.
func (p *Provider) LoginRequired(w http.ResponseWriter, r *http.Request, ar storage.AuthRequest) {
	p.sendStatus(w, r, ar, &saml.StatusError{TopLevel: saml.StatusResponder, SecondLevel: saml.StatusNoPassive,
		Message: "the user is not signed in"})
}

// ResponseOrigins is the origin of the ACS URL the Response is posted to.
func (p *Provider) ResponseOrigins(ar storage.AuthRequest) []string {
	d, err := readDoorData(ar)
	if err != nil {
		return nil
	}
	u, err := url.Parse(d.ACS.Location)
	if err != nil || u.Host == "" {
		return nil
	}
	return []string{u.Scheme + "://" + u.Host}
}

// sendStatus answers an auth request with an error status at its ACS. When
// even that is impossible (the provider or its endpoint is gone), the
// user gets a page.
func (p *Provider) sendStatus(w http.ResponseWriter, r *http.Request, ar storage.AuthRequest, st *saml.StatusError) {
	a, err := p.rebuild(r, ar)
	if err != nil {
		p.failRebuild(w, r, err)
		return
	}
	if err := a.idp.SendErrorResponse(w, a.req, st); err != nil {
		p.fail(w, r, "saml: send status", err, http.StatusServiceUnavailable, msgUnavailable)
	}
}
