package password

import (
	"context"
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// OrgGetter is what Policies needs of storage: storage.Organizations'
// GetOrganization.
type OrgGetter interface {
	GetOrganization(ctx context.Context, id string) (storage.Organization, error)
}

// Policies resolves the policy in force for an organization: the server
// defaults (config "password:") with the organization's stored overrides
// applied (Policy.WithOrg).
type Policies struct {
	Orgs     OrgGetter
	Defaults Policy
}

// For returns orgID's effective policy. It reads the organization on every
// call rather than caching, so that a change made on one instance applies
// on all of them at once.
func (p *Policies) For(ctx context.Context, orgID string) (Policy, error) {
	o, err := p.Orgs.GetOrganization(ctx, orgID)
	if err != nil {
		return Policy{}, fmt.Errorf("password policy of organization %s: %w", orgID, err)
	}
	return p.Defaults.WithOrg(o.PasswordPolicy), nil
}
