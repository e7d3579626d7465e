package config

import (
	"errors"
	"fmt"
	"time"
)

// MinClientSecretLength is the shortest client secret the config accepts.
// Client secrets are stored as a fast unsalted hash, which protects a long
// random value but not a password-like one.
const MinClientSecretLength = 32

// Client is an OIDC client (relying party) declared in the config file.
// Declared clients are reconciled on every start: created or updated to
// match, and deleted when they leave the file. Zero values mean the
// server's defaults (grant types authorization_code and refresh_token;
// scopes openid, profile, email and offline_access; RS256 ID tokens; opaque
// access tokens; 1h access and ID tokens; 30-day refresh tokens).
//
// Only the checks that need nothing but the file live here: ids,
// duplicates and secrets. The redirect URI, grant type and TTL rules belong
// to the server (config must not import idp/*), and the reconciliation at
// start reports them, all at once, before anything changes.
type Client struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Secret is the client secret of a confidential client (at least
	// MinClientSecretLength characters, e.g. openssl rand -base64 32).
	// Only its hash is stored.
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
}

// checkClients is the rules-table check for "clients". Problems are
// reported at "[i].field", so they read "clients[1].secret: …". It never
// quotes a secret.
func checkClients(c *Config) error {
	var errs []error
	first := map[string]int{}
	for i, cl := range c.Clients {
		idx := fmt.Sprintf("[%d]", i)
		if cl.ID == "" {
			errs = append(errs, at(idx+".id", errors.New("required")))
		} else if j, dup := first[cl.ID]; dup {
			errs = append(errs, at(idx+".id", fmt.Errorf("%q is already the id of clients[%d]", cl.ID, j)))
		} else {
			first[cl.ID] = i
		}
		hasSecret := cl.Secret != "" || cl.SecretFile != ""
		switch {
		case cl.Public && hasSecret:
			errs = append(errs, at(idx+".secret", errors.New("a public client has no secret: remove secret/secret_file or set public: false")))
		case !cl.Public && !hasSecret:
			errs = append(errs, at(idx+".secret", errors.New("required for a confidential client: set secret or secret_file "+
				"(e.g. openssl rand -base64 32), or set public: true")))
		case cl.Secret != "" && len(cl.Secret.Reveal()) < MinClientSecretLength:
			// Before the file is read only secret_file is set; Load
			// checks again after reading it.
			errs = append(errs, at(idx+".secret", fmt.Errorf("must be at least %d characters, got %d", MinClientSecretLength, len(cl.Secret.Reveal()))))
		}
	}
	return errors.Join(errs...)
}
