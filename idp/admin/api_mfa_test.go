package admin

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func TestAPIMFAPolicy(t *testing.T) {
	srv, s, _ := newAPI(t)
	const base = "/admin/api/v1/orgs/default/mfa"
	steps := []struct {
		name, method, path, body string
		status                   int
		want                     string // substring of the body
	}{
		{"get: off", "GET", base, "", 200, `{"org":"default","required":false,"methods":[],"allow_skip":false,"other_email":false,"sms_self_enrol":false}`},
		{"turn on", "PUT", base, `{"required":true,"methods":["totp","email"],"allow_skip":true,"other_email":false}`, 200,
			`"required":true,"methods":["totp","email"],"allow_skip":true,"other_email":false,"sms_self_enrol":false}`},
		{"get: on", "GET", base, "", 200, `"methods":["totp","email"]`},
		{"required is required", "PUT", base, `{"methods":["totp"]}`, 400, `\"required\" (true or false) is required`},
		{"unknown method", "PUT", base, `{"required":true,"methods":["sms","fax"]}`, 400, `\"fax\" is not a second-factor method; the methods are webauthn, totp, sms, email`},
		{"on without methods", "PUT", base, `{"required":true}`, 400, "at least one method"},
		{"unknown field", "PUT", base, `{"required":true,"methods":["totp"],"allowskip":true}`, 400, `unknown field \"allowskip\"`},
		{"methods not a list", "PUT", base, `{"required":true,"methods":"totp"}`, 400, "invalid JSON body"},
		{"unknown org", "PUT", "/admin/api/v1/orgs/nope/mfa", `{"required":false}`, 404, `organization \"nope\" does not exist`},
		{"get unknown org", "GET", "/admin/api/v1/orgs/nope/mfa", "", 404, "does not exist"},
		{"POST is not the verb", "POST", base, `{"required":false}`, 405, "use GET, PUT"},
		{"turn off", "PUT", base, `{"required":false}`, 200, `"required":false,"methods":[],"allow_skip":false,"other_email":false,"sms_self_enrol":false,"disabled_at":"2030-01-02T03:04:05Z"}`},
		{"on again: a new generation", "PUT", base, `{"required":true,"methods":["webauthn"]}`, 200, `"since":"2030-01-02T03:04:05Z","disabled_at":"2030-01-02T03:04:05Z"}`},
		{"off with methods", "PUT", base, `{"required":false,"methods":["totp"]}`, 400, "only while MFA is required"},
	}
	for _, st := range steps {
		r := call(t, srv, "admin", st.method, st.path, jsonCT, st.body)
		if r.status != st.status || !strings.Contains(r.body, st.want) {
			t.Fatalf("%s: %d %s; want %d and %q", st.name, r.status, r.body, st.status, st.want)
		}
	}
	evs, _ := backend(t, s).ListAuditEvents(context.Background(), storage.AuditQuery{Type: "org.mfa_policy_changed"})
	if len(evs) != 3 || evs[2].ActorID != "api:u-admin" || evs[2].Details["new"] != "on: totp, email; skip allowed" {
		t.Fatalf("audit events %+v", evs)
	}
}

type resetAnswer struct {
	Results []map[string]any `json:"results"`
	Reset   int              `json:"reset"`
	Failed  int              `json:"failed"`
	Error   string           `json:"error"`
}

