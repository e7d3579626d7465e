package saml

import (
	"errors"
	"fmt"
	"strings"

	crewjam "github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/federation"
)

// Attribute names read when the settings name none, in order: plain ones,
// LDAP attribute OIDs, and ADFS and Entra ID claim URIs.
var (
	emailAttributes = []string{
		"email", "mail", "urn:oid:0.9.2342.19200300.100.1.3",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
	}
	nameAttributes = []string{
		"name", "displayName", "urn:oid:2.16.840.1.113730.3.1.241",
		"http://schemas.microsoft.com/identity/claims/displayname",
		"cn", "urn:oid:2.5.4.3",
	}
	givenNameAttributes = []string{
		"givenName", "firstName", "urn:oid:2.5.4.42",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
	}
	surnameAttributes = []string{
		"sn", "surname", "lastName", "urn:oid:2.5.4.4",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
	}
	groupsAttributes = []string{
		"groups", "memberOf", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
	}
)

// identity is what a verified assertion proves. The NameID is the
// subject: an empty one, or a transient one (a fresh id at every login,
// so no key for a link), is refused as "no_subject".
func (c *Connector) identity(a *crewjam.Assertion) (federation.Identity, error) {
	if a.Subject == nil || a.Subject.NameID == nil || strings.TrimSpace(a.Subject.NameID.Value) == "" {
		return federation.Identity{}, federation.Refuse("no_subject", errors.New("the assertion has no NameID"))
	}
	nameID := a.Subject.NameID
	if nameID.Format == string(crewjam.TransientNameIDFormat) {
		return federation.Identity{}, federation.Refuse("no_subject",
			fmt.Errorf("the NameID is transient (%s): configure the IdP to send a persistent one", nameID.Format))
	}
	id := federation.Identity{
		Subject: nameID.Value,
		Email:   first(attribute(a, c.settings.EmailAttribute, emailAttributes)),
		Name:    first(attribute(a, c.settings.NameAttribute, nameAttributes)),
		Groups:  attribute(a, c.settings.GroupsAttribute, groupsAttributes),
	}
	if id.Email == "" && nameID.Format == string(crewjam.EmailAddressNameIDFormat) {
		id.Email = strings.TrimSpace(nameID.Value)
	}
	id.EmailVerified = c.settings.EmailVerified && id.Email != ""
	if id.Name == "" && c.settings.NameAttribute == "" {
		parts := []string{first(attribute(a, "", givenNameAttributes)), first(attribute(a, "", surnameAttributes))}
		id.Name = strings.TrimSpace(strings.Join(parts, " "))
	}
	for _, st := range a.AuthnStatements {
		if ref := st.AuthnContext.AuthnContextClassRef; ref != nil && strings.TrimSpace(ref.Value) != "" {
			id.ACR = strings.TrimSpace(ref.Value)
			break
		}
	}
	return id, nil
}

// attribute is the values of the attribute named configured or, when that
// is empty, of the first of defaults the assertion has. Names are matched
// exactly, never by FriendlyName (saml-core §2.7.3.1).
func attribute(a *crewjam.Assertion, configured string, defaults []string) []string {
	names := defaults
	if configured != "" {
		names = []string{configured}
	}
	for _, name := range names {
		if v := values(a, name); len(v) > 0 {
			return v
		}
	}
	return nil
}

// values is every non-empty value of the attributes named name (an IdP may
// split one attribute into several elements).
func values(a *crewjam.Assertion, name string) []string {
	var out []string
	for _, st := range a.AttributeStatements {
		for _, attr := range st.Attributes {
			if attr.Name != name {
				continue
			}
			for _, v := range attr.Values {
				if s := strings.TrimSpace(v.Value); s != "" && !v.Nil {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
