package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/clients"
)

// Client is an OIDC client (relying party) declared in the config file.
// Declared clients are reconciled on every start: created or updated to
// match, and deleted when they leave the file. Zero values mean the
// defaults of idp/clients (grant types authorization_code and
// refresh_token; scopes openid, profile, email and offline_access; RS256
// ID tokens; opaque access tokens; 1h access and ID tokens; 30-day refresh
// tokens).
//
// Client is only the file's shape: yaml keys, a Secret that redacts
// itself, secret_file. Its rules are idp/clients': Validate applies those
// that concern the file's entries as such (ids, duplicates, secrets), so
// that a bad file is refused at load; the reconciliation at start applies
// all of them to Input, and reports every problem before anything changes.
type Client struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Secret is the client secret of a confidential client (see
	// clients.CheckSecret; e.g. openssl rand -base64 32). Only its hash is
	// stored.
	Secret     Secret `yaml:"secret" secret:"secret_file"`
	SecretFile string `yaml:"secret_file"`
	// Public clients (SPAs, native apps) have no secret and must use PKCE.
	Public                 bool     `yaml:"public"`
	RedirectURIs           []string `yaml:"redirect_uris"`
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	// GrantTypes: authorization_code, refresh_token, client_credentials.
	GrantTypes []string `yaml:"grant_types"`
	Scopes     []string `yaml:"scopes"`
	// IDTokenSignedResponseAlg: RS256 (default), ES256 or EdDSA.
	IDTokenSignedResponseAlg string `yaml:"id_token_signed_response_alg"`
	// AccessTokenFormat: opaque (default) or jwt.
	AccessTokenFormat string        `yaml:"access_token_format"`
	AccessTokenTTL    time.Duration `yaml:"access_token_ttl"`
	IDTokenTTL        time.Duration `yaml:"id_token_ttl"`
	RefreshTokenTTL   time.Duration `yaml:"refresh_token_ttl"`
	// RequireMFA refuses tokens for this client to users who did not
	// complete a second factor.
	RequireMFA bool `yaml:"require_mfa"`
	// InitiateLoginURI is where "My apps" starts a sign-in into the
	// client (https).
	InitiateLoginURI string `yaml:"initiate_login_uri"`
}

// Input is the client as idp/clients validates and stores it. It reveals
// the secret; clients.Input redacts it in fmt and slog output itself.
func (cl Client) Input() clients.Input {
	return clients.Input{
		ID: cl.ID, Name: cl.Name, Secret: cl.Secret.Reveal(), Public: cl.Public,
		RedirectURIs: cl.RedirectURIs, PostLogoutRedirectURIs: cl.PostLogoutRedirectURIs,
		GrantTypes: cl.GrantTypes, Scopes: cl.Scopes,
		IDTokenSignedResponseAlg: cl.IDTokenSignedResponseAlg, AccessTokenFormat: cl.AccessTokenFormat,
		AccessTokenTTL: cl.AccessTokenTTL, IDTokenTTL: cl.IDTokenTTL, RefreshTokenTTL: cl.RefreshTokenTTL,
		RequireMFA: cl.RequireMFA, InitiateLoginURI: cl.InitiateLoginURI,
	}
}

// checkClients is the rules-table check for "clients". Problems are
// reported at "[i].field", so they read "clients[1].secret: …". It never
// quotes a secret.
func checkClients(c *Config) error {
	ids := make([]string, len(c.Clients))
	for i, cl := range c.Clients {
		ids[i] = cl.ID
	}
	dups := clients.CheckUniqueIDs(ids)
	var errs []error
	for i, cl := range c.Clients {
		for _, err := range []error{
			clients.CheckID(cl.ID),
			dups[i],
			// Before the file is read only secret_file is set; Load
			// checks again after reading it.
			clients.CheckDeclaredSecret(cl.Public, cl.Secret.Reveal(), cl.SecretFile != ""),
		} {
			if err != nil {
				errs = append(errs, clientProblem(i, err))
			}
		}
	}
	return errors.Join(errs...)
}

// clientProblem puts a problem idp/clients found in clients[i] at its key
// path, "[i].field".
func clientProblem(i int, err error) error {
	idx := fmt.Sprintf("[%d]", i)
	var fe *clients.FieldError
	if errors.As(err, &fe) {
		return at(idx+"."+fe.Field, fe.Err)
	}
	return at(idx, err)
}
