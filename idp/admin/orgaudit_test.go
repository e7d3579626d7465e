package admin

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func TestUpdateOrg(t *testing.T) {
	ctx := context.Background()
	s, acme, other, _ := consoleEnv(t)
	st := backend(t, s)
	if err := st.CreateConnector(ctx, storage.Connector{ID: "acme-sso", OrgID: acme.ID, Type: storage.ConnectorOIDC, Name: "SSO",
		Domains: []string{"acme.example"}, Config: []byte(`{}`), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateOrg(ctx, "test", "other", OrgChange{Domains: &[]string{"other.example"}}); err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	list := func(d ...string) *[]string { return &d }
	for _, c := range []struct {
		name string
		ch   OrgChange
		want string // "" ok, else the InputError's kind: input, conflict
	}{
		{"add a domain", OrgChange{Domains: list("acme.example", "Acme.TEST.")}, ""},
		{"drop a connector's domain", OrgChange{Domains: list("acme.test")}, "input"},
		{"another organization's domain", OrgChange{Domains: list("acme.example", "other.example")}, "conflict"},
		{"not a domain", OrgChange{Domains: list("acme.example", "not a domain")}, "input"},
		{"display name", OrgChange{DisplayName: str("  Acme Corp ")}, ""},
		{"display name too long", OrgChange{DisplayName: str(string(make([]byte, MaxDisplayName+1)))}, "input"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.UpdateOrg(ctx, "test", "acme", c.ch)
			var ie *InputError
			switch {
			case c.want == "" && err != nil:
				t.Fatal(err)
			case c.want == "conflict" && !errors.Is(err, storage.ErrConflict):
				t.Fatalf("err %v, want a conflict", err)
			case c.want == "input" && !errors.As(err, &ie):
				t.Fatalf("err %v, want an InputError", err)
			}
		})
	}
	got, _ := st.GetOrganization(ctx, acme.ID)
	if got.DisplayName != "Acme Corp" || !slices.Equal(got.Domains, []string{"acme.example", "acme.test"}) {
		t.Fatalf("stored %q %v", got.DisplayName, got.Domains)
	}
	if o, _ := st.GetOrganization(ctx, other.ID); !slices.Equal(o.Domains, []string{"other.example"}) {
		t.Fatalf("other's domains %v", o.Domains)
	}
	evs, _ := st.ListAuditEvents(ctx, storage.AuditQuery{OrgID: acme.ID, Type: audit.OrgUpdated})
	if len(evs) != 2 || evs[0].Details["display_name"] != "Acme -> Acme Corp" || evs[1].Details["domains"] != " -> acme.example,acme.test" {
		t.Fatalf("events %+v", evs)
	}
	// A change that changes nothing is not recorded.
	if _, err := s.UpdateOrg(ctx, "test", "acme", OrgChange{DisplayName: str("Acme Corp")}); err != nil {
		t.Fatal(err)
	}
	if evs, _ := st.ListAuditEvents(ctx, storage.AuditQuery{OrgID: acme.ID, Type: audit.OrgUpdated}); len(evs) != 2 {
		t.Fatalf("%d events after a no-op", len(evs))
	}
	if _, err := s.UpdateOrg(ctx, "test", "nope", OrgChange{}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown org: %v", err)
	}
}

func TestParsePolicyChange(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		name   string
		in     map[string]string
		check  func(PasswordPolicyChange) bool
		errMsg string
	}{
		{"nothing", map[string]string{}, func(ch PasswordPolicyChange) bool {
			return ch.MinLength == nil && ch.MaxAge == nil && ch.MinAge == nil && ch.BreachCheck == nil && len(ch.Inherit) == 0
		}, ""},
		{"values", map[string]string{"min_length": " 12 ", "max_age": "90d", "min_age": "off", "breach_check": "ON"}, func(ch PasswordPolicyChange) bool {
			return *ch.MinLength == 12 && *ch.MaxAge == 90*day && *ch.MinAge == 0 && *ch.BreachCheck
		}, ""},
		{"defaults", map[string]string{"min_length": "default", "breach_check": "default"}, func(ch PasswordPolicyChange) bool {
			return slices.Equal(ch.Inherit, []string{SettingMinLength, SettingBreachCheck}) && ch.MinLength == nil
		}, ""},
		{"bad", map[string]string{"min_length": "twelve", "max_age": "3 months", "breach_check": "maybe"}, nil,
			`min_length: "twelve" is not a number; max_age: `},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch, err := ParsePolicyChange(c.in)
			if c.errMsg != "" {
				var ie *InputError
				if !errors.As(err, &ie) || len(ie.Msg) < len(c.errMsg) || ie.Msg[:len(c.errMsg)] != c.errMsg {
					t.Fatalf("err %v, want it to start %q", err, c.errMsg)
				}
				return
			}
			if err != nil || !c.check(ch) {
				t.Fatalf("%+v, %v", ch, err)
			}
		})
	}
}

