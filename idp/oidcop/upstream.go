package oidcop

import (
	"context"
	"errors"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// ScopeGroups asks for the groups claim: a federated login's upstream
// groups, with the connector's prefix, as of the user's last login there
// (Dex's scope of the same name).
const ScopeGroups = "groups"

// upstreamLink is the link a federated login's tokens stand on.
type upstreamLink struct {
	connector, subject string
	groups             []string
}

// liveLink checks that the link a federated login stood on still holds:
// its connector exists and is enabled, and (connector, subject) is still
// linked to the user. A token of a login whose link was removed, or whose
// connector was disabled or deleted, stops working: the organization that
// turned its upstream off has said it no longer vouches for these people.
func (p *Provider) liveLink(ctx context.Context, connector, subject, userID string) (upstreamLink, *oauthError) {
	c, err := p.opts.Store.GetConnector(ctx, connector)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return upstreamLink{}, invalidGrant("the sign-in provider of this grant was removed", err)
	case err != nil:
		return upstreamLink{}, serverError(err)
	case !c.Enabled:
		return upstreamLink{}, invalidGrant("the sign-in provider of this grant is disabled", nil)
	}
	l, err := p.opts.Store.GetLink(ctx, connector, subject)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return upstreamLink{}, invalidGrant("the linked sign-in of this grant was removed", err)
	case err != nil:
		return upstreamLink{}, serverError(err)
	case l.UserID != userID:
		return upstreamLink{}, invalidGrant("the linked sign-in of this grant belongs to another user", nil)
	}
	return upstreamLink{connector: connector, subject: subject, groups: l.Groups}, nil
}
