package instance

import (
	"net/http"
	"time"

	"github.com/gatehouse-idp/gatehouse/federation"
	fedoidc "github.com/gatehouse-idp/gatehouse/federation/oidc"
	fedsaml "github.com/gatehouse-idp/gatehouse/federation/saml"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// upstreamTimeout bounds every call to an upstream identity provider
// (discovery, keys, metadata, the code exchange): a slow upstream fails
// its own logins, not the server.
const upstreamTimeout = 10 * time.Second

// Openers are the built-in connector types.
var Openers = map[string]federation.Opener{
	storage.ConnectorOIDC: fedoidc.Open,
	storage.ConnectorSAML: fedsaml.Open,
}

// wireFederation makes organizations' connectors back doors of the flow.
func (inst *Instance) wireFederation() {
	inst.Connectors = &federation.Registry{
		Store:   inst.Store,
		Openers: inst.Admin.Federation.Openers,
		Env: federation.Env{Issuer: inst.Config.Issuer, HTTP: &http.Client{Timeout: upstreamTimeout},
			Assertions: inst.Store, Now: inst.Now, Dev: inst.Config.Dev, Logger: inst.Logger},
		Unseal: admin.UnsealConnectorSecret(inst.Key),
	}
	inst.Flow.Federation = &authflow.Federation{Upstreams: inst.Connectors, Store: inst.Store}
}

// SealConnectorSecret seals a connector's secret (an OIDC client secret, a
// SAML SP key) as the admin service does, for that connector alone (tests
// that store a connector row themselves).
func (inst *Instance) SealConnectorSecret(secret []byte, connectorID string) ([]byte, error) {
	return inst.Key.Seal(secret, admin.ConnectorSecretAD(connectorID))
}
