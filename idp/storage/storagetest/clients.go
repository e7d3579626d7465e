package storagetest

import (
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var clientTests = []testCase{
	{"RoundTrip", testClientRoundTrip},
	{"List", testClientList},
	{"NotFound", testClientNotFound},
	{"CreateConflict", testClientCreateConflict},
	{"Update", testClientUpdate},
	{"Delete", testClientDelete},
}

func publicClient(id, orgID string) storage.Client {
	return storage.Client{
		ID:           id,
		OrgID:        orgID,
		Name:         "SPA " + id,
		Public:       true,
		RedirectURIs: []string{"http://127.0.0.1:8080/cb"},
		GrantTypes:   []string{"authorization_code"},
		Scopes:       []string{"openid"},
		Source:       "api",
		CreatedAt:    at(0),
		UpdatedAt:    at(0),
	}
}

func testClientRoundTrip(t *testing.T, f *fixture) {
	mustOK(t, f.s.CreateOrganization(f.ctx, newOrg("org-1", "acme")), "CreateOrganization")
	for _, c := range []storage.Client{newClient("confidential", "org-1"), publicClient("public", "org-1")} {
		mustOK(t, f.s.CreateClient(f.ctx, c), "CreateClient "+c.ID)
		got, err := f.s.GetClient(f.ctx, c.ID)
		if checkOK(t, err, "GetClient "+c.ID) {
			checkEqual(t, "GetClient "+c.ID, c, got)
		}
	}
}

func testClientList(t *testing.T, f *fixture) {
	got, err := f.s.ListClients(f.ctx)
	mustOK(t, err, "ListClients on an empty store")
	if len(got) != 0 {
		t.Errorf("ListClients on an empty store = %d rows, want 0", len(got))
	}
	mustOK(t, f.s.CreateOrganization(f.ctx, newOrg("org-1", "acme")), "CreateOrganization")
	want := map[string]storage.Client{}
	for _, c := range []storage.Client{newClient("c-2", "org-1"), publicClient("c-1", "org-1"), newClient("c-3", "org-1")} {
		mustOK(t, f.s.CreateClient(f.ctx, c), "CreateClient "+c.ID)
		want[c.ID] = c
	}
	got, err = f.s.ListClients(f.ctx)
	mustOK(t, err, "ListClients")
	if len(got) != len(want) {
		t.Fatalf("ListClients = %d rows, want %d", len(got), len(want))
	}
	for _, c := range got {
		w, ok := want[c.ID]
		if !ok {
			t.Errorf("ListClients returned unknown or duplicate id %q", c.ID)
			continue
		}
		delete(want, c.ID)
		checkEqual(t, "ListClients row "+c.ID, w, c)
	}
}

func testClientNotFound(t *testing.T, f *fixture) {
	f.base(t)
	_, err := f.s.GetClient(f.ctx, "missing")
	checkErr(t, err, storage.ErrNotFound, "GetClient of a missing id")
	_, err = f.s.UpdateClient(f.ctx, "missing", func(c storage.Client) (storage.Client, error) { return c, nil })
	checkErr(t, err, storage.ErrNotFound, "UpdateClient of a missing id")
	checkErr(t, f.s.DeleteClient(f.ctx, "missing"), storage.ErrNotFound, "DeleteClient of a missing id")
}

func testClientCreateConflict(t *testing.T, f *fixture) {
	b := f.base(t)
	dup := publicClient(b.client.ID, b.org.ID)
	checkErr(t, f.s.CreateClient(f.ctx, dup), storage.ErrConflict, "CreateClient with a taken id")
	got, err := f.s.GetClient(f.ctx, b.client.ID)
	if checkOK(t, err, "GetClient") {
		checkEqual(t, "client after a conflicting create", b.client, got)
	}
}

func testClientUpdate(t *testing.T, f *fixture) {
	b := f.base(t)
	want := b.client
	want.RedirectURIs = []string{"https://rp.example/new-cb"}
	want.PostLogoutRedirectURIs = nil
	want.Scopes = append(want.Scopes, "groups")
	want.AccessTokenTTL = 90 * time.Second
	want.RefreshTokenTTL = 0
	want.RequireMFA = false
	want.SecretHash = storage.HashSecret("rotated")
	want.Source = "api"
	want.UpdatedAt = at(time.Hour)
	got, err := f.s.UpdateClient(f.ctx, b.client.ID, func(cur storage.Client) (storage.Client, error) {
		checkEqual(t, "row seen by the update function", b.client, cur)
		return want, nil
	})
	mustOK(t, err, "UpdateClient")
	checkEqual(t, "UpdateClient result", want, got)
	got, err = f.s.GetClient(f.ctx, b.client.ID)
	if checkOK(t, err, "GetClient after update") {
		checkEqual(t, "GetClient after update", want, got)
	}
}

func testClientDelete(t *testing.T, f *fixture) {
	b := f.base(t)
	other := publicClient("c-2", b.org.ID)
	mustOK(t, f.s.CreateClient(f.ctx, other), "CreateClient")
	mustOK(t, f.s.DeleteClient(f.ctx, b.client.ID), "DeleteClient")
	_, err := f.s.GetClient(f.ctx, b.client.ID)
	checkErr(t, err, storage.ErrNotFound, "GetClient after delete")
	checkErr(t, f.s.DeleteClient(f.ctx, b.client.ID), storage.ErrNotFound, "second DeleteClient")
	list, err := f.s.ListClients(f.ctx)
	mustOK(t, err, "ListClients")
	if len(list) != 1 || list[0].ID != other.ID {
		t.Errorf("ListClients after delete = %d rows, want only %s", len(list), other.ID)
	}
}
