package admin

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// TestAPIPasswordPolicy: GET shows the effective policy and the
// organization's own settings; POST changes only what the body names,
// null returning a setting to the server default.
func TestAPIPasswordPolicy(t *testing.T) {
	srv, s, _ := newAPI(t)
	const path = "/admin/api/v1/orgs/default/password-policy"
	type settings = map[string]any
	steps := []struct {
		name, method, path, body string
		status                   int
		effective, overrides     settings
		want                     string // in the body, for errors
	}{
		{"defaults", "GET", path, "", 200,
			settings{"min_length": 8.0, "max_age": "0", "min_age": "0", "breach_check": false}, settings{}, ""},
		{"set", "POST", path, `{"min_length":12,"max_age":"90d","min_age":"24h","breach_check":true}`, 200,
			settings{"min_length": 12.0, "max_age": "90d", "min_age": "1d", "breach_check": true},
			settings{"min_length": 12.0, "max_age": "90d", "min_age": "1d", "breach_check": true}, ""},
		{"only what is named changes", "POST", path, `{"min_age":"0"}`, 200,
			settings{"min_length": 12.0, "max_age": "90d", "min_age": "0", "breach_check": true},
			settings{"min_length": 12.0, "max_age": "90d", "min_age": "0", "breach_check": true}, ""},
		{"null is the server default", "POST", path, `{"min_length":null,"max_age":null,"breach_check":null}`, 200,
			settings{"min_length": 8.0, "max_age": "0", "min_age": "0", "breach_check": false}, settings{"min_age": "0"}, ""},
		{"empty object changes nothing", "POST", path, `{}`, 200,
			settings{"min_length": 8.0, "max_age": "0", "min_age": "0", "breach_check": false}, settings{"min_age": "0"}, ""},
		{"out of range", "POST", path, `{"min_length":4}`, 400, nil, nil, "min_length: must be between 8 and 1024, got 4"},
		{"bad age", "POST", path, `{"max_age":"ninety days"}`, 400, nil, nil, `max_age: \"ninety days\" is not an age`},
		{"age as a number", "POST", path, `{"max_age":90}`, 400, nil, nil, "invalid JSON body"},
		{"unknown setting", "POST", path, `{"complexity":true}`, 400, nil, nil, `unknown field \"complexity\"`},
		{"no body", "POST", path, ``, 400, nil, nil, "body is required"},
		{"unknown org", "GET", "/admin/api/v1/orgs/nope/password-policy", "", 404, nil, nil, `organization \"nope\" does not exist`},
		{"unknown org on POST", "POST", "/admin/api/v1/orgs/nope/password-policy", `{}`, 404, nil, nil, "not_found"},
		{"wrong method", "PUT", path, `{}`, 405, nil, nil, "method_not_allowed"},
	}
	for _, st := range steps {
		ct := ""
		if st.method != "GET" {
			ct = jsonCT
		}
		r := call(t, srv, "admin", st.method, st.path, ct, st.body)
		if r.status != st.status || !strings.Contains(r.body, st.want) {
			t.Fatalf("%s: %d %s; want %d with %q", st.name, r.status, r.body, st.status, st.want)
		}
		if st.status != 200 {
			continue
		}
		var got struct {
			Org       string   `json:"org"`
			Effective settings `json:"effective"`
			Overrides settings `json:"overrides"`
		}
		if err := json.Unmarshal([]byte(r.body), &got); err != nil {
			t.Fatal(err)
		}
		if got.Org != "default" || !reflect.DeepEqual(got.Effective, st.effective) || !reflect.DeepEqual(got.Overrides, st.overrides) {
			t.Fatalf("%s: %s\nwant effective %v, overrides %v", st.name, r.body, st.effective, st.overrides)
		}
	}
	evs, err := backend(t, s).ListAuditEvents(context.Background(), storage.AuditQuery{Type: audit.OrgPasswordPolicyChanged})
	if err != nil || len(evs) != 3 || evs[0].ActorID != "api:u-admin" {
		t.Fatalf("audit events %+v, %v; want 3 by api:u-admin", evs, err)
	}
}
