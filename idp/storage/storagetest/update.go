package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var updateByFunctionTests = []testCase{
	{"ErrorAborts", testUpdateErrorAborts},
	{"NoLostUpdates/User", testNoLostUpdatesUser},
	{"NoLostUpdates/Organization", testNoLostUpdatesOrganization},
	{"NoLostUpdates/AuthRequest", testNoLostUpdatesAuthRequest},
	{"NoLostUpdates/Connector", testNoLostUpdatesConnector},
	{"NoLostUpdates/Link", testNoLostUpdatesLink},
}

// updatable reduces one entity's Update method to one string field, so that
// the abort semantics can be checked for every entity alike.
type updatable struct {
	name string
	// create stores a row and returns its key.
	create func(t *testing.T, f *fixture, b base) string
	// update calls the entity's Update* with a function that passes the
	// field through fn.
	update func(f *fixture, key string, fn func(string) (string, error)) error
	// field reads the field of the stored row.
	field func(f *fixture, key string) (string, error)
}

var updatables = []updatable{
	{
		name:   "Organization",
		create: func(t *testing.T, f *fixture, b base) string { return b.org.ID },
		update: func(f *fixture, id string, fn func(string) (string, error)) error {
			_, err := f.s.UpdateOrganization(f.ctx, id, func(o storage.Organization) (storage.Organization, error) {
				v, err := fn(o.DisplayName)
				o.DisplayName = v
				if err != nil {
					o.Domains = append(o.Domains, "aborted.example")
				}
				return o, err
			})
			return err
		},
		field: func(f *fixture, id string) (string, error) {
			o, err := f.s.GetOrganization(f.ctx, id)
			if err == nil && slices.Contains(o.Domains, "aborted.example") {
				return "", errors.New("a domain of the aborted update was written")
			}
			return o.DisplayName, err
		},
	},
	{
		name:   "User",
		create: func(t *testing.T, f *fixture, b base) string { return b.user.ID },
		update: func(f *fixture, id string, fn func(string) (string, error)) error {
			_, err := f.s.UpdateUser(f.ctx, id, func(u storage.User) (storage.User, error) {
				v, err := fn(u.Name)
				u.Name = v
				if err != nil {
					u.Roles = nil
				}
				return u, err
			})
			return err
		},
		field: func(f *fixture, id string) (string, error) {
			u, err := f.s.GetUser(f.ctx, id)
			if err == nil && len(u.Roles) == 0 {
				return "", errors.New("roles of the aborted update were written")
			}
			return u.Name, err
		},
	},
	{
		name:   "Client",
		create: func(t *testing.T, f *fixture, b base) string { return b.client.ID },
		update: func(f *fixture, id string, fn func(string) (string, error)) error {
			_, err := f.s.UpdateClient(f.ctx, id, func(c storage.Client) (storage.Client, error) {
				v, err := fn(c.Name)
				c.Name = v
				return c, err
			})
			return err
		},
		field: func(f *fixture, id string) (string, error) {
			c, err := f.s.GetClient(f.ctx, id)
			return c.Name, err
		},
	},
	{
		name: "AuthRequest",
		create: func(t *testing.T, f *fixture, b base) string {
			return f.createAuthRequest(t, newAuthRequest("ar-1", b.client.ID)).ID
		},
		update: func(f *fixture, id string, fn func(string) (string, error)) error {
			_, err := f.s.UpdateAuthRequest(f.ctx, id, func(r storage.AuthRequest) (storage.AuthRequest, error) {
				v, err := fn(r.Step)
				r.Step = v
				return r, err
			})
			return err
		},
		field: func(f *fixture, id string) (string, error) {
			r, err := f.s.GetAuthRequest(f.ctx, id)
			return r.Step, err
		},
	},
	{
		name: "Session",
		create: func(t *testing.T, f *fixture, b base) string {
			return f.createSession(t, newSession(h("sess-1"), b.user.ID)).Hash
		},
		update: func(f *fixture, hash string, fn func(string) (string, error)) error {
			_, err := f.s.UpdateSession(f.ctx, hash, func(s storage.Session) (storage.Session, error) {
				v, err := fn(s.UserAgent)
				s.UserAgent = v
				return s, err
			})
			return err
		},
		field: func(f *fixture, hash string) (string, error) {
			s, err := f.s.GetSession(f.ctx, hash)
			return s.UserAgent, err
		},
	},
	{
		name: "Connector",
		create: func(t *testing.T, f *fixture, b base) string {
			return f.createConnector(t, newConnector("acme-okta", b.org.ID, "sso.acme.example")).ID
		},
		update: func(f *fixture, id string, fn func(string) (string, error)) error {
			_, err := f.s.UpdateConnector(f.ctx, id, func(c storage.Connector) (storage.Connector, error) {
				v, err := fn(c.Name)
				c.Name = v
				if err != nil {
					c.Domains = append(c.Domains, "aborted.example")
				}
				return c, err
			})
			return err
		},
		field: func(f *fixture, id string) (string, error) {
			c, err := f.s.GetConnector(f.ctx, id)
			if err == nil && slices.Contains(c.Domains, "aborted.example") {
				return "", errors.New("a domain of the aborted update was written")
			}
			return c.Name, err
		},
	},
	{
		name: "Link",
		create: func(t *testing.T, f *fixture, b base) string {
			c := f.createConnector(t, newConnector("acme-link", b.org.ID))
			return f.createLink(t, newLink(c.ID, "sub-1", b.user.ID)).Subject
		},
		update: func(f *fixture, sub string, fn func(string) (string, error)) error {
			_, err := f.s.UpdateLink(f.ctx, "acme-link", sub, func(l storage.Link) (storage.Link, error) {
				v, err := fn(l.Email)
				l.Email = v
				if err != nil {
					l.Groups = nil
				}
				return l, err
			})
			return err
		},
		field: func(f *fixture, sub string) (string, error) {
			l, err := f.s.GetLink(f.ctx, "acme-link", sub)
			if err == nil && len(l.Groups) == 0 {
				return "", errors.New("groups of the aborted update were written")
			}
			return l.Email, err
		},
	},
	{
		name: "SigningKey",
		create: func(t *testing.T, f *fixture, b base) string {
			k := newSigningKey("k-1", storage.KeyUseOIDC, at(0))
			mustOK(t, f.s.CreateSigningKey(f.ctx, k), "CreateSigningKey")
			return k.ID
		},
		update: func(f *fixture, id string, fn func(string) (string, error)) error {
			_, err := f.s.UpdateSigningKey(f.ctx, id, func(k storage.SigningKey) (storage.SigningKey, error) {
				v, err := fn(k.Algorithm)
				k.Algorithm = v
				return k, err
			})
			return err
		},
		field: func(f *fixture, id string) (string, error) {
			keys, err := f.s.ListSigningKeys(f.ctx, storage.KeyUseOIDC)
			if err != nil {
				return "", err
			}
			for _, k := range keys {
				if k.ID == id {
					return k.Algorithm, nil
				}
			}
			return "", storage.ErrNotFound
		},
	},
}

