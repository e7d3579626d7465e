package samlidp

import (
	"strings"

	"github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Attribute name formats by the short names of the settings.
const (
	nameFormatURI         = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
	nameFormatBasic       = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
	nameFormatUnspecified = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
)

func nameFormat(short string) string {
	switch short {
	case "basic":
		return nameFormatBasic
	case "unspecified":
		return nameFormatUnspecified
	}
	return nameFormatURI
}

// DefaultAttributes are what a provider with no attribute settings gets:
// the usual LDAP/eduPerson OIDs with URI names, which most SAML
// applications map out of the box.
var DefaultAttributes = []storage.SAMLAttribute{
	{Source: "email", Name: "urn:oid:0.9.2342.19200300.100.1.3", FriendlyName: "mail"},
	{Source: "name", Name: "urn:oid:2.16.840.1.113730.3.1.241", FriendlyName: "displayName"},
	{Source: "given_name", Name: "urn:oid:2.5.4.42", FriendlyName: "givenName"},
	{Source: "family_name", Name: "urn:oid:2.5.4.4", FriendlyName: "sn"},
	{Source: "groups", Name: "urn:oid:1.3.6.1.4.1.5923.1.5.1.1", FriendlyName: "isMemberOf"},
	{Source: "org", Name: "urn:oid:2.5.4.10", FriendlyName: "o"},
}

// attributes are the assertion's attributes for s under the provider's
// settings (DefaultAttributes when it has none). An attribute whose value
// the user does not have is left out rather than sent empty.
func attributes(settings []storage.SAMLAttribute, s subject) []saml.Attribute {
	if len(settings) == 0 {
		settings = DefaultAttributes
	}
	out := make([]saml.Attribute, 0, len(settings))
	for _, a := range settings {
		vals := values(a.Source, s)
		if len(vals) == 0 {
			continue
		}
		attr := saml.Attribute{Name: a.Name, NameFormat: nameFormat(a.NameFormat), FriendlyName: a.FriendlyName}
		for _, v := range vals {
			attr.Values = append(attr.Values, saml.AttributeValue{Type: "xs:string", Value: v})
		}
		out = append(out, attr)
	}
	return out
}

// values are the user's values of an attribute source.
func values(source string, s subject) []string {
	one := func(v string) []string {
		if v == "" {
			return nil
		}
		return []string{v}
	}
	given, family := splitName(s.user.Name)
	switch source {
	case "email":
		return one(s.user.Email)
	case "name":
		return one(s.user.Name)
	case "given_name":
		return one(given)
	case "family_name":
		return one(family)
	case "groups":
		return s.groups
	case "org":
		if s.org.DisplayName != "" {
			return one(s.org.DisplayName)
		}
		return one(s.org.Name)
	}
	return nil
}

// splitName derives given and family names from the one name Gatehouse
// keeps: the last word is the family name. A one-word name is a given
// name only. It is a guess that fits most Western names; applications
// that need better can be given "name" instead.
func splitName(name string) (given, family string) {
	f := strings.Fields(name)
	switch len(f) {
	case 0:
		return "", ""
	case 1:
		return f[0], ""
	}
	return strings.Join(f[:len(f)-1], " "), f[len(f)-1]
}
