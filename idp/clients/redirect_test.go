package clients

import (
	"net/url"
	"strings"
	"testing"
)

func TestValidateRedirectURI(t *testing.T) {
	tests := []struct {
		uri     string
		wantErr string // "" means accepted
	}{
		{"https://app.example.com/cb", ""},
		{"https://app.example.com:8443/cb?tenant=a", ""},
		{"https://app.example.com", ""},
		{"http://localhost/cb", ""},
		{"http://localhost:53682/cb", ""},
		{"http://127.0.0.1:8000/cb", ""},
		{"http://[::1]:8000/cb", ""},
		{"com.example.app:/oauth2redirect", ""},
		{"com.example.app://callback", ""},

		{"", "empty"},
		{"/relative/cb", "absolute"},
		{"app.example.com/cb", "absolute"},
		{"//app.example.com/cb", "absolute"},
		{"https://app.example.com/cb#frag", "fragment"},
		{"https://app.example.com/cb#", "fragment"},
		{"https://*.example.com/cb", "wildcard"},
		{"https://app.example.com/*", "wildcard"},
		{"https://user@app.example.com/cb", "user info"},
		{"https://user:pw-s3cret@app.example.com/cb", "user info"},
		{"https://user:pw-s3cret@app.example.com/cb#f", "fragment"},
		{"https://user:pw-s3cret@app.example.com/c b", "space"},
		{"http://user:pw-s3cret@app.example.com/cb", "user info"},
		{"https://@app.example.com/cb", "user info"},
		{`https://app.example.com\@evil.example/cb`, "backslash"},
		{`https://app.example.com\cb`, "backslash"},
		{"http://app.example.com/cb", "http is allowed only"},
		{"http://localhost.evil.example/cb", "http is allowed only"},
		{"http://127.0.0.2/cb", "http is allowed only"},
		{"http://192.168.1.10/cb", "http is allowed only"},
		{"javascript:alert(1)", "javascript: scheme"},
		{"javascript://example.com/%0Aalert(1)", "javascript: scheme"},
		{"JavaScript:alert(1)", "javascript: scheme"},
		{"data:text/html,<script>alert(1)</script>", "data: scheme"},
		{"file:///etc/passwd", "file: scheme"},
		{"vbscript:msgbox", "vbscript: scheme"},
		{"myapp:/cb", "not allowed"},
		{"ftp://example.com/cb", "not allowed"},
		{"com.example.app:cb", "not a hierarchical"},
		{"https:///cb", "must have a host"},
		{"https:cb", "not a hierarchical"},
		{"https://app.example.com/c b", "space"},
		{"https://app.example.com/cb\n", "control"},
		{"https://app.example.com/" + strings.Repeat("a", 2048), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			err := ValidateRedirectURI(tt.uri)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatal("accepted")
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("error %q lacks %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "pw-s3cret") {
				t.Errorf("error echoes a password: %v", err)
			}
		})
	}
}

// FuzzValidateRedirectURI: never panics, and whatever it accepts keeps the
// properties the authorization endpoint relies on.
func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{"https://app.example.com/cb", "http://[::1]:80/", "com.example.app:/cb",
		"javascript:alert(1)", "https://u:p@h/#x", "http://localhost\\@evil", "%", "https://[::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if ValidateRedirectURI(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.User != nil || strings.ContainsAny(raw, "#*\\ ") {
			t.Fatalf("accepted %q", raw)
		}
		switch {
		case u.Scheme == "https" && u.Hostname() != "":
		case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		case strings.Contains(u.Scheme, ".") && u.Opaque == "":
		default:
			t.Fatalf("accepted %q with scheme %q", raw, u.Scheme)
		}
	})
}

// TestURIProblems: every bad URI of a list is reported, on the list's
// field, and a list longer than maxURIs is refused without checking each.
func TestURIProblems(t *testing.T) {
	tooMany := make([]string, maxURIs+1)
	for i := range tooMany {
		tooMany[i] = "https://app.example.com/cb" + strings.Repeat("x", i)
	}
	tests := []struct {
		name  string
		uris  []string
		want  []string
		field string
	}{
		{"all fine", []string{"https://a.example/cb", "http://[::1]:9/cb"}, nil, "redirect_uris"},
		{"two bad ones", []string{"https://a.example/cb", "javascript:alert(1)", "https://a.example/#f"},
			[]string{`redirect_uris: "javascript:alert(1)": the javascript: scheme`, `redirect_uris: "https://a.example/#f" must not contain a fragment`},
			"redirect_uris"},
		{"post-logout field", []string{"http://app.example.com/"},
			[]string{`post_logout_redirect_uris: "http://app.example.com/": http is allowed only`}, "post_logout_redirect_uris"},
		{"exactly the maximum", tooMany[:maxURIs], nil, "redirect_uris"},
		{"too many", tooMany, []string{"redirect_uris: at most 100 URIs are allowed"}, "redirect_uris"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := uriProblems(tt.field, tt.uris)
			if len(errs) != len(tt.want) {
				t.Fatalf("%d problems %v; want %d", len(errs), errs, len(tt.want))
			}
			for i, err := range errs {
				if !strings.Contains(err.Error(), tt.want[i]) {
					t.Errorf("problem %q lacks %q", err, tt.want[i])
				}
				if fe, ok := err.(*FieldError); !ok || fe.Field != tt.field {
					t.Errorf("problem %#v is not a *FieldError on %s", err, tt.field)
				}
			}
		})
	}
}
