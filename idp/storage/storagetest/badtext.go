package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Text no backend may store: PostgreSQL's text refuses NUL and invalid
// UTF-8, SQLite takes both. Outside input (a URL's id, a form's email, an
// admin API path) reaches storage as keys and as values, so every backend
// must answer it alike: a lookup by such a key is ErrNotFound, a list
// filtered by it is empty, a write of it is ErrInvalid, and nothing is a
// driver error.
var badTextTests = []testCase{
	{"LookupsAreNotFound", testBadTextLookups},
	{"ListsAreEmpty", testBadTextLists},
	{"WritesAreInvalid", testBadTextWrites},
	{"UpdateToBadTextIsInvalid", testBadTextUpdate},
}

// badTexts are keys and values no backend may store.
var badTexts = map[string]string{
	"NUL":           "alice\x00@acme.example",
	"LoneNUL":       "\x00",
	"InvalidByte":   "alice\xff@acme.example",
	"TruncatedRune": "caf\xc3",
	"Surrogate":     "\xed\xa0\x80",
}

func testBadTextLookups(t *testing.T, f *fixture) {
	b := f.base(t)
	conn := f.createConnector(t, newConnector("acme-okta", b.org.ID, "sso.acme.example"))
	link := f.createLink(t, newLink(conn.ID, "sub-1", b.user.ID))
	now := at(0)
	for label, bad := range badTexts {
		lookups := map[string]func() error{
			"GetOrganization":         func() error { _, err := f.s.GetOrganization(f.ctx, bad); return err },
			"GetOrganizationByName":   func() error { _, err := f.s.GetOrganizationByName(f.ctx, bad); return err },
			"GetOrganizationByDomain": func() error { _, err := f.s.GetOrganizationByDomain(f.ctx, bad); return err },
			"UpdateOrganization": func() error {
				_, err := f.s.UpdateOrganization(f.ctx, bad, func(o storage.Organization) (storage.Organization, error) { return o, nil })
				return err
			},
			"DeleteOrganization": func() error { return f.s.DeleteOrganization(f.ctx, bad) },
			"GetUser":            func() error { _, err := f.s.GetUser(f.ctx, bad); return err },
			"GetUserByEmail":     func() error { _, err := f.s.GetUserByEmail(f.ctx, bad); return err },
			"UpdateUser": func() error {
				_, err := f.s.UpdateUser(f.ctx, bad, func(u storage.User) (storage.User, error) { return u, nil })
				return err
			},
			"DeleteUser": func() error { return f.s.DeleteUser(f.ctx, bad) },
			"GetClient":  func() error { _, err := f.s.GetClient(f.ctx, bad); return err },
			"UpdateClient": func() error {
				_, err := f.s.UpdateClient(f.ctx, bad, func(c storage.Client) (storage.Client, error) { return c, nil })
				return err
			},
			"DeleteClient":      func() error { return f.s.DeleteClient(f.ctx, bad) },
			"GetAuthRequest":    func() error { _, err := f.s.GetAuthRequest(f.ctx, bad); return err },
			"DeleteAuthRequest": func() error { return f.s.DeleteAuthRequest(f.ctx, bad) },
			"UpdateAuthRequest": func() error {
				_, err := f.s.UpdateAuthRequest(f.ctx, bad, func(r storage.AuthRequest) (storage.AuthRequest, error) { return r, nil })
				return err
			},
			"GetAuthCode":     func() error { _, err := f.s.GetAuthCode(f.ctx, bad); return err },
			"ConsumeAuthCode": func() error { _, err := f.s.ConsumeAuthCode(f.ctx, bad, now); return err },
			"RedeemAuthCode": func() error {
				_, err := f.s.RedeemAuthCode(f.ctx, bad, newAccessToken(h("at-redeem"), "", b.client.ID, b.user.ID), nil, now)
				return err
			},
			"GetRefreshToken": func() error { _, err := f.s.GetRefreshToken(f.ctx, bad); return err },
			"RotateRefreshToken": func() error {
				_, err := f.s.RotateRefreshToken(f.ctx, bad, newRefreshToken(h("rt-next"), "", b.client.ID, b.user.ID, ""), nil, now)
				return err
			},
			"GetAccessToken":    func() error { _, err := f.s.GetAccessToken(f.ctx, bad); return err },
			"RevokeAccessToken": func() error { return f.s.RevokeAccessToken(f.ctx, bad, now) },
			"GetSession":        func() error { _, err := f.s.GetSession(f.ctx, bad); return err },
			"UpdateSession": func() error {
				_, err := f.s.UpdateSession(f.ctx, bad, func(s storage.Session) (storage.Session, error) { return s, nil })
				return err
			},
			"DeleteSession":                 func() error { return f.s.DeleteSession(f.ctx, bad) },
			"GetOneTimeToken":               func() error { _, err := f.s.GetOneTimeToken(f.ctx, storage.PurposePasswordReset, bad); return err },
			"GetOneTimeTokenBadPurpose":     func() error { _, err := f.s.GetOneTimeToken(f.ctx, bad, h("x")); return err },
			"ConsumeOneTimeToken":           func() error { _, err := f.s.ConsumeOneTimeToken(f.ctx, storage.PurposeInvite, bad, now); return err },
			"ConsumeOneTimeTokenBadPurpose": func() error { _, err := f.s.ConsumeOneTimeToken(f.ctx, bad, h("x"), now); return err },
			"UpdateSigningKey": func() error {
				_, err := f.s.UpdateSigningKey(f.ctx, bad, func(k storage.SigningKey) (storage.SigningKey, error) { return k, nil })
				return err
			},
			"DeleteSigningKey": func() error { return f.s.DeleteSigningKey(f.ctx, bad) },
			"GetFactor":        func() error { _, err := f.s.GetFactor(f.ctx, bad); return err },
			"ConfirmFactor":    func() error { _, err := f.s.ConfirmFactor(f.ctx, bad, now); return err },
			"UseFactorStep":    func() error { _, err := f.s.UseFactorStep(f.ctx, bad, 1, now); return err },
			"ConsumeRecoveryCode": func() error {
				_, err := f.s.ConsumeRecoveryCode(f.ctx, bad, []byte(h("code")), now)
				return err
			},
			"TouchFactor":          func() error { return f.s.TouchFactor(f.ctx, bad, now) },
			"DeleteFactor":         func() error { return f.s.DeleteFactor(f.ctx, bad) },
			"GetConnector":         func() error { _, err := f.s.GetConnector(f.ctx, bad); return err },
			"GetConnectorByDomain": func() error { _, err := f.s.GetConnectorByDomain(f.ctx, bad); return err },
			"UpdateConnector": func() error {
				_, err := f.s.UpdateConnector(f.ctx, bad, func(c storage.Connector) (storage.Connector, error) { return c, nil })
				return err
			},
			"DeleteConnector":     func() error { return f.s.DeleteConnector(f.ctx, bad) },
			"GetLink":             func() error { _, err := f.s.GetLink(f.ctx, conn.ID, bad); return err },
			"GetLinkBadConnector": func() error { _, err := f.s.GetLink(f.ctx, bad, "sub-1"); return err },
			"UpdateLink": func() error {
				_, err := f.s.UpdateLink(f.ctx, conn.ID, bad, func(l storage.Link) (storage.Link, error) { return l, nil })
				return err
			},
			"DeleteLink":             func() error { return f.s.DeleteLink(f.ctx, conn.ID, bad) },
			"DeleteLinkBadConnector": func() error { return f.s.DeleteLink(f.ctx, bad, "sub-1") },
		}
		for op, fn := range lookups {
			checkErr(t, fn(), storage.ErrNotFound, fmt.Sprintf("%s(%s)", op, label))
		}
		counts := map[string]func() (int, error){
			"RevokeFamily":        func() (int, error) { return f.s.RevokeFamily(f.ctx, bad, now) },
			"RevokeUserTokens":    func() (int, error) { return f.s.RevokeUserTokens(f.ctx, bad, now) },
			"RevokeSessionTokens": func() (int, error) { return f.s.RevokeSessionTokens(f.ctx, bad, now) },
			"DeleteUserSessions":  func() (int, error) { return f.s.DeleteUserSessions(f.ctx, bad) },
			"DeleteUserFactors":   func() (int, error) { return f.s.DeleteUserFactors(f.ctx, bad) },
		}
		for op, fn := range counts {
			if n, err := fn(); err != nil || n != 0 {
				t.Errorf("%s(%s) = %d, %v; want 0, nil", op, label, n, err)
			}
		}
	}
	// The rows that exist are untouched.
	_, err := f.s.GetUser(f.ctx, b.user.ID)
	checkOK(t, err, "GetUser after the bad lookups")
	f.checkConnector(t, "connector after the bad lookups", conn)
	f.checkLink(t, "link after the bad lookups", link)
}

