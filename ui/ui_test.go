package ui

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gatehouse-idp/gatehouse/idp/httpserver"
	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func newRenderer(t *testing.T) *Renderer {
	t.Helper()
	r, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tag is one start tag of a rendered page.
type tag struct {
	name  string
	attrs map[string]string // boolean attributes map to ""
}

var (
	tagRE  = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9]*)((?:\s+[^\s=>]+(?:="[^"]*")?)*)\s*/?>`)
	attrRE = regexp.MustCompile(`([^\s=>]+)(?:="([^"]*)")?`)
)

func tags(html, name string) []tag {
	var out []tag
	for _, m := range tagRE.FindAllStringSubmatch(html, -1) {
		if !strings.EqualFold(m[1], name) {
			continue
		}
		t := tag{name: m[1], attrs: map[string]string{}}
		for _, a := range attrRE.FindAllStringSubmatch(m[2], -1) {
			t.attrs[strings.ToLower(a[1])] = a[2]
		}
		out = append(out, t)
	}
	return out
}

func inputNamed(t *testing.T, html, name string) tag {
	t.Helper()
	for _, in := range tags(html, "input") {
		if in.attrs["name"] == name {
			return in
		}
	}
	t.Fatalf("no input named %q in\n%s", name, html)
	return tag{}
}

func has(t tag, attr string) bool { _, ok := t.attrs[attr]; return ok }

// renderAll renders every page with data that fills every field.
func renderAll(t *testing.T, r *Renderer, evil string) map[string]*httptest.ResponseRecorder {
	t.Helper()
	out := map[string]*httptest.ResponseRecorder{}
	run := func(name string, f func(w http.ResponseWriter) error) {
		w := httptest.NewRecorder()
		if err := f(w); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = w
	}
	run("login", func(w http.ResponseWriter) error {
		return r.RenderLogin(w, http.StatusUnauthorized, LoginData{PostURL: "/login", CSRFToken: "tok" + evil, AuthRequestID: "req-1" + evil,
			Email: "a@b.example" + evil, Error: "Incorrect email or password." + evil, ClientName: "Acme" + evil, ForgotPasswordURL: "/forgot"})
	})
	run("error", func(w http.ResponseWriter) error {
		return r.RenderError(w, http.StatusBadRequest, ErrorData{Title: "Bad link" + evil, Message: "Try again." + evil, RequestID: "rid-123" + evil, BackURL: "/"})
	})
	run("logout_confirm", func(w http.ResponseWriter) error {
		return r.RenderLogoutConfirm(w, LogoutData{PostURL: "/logout", CSRFToken: "tok" + evil, ClientName: "Acme" + evil,
			Fields: []Field{{"state", "s" + evil}, {"client_id", "acme"}}})
	})
	run("logged_out", func(w http.ResponseWriter) error {
		return r.RenderLoggedOut(w, LoggedOutData{ReturnURL: "https://acme.example/", ClientName: "Acme" + evil})
	})
	run("home", func(w http.ResponseWriter) error {
		return r.RenderHome(w, HomeData{Organization: "Acme" + evil, DiscoveryURL: "https://id.example/.well-known/openid-configuration"})
	})
	run("autopost", func(w http.ResponseWriter) error {
		return r.RenderAutoPost(w, AutoPostData{Action: "https://rp.example/cb?x=1", Heading: "Signing you in" + evil,
			Fields: []Field{{"code", "c" + evil}, {"state", "s" + evil}}})
	})
	run("forgot", func(w http.ResponseWriter) error {
		return r.RenderForgot(w, http.StatusOK, ForgotData{PostURL: "/password/forgot", CSRFToken: "tok" + evil, AuthRequestID: "req-1" + evil,
			Email: "a@b.example" + evil, Error: "Could not send." + evil, BackURL: "/login?id=req-1"})
	})
	run("set_password", func(w http.ResponseWriter) error {
		return r.RenderSetPassword(w, http.StatusOK, SetPasswordData{Heading: "Choose a new password" + evil, Lead: "Lead" + evil,
			PostURL: "/password/reset", CSRFToken: "tok" + evil, Token: "t" + evil, Email: "a@b.example" + evil, AskCurrent: true,
			MinLength: 12, Error: "Too short." + evil})
	})
	run("notice", func(w http.ResponseWriter) error {
		return r.RenderNotice(w, http.StatusGone, NoticeData{Title: "This link has expired" + evil, Paragraphs: []string{"P" + evil},
			Renew:   &RenewForm{PostURL: "/password/renew", CSRFToken: "tok" + evil, Token: "t" + evil, Kind: "invite"},
			LinkURL: "/password/forgot", LinkLabel: "Enter my email" + evil})
	})
	run("mfa_code", func(w http.ResponseWriter) error {
		return r.RenderMFACode(w, http.StatusOK, MFACodeData{PostURL: "/login", CSRFToken: "tok" + evil, AuthRequestID: "req-1" + evil,
			Method: "totp", ClientName: "Acme" + evil, Error: "Wrong code." + evil})
	})
	run("totp_enrol", func(w http.ResponseWriter) error {
		return r.RenderTOTPEnrol(w, http.StatusOK, TOTPEnrolData{PostURL: "/me/mfa/totp/confirm", CSRFToken: "tok" + evil,
			FactorID: "f" + evil, QR: QRDataURL([]byte("png")), Grouped: "ABCD EFGH" + evil, Error: "Wrong." + evil, Skip: true, ChooseAgain: true,
			AuthRequestID: "req" + evil})
	})
	run("mfa_choose", func(w http.ResponseWriter) error {
		return r.RenderMFAChoose(w, http.StatusOK, MFAChooseData{PostURL: "/login", CSRFToken: "tok" + evil, AuthRequestID: "req" + evil,
			Choices: []ChoiceView{{Method: "email" + evil, Label: "Email" + evil, AskAddress: true, Address: "a@b.example" + evil, Button: "Use" + evil}},
			Skip:    true, Error: "No." + evil})
	})
	run("mfa_notice", func(w http.ResponseWriter) error {
		return r.RenderMFANotice(w, http.StatusOK, MFANoticeData{PostURL: "/login", CSRFToken: "tok" + evil, AuthRequestID: "req" + evil,
			Heading: "On" + evil, Lead: "Lead" + evil, Codes: []string{"abcd" + evil}, Download: textDataURL("x" + evil), AccountURL: "/me/mfa"})
	})
	run("webauthn", func(w http.ResponseWriter) error {
		return r.RenderWebAuthn(w, http.StatusOK, WebAuthnData{PostURL: "/login", CSRFToken: "tok" + evil, AuthRequestID: "req" + evil,
			Heading: "Use your security key" + evil, Lead: "Lead" + evil, Submit: "Use security key" + evil,
			Options: `{"challenge":"abc` + evil + `"}`, Notice: "N." + evil, Error: "E." + evil,
			Others: []OtherMethod{{Method: "totp" + evil, Label: "App" + evil}}, Skip: true, BackURL: "/me/mfa"})
	})
	run("sso", func(w http.ResponseWriter) error {
		return r.RenderSSO(w, http.StatusOK, SSOData{PostURL: "/login/sso", CSRFToken: "tok" + evil, AuthRequestID: "req" + evil,
			ClientName: "App" + evil, Input: "a@b.example" + evil, Error: "No." + evil, BackURL: "/login?id=x"})
	})
	run("upstream", func(w http.ResponseWriter) error {
		return r.RenderUpstream(w, UpstreamData{Name: "Acme SSO" + evil, URL: "https://idp.example/authorize?state=" + url.QueryEscape(evil)})
	})
	run("link", func(w http.ResponseWriter) error {
		return r.RenderLink(w, http.StatusOK, LinkData{PostURL: "/login", CSRFToken: "tok" + evil, AuthRequestID: "req" + evil,
			Email: "a@b.example" + evil, Method: "password" + evil, Error: "No." + evil})
	})
	run("me_links", func(w http.ResponseWriter) error {
		return r.RenderLinks(w, http.StatusOK, LinksData{Links: []LinkRow{{Connector: "c" + evil, Subject: "s" + evil, Provider: "Acme SSO" + evil,
			Email: "a@b.example" + evil, Added: "1 Dec 2026"}}, RemoveURL: "/me/links/remove", MFAURL: "/me/mfa", CSRFToken: "tok" + evil, Notice: "N." + evil})
	})
	run("me_apps", func(w http.ResponseWriter) error {
		return r.RenderApps(w, http.StatusOK, AppsData{Apps: []AppLink{{Name: "Expenses" + evil, URL: "/saml/init?sp=x" + evil}}})
	})
	run("me_sessions", func(w http.ResponseWriter) error {
		return r.RenderSessions(w, http.StatusOK, SessionsData{Sessions: []SessionRow{{Handle: "h" + evil, Browser: "Firefox" + evil,
			IP: "198.51.100.1" + evil, Current: true}, {Handle: "h2", Browser: "Chrome" + evil}}, Others: 1, Notice: "n" + evil})
	})
	run("me_profile", func(w http.ResponseWriter) error {
		return r.RenderProfile(w, http.StatusOK, ProfileData{Profile: selfservice.Profile{User: storage.User{Email: "a@b.example" + evil},
			Org: "Acme" + evil, PhoneEditable: true}, Name: "Ann" + evil, Phone: "+41" + evil, Notice: "Saved." + evil, Error: "No." + evil})
	})
	run("single_logout", func(w http.ResponseWriter) error {
		h := &Handlers{Render: r, Logger: slog.New(slog.DiscardHandler)}
		h.SingleLogoutDone(w, httptest.NewRequest(http.MethodGet, "/", nil), SingleLogoutData{
			Parties:    []LogoutPartyRow{{Name: "Wiki" + evil, OK: true}, {Name: "HR" + evil, Problem: "did not answer" + evil}},
			ReturnName: "Expenses" + evil, ReturnAction: "https://sp.example/slo", ReturnFields: []Field{{Name: "SAMLResponse", Value: "x" + evil}}})
		return nil
	})
	run("me_mfa", func(w http.ResponseWriter) error {
		return r.RenderMeMFA(w, http.StatusOK, MeMFAData{Factors: []FactorView{{ID: "f" + evil, Label: "App" + evil, Added: "1 Dec 2026"}},
			AddURL: "/me/mfa/totp", RemoveURL: "/me/mfa/remove", CSRFToken: "tok" + evil, Notice: "On." + evil})
	})
	return out
}

// withoutOwnScript drops the one script tag a page may carry
// (Gatehouse's static autopost.js or webauthn.js), so checks for injected
// or inline script see everything else.
func withoutOwnScript(r *Renderer, body string) string {
	for _, u := range []string{r.postURL, r.keyURL} {
		body = strings.Replace(body, `<script src="`+template.HTMLEscapeString(u)+`" defer></script>`, "", 1)
	}
	return body
}

func TestEveryPageRenders(t *testing.T) {
	r := newRenderer(t)
	want := map[string]struct {
		status int
		text   string
	}{
		"login":          {401, "Sign in"},
		"error":          {400, "rid-123"},
		"logout_confirm": {200, "Sign out of Gatehouse?"},
		"logged_out":     {200, "signed out"},
		"autopost":       {200, "Continue"},
		"home":           {200, "open the application you want to use"},
		"forgot":         {200, "Send the link"},
		"set_password":   {200, "At least 12 characters"},
		"notice":         {410, "Send me a new link"},
		"mfa_code":       {200, "Enter your code"},
		"totp_enrol":     {200, "ABCD EFGH"},
		"me_mfa":         {200, "Remove App"},
		"mfa_choose":     {200, "Skip for now"},
		"mfa_notice":     {200, "Download as text"},
		"webauthn":       {200, "Use security key"},
		"sso":            {200, "Work email or organization name"},
		"upstream":       {200, "Continue to Acme SSO"},
		"link":           {200, "Connect and continue"},
		"me_links":       {200, "Disconnect Acme SSO"},
		"me_apps":        {200, "Expenses"},
		"single_logout":  {200, "Back to Expenses"},
		"me_sessions":    {200, "Sign out everywhere else"},
		"me_profile":     {200, "Turn on two-step sign-in"},
	}
	pages := renderAll(t, r, "")
	if len(pages) != len(requiredPages) {
		t.Fatalf("rendered %d pages, %d required", len(pages), len(requiredPages))
	}
	for name, w := range pages {
		t.Run(name, func(t *testing.T) {
			body := w.Body.String()
			if w.Code != want[name].status || !strings.Contains(body, want[name].text) {
				t.Errorf("status %d, want %d; body lacks %q:\n%s", w.Code, want[name].status, want[name].text, body)
			}
			h := w.Header()
			// The auto-post page posts to another origin: it sends no
			// referrer at all.
			referrer := map[bool]string{true: "no-referrer", false: "same-origin"}[name == "autopost"]
			if h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("Cache-Control") != "no-store" ||
				h.Get("Referrer-Policy") != referrer || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("headers %v", h)
			}
			if !strings.HasPrefix(body, "<!doctype html>\n<html lang=\"en\">") {
				t.Errorf("page does not start with a doctype and <html lang>: %.60q", body)
			}
			if vp := tags(body, "meta"); !strings.Contains(body, `name="viewport" content="width=device-width, initial-scale=1"`) || len(vp) == 0 {
				t.Error("no viewport meta")
			}
			if !strings.Contains(body, `<link rel="stylesheet" href="`+r.cssURL+`">`) {
				t.Error("no stylesheet link")
			}
		})
	}
}