func TestSearchAudit(t *testing.T) {
	ctx := context.Background()
	s, acme, other, users := consoleEnv(t)
	st := backend(t, s)
	for i := range 7 {
		if err := st.AppendAuditEvent(ctx, storage.AuditEvent{Time: now.Add(time.Duration(i) * 24 * time.Hour), Type: audit.LoginFailed,
			OrgID: acme.ID, UserID: users[i%2].ID}); err != nil {
			t.Fatal(err)
		}
	}
	oa := OrgsReach([]string{acme.ID})
	// Pages of 3, newest first, until the organization's first events.
	var seen int
	f := AuditFilter{Type: audit.LoginFailed, Limit: 3}
	for range 5 {
		p, err := s.SearchAudit(ctx, oa, f)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(p.Rows)
		if p.OrgID != acme.ID || (len(p.Rows) > 0 && p.Rows[0].Org != "Acme") {
			t.Fatalf("page %+v", p)
		}
		if p.Next == 0 {
			break
		}
		f.Before = p.Next
	}
	if seen != 7 {
		t.Fatalf("paged through %d events, want 7", seen)
	}
	p, err := s.SearchAudit(ctx, Everyone, AuditFilter{User: users[1].Email, Type: audit.LoginFailed})
	if err != nil || len(p.Rows) != 3 || p.Rows[0].User != users[1].Email {
		t.Fatalf("by user: %+v, %v", p, err)
	}
	day := now.Add(2 * 24 * time.Hour).Format(time.DateOnly)
	p, err = s.SearchAudit(ctx, Everyone, AuditFilter{Type: audit.LoginFailed, Since: day, Until: day})
	if err != nil || len(p.Rows) != 1 {
		t.Fatalf("one day: %d rows, %v", len(p.Rows), err)
	}
	for name, f := range map[string]AuditFilter{
		"another organization": {OrgID: other.ID},
		"a user of another":    {User: "x@other.example"},
		"an unknown user":      {User: "nobody@acme.example"},
		"a bad type":           {Type: "Robert'); DROP"},
		"a bad day":            {Since: "31/12/2026"},
		"days reversed":        {Since: "2026-12-31", Until: "2026-01-01"},
		"a negative cursor":    {Before: -1},
	} {
		var ie *InputError
		if _, err := s.SearchAudit(ctx, oa, f); !errors.As(err, &ie) {
			t.Errorf("%s: %v, want an InputError", name, err)
		}
	}
}

func TestBulkRefusesOneself(t *testing.T) {
	ctx := context.Background()
	s, _, _, users := consoleEnv(t)
	self := users[3] // the admin
	res, err := s.Bulk(ctx, "test", Everyone, BulkInput{Action: BulkResetMFA, IDs: []string{self.ID, users[4].ID}, Reason: "r", Self: self.ID})
	if err != nil || len(res) != 2 {
		t.Fatalf("%+v, %v", res, err)
	}
	var ie *InputError
	if !errors.As(res[0].Err, &ie) || res[0].User.Email != self.Email || res[1].Err != nil {
		t.Fatalf("results %+v", res)
	}
	if u, _ := backend(t, s).GetUser(ctx, self.ID); u.MFAEnrollRequired {
		t.Fatal("the admin's own MFA was reset")
	}
	if res, err := s.Bulk(ctx, "test", Everyone, BulkInput{Action: BulkResetMFA, IDs: []string{self.ID}, Reason: "r", Self: self.ID}); err != nil ||
		len(res) != 1 || res[0].Err == nil {
		t.Fatalf("oneself alone: %+v, %v", res, err)
	}
}