// testUpdateErrorAborts: the function sees the stored row; when it returns
// an error, that error comes back (wrapped) and nothing is written, even
// though the function changed the row it returned.
func testUpdateErrorAborts(t *testing.T, f *fixture) {
	b := f.base(t)
	for _, u := range updatables {
		t.Run(u.name, func(t *testing.T) {
			key := u.create(t, f, b)
			before, err := u.field(f, key)
			mustOK(t, err, "read before update")

			errVeto := fmt.Errorf("veto from the %s update function", u.name)
			var seen string
			calls := 0
			err = u.update(f, key, func(cur string) (string, error) {
				calls++
				seen = cur
				return "changed by an aborted update", errVeto
			})
			if !errors.Is(err, errVeto) {
				t.Errorf("Update%s with a failing function: err = %v, want errors.Is(err, the function's error)", u.name, err)
			}
			if calls == 0 {
				t.Errorf("Update%s did not call the function", u.name)
			} else if seen != before {
				t.Errorf("the function saw %q, want the stored %q", seen, before)
			}
			after, err := u.field(f, key)
			if checkOK(t, err, "read after an aborted update") && after != before {
				t.Errorf("after an aborted update the field is %q, want %q (nothing may be written)", after, before)
			}

			// And a later update still works.
			err = u.update(f, key, func(string) (string, error) { return "changed", nil })
			mustOK(t, err, "update after an aborted one")
			after, err = u.field(f, key)
			if checkOK(t, err, "read after update") && after != "changed" {
				t.Errorf("after update the field is %q, want %q", after, "changed")
			}
		})
	}
}

func checkAllOK(t *testing.T, what string, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s, goroutine %d: %v", what, i, err)
		}
	}
}

// testNoLostUpdatesUser: concurrent read-modify-write through UpdateUser
// loses nothing. The function is pure, as the contract asks, because it may
// run more than once.
func testNoLostUpdatesUser(t *testing.T, f *fixture) {
	b := f.base(t)
	errs := make([]error, concurrency)
	race(concurrency, func(i int) {
		_, errs[i] = f.s.UpdateUser(f.ctx, b.user.ID, func(u storage.User) (storage.User, error) {
			u.Roles = append(slices.Clone(u.Roles), fmt.Sprintf("role-%02d", i))
			return u, nil
		})
	})
	checkAllOK(t, "concurrent UpdateUser", errs)
	got, err := f.s.GetUser(f.ctx, b.user.ID)
	mustOK(t, err, "GetUser")
	want := slices.Clone(b.user.Roles)
	for i := range concurrency {
		want = append(want, fmt.Sprintf("role-%02d", i))
	}
	checkSet(t, "Roles after concurrent appends", want, got.Roles)
}

