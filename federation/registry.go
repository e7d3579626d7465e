package federation

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// ErrUnknownType: no connector type of that name is built in.
var ErrUnknownType = errors.New("federation: unknown connector type")

// Registry opens connectors from their stored rows and keeps them open, so
// that discovery documents and metadata are fetched once, not at every
// login. Every instance reads the rows from the shared database, and a row
// that changed (its UpdatedAt) is opened again, so an administrator's
// change reaches every instance at its next login there. An open connector
// is also reopened after MaxAge, so that an upstream's rotated keys or
// metadata are read again.
type Registry struct {
	Store interface {
		Directory
		GetConnector(ctx context.Context, id string) (storage.Connector, error)
	}
	Openers map[string]Opener
	// Env is what every connector gets; its Open is replaced by Unseal
	// bound to the connector's id.
	Env Env
	// Unseal opens a connector's sealed secret, which was sealed for that
	// connector's id (so a sealed secret copied to another row opens
	// nowhere).
	Unseal func(sealed []byte, connectorID string) ([]byte, error)
	// MaxAge bounds how long an opened connector is kept (default one
	// hour).
	MaxAge time.Duration

	mu   sync.Mutex
	open map[string]opened
	// offered caches Offered for offeredTTL.
	offered   bool
	offeredAt time.Time
}

// offeredTTL is how long Offered's answer is kept: a connector created on
// one instance shows on every other's login page within it.
const offeredTTL = 15 * time.Second

// Offered reports whether any enabled connector exists, so that the login
// page offers "Sign in with SSO" only where it can lead somewhere. A
// storage error answers false: the page then shows the password form,
// and an email of a domain with SSO still finds its connector.
func (r *Registry) Offered(ctx context.Context) bool {
	now := r.now()
	r.mu.Lock()
	if !r.offeredAt.IsZero() && now.Sub(r.offeredAt) < offeredTTL {
		v := r.offered
		r.mu.Unlock()
		return v
	}
	r.mu.Unlock()
	cs, err := r.Store.ListConnectors(ctx, "")
	if err != nil {
		return false
	}
	v := false
	for _, c := range cs {
		v = v || c.Enabled
	}
	r.mu.Lock()
	r.offered, r.offeredAt = v, now
	r.mu.Unlock()
	return v
}

type opened struct {
	updated time.Time
	at      time.Time
	conn    Connector
}

// Discover is Discover over the registry's store.
func (r *Registry) Discover(ctx context.Context, input string) (storage.Connector, error) {
	return Discover(ctx, r.Store, input)
}

// Open returns connector id's row, enabled or not, and its live connector.
// storage.ErrNotFound when there is no such connector.
func (r *Registry) Open(ctx context.Context, id string) (storage.Connector, Connector, error) {
	c, err := r.Store.GetConnector(ctx, id)
	if err != nil {
		return c, nil, err
	}
	conn, err := r.live(ctx, c)
	return c, conn, err
}

func (r *Registry) live(ctx context.Context, c storage.Connector) (Connector, error) {
	now := r.now()
	maxAge := r.MaxAge
	if maxAge <= 0 {
		maxAge = time.Hour
	}
	r.mu.Lock()
	o, ok := r.open[c.ID]
	r.mu.Unlock()
	if ok && o.updated.Equal(c.UpdatedAt) && now.Sub(o.at) < maxAge {
		return o.conn, nil
	}
	open, ok := r.Openers[c.Type]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, c.Type)
	}
	// Opened outside the lock: it may fetch over the network, and two
	// logins opening the same connector at once both succeed.
	env := r.Env
	if r.Unseal != nil {
		id := c.ID
		env.Open = func(sealed []byte) ([]byte, error) { return r.Unseal(sealed, id) }
	}
	conn, err := open(ctx, c, env)
	if err != nil {
		return nil, fmt.Errorf("federation: open connector %q: %w", c.ID, err)
	}
	r.mu.Lock()
	if r.open == nil {
		r.open = map[string]opened{}
	}
	r.open[c.ID] = opened{updated: c.UpdatedAt, at: now, conn: conn}
	r.mu.Unlock()
	return conn, nil
}

func (r *Registry) now() time.Time {
	if r.Env.Now != nil {
		return r.Env.Now()
	}
	return time.Now()
}