// The CSP is default-src 'self': nothing inline may appear anywhere.
func TestNoInlineScriptOrStyle(t *testing.T) {
	r := newRenderer(t)
	inline := regexp.MustCompile(`(?i)<script|<style|\sstyle=|\son[a-z]+=|javascript:`)
	for name, w := range renderAll(t, r, "") {
		if m := inline.FindString(withoutOwnScript(r, w.Body.String())); m != "" {
			t.Errorf("%s: inline code or style %q", name, m)
		}
	}
}

func TestLoginForm(t *testing.T) {
	r := newRenderer(t)
	tests := []struct {
		name           string
		data           LoginData
		emailFocus     bool
		wantAlert      bool
		wantForgotLink bool
	}{
		{"blank", LoginData{PostURL: "/login/password", CSRFToken: "tok-1", AuthRequestID: "req-1"}, true, false, false},
		{"prefilled", LoginData{PostURL: "/login/password", CSRFToken: "tok-1", AuthRequestID: "req-1", Email: "alice@example.com", ForgotPasswordURL: "/reset"}, false, false, true},
		{"after a failure", LoginData{PostURL: "/login/password", CSRFToken: "tok-1", AuthRequestID: "req-1", Email: "alice@example.com", Error: "Incorrect email or password."}, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			if err := r.RenderLogin(w, http.StatusOK, tt.data); err != nil {
				t.Fatal(err)
			}
			body := w.Body.String()
			forms := tags(body, "form")
			if len(forms) != 1 || forms[0].attrs["method"] != "post" || forms[0].attrs["action"] != tt.data.PostURL {
				t.Fatalf("forms %+v", forms)
			}
			email, pw := inputNamed(t, body, "email"), inputNamed(t, body, "password")
			if email.attrs["type"] != "email" || email.attrs["autocomplete"] != "username" || !has(email, "required") || email.attrs["value"] != tt.data.Email {
				t.Errorf("email input %+v", email.attrs)
			}
			if pw.attrs["type"] != "password" || pw.attrs["autocomplete"] != "current-password" || !has(pw, "required") || has(pw, "value") {
				t.Errorf("password input %+v", pw.attrs)
			}
			if has(email, "autofocus") != tt.emailFocus || has(pw, "autofocus") == tt.emailFocus {
				t.Errorf("autofocus: email %v password %v; want it on the email field: %v", has(email, "autofocus"), has(pw, "autofocus"), tt.emailFocus)
			}
			// Every visible input has a visible label bound to its id.
			labels := map[string]bool{}
			for _, l := range tags(body, "label") {
				labels[l.attrs["for"]] = true
			}
			for _, in := range []tag{email, pw} {
				if id := in.attrs["id"]; id == "" || !labels[id] {
					t.Errorf("input %q has no <label for>", in.attrs["name"])
				}
			}
			for name, want := range map[string]string{"csrf_token": tt.data.CSRFToken, "id": tt.data.AuthRequestID} {
				if in := inputNamed(t, body, name); in.attrs["type"] != "hidden" || in.attrs["value"] != want {
					t.Errorf("hidden %s = %+v, want value %q", name, in.attrs, want)
				}
			}
			if b := tags(body, "button"); len(b) != 1 || b[0].attrs["type"] != "submit" {
				t.Errorf("buttons %+v", b)
			}
			alert := regexp.MustCompile(`<div class="alert" id="([^"]+)" role="alert">([^<]*)</div>`).FindStringSubmatch(body)
			if (alert != nil) != tt.wantAlert {
				t.Fatalf("alert region present = %v, want %v", alert != nil, tt.wantAlert)
			}
			if tt.wantAlert {
				if alert[2] != tt.data.Error {
					t.Errorf("alert text %q", alert[2])
				}
				for _, in := range []tag{email, pw} {
					if in.attrs["aria-describedby"] != alert[1] || in.attrs["aria-invalid"] != "true" {
						t.Errorf("input %q not linked to the alert: %+v", in.attrs["name"], in.attrs)
					}
				}
			} else if has(email, "aria-invalid") {
				t.Error("aria-invalid without an error")
			}
			if got := strings.Contains(body, `href="/reset"`); got != tt.wantForgotLink {
				t.Errorf("forgot-password link present = %v", got)
			}
		})
	}
}

