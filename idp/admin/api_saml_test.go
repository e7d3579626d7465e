package admin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

func TestAPIServiceProviders(t *testing.T) {
	srv, _, _ := newAPI(t)
	key, cert := upstreamtest.SPKey(t)
	doc := upstreamtest.SPMetadata(t, key, cert, "https://hr.example", now.Add(48*time.Hour), nil)
	md, _ := json.Marshal(string(doc))
	const p = "/admin/api/v1/saml/service-providers"
	entity := "https://hr.example/saml/metadata"
	q := "?entity_id=" + url.QueryEscape(entity)

	r := call(t, srv, "admin", "POST", p, jsonCT, `{"name":"HR","metadata":`+string(md)+`,"nameid_format":"emailAddress","allow_idp_initiated":true}`)
	if r.status != http.StatusCreated || r.json(t)["entity_id"] != entity || r.header.Get("Location") != p+q {
		t.Fatalf("create: %d %s %q", r.status, r.body, r.header.Get("Location"))
	}
	if r := call(t, srv, "admin", "GET", p+q, "", ""); r.status != http.StatusOK || r.json(t)["allow_idp_initiated"] != true {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	if r := call(t, srv, "admin", "GET", p, "", ""); r.status != http.StatusOK || !strings.Contains(r.body, entity) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if r := call(t, srv, "admin", "PATCH", p+q, jsonCT, `{"require_mfa":true}`); r.status != http.StatusOK || r.json(t)["require_mfa"] != true {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if r := call(t, srv, "admin", "PATCH", p+q, jsonCT, `{"nameid_format":"nope"}`); r.status != http.StatusBadRequest {
		t.Fatalf("bad patch: %d %s", r.status, r.body)
	}
	if r := call(t, srv, "admin", "POST", p+"/refresh"+q, jsonCT, ""); r.status != http.StatusBadRequest || !strings.Contains(r.body, "no metadata URL") {
		t.Fatalf("refresh without a URL: %d %s", r.status, r.body)
	}
	if r := call(t, srv, "admin", "PATCH", p, jsonCT, `{}`); r.status != http.StatusBadRequest {
		t.Fatalf("patch without entity_id: %d %s", r.status, r.body)
	}
	if r := call(t, srv, "admin", "DELETE", p+q, "", ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := call(t, srv, "admin", "GET", p+q, "", ""); r.status != http.StatusNotFound {
		t.Fatalf("get after delete: %d %s", r.status, r.body)
	}
}