func testNoLostUpdatesOrganization(t *testing.T, f *fixture) {
	b := f.base(t)
	errs := make([]error, concurrency)
	race(concurrency, func(i int) {
		_, errs[i] = f.s.UpdateOrganization(f.ctx, b.org.ID, func(o storage.Organization) (storage.Organization, error) {
			o.PasswordPolicy.MinLength++
			return o, nil
		})
	})
	checkAllOK(t, "concurrent UpdateOrganization", errs)
	got, err := f.s.GetOrganization(f.ctx, b.org.ID)
	mustOK(t, err, "GetOrganization")
	if want := b.org.PasswordPolicy.MinLength + concurrency; got.PasswordPolicy.MinLength != want {
		t.Errorf("MinLength after %d concurrent increments = %d, want %d", concurrency, got.PasswordPolicy.MinLength, want)
	}
}

// testNoLostUpdatesAuthRequest: Attempts counts failed steps; a lost
// increment is a free guess.
func testNoLostUpdatesAuthRequest(t *testing.T, f *fixture) {
	b := f.base(t)
	r := f.createAuthRequest(t, newAuthRequest("ar-1", b.client.ID))
	errs := make([]error, concurrency)
	race(concurrency, func(i int) {
		_, errs[i] = f.s.UpdateAuthRequest(f.ctx, r.ID, func(r storage.AuthRequest) (storage.AuthRequest, error) {
			r.Attempts++
			return r, nil
		})
	})
	checkAllOK(t, "concurrent UpdateAuthRequest", errs)
	got, err := f.s.GetAuthRequest(f.ctx, r.ID)
	mustOK(t, err, "GetAuthRequest")
	if got.Attempts != concurrency {
		t.Errorf("Attempts after %d concurrent increments = %d, want %d", concurrency, got.Attempts, concurrency)
	}
}

// testNoLostUpdatesConnector: concurrent updates that each add a domain
// keep every domain, the child rows included.
func testNoLostUpdatesConnector(t *testing.T, f *fixture) {
	b := f.base(t)
	c := f.createConnector(t, newConnector("acme-okta", b.org.ID, "sso.acme.example"))
	errs := make([]error, concurrency)
	race(concurrency, func(i int) {
		_, errs[i] = f.s.UpdateConnector(f.ctx, c.ID, func(c storage.Connector) (storage.Connector, error) {
			c.Domains = append(slices.Clone(c.Domains), fmt.Sprintf("d%02d.acme.example", i))
			return c, nil
		})
	})
	checkAllOK(t, "concurrent UpdateConnector", errs)
	got, err := f.s.GetConnector(f.ctx, c.ID)
	mustOK(t, err, "GetConnector")
	want := slices.Clone(c.Domains)
	for i := range concurrency {
		want = append(want, fmt.Sprintf("d%02d.acme.example", i))
	}
	checkSet(t, "Domains after concurrent appends", want, got.Domains)
	for _, d := range want {
		f.checkDomainOwner(t, "after concurrent appends", d, c.ID)
	}
}

// testNoLostUpdatesLink: concurrent upstream logins of one identity that
// each add a group keep every group.
func testNoLostUpdatesLink(t *testing.T, f *fixture) {
	b := f.base(t)
	c := f.createConnector(t, newConnector("acme-okta", b.org.ID))
	l := f.createLink(t, newLink(c.ID, "sub-1", b.user.ID))
	errs := make([]error, concurrency)
	race(concurrency, func(i int) {
		_, errs[i] = f.s.UpdateLink(f.ctx, l.ConnectorID, l.Subject, func(l storage.Link) (storage.Link, error) {
			l.Groups = append(slices.Clone(l.Groups), fmt.Sprintf("group-%02d", i))
			return l, nil
		})
	})
	checkAllOK(t, "concurrent UpdateLink", errs)
	got, err := f.s.GetLink(f.ctx, l.ConnectorID, l.Subject)
	mustOK(t, err, "GetLink")
	want := slices.Clone(l.Groups)
	for i := range concurrency {
		want = append(want, fmt.Sprintf("group-%02d", i))
	}
	checkSet(t, "Groups after concurrent appends", want, got.Groups)
}