func TestOutputIsEscaped(t *testing.T) {
	r := newRenderer(t)
	const evil = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	for name, w := range renderAll(t, r, evil) {
		body := withoutOwnScript(r, w.Body.String())
		if strings.Contains(body, "<script") || strings.Contains(body, "<img src=x") {
			t.Errorf("%s: unescaped input in\n%s", name, body)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: escaped text missing (was it dropped?)\n%s", name, body)
		}
	}
	// URLs with a dangerous scheme are neutralised.
	w := httptest.NewRecorder()
	if err := r.RenderLoggedOut(w, LoggedOutData{ReturnURL: "javascript:alert(1)"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(w.Body.String(), "javascript:") {
		t.Errorf("javascript: URL rendered: %s", w.Body.String())
	}
}

func TestLogoutConfirm(t *testing.T) {
	r := newRenderer(t)
	w := httptest.NewRecorder()
	err := r.RenderLogoutConfirm(w, LogoutData{PostURL: "/logout", CSRFToken: "tok-9", Fields: []Field{
		{"id_token_hint", "eyJ.x.y"}, {"post_logout_redirect_uri", "https://app.example/bye"}, {"state", "st"}, {"client_id", "app"},
		{"csrf_token", "smuggled"}, {"", "nameless"},
	}, FormActionOrigins: []string{"https://app.example/bye"}})
	if err != nil {
		t.Fatal(err)
	}
	body := w.Body.String()
	for name, want := range map[string]string{"csrf_token": "tok-9", "id_token_hint": "eyJ.x.y",
		"post_logout_redirect_uri": "https://app.example/bye", "state": "st", "client_id": "app"} {
		if in := inputNamed(t, body, name); in.attrs["type"] != "hidden" || in.attrs["value"] != want {
			t.Errorf("%s: %+v", name, in.attrs)
		}
	}
	if strings.Count(body, `name="csrf_token"`) != 1 || strings.Contains(body, "smuggled") || strings.Contains(body, "nameless") {
		t.Errorf("passed-through csrf_token or nameless field rendered:\n%s", body)
	}
	if !strings.Contains(body, `<a class="button secondary" href="/">Cancel</a>`) {
		t.Error("no Cancel link to the default /")
	}
	if f := tags(body, "form"); len(f) != 1 || f[0].attrs["method"] != "post" {
		t.Errorf("form %+v", f)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.HasSuffix(csp, "form-action 'self' https://app.example") {
		t.Errorf("CSP %q does not allow the post-logout redirect", csp)
	}
}

func TestErrorPage(t *testing.T) {
	r := newRenderer(t)
	w := httptest.NewRecorder()
	if err := r.RenderError(w, http.StatusServiceUnavailable, ErrorData{RequestID: "req-abc"}); err != nil {
		t.Fatal(err)
	}
	body := w.Body.String()
	if w.Code != 503 || !strings.Contains(body, "<h1>Something went wrong</h1>") || !strings.Contains(body, "req-abc") || !strings.Contains(body, "Please try again") {
		t.Errorf("default error page: %d\n%s", w.Code, body)
	}
}

func TestCSP(t *testing.T) {
	if CSP() != httpserver.DefaultCSP {
		t.Fatalf("CSP() = %q, want httpserver.DefaultCSP %q", CSP(), httpserver.DefaultCSP)
	}
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"https://App.Example:8443/cb?x=1#f"}, " https://app.example:8443"},
		{[]string{"https://app.example/a", "https://app.example/b"}, " https://app.example"},
		{[]string{"com.example.app:/oauth2redirect"}, " com.example.app:"},
		{[]string{"javascript:alert(1)", "data:text/html,x", "JavaScript:x", "blob:https://a"}, ""},
		{[]string{"https://a.example; script-src *", "https://a.example%20'unsafe-inline'", "not a url", "/relative", "https://user@a.example/"}, ""},
	}
	for _, tt := range tests {
		want := httpserver.DefaultCSP + tt.want
		if got := CSP(tt.in...); got != want {
			t.Errorf("CSP(%q) = %q, want %q", tt.in, got, want)
		}
	}
}

