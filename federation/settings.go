package federation

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// OIDCSettings are an upstream OIDC connector's Config (storage.Connector),
// as JSON. The client secret is not here: it is sealed apart
// (Connector.SecretSealed).
type OIDCSettings struct {
	// Issuer is the upstream's issuer URL; its discovery document is at
	// Issuer/.well-known/openid-configuration and must name the same
	// issuer.
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	// Scopes are asked for besides openid (default: email profile).
	Scopes []string `json:"scopes,omitempty"`
	// EmailClaim, EmailVerifiedClaim, NameClaim and GroupsClaim name the
	// claims to read (defaults: email, email_verified, name, groups), for
	// upstreams that use other names.
	EmailClaim         string `json:"email_claim,omitempty"`
	EmailVerifiedClaim string `json:"email_verified_claim,omitempty"`
	NameClaim          string `json:"name_claim,omitempty"`
	GroupsClaim        string `json:"groups_claim,omitempty"`
	// GroupsPrefix is put before every upstream group in our tokens'
	// groups claim ("acme:"), so groups of two upstreams cannot be
	// confused.
	GroupsPrefix string `json:"groups_prefix,omitempty"`
	// MFAValues are the amr or acr values of the upstream that mean a
	// second factor was used (default: amr "mfa", "otp", "hwk", "swk",
	// "sms"; acr "https://refeds.org/profile/mfa").
	MFAValues []string `json:"mfa_values,omitempty"`
}

// SAMLSettings are an upstream SAML connector's Config. The SP's private
// key is sealed apart (Connector.SecretSealed, PKCS#8 DER).
type SAMLSettings struct {
	// MetadataURL or Metadata (the XML itself) is the upstream IdP's
	// metadata; with a URL it is fetched again when it expires.
	MetadataURL string `json:"metadata_url,omitempty"`
	Metadata    string `json:"metadata,omitempty"`
	// Certificate pins the IdP's signing certificate (PEM): only a
	// response signed by it is accepted. Empty: the signing certificates
	// in the metadata as first read, which are then kept here.
	Certificate string `json:"certificate,omitempty"`
	// SPCertificate is the SP's own certificate (PEM), published in its
	// metadata, for its private key in SecretSealed.
	SPCertificate string `json:"sp_certificate,omitempty"`
	// EmailAttribute, NameAttribute and GroupsAttribute name the
	// attributes to read (defaults: the common email, name and groups
	// attribute names; the NameID when it is an email address).
	EmailAttribute  string `json:"email_attribute,omitempty"`
	NameAttribute   string `json:"name_attribute,omitempty"`
	GroupsAttribute string `json:"groups_attribute,omitempty"`
	GroupsPrefix    string `json:"groups_prefix,omitempty"`
	// EmailVerified: the IdP's email attribute is the person's verified
	// corporate address (SAML has no email_verified claim), so that it
	// may count as verified for linking.
	EmailVerified bool `json:"email_verified,omitempty"`
	// MFAValues are the AuthnContextClassRef values that mean a second
	// factor was used (default: REFEDS MFA and the common MFA classes).
	MFAValues []string `json:"mfa_values,omitempty"`
}

// DecodeOIDC reads an OIDC connector's settings and checks them.
func DecodeOIDC(raw []byte, dev bool) (OIDCSettings, error) {
	var s OIDCSettings
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("federation: oidc settings: %w", err)
	}
	return s, s.Validate(dev)
}

// Validate checks the settings an administrator gave.
func (s OIDCSettings) Validate(dev bool) error {
	var errs []error
	if s.Issuer == "" {
		errs = append(errs, errors.New("an OIDC connector needs an issuer URL"))
	} else if err := CheckUpstreamURL(s.Issuer, dev); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(s.ClientID) == "" {
		errs = append(errs, errors.New("an OIDC connector needs a client id"))
	}
	return errors.Join(errs...)
}

// DecodeSAML reads a SAML connector's settings and checks them.
func DecodeSAML(raw []byte, dev bool) (SAMLSettings, error) {
	var s SAMLSettings
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("federation: saml settings: %w", err)
	}
	return s, s.Validate(dev)
}

// Validate checks the settings an administrator gave.
func (s SAMLSettings) Validate(dev bool) error {
	switch {
	case s.MetadataURL == "" && s.Metadata == "":
		return errors.New("a SAML connector needs the IdP's metadata, by URL or as XML")
	case s.MetadataURL != "" && s.Metadata != "":
		return errors.New("give the IdP's metadata by URL or as XML, not both")
	case s.MetadataURL != "":
		return CheckUpstreamURL(s.MetadataURL, dev)
	}
	return nil
}

// Prefixed is groups with prefix put before each, without empty or
// repeated ones.
func Prefixed(prefix string, groups []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range groups {
		g = strings.TrimSpace(g)
		if g == "" || seen[g] {
			continue
		}
		seen[g] = true
		out = append(out, prefix+g)
	}
	return out
}
