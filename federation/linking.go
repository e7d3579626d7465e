package federation

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Decision is what becomes of an upstream identity that no link names yet.
// Whoever signs in with a linked identity is the link's user: links are
// keyed by (connector, subject), never by email, so an email that changes
// upstream never moves a link.
type Decision int

const (
	// NoAccount: nothing may be linked or created; the person is told
	// that the email their company sign-in gave matches no account here.
	NoAccount Decision = iota + 1
	// AutoLink: link to the local account with the same email now.
	AutoLink
	// Prove: the person must prove the local account with the same email
	// (its password and second factor, or a code sent to the address)
	// before the link is made.
	Prove
	// Provision: create an account in the connector's organization
	// (just-in-time provisioning) and link it.
	Provision
)

func (d Decision) String() string {
	switch d {
	case NoAccount:
		return "no_account"
	case AutoLink:
		return "auto_link"
	case Prove:
		return "prove"
	case Provision:
		return "provision"
	}
	return "invalid"
}

// Decide applies the linking rules to a first-time identity id from
// connector c, given local, the account whose email matches id's (nil for
// none), and says why (for the audit log).
//
// An automatic link needs all three: the upstream says the email is
// verified, the organization trusts this connector's emails, and the local
// account's own email is verified. Every peer that linked on less has
// shipped an account-takeover advisory: an upstream that lets anyone claim
// any address would otherwise hand over the account with that address.
//
// An invited account that never signed in counts as verified for the third
// rule when it belongs to the connector's organization: an administrator
// of that organization created it for that address, which is the
// vouching a verified email stands for, and the organization's own
// trusted upstream now vouches for the person (the issue's "no dead ends
// for invited users").
//
// A local account of another organization is never linked: a connector
// speaks for its own organization only. Just-in-time provisioning makes
// accounts only for addresses of the connector's own domains.
func Decide(c storage.Connector, id Identity, local *storage.User) (Decision, string) {
	if local == nil {
		switch {
		case !c.JIT:
			return NoAccount, "no_account"
		case id.Email == "" || !strings.Contains(id.Email, "@"):
			return NoAccount, "no_email"
		case !slices.Contains(c.Domains, Domain(id.Email)):
			// An upstream mints accounts only for its own domains: an
			// address of another domain would take that address from
			// whoever owns it here, in the wrong organization.
			return NoAccount, "email_outside_domains"
		}
		return Provision, "jit"
	}
	switch {
	case local.OrgID != c.OrgID:
		return NoAccount, "other_org"
	case !id.EmailVerified:
		return Prove, "upstream_email_unverified"
	case !c.TrustEmail:
		return Prove, "connector_not_trusted"
	case !local.EmailVerified && !(local.State == storage.UserInvited && local.PasswordHash == ""):
		return Prove, "local_email_unverified"
	}
	return AutoLink, "verified_trusted"
}

// Groups is what id's groups become in our tokens: the connector's prefix
// put before each.
func Groups(c storage.Connector, id Identity) []string {
	return Prefixed(settingsOf(c).prefix, id.Groups)
}

// Default values that mean the upstream did a second factor: RFC 8176 amr
// values of a second factor, and the usual authentication context classes.
var defaultMFAValues = []string{
	"mfa", "otp", "hwk", "swk", "sms", "tel",
	"https://refeds.org/profile/mfa",
	"http://schemas.microsoft.com/claims/multipleauthn",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
}

// UpstreamMFA reports whether c's upstream says it did a second factor for
// id: one of its amr values, or its acr, is one the connector's settings
// count as MFA. The flow counts it only when the organization trusts the
// connector's MFA (Connector.TrustMFA).
func UpstreamMFA(c storage.Connector, id Identity) bool {
	values := settingsOf(c).mfa
	if len(values) == 0 {
		values = defaultMFAValues
	}
	if id.ACR != "" && slices.Contains(values, id.ACR) {
		return true
	}
	for _, v := range id.AMR {
		if slices.Contains(values, v) {
			return true
		}
	}
	return false
}

type common struct {
	prefix string
	mfa    []string
}

// settingsOf reads what both types' settings share; a row that does not
// decode has none (it could not have been opened either). Only the JSON is
// read: the rules of Validate are for what an administrator gives.
func settingsOf(c storage.Connector) common {
	switch c.Type {
	case storage.ConnectorOIDC:
		var s OIDCSettings
		if json.Unmarshal(c.Config, &s) == nil {
			return common{s.GroupsPrefix, s.MFAValues}
		}
	case storage.ConnectorSAML:
		var s SAMLSettings
		if json.Unmarshal(c.Config, &s) == nil {
			return common{s.GroupsPrefix, s.MFAValues}
		}
	}
	return common{}
}