func TestPickLang(t *testing.T) {
	for in, want := range map[string]string{"": "en", "en": "en", "en-GB fr": "en", "fr de": "en", "!!! <x>": "en"} {
		if got := pickLang(in); got != want {
			t.Errorf("pickLang(%q) = %q, want %q", in, got, want)
		}
	}
}

// copyFS copies the embedded files, minus skip, with replacements.
func copyFS(t *testing.T, skip string, replace map[string]string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(embedded, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == skip {
			return err
		}
		b, err := fs.ReadFile(embedded, p)
		if r, ok := replace[p]; ok {
			b = []byte(r)
		}
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStartupFails(t *testing.T) {
	tests := []struct {
		name    string
		files   fstest.MapFS
		wantErr string
	}{
		{"missing login page", copyFS(t, "templates/login.html", nil), "page login"},
		{"missing layout", copyFS(t, "templates/layout.html", nil), "page error"},
		{"missing stylesheet", copyFS(t, "static/gatehouse.css", nil), "gatehouse.css"},
		{"page without content block", copyFS(t, "", map[string]string{"templates/error.html": `{{define "title"}}x{{end}}`}), `"content" is not defined`},
		{"page naming a missing field", copyFS(t, "", map[string]string{"templates/logged_out.html": `{{define "title"}}x{{end}}{{define "content"}}{{.Page.Nope}}{{end}}`}), "page logged_out"},
		{"template syntax error", copyFS(t, "", map[string]string{"templates/login.html": `{{define "title"}}x{{end`}), "page login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(Options{Files: tt.files}); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := New(Options{Files: copyFS(t, "", nil)}); err != nil {
		t.Fatalf("control: a full copy fails: %v", err)
	}
}

func TestStaticHandler(t *testing.T) {
	r := newRenderer(t)
	h := r.StaticHandler()
	css := r.assets["gatehouse.css"]
	get := func(method, target string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, nil)
		for i := 0; i < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	tests := []struct {
		name     string
		w        *httptest.ResponseRecorder
		status   int
		cache    string
		wantBody bool
	}{
		{"versioned URL from the page", get("GET", r.cssURL), 200, "public, max-age=31536000, immutable", true},
		{"unversioned", get("GET", "/static/gatehouse.css"), 200, "no-cache", true},
		{"stale version", get("GET", "/static/gatehouse.css?v=0000"), 200, "no-cache", true},
		{"revalidation", get("GET", "/static/gatehouse.css", "If-None-Match", `"`+css.hash+`"`), 304, "no-cache", false},
		{"HEAD", get("HEAD", r.cssURL), 200, "public, max-age=31536000, immutable", false},
		{"icon", get("GET", r.iconURL), 200, "public, max-age=31536000, immutable", true},
		{"unknown file", get("GET", "/static/nope.css"), 404, "", false},
		{"traversal", get("GET", "/static/../templates/login.html"), 404, "", false},
		{"POST", get("POST", r.cssURL), 405, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.w.Code != tt.status || tt.w.Header().Get("Cache-Control") != tt.cache {
				t.Fatalf("status %d cache %q; want %d %q", tt.w.Code, tt.w.Header().Get("Cache-Control"), tt.status, tt.cache)
			}
			if tt.status < 400 && tt.wantBody != (tt.w.Body.Len() > 0) {
				t.Errorf("body length %d", tt.w.Body.Len())
			}
			if tt.status == 200 && (tt.w.Header().Get("ETag") == "" || tt.w.Header().Get("Content-Type") == "") {
				t.Errorf("headers %v", tt.w.Header())
			}
		})
	}
	if ct := get("GET", r.cssURL).Header().Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("css Content-Type %q", ct)
	}
	if !strings.HasPrefix(r.cssURL, "/static/gatehouse.css?v=") || len(css.hash) != 16 {
		t.Errorf("css URL %q carries no content hash", r.cssURL)
	}
}

// TestAutoPostAction: the auto-post page posts only to an http(s) URL,
// and its CSP allows exactly that URL's origin; anything else is refused
// with nothing written.
func TestAutoPostAction(t *testing.T) {
	r := newRenderer(t)
	for _, tc := range []struct {
		action, formAction string
	}{
		{"https://rp.example:8443/cb?x=1", "https://rp.example:8443"},
		{"http://127.0.0.1:8400/cb", "http://127.0.0.1:8400"},
		{"javascript:alert(1)", ""},
		{"data:text/html,<form>", ""},
		{"com.example.app:/cb", ""},
		{"https://rp.example cb", ""},
		{"", ""},
	} {
		t.Run(tc.action, func(t *testing.T) {
			w := httptest.NewRecorder()
			err := r.RenderAutoPost(w, AutoPostData{Action: tc.action, Fields: []Field{{"code", "c"}}})
			if tc.formAction == "" {
				if err == nil || w.Body.Len() != 0 || w.Header().Get("Content-Security-Policy") != "" {
					t.Fatalf("RenderAutoPost(%q) = %v, wrote %d bytes; want a refusal and nothing written", tc.action, err, w.Body.Len())
				}
				return
			}
			csp := w.Header().Get("Content-Security-Policy")
			if err != nil || !strings.Contains(csp, "form-action "+tc.formAction+";") || strings.Contains(csp, "form-action 'self'") {
				t.Fatalf("RenderAutoPost(%q) = %v, CSP %q", tc.action, err, csp)
			}
			if !strings.Contains(w.Body.String(), `<script src="`+template.HTMLEscapeString(r.postURL)+`" defer></script>`) {
				t.Fatalf("the page does not load autopost.js:\n%s", w.Body.String())
			}
		})
	}
}

// TestMeMFAPage: the user's two-step sign-in page offers what its data
// says, every form posts with its CSRF token, and every field has a label.
func TestMeMFAPage(t *testing.T) {
	app := FactorView{ID: "f-1", Kind: "Authenticator app", Label: "Authenticator app", Added: "1 Dec 2026", CanReset: true}
	mail := FactorView{ID: "f-2", Kind: "Email code", Label: "alice@home.example", Added: "1 Dec 2026", LastUsed: "2 Dec 2026 10:00 UTC"}
	tests := []struct {
		name     string
		data     MeMFAData
		want     []string
		wantNot  []string
		address  string // the address field's value; "-" for no field
		describe string // what describes the field
	}{
		{"nothing yet", MeMFAData{CanAddTOTP: true, Email: &EmailOption{AskAddress: true, OwnRefused: true}},
			[]string{"Two-step sign-in is off", "Add an authenticator app", "Add email codes", "own address"},
			[]string{"Recovery codes:", "Remove", "Reset"}, "", "address-hint"},
		{"a refused address", MeMFAData{Error: "Enter one email address.", Email: &EmailOption{AskAddress: true, Address: "x@", OwnRefused: true, Invalid: true}},
			[]string{`aria-invalid="true"`, `id="form-error"`}, nil, "x@", "form-error address-hint"},
		{"factors and codes", MeMFAData{Factors: []FactorView{app, mail}, Recovery: &RecoveryView{Left: 7, Total: 10}, CanAddTOTP: true,
			Email: &EmailOption{AskAddress: true, Address: "alice@acme.example"}},
			[]string{"Reset Authenticator app", "Remove Authenticator app", "Remove alice@home.example", "Email code</strong>: alice@home.example",
				"Recovery codes: 7 of 10 left", "Regenerate recovery codes", "not used yet", "last used 2 Dec 2026"},
			[]string{"Two-step sign-in is off", "Reset alice@home.example", "aria-invalid"}, "alice@acme.example", ""},
		{"own address only", MeMFAData{Email: &EmailOption{Address: "alice@acme.example"}},
			[]string{"at <strong>alice@acme.example</strong>", "Add email codes"}, []string{"Add an authenticator app"}, "-", ""},
		{"nothing to add", MeMFAData{Factors: []FactorView{app}}, nil, []string{"Add a method", "Add email codes", "Add an authenticator app"}, "-", ""},
	}
	r := newRenderer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.data
			d.AddURL, d.ResetURL, d.RemoveURL, d.EmailURL, d.RecoveryURL, d.CSRFToken = "/add", "/reset", "/remove", "/email", "/codes", "tok"
			w := httptest.NewRecorder()
			if err := r.RenderMeMFA(w, http.StatusOK, d); err != nil {
				t.Fatal(err)
			}
			body := w.Body.String()
			wantText(t, body, tt.want, tt.wantNot)
			for _, f := range pageForms(body) {
				if !strings.Contains(f, `method="post"`) || !strings.Contains(f, `name="csrf_token" value="tok"`) {
					t.Errorf("a form without POST or its CSRF token: %s", f)
				}
			}
			labels := map[string]bool{}
			for _, l := range tags(body, "label") {
				labels[l.attrs["for"]] = true
			}
			var field *tag
			for _, in := range tags(body, "input") {
				if in.attrs["type"] == "hidden" {
					continue
				}
				if !labels[in.attrs["id"]] {
					t.Errorf("input %q has no <label for>", in.attrs["name"])
				}
				if in.attrs["name"] == "address" {
					field = &in
				}
			}
			switch {
			case tt.address == "-" && field != nil:
				t.Errorf("an address field: %+v", field.attrs)
			case tt.address != "-" && (field == nil || field.attrs["value"] != tt.address || field.attrs["autocomplete"] != "email" || field.attrs["type"] != "email"):
				t.Errorf("address field %+v; want value %q", field, tt.address)
			case field != nil && field.attrs["aria-describedby"] != tt.describe:
				t.Errorf("address field described by %q", field.attrs["aria-describedby"])
			}
		})
	}
}

