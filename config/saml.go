package config

import "time"

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
}

// SAMLAttribute is one attribute of a declared provider's assertions.
type SAMLAttribute struct {
	Source       string `yaml:"source"`
	Name         string `yaml:"name"`
	NameFormat   string `yaml:"name_format"`
	FriendlyName string `yaml:"friendly_name"`
}