func TestAPIResetMFA(t *testing.T) {
	srv, s, _ := newAPI(t)
	ctx := context.Background()
	mb := &mailbox{}
	s.Mail = mb
	var ids []string
	for _, e := range []string{"ann@example.com", "bob@example.com", "cy@example.com"} {
		u, err := s.CreateUser(ctx, "test", CreateUserInput{Email: e, Org: "default", Password: "long enough pw"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	const path = "/admin/api/v1/users/reset-mfa"
	answer := func(t *testing.T, body string) resetAnswer {
		t.Helper()
		r := call(t, srv, "admin", "POST", path, jsonCT, body)
		var a resetAnswer
		if err := json.Unmarshal([]byte(r.body), &a); r.status != 200 || err != nil {
			t.Fatalf("%s: %d %s (%v)", body, r.status, r.body, err)
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("headers %v", r.header)
		}
		return a
	}

	a := answer(t, `{"emails":["ann@example.com","nobody@example.com","BOB@example.com"],"method":"totp"}`)
	if a.Reset != 2 || a.Failed != 1 || len(a.Results) != 3 || a.Error != "" {
		t.Fatalf("answer %+v", a)
	}
	ok, failed := a.Results[0], a.Results[1]
	if ok["email"] != "ann@example.com" || ok["user_id"] != ids[0] || ok["ok"] != true || ok["factors_removed"] != float64(0) ||
		ok["sessions_ended"] != float64(0) || ok["notice_sent"] != true || ok["error"] != nil {
		t.Errorf("ok result %v", ok)
	}
	if failed["email"] != "nobody@example.com" || failed["ok"] != false || failed["error"] != `no user with email "nobody@example.com"` ||
		failed["factors_removed"] != nil || failed["user_id"] != nil {
		t.Errorf("failed result %v", failed)
	}
	if u, _ := s.Store.GetUser(ctx, ids[1]); !u.MFAEnrollRequired || u.MFAEnrolMethod != "totp" {
		t.Errorf("bob after the reset %+v", u)
	}

	a = answer(t, `{"user_ids":["`+ids[2]+`","nope"]}`)
	if a.Reset != 1 || a.Failed != 1 || a.Results[0]["email"] != "cy@example.com" || a.Results[1]["user_id"] != "nope" ||
		a.Results[1]["error"] != `no user with id "nope"` {
		t.Errorf("by id: %+v", a)
	}
	a = answer(t, `{"org":"default","all":true,"method":"email"}`)
	if a.Reset != 3 || a.Failed != 0 || len(a.Results) != 3 {
		t.Errorf("whole org: %+v", a)
	}
	if n := len(mb.sent); n != 6 {
		t.Errorf("%d notices; want 6", n)
	}

	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"nothing named", `{}`, 400, "name the users one way"},
		{"two ways", `{"emails":["ann@example.com"],"org":"default","all":true}`, 400, "name the users one way"},
		{"org without all", `{"org":"default"}`, 400, `add \"all\": true`},
		{"all without org", `{"all":true}`, 400, `\"all\" needs \"org\"`},
		{"unknown org", `{"org":"nope","all":true}`, 400, `organization \"nope\" does not exist`},
		{"bad method", `{"emails":["ann@example.com"],"method":"recovery"}`, 400, `\"recovery\" is not a second-factor method`},
		{"bad method, whole org", `{"org":"default","all":true,"method":"sms2"}`, 400, "not a second-factor method"},
		{"unknown field", `{"email":"ann@example.com"}`, 400, "unknown field"},
		{"empty list", `{"emails":[]}`, 400, "name the users one way"},
		{"no body", ``, 400, "body is required"},
	} {
		r := call(t, srv, "admin", "POST", path, jsonCT, tc.body)
		if r.status != tc.status || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s: %d %s; want %d %q", tc.name, r.status, r.body, tc.status, tc.want)
		}
	}
}

// TestResetStreamEnd: a whole-organization reset that stops after its
// first page says so at the end of a well-formed answer.
func TestResetStreamEnd(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pages [][]resetResultView
		err   error
		want  string
	}{
		{"nothing", nil, nil, `{"results":[],"reset":0,"failed":0}`},
		{"two pages", [][]resetResultView{{{Email: "a", OK: true}}, {{Email: "b"}, {Email: "c", OK: true}}}, nil,
			`{"results":[{"email":"a","ok":true},{"email":"b","ok":false},{"email":"c","ok":true}],"reset":2,"failed":1}`},
		{"stopped", [][]resetResultView{{{Email: "a", OK: true}}}, context.DeadlineExceeded,
			`{"results":[{"email":"a","ok":true}],"reset":1,"failed":0,"error":"the reset stopped before it reached every user`},
	} {
		w := httptest.NewRecorder()
		s := &resetStream{w: w}
		for _, p := range tc.pages {
			if err := s.write(p); err != nil {
				t.Fatal(err)
			}
		}
		s.end(tc.err)
		if !strings.HasPrefix(w.Body.String(), tc.want) || !json.Valid(w.Body.Bytes()) {
			t.Errorf("%s: %s; want %s", tc.name, w.Body.String(), tc.want)
		}
	}
}
