package csrf

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

const issuer = "https://id.example.com"

var secret = bytes.Repeat([]byte("s"), 32)

func newProtector(t testing.TB, secure bool) (*Protector, *bytes.Buffer) {
	t.Helper()
	logs := new(bytes.Buffer)
	p, err := New(Options{
		Secret:         secret,
		Secure:         secure,
		AllowedOrigins: []string{issuer + ":443/"},
		Binding:        FormField("id"),
		Logger:         slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, logs
}

// browser is one browser's CSRF state: its cookie and the tokens it was
// given for a binding.
type browser struct {
	cookie *http.Cookie
}

// page renders a form page for binding and returns the token it holds.
func (b *browser) page(t testing.TB, p *Protector, binding string) string {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/login", nil)
	if b.cookie != nil {
		r.AddCookie(b.cookie)
	}
	w := httptest.NewRecorder()
	token := p.Token(w, r, binding)
	for _, c := range w.Result().Cookies() {
		if c.Name == p.CookieName() {
			b.cookie = c
		}
	}
	if b.cookie == nil {
		t.Fatal("Token set no cookie")
	}
	return token
}

type post struct {
	method  string
	cookie  *http.Cookie
	form    url.Values
	query   url.Values
	headers map[string][]string
}

func (ps post) request() *http.Request {
	method := ps.method
	if method == "" {
		method = http.MethodPost
	}
	target := "/login"
	if ps.query != nil {
		target += "?" + ps.query.Encode()
	}
	r := httptest.NewRequest(method, target, strings.NewReader(ps.form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if ps.cookie != nil {
		r.AddCookie(ps.cookie)
	}
	for k, vs := range ps.headers {
		r.Header[k] = vs
	}
	return r
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"short secret", Options{Secret: secret[:16], AllowedOrigins: []string{issuer}}, "at least 32 bytes"},
		{"no origins", Options{Secret: secret}, "AllowedOrigins"},
		{"bad origin", Options{Secret: secret, AllowedOrigins: []string{"id.example.com"}}, "http(s)://host"},
		{"javascript origin", Options{Secret: secret, AllowedOrigins: []string{"javascript:alert(1)"}}, "http(s)://host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestNormalizeOrigin(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://ID.Example.com", "https://id.example.com"},
		{"https://id.example.com:443/some/path", "https://id.example.com"},
		{"http://localhost:8080", "http://localhost:8080"},
		{"http://localhost:80", "http://localhost"},
		{"https://[::1]:8443", "https://[::1]:8443"},
	}
	for _, tt := range tests {
		if got, err := NormalizeOrigin(tt.in); err != nil || got != tt.want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCookieAttributes(t *testing.T) {
	for _, tt := range []struct {
		secure bool
		name   string
	}{{true, "__Host-gatehouse-csrf"}, {false, "gatehouse-csrf"}} {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newProtector(t, tt.secure)
			w := httptest.NewRecorder()
			p.Token(w, httptest.NewRequest(http.MethodGet, "/", nil), "")
			cs := w.Result().Cookies()
			if len(cs) != 1 {
				t.Fatalf("cookies %v", w.Header().Values("Set-Cookie"))
			}
			c := cs[0]
			if c.Name != tt.name || c.Secure != tt.secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.MaxAge <= 0 {
				t.Errorf("cookie %q", w.Header().Get("Set-Cookie"))
			}
		})
	}
}

func TestTokenReusesCookie(t *testing.T) {
	p, _ := newProtector(t, true)
	var b browser
	first := b.page(t, p, "req-1")
	cookie := b.cookie
	if again := b.page(t, p, "req-1"); again != first || b.cookie.Value != cookie.Value {
		t.Fatal("a second page load changed the cookie or the token")
	}
	// Two forms on one page (no cookie yet) share the cookie set once.
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	t1, t2 := p.Token(w, r, "a"), p.Token(w, r, "b")
	if n := len(w.Header().Values("Set-Cookie")); n != 1 {
		t.Fatalf("%d Set-Cookie headers, want 1", n)
	}
	c := w.Result().Cookies()[0]
	for binding, tok := range map[string]string{"a": t1, "b": t2} {
		req := post{cookie: c, form: url.Values{FieldName: {tok}}}.request()
		if err := p.Verify(req, binding); err != nil {
			t.Errorf("token for %q: %v", binding, err)
		}
	}
}

func TestProtect(t *testing.T) {
	p, logs := newProtector(t, true)
	var alice, mallory browser
	unbound := alice.page(t, p, "")
	bound := alice.page(t, p, "req-1")
	mallorysToken := mallory.page(t, p, "req-1")
	tamperedCookie := *alice.cookie
	tamperedCookie.Value = "A" + tamperedCookie.Value[1:]
	if tamperedCookie.Value == alice.cookie.Value {
		tamperedCookie.Value = "B" + tamperedCookie.Value[1:]
	}
	hdr := func(kv ...string) map[string][]string {
		h := map[string][]string{}
		for i := 0; i < len(kv); i += 2 {
			h[kv[i]] = append(h[kv[i]], kv[i+1])
		}
		return h
	}

	tests := []struct {
		name   string
		req    post
		status int
		reason error
	}{
		{"good unbound token", post{cookie: alice.cookie, form: url.Values{FieldName: {unbound}}}, 200, nil},
		{"good bound token", post{cookie: alice.cookie, form: url.Values{FieldName: {bound}, "id": {"req-1"}}}, 200, nil},
		{"good token, same-origin browser", post{cookie: alice.cookie, form: url.Values{FieldName: {bound}, "id": {"req-1"}},
			headers: hdr("Origin", issuer, "Sec-Fetch-Site", "same-origin")}, 200, nil},
		{"good token, Origin null from a no-referrer page", post{cookie: alice.cookie, form: url.Values{FieldName: {unbound}},
			headers: hdr("Origin", "null", "Sec-Fetch-Site", "same-origin")}, 200, nil},
		{"GET needs nothing", post{method: http.MethodGet}, 200, nil},
		{"HEAD needs nothing", post{method: http.MethodHead}, 200, nil},

		{"missing token", post{cookie: alice.cookie, form: url.Values{"email": {"a@b.c"}}}, 403, ErrNoToken},
		{"missing cookie", post{form: url.Values{FieldName: {unbound}}}, 403, ErrNoCookie},
		{"wrong token", post{cookie: alice.cookie, form: url.Values{FieldName: {strings.Repeat("A", 43)}}}, 403, ErrBadToken},
		{"malformed token", post{cookie: alice.cookie, form: url.Values{FieldName: {unbound + "=="}}}, 403, ErrNoToken},
		{"token for another binding", post{cookie: alice.cookie, form: url.Values{FieldName: {bound}, "id": {"req-2"}}}, 403, ErrBadToken},
		{"bound token sent unbound", post{cookie: alice.cookie, form: url.Values{FieldName: {bound}}}, 403, ErrBadToken},
		{"token from another browser's cookie", post{cookie: alice.cookie, form: url.Values{FieldName: {mallorysToken}, "id": {"req-1"}}}, 403, ErrBadToken},
		{"tampered cookie", post{cookie: &tamperedCookie, form: url.Values{FieldName: {unbound}}}, 403, ErrBadToken},
		{"token in the query string only", post{cookie: alice.cookie, query: url.Values{FieldName: {unbound}}}, 403, ErrNoToken},
		{"cross-site Origin", post{cookie: alice.cookie, form: url.Values{FieldName: {unbound}}, headers: hdr("Origin", "https://evil.example")}, 403, ErrOrigin},
		{"look-alike Origin", post{cookie: alice.cookie, form: url.Values{FieldName: {unbound}}, headers: hdr("Origin", issuer+".evil.example")}, 403, ErrOrigin},
		{"http Origin for an https issuer", post{cookie: alice.cookie, form: url.Values{FieldName: {unbound}}, headers: hdr("Origin", "http://id.example.com")}, 403, ErrOrigin},
		{"two Origin headers", post{cookie: alice.cookie, form: url.Values{FieldName: {unbound}}, headers: hdr("Origin", issuer, "Origin", "https://evil.example")}, 403, ErrOrigin},
		{"Origin null without Sec-Fetch-Site", post{cookie: alice.cookie, form: url.Values{FieldName: {unbound}}, headers: hdr("Origin", "null")}, 403, ErrOrigin},
		{"Origin null cross-site", post{cookie: alice.cookie, form: url.Values{FieldName: {unbound}}, headers: hdr("Origin", "null", "Sec-Fetch-Site", "cross-site")}, 403, ErrCrossSite},
		{"Sec-Fetch-Site cross-site", post{cookie: alice.cookie, form: url.Values{FieldName: {unbound}}, headers: hdr("Sec-Fetch-Site", "cross-site")}, 403, ErrCrossSite},
		{"Sec-Fetch-Site cross-site with the issuer Origin", post{cookie: alice.cookie, form: url.Values{FieldName: {unbound}}, headers: hdr("Origin", issuer, "Sec-Fetch-Site", "cross-site")}, 403, ErrCrossSite},
		{"Sec-Fetch-Site same-site without Origin", post{cookie: alice.cookie, form: url.Values{FieldName: {unbound}}, headers: hdr("Sec-Fetch-Site", "same-site")}, 403, ErrCrossSite},
		{"PUT without token", post{method: http.MethodPut, cookie: alice.cookie}, 403, ErrNoToken},
		{"PATCH without token", post{method: http.MethodPatch, cookie: alice.cookie}, 403, ErrNoToken},
		{"DELETE without token", post{method: http.MethodDelete, cookie: alice.cookie}, 403, ErrNoToken},
		{"unknown method without token", post{method: "PROPFIND", cookie: alice.cookie}, 403, ErrNoToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			called := false
			h := p.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true }))
			r := tt.req.request()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status || called != (tt.status == 200) {
				t.Fatalf("status %d, handler called %v; want %d", w.Code, called, tt.status)
			}
			if tt.reason == nil {
				return
			}
			if err := p.Verify(tt.req.request(), FormField("id")(tt.req.request())); !errors.Is(err, tt.reason) {
				t.Errorf("Verify = %v, want %v", err, tt.reason)
			}
			if !strings.Contains(logs.String(), tt.reason.Error()) {
				t.Errorf("reason not logged: %q", logs.String())
			}
			body := w.Body.String()
			if !strings.Contains(body, "Please try again") || strings.Contains(body, "csrf:") || strings.Contains(body, unbound) {
				t.Errorf("403 page is not the generic one: %q", body)
			}
		})
	}
}

