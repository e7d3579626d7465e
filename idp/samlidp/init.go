package samlidp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

const msgNoIdPInitiated = "This application cannot be opened from here. Please open it directly."

// serveInit starts an IdP-initiated sign-on (/saml/init?sp=ENTITY_ID
// [&RelayState=…]) into a provider that allows it: the same login as a
// request from the provider, answered with an unsolicited Response at the
// provider's default ACS.
func (p *Provider) serveInit(w http.ResponseWriter, r *http.Request) {
	if !p.limit(w, r) {
		return
	}
	q := r.URL.Query()
	entityID, relay := q.Get("sp"), q.Get("RelayState")
	sp, err := p.opts.Store.GetServiceProvider(r.Context(), entityID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		p.fail(w, r, "init: unknown provider", fmt.Errorf("%q", entityID), http.StatusNotFound, msgUnknownApp)
		return
	case err != nil:
		p.fail(w, r, "init: provider", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	case !sp.Settings.AllowIdPInitiated:
		p.fail(w, r, "init: provider does not allow IdP-initiated sign-on", fmt.Errorf("%q", entityID), http.StatusForbidden, msgNoIdPInitiated)
		return
	}
	if relay == "" {
		relay = sp.Settings.DefaultRelayState
	}
	idp, err := p.identityProvider(r.Context())
	if err != nil {
		p.fail(w, r, "init: keys", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	req, err := idp.NewIdpInitiatedRequest(r, entityID, relay)
	switch {
	case errors.Is(err, saml.ErrRelayStateTooLong), errors.Is(err, saml.ErrUnknownAssertionConsumerService):
		p.fail(w, r, "init: refused", err, http.StatusBadRequest, msgBadRequest)
		return
	case err != nil:
		p.fail(w, r, "init: request", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	p.begin(w, r, req)
}

// InitURL is the link that signs a user in to a provider from Gatehouse.
func InitURL(entityID string) string { return PathInit + "?sp=" + url.QueryEscape(entityID) }

// App is a service provider a user can open from Gatehouse.
type App struct {
	Name, URL string
}

// Apps lists the providers that allow IdP-initiated sign-on, for "My
// apps".
func (p *Provider) Apps(ctx context.Context) ([]App, error) {
	sps, err := p.opts.Store.ListServiceProviders(ctx)
	if err != nil {
		return nil, fmt.Errorf("samlidp: apps: %w", err)
	}
	var out []App
	for _, sp := range sps {
		if sp.Settings.AllowIdPInitiated {
			out = append(out, App{Name: spName(sp), URL: InitURL(sp.EntityID)})
		}
	}
	return out, nil
}