func testBadTextLists(t *testing.T, f *fixture) {
	b := f.base(t)
	conn := f.createConnector(t, newConnector("acme-okta", b.org.ID, "sso.acme.example"))
	f.createLink(t, newLink(conn.ID, "sub-1", b.user.ID))
	mustOK(t, f.s.AppendAuditEvent(f.ctx, auditEvent(1, "login.succeeded", b.org.ID, b.user.ID)), "AppendAuditEvent")
	for label, bad := range badTexts {
		for name, q := range map[string]storage.UserQuery{
			"OrgID":      {OrgID: bad},
			"AfterEmail": {AfterEmail: bad},
		} {
			got, err := f.s.ListUsers(f.ctx, q)
			if err != nil || len(got) != 0 {
				t.Errorf("ListUsers(%s=%s) = %d users, %v; want none, nil", name, label, len(got), err)
			}
		}
		for name, q := range map[string]storage.AuditQuery{
			"UserID": {UserID: bad},
			"OrgID":  {OrgID: bad},
			"Type":   {Type: bad},
		} {
			got, err := f.s.ListAuditEvents(f.ctx, q)
			if err != nil || len(got) != 0 {
				t.Errorf("ListAuditEvents(%s=%s) = %d events, %v; want none, nil", name, label, len(got), err)
			}
		}
		got, err := f.s.ListSigningKeys(f.ctx, bad)
		if err != nil || len(got) != 0 {
			t.Errorf("ListSigningKeys(%s) = %d keys, %v; want none, nil", label, len(got), err)
		}
		factors, err := f.s.ListFactors(f.ctx, bad, at(0))
		if err != nil || len(factors) != 0 {
			t.Errorf("ListFactors(%s) = %d factors, %v; want none, nil", label, len(factors), err)
		}
		conns, err := f.s.ListConnectors(f.ctx, bad)
		if err != nil || len(conns) != 0 {
			t.Errorf("ListConnectors(%s) = %d connectors, %v; want none, nil", label, len(conns), err)
		}
		links, err := f.s.ListUserLinks(f.ctx, bad)
		if err != nil || len(links) != 0 {
			t.Errorf("ListUserLinks(%s) = %d links, %v; want none, nil", label, len(links), err)
		}
	}
}