func TestRevokeOwnAdminRole(t *testing.T) {
	ctx := context.Background()
	s, _, _, users := consoleEnv(t)
	self := users[3]
	var ie *InputError
	if _, err := s.RevokeRole(ctx, "test", RoleChange{Email: self.Email, Role: RoleNameAdmin, Self: self.ID}); !errors.As(err, &ie) {
		t.Fatalf("revoking one's own admin role: %v", err)
	}
	// Another admin may; an org-admin role of one's own may go.
	if _, err := s.GrantRole(ctx, "test", RoleChange{Email: self.Email, Role: RoleNameOrgAdmin}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeRole(ctx, "test", RoleChange{Email: self.Email, Role: RoleNameOrgAdmin, Self: self.ID}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.RevokeRole(ctx, "test", RoleChange{Email: self.Email, Role: RoleNameAdmin, Self: users[0].ID}); err != nil || !r.Changed {
		t.Fatalf("another's revoke: %+v %v", r, err)
	}
}

func TestBranding(t *testing.T) {
	ctx := context.Background()
	s, acme, _, _ := consoleEnv(t)
	for _, c := range []struct {
		name string
		b    storage.Branding
		ok   bool
	}{
		{"none", storage.Branding{}, true},
		{"logo and accent", storage.Branding{LogoURL: " https://cdn.acme.example/logo.svg ", Accent: "#1D4ED8"}, true},
		{"http logo outside dev mode", storage.Branding{LogoURL: "http://cdn.acme.example/logo.svg"}, false},
		{"script URL", storage.Branding{LogoURL: "javascript:alert(1)"}, false},
		{"credentials in the URL", storage.Branding{LogoURL: "https://u:p@cdn.acme.example/l.png"}, false},
		{"not a colour", storage.Branding{Accent: "blue"}, false},
		{"short colour", storage.Branding{Accent: "#12345"}, false},
		{"too light for white text", storage.Branding{Accent: "#ffcc00"}, false},
		{"just dark enough", storage.Branding{Accent: "#767676"}, true}, // 4.54:1
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.UpdateOrg(ctx, "test", "acme", OrgChange{Branding: &c.b})
			var ie *InputError
			if c.ok != (err == nil) || (err != nil && !errors.As(err, &ie)) {
				t.Fatalf("err %v, want ok=%v", err, c.ok)
			}
		})
	}
	o, _ := backend(t, s).GetOrganization(ctx, acme.ID)
	if o.Branding != (storage.Branding{Accent: "#767676"}) {
		t.Fatalf("stored %+v", o.Branding)
	}
	evs, _ := backend(t, s).ListAuditEvents(ctx, storage.AuditQuery{OrgID: acme.ID, Type: audit.OrgUpdated})
	if len(evs) != 2 || evs[0].Details["branding"] != "logo=https://cdn.acme.example/logo.svg accent=#1d4ed8 -> logo=none accent=#767676" {
		t.Fatalf("events %+v", evs)
	}
}

func TestChangeEmail(t *testing.T) {
	ctx := context.Background()
	s, _, _, users := consoleEnv(t)
	st := backend(t, s)
	if _, err := st.UpdateUser(ctx, users[0].ID, func(u storage.User) (storage.User, error) { u.EmailVerified = true; return u, nil }); err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	if _, err := s.UpdateUserProfile(ctx, "test", Everyone, users[0].ID, ProfileChange{Email: str(users[1].Email)}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("another account's email: %v", err)
	}
	if _, err := s.UpdateUserProfile(ctx, "test", Everyone, users[0].ID, ProfileChange{Email: str("not an address")}); !isInput(err) {
		t.Fatalf("a bad email: %v", err)
	}
	u, err := s.UpdateUserProfile(ctx, "test", Everyone, users[0].ID, ProfileChange{Email: str(" New.Address@Acme.Example ")})
	if err != nil || u.Email != "new.address@acme.example" || u.EmailVerified {
		t.Fatalf("changed: %+v, %v", u, err)
	}
	if got, err := st.GetUserByEmail(ctx, "new.address@acme.example"); err != nil || got.ID != users[0].ID {
		t.Fatalf("lookup by the new address: %v", err)
	}
	evs, _ := st.ListAuditEvents(ctx, storage.AuditQuery{UserID: users[0].ID, Type: audit.UserEmailChanged})
	if len(evs) != 1 || evs[0].Details["old"] != users[0].Email {
		t.Fatalf("events %+v", evs)
	}
	// The same address again, verified by the admin in one change.
	if u, err := s.UpdateUserProfile(ctx, "test", Everyone, users[0].ID, ProfileChange{Email: str("new.address@acme.example"), EmailVerified: ptr(true)}); err != nil || !u.EmailVerified {
		t.Fatalf("%+v %v", u, err)
	}
}