var formRE = regexp.MustCompile(`(?s)<form[^>]*>.*?</form>`)

func pageForms(body string) []string { return formRE.FindAllString(body, -1) }

// TestAccountVariants: the pages the login shares with /me, as /me shows
// them (no auth request): no login fields, /me's own targets instead.
func TestAccountVariants(t *testing.T) {
	r := newRenderer(t)
	tests := []struct {
		name    string
		render  func(w http.ResponseWriter) error
		want    []string
		wantNot []string
	}{
		{"app reset", func(w http.ResponseWriter) error {
			return r.RenderTOTPEnrol(w, http.StatusOK, TOTPEnrolData{PostURL: "/me/mfa/totp/confirm", CSRFToken: "tok", FactorID: "f-1",
				QR: QRDataURL([]byte("png")), Grouped: "ABCD", Reset: true, BackURL: "/me/mfa"})
		}, []string{"<h1>Reset your authenticator app</h1>", "current app keeps working", `name="factor" value="f-1"`, `href="/me/mfa"`},
			[]string{`name="id"`, `name="method"`, "Skip for now"}},
		{"email code", func(w http.ResponseWriter) error {
			return r.RenderMFACode(w, http.StatusOK, MFACodeData{PostURL: "/me/mfa/email/confirm", CSRFToken: "tok", FactorID: "f-2",
				Resend: true, ResendURL: "/me/mfa/email/resend", BackURL: "/me/mfa"})
		}, []string{`action="/me/mfa/email/resend"`, `action="/me/mfa/email/confirm"`, "Send a new code", `href="/me/mfa"`},
			[]string{`name="id"`, `name="action"`}},
		{"codes shown once", func(w http.ResponseWriter) error {
			return r.RenderMFANotice(w, http.StatusOK, MFANoticeData{Heading: "New codes", Codes: []string{"abcd-efgh"},
				Download: textDataURL("abcd-efgh"), ContinueURL: "/me/mfa"})
		}, []string{"abcd-efgh", "Download as text", `id="continue" href="/me/mfa"`}, []string{"<form", "Finish"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			if err := tt.render(w); err != nil {
				t.Fatal(err)
			}
			body := w.Body.String()
			wantText(t, body, tt.want, tt.wantNot)
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Error("a page with secrets may be stored")
			}
		})
	}
}