func testBadTextWrites(t *testing.T, f *fixture) {
	b := f.base(t)
	conn := f.createConnector(t, newConnector("acme-okta", b.org.ID, "sso.acme.example"))
	now := at(0)
	for label, bad := range badTexts {
		writes := map[string]func() error{
			"CreateOrganization.ID": func() error {
				return f.s.CreateOrganization(f.ctx, newOrg(bad, "other"))
			},
			"CreateOrganization.Name": func() error {
				return f.s.CreateOrganization(f.ctx, newOrg("org-bad", bad))
			},
			"CreateOrganization.DisplayName": func() error {
				o := newOrg("org-bad", "other")
				o.DisplayName = bad
				return f.s.CreateOrganization(f.ctx, o)
			},
			"CreateOrganization.Domains": func() error {
				return f.s.CreateOrganization(f.ctx, newOrg("org-bad", "other", "other.example", bad))
			},
			"CreateOrganization.MFA": func() error {
				o := newOrg("org-bad", "other")
				o.MFA.AllowedMethods = []string{"totp", bad}
				return f.s.CreateOrganization(f.ctx, o)
			},
			"CreateUser.Email": func() error {
				return f.s.CreateUser(f.ctx, newUser("user-bad", b.org.ID, bad))
			},
			"CreateUser.Name": func() error {
				u := newUser("user-bad", b.org.ID, "bad@acme.example")
				u.Name = bad
				return f.s.CreateUser(f.ctx, u)
			},
			"CreateUser.OrgID": func() error {
				return f.s.CreateUser(f.ctx, newUser("user-bad", bad, "bad@acme.example"))
			},
			"CreateUser.Roles": func() error {
				u := newUser("user-bad", b.org.ID, "bad@acme.example")
				u.Roles = []string{bad}
				return f.s.CreateUser(f.ctx, u)
			},
			"CreateClient.RedirectURIs": func() error {
				c := newClient("client-bad", b.org.ID)
				c.RedirectURIs = []string{"https://rp.example/cb", bad}
				return f.s.CreateClient(f.ctx, c)
			},
			"CreateClient.Name": func() error {
				c := newClient("client-bad", b.org.ID)
				c.Name = bad
				return f.s.CreateClient(f.ctx, c)
			},
			"CreateAuthRequest.State": func() error {
				r := newAuthRequest("ar-bad", b.client.ID)
				r.OIDC = &storage.OIDCParams{RedirectURI: "https://rp.example/cb", State: bad}
				return f.s.CreateAuthRequest(f.ctx, r)
			},
			"CreateAuthRequest.LoginHint": func() error {
				r := newAuthRequest("ar-bad", b.client.ID)
				r.LoginHint = bad
				return f.s.CreateAuthRequest(f.ctx, r)
			},
			"CreateAuthRequest.DoorData": func() error {
				r := newAuthRequest("ar-bad", b.client.ID)
				r.DoorData = []byte(fmt.Sprintf("{\"v\":\"%s\"}", bad))
				return f.s.CreateAuthRequest(f.ctx, r)
			},
			"CreateSession.UserAgent": func() error {
				s := newSession(h("sess-bad"), b.user.ID)
				s.UserAgent = bad
				return f.s.CreateSession(f.ctx, s)
			},
			"CreateOneTimeToken.Purpose": func() error {
				return f.s.CreateOneTimeToken(f.ctx, newOneTimeToken(h("ott-bad"), bad, b.user.ID))
			},
			"CreateFactor.ID": func() error {
				return f.s.CreateFactor(f.ctx, newFactor(bad, b.user.ID))
			},
			"CreateFactor.UserID": func() error {
				return f.s.CreateFactor(f.ctx, newFactor("f-bad", bad))
			},
			"CreateFactor.Label": func() error {
				v := newFactor("f-bad", b.user.ID)
				v.Label = bad
				return f.s.CreateFactor(f.ctx, v)
			},
			"CreateFactor.Address": func() error {
				v := newFactor("f-bad", b.user.ID)
				v.Address = bad
				return f.s.CreateFactor(f.ctx, v)
			},
			"CreateFactor.Data": func() error {
				v := newFactor("f-bad", b.user.ID)
				v.Data = []byte(fmt.Sprintf("{\"v\":\"%s\"}", bad))
				return f.s.CreateFactor(f.ctx, v)
			},
			"ReplaceRecoveryCodes.Label": func() error {
				c := recoveryCode("rc-bad", b.user.ID, "code")
				c.Label = bad
				return f.s.ReplaceRecoveryCodes(f.ctx, b.user.ID, []storage.Factor{c})
			},
			"ReplaceRecoveryCodes.UserID": func() error {
				return f.s.ReplaceRecoveryCodes(f.ctx, bad, []storage.Factor{recoveryCode("rc-bad", bad, "code")})
			},
			"AppendAuditEvent.UserAgent": func() error {
				e := auditEvent(1, "login.failed", b.org.ID, "")
				e.UserAgent = bad
				return f.s.AppendAuditEvent(f.ctx, e)
			},
			"AppendAuditEvent.Details": func() error {
				e := auditEvent(2, "login.failed", b.org.ID, "")
				e.Details = map[string]string{"email": bad}
				return f.s.AppendAuditEvent(f.ctx, e)
			},
			"CreateAuthRequest.Upstream": func() error {
				r := newAuthRequest("ar-bad", b.client.ID)
				r.Upstream = newUpstream()
				r.Upstream.Subject = bad
				return f.s.CreateAuthRequest(f.ctx, r)
			},
			"CreateAuthRequest.Upstream.Groups": func() error {
				r := newAuthRequest("ar-bad", b.client.ID)
				r.Upstream = newUpstream()
				r.Upstream.Groups = []string{"acme:users", bad}
				return f.s.CreateAuthRequest(f.ctx, r)
			},
			"CreateSession.ConnectorID": func() error {
				s := newSession(h("sess-bad"), b.user.ID)
				s.ConnectorID = bad
				return f.s.CreateSession(f.ctx, s)
			},
			"CreateSession.UpstreamSubject": func() error {
				s := newSession(h("sess-bad"), b.user.ID)
				s.UpstreamSubject = bad
				return f.s.CreateSession(f.ctx, s)
			},
			"CreateRefreshToken.ConnectorID": func() error {
				r := newRefreshToken(h("rt-bad"), "fam", b.client.ID, b.user.ID, "")
				r.ConnectorID = bad
				return f.s.CreateRefreshToken(f.ctx, r)
			},
			"CreateRefreshToken.UpstreamSubject": func() error {
				r := newRefreshToken(h("rt-bad"), "fam", b.client.ID, b.user.ID, "")
				r.UpstreamSubject = bad
				return f.s.CreateRefreshToken(f.ctx, r)
			},
			"CreateConnector.ID": func() error {
				return f.s.CreateConnector(f.ctx, newConnector(bad, b.org.ID, "bad.acme.example"))
			},
			"CreateConnector.OrgID": func() error {
				return f.s.CreateConnector(f.ctx, newConnector("conn-bad", bad, "bad.acme.example"))
			},
			"CreateConnector.Name": func() error {
				c := newConnector("conn-bad", b.org.ID, "bad.acme.example")
				c.Name = bad
				return f.s.CreateConnector(f.ctx, c)
			},
			"CreateConnector.Domains": func() error {
				return f.s.CreateConnector(f.ctx, newConnector("conn-bad", b.org.ID, "bad.acme.example", bad))
			},
			"CreateLink.ConnectorID": func() error {
				return f.s.CreateLink(f.ctx, newLink(bad, "sub-bad", b.user.ID))
			},
			"CreateLink.Subject": func() error {
				return f.s.CreateLink(f.ctx, newLink(conn.ID, bad, b.user.ID))
			},
			"CreateLink.UserID": func() error {
				return f.s.CreateLink(f.ctx, newLink(conn.ID, "sub-bad", bad))
			},
			"CreateLink.Email": func() error {
				l := newLink(conn.ID, "sub-bad", b.user.ID)
				l.Email = bad
				return f.s.CreateLink(f.ctx, l)
			},
			"CreateLink.Groups": func() error {
				l := newLink(conn.ID, "sub-bad", b.user.ID)
				l.Groups = []string{bad}
				return f.s.CreateLink(f.ctx, l)
			},
			"UseAssertionID.ID": func() error {
				return f.s.UseAssertionID(f.ctx, conn.ID, bad, at(time.Hour), now)
			},
			"UseAssertionID.ConnectorID": func() error {
				return f.s.UseAssertionID(f.ctx, bad, "_a1", at(time.Hour), now)
			},
			"AppendAuditEvent.DetailsKey": func() error {
				e := auditEvent(3, "login.failed", b.org.ID, "")
				e.Details = map[string]string{bad: "x"}
				return f.s.AppendAuditEvent(f.ctx, e)
			},
		}
		for op, fn := range writes {
			checkErr(t, fn(), storage.ErrInvalid, fmt.Sprintf("%s(%s)", op, label))
		}
	}
	// Nothing of the refused writes was stored.
	if _, err := f.s.GetOrganization(f.ctx, "org-bad"); !errorIs(err, storage.ErrNotFound) {
		t.Errorf("GetOrganization(org-bad) after refused creates: %v, want ErrNotFound", err)
	}
	if _, err := f.s.GetOrganizationByDomain(f.ctx, "other.example"); !errorIs(err, storage.ErrNotFound) {
		t.Errorf("the domain of a refused organization was stored: %v", err)
	}
	if _, err := f.s.GetUser(f.ctx, "user-bad"); !errorIs(err, storage.ErrNotFound) {
		t.Errorf("GetUser(user-bad) after refused creates: %v, want ErrNotFound", err)
	}
	if _, err := f.s.GetFactor(f.ctx, "f-bad"); !errorIs(err, storage.ErrNotFound) {
		t.Errorf("GetFactor(f-bad) after refused creates: %v, want ErrNotFound", err)
	}
	if _, err := f.s.GetFactor(f.ctx, "rc-bad"); !errorIs(err, storage.ErrNotFound) {
		t.Errorf("GetFactor(rc-bad) after refused replacements: %v, want ErrNotFound", err)
	}
	events, err := f.s.ListAuditEvents(f.ctx, storage.AuditQuery{})
	if checkOK(t, err, "ListAuditEvents") && len(events) != 0 {
		t.Errorf("%d audit events stored by refused appends", len(events))
	}
	for what, err := range map[string]error{
		"GetAuthRequest(ar-bad)": func() error { _, err := f.s.GetAuthRequest(f.ctx, "ar-bad"); return err }(),
		"GetSession(sess-bad)":   func() error { _, err := f.s.GetSession(f.ctx, h("sess-bad")); return err }(),
		"GetRefreshToken(rt-bad)": func() error {
			_, err := f.s.GetRefreshToken(f.ctx, h("rt-bad"))
			return err
		}(),
		"GetConnector(conn-bad)": func() error { _, err := f.s.GetConnector(f.ctx, "conn-bad"); return err }(),
		"GetConnectorByDomain(bad.acme.example)": func() error {
			_, err := f.s.GetConnectorByDomain(f.ctx, "bad.acme.example")
			return err
		}(),
	} {
		if !errorIs(err, storage.ErrNotFound) {
			t.Errorf("%s after refused writes: %v, want ErrNotFound", what, err)
		}
	}
	f.checkLinks(t, "links after refused creates", b.user.ID)
	// The refused uses recorded nothing: the id is still new.
	checkOK(t, f.s.UseAssertionID(f.ctx, conn.ID, "_a1", at(time.Hour), now), "UseAssertionID after refused uses")
}

