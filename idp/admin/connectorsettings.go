package admin

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The settings of each connector type, as stored in Connector.Config:
// trimmed, bounded, and checked by federation's own Validate with the
// server's dev flag (upstream URLs https, http only on loopback in dev).

// oidcConfig checks OIDC settings and returns them as stored.
func (s *Service) oidcConfig(in federation.OIDCSettings) ([]byte, error) {
	in, err := normalizeOIDC(in)
	if err != nil {
		return nil, err
	}
	if err := in.Validate(s.Federation.Dev); err != nil {
		return nil, inputError("", err)
	}
	return marshalSettings(in)
}

func normalizeOIDC(in federation.OIDCSettings) (federation.OIDCSettings, error) {
	var errs []error
	for _, f := range []struct {
		name string
		v    *string
	}{{"issuer", &in.Issuer}, {"client_id", &in.ClientID}, {"email_claim", &in.EmailClaim},
		{"email_verified_claim", &in.EmailVerifiedClaim}, {"name_claim", &in.NameClaim},
		{"groups_claim", &in.GroupsClaim}, {"groups_prefix", &in.GroupsPrefix}} {
		errs = append(errs, setting(f.name, f.v))
	}
	var err error
	if in.Scopes, err = settingList("scopes", in.Scopes); err != nil {
		errs = append(errs, err)
	}
	if in.MFAValues, err = settingList("mfa_values", in.MFAValues); err != nil {
		errs = append(errs, err)
	}
	return in, joinInput(errs)
}

// checkSAML checks SAML settings and returns them as stored, but for
// SPCertificate, which the caller sets.
func (s *Service) checkSAML(in federation.SAMLSettings) (federation.SAMLSettings, error) {
	var errs []error
	for _, f := range []struct {
		name string
		v    *string
	}{{"metadata_url", &in.MetadataURL}, {"email_attribute", &in.EmailAttribute}, {"name_attribute", &in.NameAttribute},
		{"groups_attribute", &in.GroupsAttribute}, {"groups_prefix", &in.GroupsPrefix}} {
		errs = append(errs, setting(f.name, f.v))
	}
	var err error
	if in.MFAValues, err = settingList("mfa_values", in.MFAValues); err != nil {
		errs = append(errs, err)
	}
	in.Metadata = strings.TrimSpace(in.Metadata)
	in.Certificate = strings.TrimSpace(in.Certificate)
	errs = append(errs, checkMetadata(in.Metadata), checkCertificate(in.Certificate))
	if err := joinInput(errs); err != nil {
		return in, err
	}
	if err := in.Validate(s.Federation.Dev); err != nil {
		return in, inputError("", err)
	}
	return in, nil
}

// setting trims *v and refuses what storage cannot hold or is too long.
func setting(name string, v *string) error {
	*v = strings.TrimSpace(*v)
	return checkText(name, *v, MaxConnectorSetting)
}

// settingList trims the items (a space-separated item is split: "email
// profile" is two scopes), drops empty and repeated ones and bounds them.
func settingList(name string, in []string) ([]string, error) {
	var out []string
	for _, item := range in {
		for _, w := range strings.Fields(item) {
			if err := checkText(name, w, MaxConnectorSetting); err != nil {
				return nil, err
			}
			if !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
	}
	if len(out) > MaxConnectorList {
		return nil, inputErr("%s: %d values; the limit is %d", name, len(out), MaxConnectorList)
	}
	return out, nil
}

// checkMetadata refuses inline IdP metadata that is too large, not
// well-formed XML, or has a DOCTYPE (entity declarations have no place in
// metadata and are how XML bombs start). Whether it describes a usable
// IdP is federation/saml's to say (Test).
func checkMetadata(md string) error {
	if md == "" {
		return nil
	}
	if len(md) > MaxSAMLMetadata {
		return inputErr("the IdP metadata is %d bytes; the limit is %d", len(md), MaxSAMLMetadata)
	}
	if !storage.Storable(md) {
		return inputErr("the IdP metadata contains a NUL byte or invalid UTF-8")
	}
	dec := xml.NewDecoder(strings.NewReader(md))
	root := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return inputErr("the IdP metadata is not well-formed XML: %s", shorten(err.Error()))
		}
		switch t := tok.(type) {
		case xml.Directive:
			if bytes.HasPrefix(bytes.TrimSpace(t), []byte("DOCTYPE")) {
				return inputErr("the IdP metadata must not contain a DOCTYPE")
			}
		case xml.StartElement:
			root = true
		}
	}
	if !root {
		return inputErr("the IdP metadata holds no XML element")
	}
	return nil
}

// checkCertificate refuses a pinned certificate that is not one PEM
// certificate.
func checkCertificate(certPEM string) error {
	if certPEM == "" {
		return nil
	}
	block, rest := pem.Decode([]byte(certPEM))
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) > 0 {
		return inputErr("the IdP certificate must be one PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return inputErr("the IdP certificate does not parse: %s", shorten(err.Error()))
	}
	return nil
}

func marshalSettings(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("connector settings: %w", err)
	}
	return b, nil
}

// joinInput joins the InputErrors of errs (nils dropped) into one, all
// problems on one line.
func joinInput(errs []error) error {
	if err := errors.Join(errs...); err != nil {
		return inputError("", err)
	}
	return nil
}

// samlSettingsOf decodes a SAML connector's stored settings.
func samlSettingsOf(c storage.Connector) (federation.SAMLSettings, error) {
	var settings federation.SAMLSettings
	if err := json.Unmarshal(c.Config, &settings); err != nil {
		return settings, fmt.Errorf("stored saml settings of %q: %w", c.ID, err)
	}
	return settings, nil
}
