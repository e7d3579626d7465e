package oidcop

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// TestAuthorizeErrorRedirectRecognised: only an error response to the
// request's own redirect_uri is taken for one.
func TestAuthorizeErrorRedirectRecognised(t *testing.T) {
	const cb = "https://rp.example/cb"
	for _, tc := range []struct {
		name, location, redirectURI string
		ok, inFragment              bool
		wantError, wantDescription  string
	}{
		{"error in the query", cb + "?error=invalid_request&state=s", cb, true, false, "invalid_request", ""},
		{"redirect_uri with its own query", cb + "?tenant=a&error=invalid_request", cb + "?tenant=a", true, false, "invalid_request", ""},
		{"error in the fragment, escaped & and +", cb + "#error=x&error_description=a%26b+c%2Bd", cb, true, true, "x", "a&b c+d"},
		{"the login page", "/login?id=abc", cb, false, false, "", ""},
		{"no error: not an error response", cb + "?code=abc", cb, false, false, "", ""},
		{"another path", cb + "2?error=x", cb, false, false, "", ""},
		{"another host", "https://evil.example/cb?error=x", cb, false, false, "", ""},
		{"no redirect_uri in the request", cb + "?error=x", "", false, false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, params, frag, ok := errorRedirect(tc.location, tc.redirectURI)
			if ok != tc.ok || frag != tc.inFragment {
				t.Fatalf("ok %v, inFragment %v; want %v, %v", ok, frag, tc.ok, tc.inFragment)
			}
			if ok && (params.Get("error") != tc.wantError || params.Get("error_description") != tc.wantDescription) {
				t.Fatalf("params %v", params)
			}
		})
	}
}

// testAuthorizeEndpoint is authorizeEndpoint around lib, on a provider with
// only what it needs.
func testAuthorizeEndpoint(lib http.HandlerFunc) (*Provider, http.Handler) {
	p := &Provider{opts: Options{Issuer: "https://login.example.com", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Pages: testPages()}}
	return p, p.authorizeEndpoint(p.htmlErrors(lib))
}

// TestAuthorizeEndpointErrorRedirects: the library's error redirects get
// iss where the error is, or become Gatehouse's form_post page; the login
// redirect and the library's error pages are left alone.
func TestAuthorizeEndpointErrorRedirects(t *testing.T) {
	const cb = "https://rp.example/cb"
	redirectTo := func(loc string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, loc, http.StatusFound) }
	}
	serve := func(lib http.HandlerFunc, q url.Values) *httptest.ResponseRecorder {
		_, h := testAuthorizeEndpoint(lib)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil))
		return rec
	}
	q := url.Values{"client_id": {"c"}, "redirect_uri": {cb}, "state": {"s"}}

	t.Run("query", func(t *testing.T) {
		rec := serve(redirectTo(cb+"?error=invalid_request&state=s"), q)
		loc, _ := url.Parse(rec.Header().Get("Location"))
		if rec.Code != http.StatusFound || loc == nil || !slices.Equal(loc.Query()["iss"], []string{"https://login.example.com"}) ||
			loc.Query().Get("error") != "invalid_request" || loc.Query().Get("state") != "s" {
			t.Fatalf("%d %q", rec.Code, rec.Header().Get("Location"))
		}
	})
	t.Run("fragment", func(t *testing.T) {
		rec := serve(redirectTo(cb+"#error=invalid_request&state=s"), q)
		loc, _ := url.Parse(rec.Header().Get("Location"))
		frag, _ := url.ParseQuery(loc.EscapedFragment())
		if rec.Code != http.StatusFound || frag.Get("iss") != "https://login.example.com" || loc.Query().Has("iss") {
			t.Fatalf("%d %q", rec.Code, rec.Header().Get("Location"))
		}
	})
	t.Run("form_post", func(t *testing.T) {
		fq := url.Values{"response_mode": {"form_post"}}
		for k, v := range q {
			fq[k] = v
		}
		rec := serve(redirectTo(cb+"?error=invalid_request&error_description=bad&state=s"), fq)
		body := rec.Body.String()
		if rec.Code != http.StatusOK || rec.Header().Get("Location") != "" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") ||
			!strings.Contains(rec.Header().Get("Content-Security-Policy"), "form-action https://rp.example;") {
			t.Fatalf("%d %v\n%s", rec.Code, rec.Header(), body)
		}
		for _, want := range []string{`action="https://rp.example/cb"`, `name="error" value="invalid_request"`,
			`name="error_description" value="bad"`, `name="state" value="s"`, `name="iss" value="https://login.example.com"`} {
			if !strings.Contains(body, want) {
				t.Fatalf("the page lacks %s:\n%s", want, body)
			}
		}
	})
	t.Run("the login redirect passes", func(t *testing.T) {
		rec := serve(redirectTo("/login?id=abc"), q)
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/login?id=abc" {
			t.Fatalf("%d %q", rec.Code, rec.Header().Get("Location"))
		}
	})
	t.Run("an error page passes", func(t *testing.T) {
		rec := serve(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		}, q)
		if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" || strings.Contains(rec.Body.String(), "invalid_request") {
			t.Fatalf("%d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
		}
	})
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
