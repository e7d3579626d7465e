package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var unavailableTests = []testCase{
	{"AfterClose", testUnavailableAfterClose},
}

// testUnavailableAfterClose: when the database cannot be reached, every
// method says so with ErrUnavailable. A lookup must never answer
// ErrNotFound then: callers would turn it into "wrong password" or
// "invalid token" instead of 503. A closed store is the one unreachable
// database the suite can make without knowing the backend.
func testUnavailableAfterClose(t *testing.T, f *fixture) {
	b := f.base(t)
	conn := f.createConnector(t, newConnector("acme-okta", b.org.ID, "sso.acme.example"))
	f.createLink(t, newLink(conn.ID, "sub-1", b.user.ID))
	mustOK(t, f.s.Close(), "Close")
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"Ping", func() error { return f.s.Ping(f.ctx) }},
		{"GetUserByEmail", func() error { _, err := f.s.GetUserByEmail(f.ctx, b.user.Email); return err }},
		{"GetUserByEmail of an unknown email", func() error { _, err := f.s.GetUserByEmail(f.ctx, "nobody@acme.example"); return err }},
		{"GetClient", func() error { _, err := f.s.GetClient(f.ctx, b.client.ID); return err }},
		{"GetSession", func() error { _, err := f.s.GetSession(f.ctx, h("sess")); return err }},
		{"ConsumeAuthCode", func() error { _, err := f.s.ConsumeAuthCode(f.ctx, h("code"), at(0)); return err }},
		{"RotateRefreshToken", func() error {
			_, err := f.s.RotateRefreshToken(f.ctx, h("rt"), newRefreshToken(h("rt2"), "", b.client.ID, b.user.ID, ""), nil, at(0))
			return err
		}},
		{"UpdateUser", func() error {
			_, err := f.s.UpdateUser(f.ctx, b.user.ID, func(u storage.User) (storage.User, error) { return u, nil })
			return err
		}},
		{"CreateUser", func() error { return f.s.CreateUser(f.ctx, newUser("user-2", b.org.ID, "bob@acme.example")) }},
		{"GetConnector", func() error { _, err := f.s.GetConnector(f.ctx, conn.ID); return err }},
		{"GetConnectorByDomain", func() error { _, err := f.s.GetConnectorByDomain(f.ctx, "sso.acme.example"); return err }},
		{"ListConnectors", func() error { _, err := f.s.ListConnectors(f.ctx, ""); return err }},
		{"UpdateConnector", func() error {
			_, err := f.s.UpdateConnector(f.ctx, conn.ID, func(c storage.Connector) (storage.Connector, error) { return c, nil })
			return err
		}},
		{"GetLink", func() error { _, err := f.s.GetLink(f.ctx, conn.ID, "sub-1"); return err }},
		{"GetLink of an unknown identity", func() error { _, err := f.s.GetLink(f.ctx, conn.ID, "sub-unknown"); return err }},
		{"ListUserLinks", func() error { _, err := f.s.ListUserLinks(f.ctx, b.user.ID); return err }},
		{"CreateLink", func() error { return f.s.CreateLink(f.ctx, newLink(conn.ID, "sub-2", b.user.ID)) }},
		{"UpdateLink", func() error {
			_, err := f.s.UpdateLink(f.ctx, conn.ID, "sub-1", func(l storage.Link) (storage.Link, error) { return l, nil })
			return err
		}},
		{"UseAssertionID", func() error { return f.s.UseAssertionID(f.ctx, conn.ID, "_a1", at(time.Hour), at(0)) }},
	} {
		err := c.call()
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s on a closed store: err = %v, want errors.Is(err, ErrUnavailable)", c.name, err)
		}
		if errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s on a closed store: err = %v is ErrNotFound; callers would read it as a wrong credential", c.name, err)
		}
	}
}
