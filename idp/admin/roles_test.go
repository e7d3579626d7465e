package admin

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// TestGrantAndRevokeRoles walks one user through role changes: each
// change is stored and recorded once; one that changes nothing is not
// recorded; mistakes are InputErrors and change nothing.
func TestGrantAndRevokeRoles(t *testing.T) {
	ctx := context.Background()
	s, u := lifecycleEnv(t, CreateUserInput{Email: "bob@example.com", Password: "long enough pw"})
	acme, err := s.CreateOrg(ctx, "test", CreateOrgInput{Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	own := storage.OrgAdminRole(u.OrgID)
	grant, revoke := s.GrantRole, s.RevokeRole
	steps := []struct {
		name    string
		do      func(context.Context, string, RoleChange) (RoleResult, error)
		ch      RoleChange
		roles   []string
		changed bool
		event   string // "": none
		err     string
	}{
		{"org-admin of their own org", grant, RoleChange{Role: "org-admin"}, []string{own}, true, audit.UserRoleGranted, ""},
		{"again: nothing to do", grant, RoleChange{Role: "org-admin"}, []string{own}, false, "", ""},
		{"org-admin of another org", grant, RoleChange{Role: "org-admin", Org: "acme"}, []string{own, storage.OrgAdminRole(acme.ID)}, true, audit.UserRoleGranted, ""},
		{"admin", grant, RoleChange{Role: "admin"}, []string{own, storage.OrgAdminRole(acme.ID), storage.RoleAdmin}, true, audit.UserRoleGranted, ""},
		{"revoke acme", revoke, RoleChange{Role: "org-admin", Org: "acme"}, []string{own, storage.RoleAdmin}, true, audit.UserRoleRevoked, ""},
		{"revoke acme again", revoke, RoleChange{Role: "org-admin", Org: "acme"}, []string{own, storage.RoleAdmin}, false, "", ""},
		{"revoke admin", revoke, RoleChange{Role: "admin"}, []string{own}, true, audit.UserRoleRevoked, ""},
		{"unknown role", grant, RoleChange{Role: "root"}, []string{own}, false, "", `role "root": the roles are admin and org-admin`},
		{"admin of an org", grant, RoleChange{Role: "admin", Org: "acme"}, []string{own}, false, "", "organization goes with org-admin only"},
		{"unknown org", grant, RoleChange{Role: "org-admin", Org: "nope"}, []string{own}, false, "", `organization "nope" does not exist`},
		{"unknown user", grant, RoleChange{Email: "nobody@example.com", Role: "admin"}, []string{own}, false, "", "no user"},
	}
	for _, st := range steps {
		before := auditTypes(t, s, u.ID)
		if st.ch.Email == "" {
			st.ch.Email = "BOB@example.com"
		}
		res, err := st.do(ctx, "cli:root", st.ch)
		var ie *InputError
		switch {
		case st.err != "" && (!errors.As(err, &ie) || !strings.Contains(ie.Msg, st.err)):
			t.Fatalf("%s: %v; want an InputError %q", st.name, err, st.err)
		case st.err == "" && (err != nil || res.Changed != st.changed || !slices.Equal(res.User.Roles, st.roles)):
			t.Fatalf("%s: %+v, %v; want roles %v, changed %v", st.name, res, err, st.roles, st.changed)
		}
		if cur, _ := s.Store.GetUser(ctx, u.ID); !slices.Equal(cur.Roles, st.roles) {
			t.Fatalf("%s: stored roles %v; want %v", st.name, cur.Roles, st.roles)
		}
		after := auditTypes(t, s, u.ID)
		if st.event == "" && len(after) != len(before) || st.event != "" && (len(after) != len(before)+1 || after[0] != st.event) {
			t.Fatalf("%s: audit %v after %v; want one %q", st.name, after, before, st.event)
		}
	}
	evs, _ := backend(t, s).ListAuditEvents(ctx, storage.AuditQuery{UserID: u.ID, Type: audit.UserRoleGranted})
	if e := evs[1]; e.ActorID != "cli:root" || e.Details["role"] != "org-admin" || e.Details["org"] != "acme" || e.Details["org_id"] != acme.ID {
		t.Errorf("grant event %+v", e)
	}
}