// An update function that returns bad text is refused and the row is kept.
func testBadTextUpdate(t *testing.T, f *fixture) {
	b := f.base(t)
	for label, bad := range badTexts {
		_, err := f.s.UpdateUser(f.ctx, b.user.ID, func(u storage.User) (storage.User, error) {
			u.Name = bad
			u.UpdatedAt = at(time.Hour)
			return u, nil
		})
		checkErr(t, err, storage.ErrInvalid, "UpdateUser to name "+label)
		_, err = f.s.UpdateOrganization(f.ctx, b.org.ID, func(o storage.Organization) (storage.Organization, error) {
			o.Domains = append(o.Domains, bad)
			return o, nil
		})
		checkErr(t, err, storage.ErrInvalid, "UpdateOrganization adding domain "+label)
	}
	conn := f.createConnector(t, newConnector("acme-okta", b.org.ID, "sso.acme.example"))
	link := f.createLink(t, newLink(conn.ID, "sub-1", b.user.ID))
	r := f.createAuthRequest(t, newAuthRequest("ar-1", b.client.ID))
	for label, bad := range badTexts {
		_, err := f.s.UpdateConnector(f.ctx, conn.ID, func(c storage.Connector) (storage.Connector, error) {
			c.Name = "changed"
			c.Domains = append(c.Domains, bad)
			return c, nil
		})
		checkErr(t, err, storage.ErrInvalid, "UpdateConnector adding domain "+label)
		_, err = f.s.UpdateLink(f.ctx, link.ConnectorID, link.Subject, func(l storage.Link) (storage.Link, error) {
			l.Email, l.LastLoginAt = bad, at(time.Hour)
			return l, nil
		})
		checkErr(t, err, storage.ErrInvalid, "UpdateLink to email "+label)
		_, err = f.s.UpdateAuthRequest(f.ctx, r.ID, func(r storage.AuthRequest) (storage.AuthRequest, error) {
			r.Upstream = newUpstream()
			r.Upstream.Email = bad
			return r, nil
		})
		checkErr(t, err, storage.ErrInvalid, "UpdateAuthRequest to an upstream email "+label)
	}
	f.checkConnector(t, "connector after refused updates", conn)
	f.checkLink(t, "link after refused updates", link)
	if got, err := f.s.GetAuthRequest(f.ctx, r.ID); checkOK(t, err, "GetAuthRequest") {
		checkEqual(t, "auth request after refused updates", r, got)
	}
	u, err := f.s.GetUser(f.ctx, b.user.ID)
	if checkOK(t, err, "GetUser") {
		checkEqual(t, "user after refused updates", b.user, u)
	}
	o, err := f.s.GetOrganization(f.ctx, b.org.ID)
	if checkOK(t, err, "GetOrganization") {
		checkEqual(t, "organization after refused updates", b.org, o)
	}
}
