package federation

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Home-realm discovery: which organization's upstream a person signs in at,
// from their email's domain (or their organization's name on the "Sign in
// with SSO" page).

var (
	// ErrNoConnector: no enabled connector serves that email domain or
	// organization. It reveals no more than the domain rule itself: it
	// is the same answer for every address of a domain.
	ErrNoConnector = errors.New("federation: no single sign-on for that address or organization")
	// ErrAmbiguous: the organization has several connectors; the
	// person's email decides between them.
	ErrAmbiguous = errors.New("federation: the organization has several sign-in providers; enter your work email")
)

// Directory is the storage discovery reads.
type Directory interface {
	GetConnectorByDomain(ctx context.Context, domain string) (storage.Connector, error)
	GetOrganizationByName(ctx context.Context, name string) (storage.Organization, error)
	ListConnectors(ctx context.Context, orgID string) ([]storage.Connector, error)
}

// Domain is the lower-case domain of an email address ("" when it has
// none).
func Domain(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 || at == len(email)-1 {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(email[at+1:]))
}

// Discover finds the enabled connector for input: an email address (by its
// domain) or an organization's name. ErrNoConnector when there is none (a
// disabled connector is none), ErrAmbiguous for an organization with
// several.
func Discover(ctx context.Context, d Directory, input string) (storage.Connector, error) {
	input = strings.TrimSpace(input)
	if strings.Contains(input, "@") {
		return ForDomain(ctx, d, Domain(input))
	}
	if input == "" {
		return storage.Connector{}, ErrNoConnector
	}
	o, err := d.GetOrganizationByName(ctx, strings.ToLower(input))
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Connector{}, ErrNoConnector
	} else if err != nil {
		return storage.Connector{}, fmt.Errorf("federation: discovery: %w", err)
	}
	cs, err := d.ListConnectors(ctx, o.ID)
	if err != nil {
		return storage.Connector{}, fmt.Errorf("federation: discovery: %w", err)
	}
	var found []storage.Connector
	for _, c := range cs {
		if c.Enabled {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return storage.Connector{}, ErrNoConnector
	case 1:
		return found[0], nil
	}
	return storage.Connector{}, ErrAmbiguous
}

// ForDomain is the enabled connector of an email domain.
func ForDomain(ctx context.Context, d Directory, domain string) (storage.Connector, error) {
	if domain == "" || !storage.Storable(domain) {
		return storage.Connector{}, ErrNoConnector
	}
	c, err := d.GetConnectorByDomain(ctx, domain)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return storage.Connector{}, ErrNoConnector
	case err != nil:
		return storage.Connector{}, fmt.Errorf("federation: discovery: %w", err)
	case !c.Enabled:
		return storage.Connector{}, ErrNoConnector
	}
	return c, nil
}
