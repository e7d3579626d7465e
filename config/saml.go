package config

import (
	"errors"
	"fmt"
	"time"
)

// SAML configures the SAML identity provider.
type SAML struct {
	// KeyBits is the size of the RSA keys that sign assertions: 2048
	// (the default) or 3072.
	KeyBits int `yaml:"key_bits"`
	// MetadataRefresh is how often metadata fetched from a provider's
	// metadata_url is fetched again (default 24h; at least 5m).
	MetadataRefresh time.Duration `yaml:"metadata_refresh"`
	// ServiceProviders are the SAML applications declared in the file,
	// reconciled on every start like declared clients.
	ServiceProviders []ServiceProvider `yaml:"service_providers"`
}

// The saml section's defaults and bounds.
const (
	SAMLKeyBits2048 = 2048 // the default
	SAMLKeyBits3072 = 3072
	// DefaultMetadataRefresh is saml.metadata_refresh's default: providers
	// change their metadata rarely, and a fetch a day notices it the same
	// day. MinMetadataRefresh keeps a typo from fetching every few seconds.
	DefaultMetadataRefresh = 24 * time.Hour
	MinMetadataRefresh     = 5 * time.Minute
)

// checkSAMLKeyBits: the RSA sizes idp/keys makes. Below 2048 is weak;
// above 3072 every signature costs much more for no practical gain.
func checkSAMLKeyBits(c *Config) error {
	if b := c.SAML.KeyBits; b != SAMLKeyBits2048 && b != SAMLKeyBits3072 {
		return fmt.Errorf("must be %d or %d, got %d", SAMLKeyBits2048, SAMLKeyBits3072, b)
	}
	return nil
}

// ServiceProvider is a SAML application declared in the config file:
// exactly one of MetadataURL, MetadataFile and Metadata gives its
// metadata; EntityID, when set, must match the metadata's.
type ServiceProvider struct {
	EntityID     string `yaml:"entity_id"`
	Name         string `yaml:"name"`
	MetadataURL  string `yaml:"metadata_url"`
	MetadataFile string `yaml:"metadata_file"`
	Metadata     string `yaml:"metadata"`
	// NameIDFormat is the format given when a request names none
	// ("persistent" by default); NameIDFormats are the others the
	// provider may ask for.
	NameIDFormat          string          `yaml:"nameid_format"`
	NameIDFormats         []string        `yaml:"nameid_formats"`
	Attributes            []SAMLAttribute `yaml:"attributes"`
	AllowIdPInitiated     bool            `yaml:"allow_idp_initiated"`
	DefaultRelayState     string          `yaml:"default_relay_state"`
	SignResponse          bool            `yaml:"sign_response"`
	EncryptAssertions     bool            `yaml:"encrypt_assertions"`
	RequireSignedRequests bool            `yaml:"require_signed_requests"`
	RequireMFA            bool            `yaml:"require_mfa"`
	// MetadataSigner is a PEM certificate that must sign the metadata
	// (optional; signed metadata from a URL pins its signer otherwise).
	MetadataSigner string `yaml:"metadata_signer"`
}

// SAMLAttribute is one attribute of a declared provider's assertions.
type SAMLAttribute struct {
	Source       string `yaml:"source"`
	Name         string `yaml:"name"`
	NameFormat   string `yaml:"name_format"`
	FriendlyName string `yaml:"friendly_name"`
}

// checkServiceProviders is the shape of saml.service_providers: each
// gives its metadata exactly once. What the metadata and settings mean is
// checked when they are reconciled at start (idp/admin), where the
// metadata is read.
func checkServiceProviders(c *Config) error {
	var errs []error
	for i, sp := range c.SAML.ServiceProviders {
		n := 0
		for _, s := range []string{sp.MetadataURL, sp.MetadataFile, sp.Metadata} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			errs = append(errs, at(fmt.Sprintf("[%d]", i), fmt.Errorf("give exactly one of metadata_url, metadata_file and metadata (%d given)", n)))
		}
	}
	return errors.Join(errs...)
}