// wantText fails unless body has every string of want and none of wantNot.
func wantText(t *testing.T, body string, want, wantNot []string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %q:\n%s", s, body)
		}
	}
	for _, s := range wantNot {
		if strings.Contains(body, s) {
			t.Errorf("page has %q:\n%s", s, body)
		}
	}
}

// TestBrandedPage: a brand's name is escaped, its logo's origin and its
// style rule's hash are in the CSP, and nothing else widens it.
func TestBrandedPage(t *testing.T) {
	r := newRenderer(t)
	w := httptest.NewRecorder()
	b := &Brand{Name: `Acme <script>`, LogoURL: "https://cdn.acme.example/a/logo.svg?v=1", Accent: "#0f5132"}
	if err := r.RenderTOTPEnrol(w, http.StatusOK, TOTPEnrolData{Branding: Branding{b}}); err != nil {
		t.Fatal(err)
	}
	body, csp := w.Body.String(), w.Header().Get("Content-Security-Policy")
	if strings.Contains(body, "<script>") || !strings.Contains(body, "Acme &lt;script&gt;") {
		t.Errorf("the brand's name is not escaped:\n%s", body)
	}
	st := string(b.style())
	sum := sha256.Sum256([]byte(st))
	for _, want := range []string{"<style>" + st + "</style>", `src="https://cdn.acme.example/a/logo.svg?v=1"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, want := range []string{"img-src 'self' https://cdn.acme.example data:", "style-src 'self' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	// Without a brand: Gatehouse's, and the CSP as ever.
	w = httptest.NewRecorder()
	if err := r.RenderMFACode(w, http.StatusOK, MFACodeData{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(w.Body.String(), "<style>") || strings.Contains(w.Header().Get("Content-Security-Policy"), "img-src") {
		t.Error("an unbranded page has a style or an image source")
	}
}