func TestRejectHook(t *testing.T) {
	var got int
	p, err := New(Options{Secret: secret, AllowedOrigins: []string{issuer},
		Reject: func(w http.ResponseWriter, r *http.Request, status int) { got = status; w.WriteHeader(status) }})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	p.Protect(http.NotFoundHandler()).ServeHTTP(w, post{}.request())
	if got != http.StatusForbidden || w.Code != http.StatusForbidden {
		t.Fatalf("Reject got %d, response %d", got, w.Code)
	}
	// An unreadable form is a 400.
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("a=%zz"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	p.Protect(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), r)
	if got != http.StatusBadRequest {
		t.Fatalf("bad form: Reject got %d, want 400", got)
	}
}

func FuzzVerify(f *testing.F) {
	p, _ := newProtector(f, true)
	var b browser
	tok := b.page(f, p, "req-1")
	f.Add(b.cookie.Value, url.Values{FieldName: {tok}, "id": {"req-1"}}.Encode(), "req-1", issuer, "same-origin")
	f.Add("", "csrf_token=", "", "null", "")
	f.Add(strings.Repeat("A", 43), "csrf_token="+strings.Repeat("A", 43)+"&csrf_token=x", "|", "", "cross-site")
	f.Add("%%%", "%zz=&&==;", "\x00", "https://[::1", "same-site")
	f.Fuzz(func(t *testing.T, cookie, body, binding, origin, site string) {
		r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Cookie", p.CookieName()+"="+cookie)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if site != "" {
			r.Header.Set("Sec-Fetch-Site", site)
		}
		err := p.Verify(r, binding)
		if err == nil {
			// Whatever passes must carry the right token for its cookie.
			c, cerr := r.Cookie(p.CookieName())
			if cerr != nil || r.PostForm.Get(FieldName) == "" || c.Value == "" {
				t.Fatalf("Verify passed without cookie and token: %q %q", cookie, body)
			}
		}
		r2 := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(body))
		r2.Header = r.Header.Clone()
		p.Protect(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), r2)
	})
}
