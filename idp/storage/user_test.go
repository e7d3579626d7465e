package storage

import (
	"slices"
	"testing"
	"time"
)

// TestUserPredicates: a temporary lock stops new logins and nothing else;
// only an active account signs in or holds tokens.
func TestUserPredicates(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name          string
		u             User
		signIn, token bool
	}{
		{"active", User{State: UserActive}, true, true},
		{"active, lock expired", User{State: UserActive, LockedUntil: now.Add(-time.Second)}, true, true},
		{"active, lock ends now", User{State: UserActive, LockedUntil: now}, true, true},
		{"active, locked", User{State: UserActive, LockedUntil: now.Add(time.Microsecond)}, false, true},
		{"disabled", User{State: UserDisabled}, false, false},
		{"invited", User{State: UserInvited}, false, false},
		{"unknown state", User{State: "suspended"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.u.MaySignIn(now); got != tc.signIn {
				t.Errorf("MaySignIn = %v; want %v", got, tc.signIn)
			}
			if got := tc.u.MayHoldTokens(); got != tc.token {
				t.Errorf("MayHoldTokens = %v; want %v", got, tc.token)
			}
		})
	}
}

// TestOrgAdminOf: the organizations a user administers are read from
// their org-admin roles and nothing else.
func TestOrgAdminOf(t *testing.T) {
	for _, tc := range []struct {
		name  string
		roles []string
		want  []string
	}{
		{"none", nil, nil},
		{"admin is not an org admin", []string{RoleAdmin}, nil},
		{"one", []string{RoleAdmin, OrgAdminRole("o1")}, []string{"o1"}},
		{"two", []string{OrgAdminRole("o1"), "auditor", OrgAdminRole("o2")}, []string{"o1", "o2"}},
		{"prefix without an id", []string{RoleOrgAdminPrefix}, nil},
		{"lookalike", []string{"org-admin", "xorg-admin:o1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (User{Roles: tc.roles}).OrgAdminOf(); !slices.Equal(got, tc.want) {
				t.Fatalf("OrgAdminOf = %v; want %v", got, tc.want)
			}
		})
	}
}
