package oidcop

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// TestAuthorizeSingleValuedParamsCoverLibrary: every parameter the library
// decodes from /authorize is one that may not repeat, so that a library
// upgrade reading a new one cannot bring back "the last copy wins".
func TestAuthorizeSingleValuedParamsCoverLibrary(t *testing.T) {
	typ := reflect.TypeOf(oidc.AuthRequest{})
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("schema"), ",")
		if name == "" || name == "-" {
			continue
		}
		if !slices.Contains(singleValuedParams, name) {
			t.Errorf("oidc.AuthRequest decodes %q, which singleValuedParams does not list", name)
		}
	}
}

// testAuthorizeEndpoint is authorizeEndpoint around lib, on a provider with
// only what it needs.
func testAuthorizeEndpoint(lib http.HandlerFunc) (*Provider, http.Handler) {
	p := &Provider{opts: Options{Issuer: "https://login.example.com", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	return p, p.authorizeEndpoint(p.htmlErrors(lib))
}

// TestAuthorizeEndpointRepeatedParams: a repeated parameter never reaches
// the library.
func TestAuthorizeEndpointRepeatedParams(t *testing.T) {
	for _, tc := range []struct {
		name, query, body string
		refused           bool
	}{
		{"once each", "client_id=c&state=s", "", false},
		{"once each, query and body", "client_id=c", "state=s", false},
		{"repeated in the query", "client_id=c&client_id=d", "", true},
		{"repeated in the body", "", "redirect_uri=a&redirect_uri=b", true},
		{"in the query and the body", "state=a", "state=b", true},
		{"empty copy counts", "client_id=&client_id=c", "", true},
		{"resource may repeat", "resource=a&resource=b", "", false},
		{"malformed query", "client_id=%zz", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reached := false
			_, h := testAuthorizeEndpoint(func(w http.ResponseWriter, r *http.Request) { reached = true })
			method, body := http.MethodGet, io.Reader(nil)
			if tc.body != "" {
				method, body = http.MethodPost, strings.NewReader(tc.body)
			}
			req := httptest.NewRequest(method, "/authorize?"+tc.query, body)
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if reached == tc.refused || (tc.refused && (rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "")) {
				t.Fatalf("reached the library %v, status %d; want refused %v", reached, rec.Code, tc.refused)
			}
		})
	}
}
