package federation_test

import (
	"testing"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func TestDecide(t *testing.T) {
	trusted := storage.Connector{ID: "acme", OrgID: "org1", TrustEmail: true}
	untrusted := storage.Connector{ID: "acme", OrgID: "org1"}
	jit := storage.Connector{ID: "acme", OrgID: "org1", TrustEmail: true, JIT: true, Domains: []string{"example.com"}}
	verified := federation.Identity{Subject: "s1", Email: "ann@example.com", EmailVerified: true}
	unverified := federation.Identity{Subject: "s1", Email: "ann@example.com"}
	active := &storage.User{ID: "u1", OrgID: "org1", Email: "ann@example.com", EmailVerified: true, State: storage.UserActive, PasswordHash: "$argon2id$x"}
	activeUnverified := &storage.User{ID: "u1", OrgID: "org1", Email: "ann@example.com", State: storage.UserActive, PasswordHash: "$argon2id$x"}
	invitedNoPassword := &storage.User{ID: "u1", OrgID: "org1", Email: "ann@example.com", State: storage.UserInvited}
	invitedWithPassword := &storage.User{ID: "u1", OrgID: "org1", Email: "ann@example.com", State: storage.UserInvited, PasswordHash: "$argon2id$x"}
	otherOrg := &storage.User{ID: "u1", OrgID: "org2", Email: "ann@example.com", EmailVerified: true, State: storage.UserActive}

	for _, tc := range []struct {
		name   string
		c      storage.Connector
		id     federation.Identity
		local  *storage.User
		want   federation.Decision
		reason string
	}{
		{"verified and trusted", trusted, verified, active, federation.AutoLink, "verified_trusted"},
		{"upstream email unverified", trusted, unverified, active, federation.Prove, "upstream_email_unverified"},
		{"connector not trusted for email", untrusted, verified, active, federation.Prove, "connector_not_trusted"},
		{"local email unverified", trusted, verified, activeUnverified, federation.Prove, "local_email_unverified"},
		{"invited, never set a password, trusted", trusted, verified, invitedNoPassword, federation.AutoLink, "verified_trusted"},
		{"invited, never set a password, untrusted", untrusted, verified, invitedNoPassword, federation.Prove, "connector_not_trusted"},
		{"invited with a password, email unverified", trusted, verified, invitedWithPassword, federation.Prove, "local_email_unverified"},
		{"account of another organization", jit, verified, otherOrg, federation.NoAccount, "other_org"},
		{"no account, no JIT", trusted, verified, nil, federation.NoAccount, "no_account"},
		{"no account, JIT", jit, verified, nil, federation.Provision, "jit"},
		{"no account, JIT, no email", jit, federation.Identity{Subject: "s1"}, nil, federation.NoAccount, "no_email"},
		{"no account, JIT, an address of another domain", jit, federation.Identity{Subject: "s1", Email: "ann@elsewhere.example", EmailVerified: true},
			nil, federation.NoAccount, "email_outside_domains"},
		// JIT never overrides the rules when an account exists.
		{"JIT with an unverified match", jit, unverified, active, federation.Prove, "upstream_email_unverified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := federation.Decide(tc.c, tc.id, tc.local)
			if got != tc.want || why != tc.reason {
				t.Errorf("Decide = %v (%s), want %v (%s)", got, why, tc.want, tc.reason)
			}
		})
	}
}

func TestUpstreamMFAAndGroups(t *testing.T) {
	oidc := storage.Connector{Type: storage.ConnectorOIDC, Config: []byte(`{"issuer":"https://idp.example","client_id":"c","groups_prefix":"acme:"}`)}
	custom := storage.Connector{Type: storage.ConnectorSAML, Config: []byte(`{"metadata":"<x/>","mfa_values":["urn:acme:strong"]}`)}
	for _, tc := range []struct {
		name string
		c    storage.Connector
		id   federation.Identity
		want bool
	}{
		{"no amr, no acr", oidc, federation.Identity{}, false},
		{"amr pwd only", oidc, federation.Identity{AMR: []string{"pwd"}}, false},
		{"amr mfa", oidc, federation.Identity{AMR: []string{"pwd", "mfa"}}, true},
		{"acr refeds mfa", oidc, federation.Identity{ACR: "https://refeds.org/profile/mfa"}, true},
		{"custom values replace the defaults", custom, federation.Identity{AMR: []string{"mfa"}}, false},
		{"custom value", custom, federation.Identity{ACR: "urn:acme:strong"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := federation.UpstreamMFA(tc.c, tc.id); got != tc.want {
				t.Errorf("UpstreamMFA = %v, want %v", got, tc.want)
			}
		})
	}
	got := federation.Groups(oidc, federation.Identity{Groups: []string{"eng", " ", "eng", "ops"}})
	if len(got) != 2 || got[0] != "acme:eng" || got[1] != "acme:ops" {
		t.Errorf("Groups = %q", got)
	}
}
