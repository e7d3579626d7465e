package csrf

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Cookie and form field names. The __Host- prefix requires Secure, so dev
// mode on http://localhost uses the plain name.
const (
	CookieNameSecure   = "__Host-gatehouse-csrf"
	CookieNameInsecure = "gatehouse-csrf"
	FieldName          = "csrf_token"
	// DefaultMaxAge is the cookie lifetime; Token renews it on every page.
	DefaultMaxAge = 12 * time.Hour
	// MinSecretLen is the least length of Options.Secret.
	MinSecretLen = 32

	valueBytes = 32
	// valueLen is len(base64url(valueBytes)), also the token's length.
	valueLen = 43
)

// Reasons a request is refused. Verify wraps one of them.
var (
	ErrOrigin    = errors.New("csrf: Origin is not an allowed origin")
	ErrCrossSite = errors.New("csrf: cross-site request (Sec-Fetch-Site)")
	ErrNoCookie  = errors.New("csrf: missing or malformed cookie")
	ErrNoToken   = errors.New("csrf: missing or malformed token")
	ErrBadToken  = errors.New("csrf: token does not match the cookie and binding")
	ErrBadForm   = errors.New("csrf: unreadable form")
)

// Options configures a Protector. Secret and AllowedOrigins are required.
type Options struct {
	// Secret keys the token MAC (HKDF-SHA256 derives the key from it);
	// e.g. the master key bytes. At least 32 bytes.
	Secret []byte
	// Secure marks the cookie Secure and gives it the __Host- prefix.
	Secure bool
	// AllowedOrigins are the origins forms may be posted from, e.g. the
	// issuer's "https://id.example.com". Default ports are normalised.
	AllowedOrigins []string
	// Binding tells Protect which binding a request's token was issued
	// for. Nil: "" (unbound). FormField("id") binds to the auth request
	// id the forms carry.
	Binding func(*http.Request) string
	// Reject answers a refused request; status is 403 (or 400 for an
	// unreadable form). Default: a plain, generic page. It must not echo
	// the reason; Protect has logged it.
	Reject func(w http.ResponseWriter, r *http.Request, status int)
	// MaxAge is the cookie lifetime (default 12h).
	MaxAge time.Duration
	// Rand is the randomness for cookie values (default crypto/rand).
	Rand   io.Reader
	Logger *slog.Logger
}

// Protector issues and checks CSRF tokens. It is safe for concurrent use.
type Protector struct {
	key     []byte
	name    string
	secure  bool
	origins map[string]bool
	binding func(*http.Request) string
	reject  func(http.ResponseWriter, *http.Request, int)
	maxAge  int
	rand    io.Reader
	log     *slog.Logger
}

// New validates opts and builds a Protector.
func New(opts Options) (*Protector, error) {
	var errs []error
	if len(opts.Secret) < MinSecretLen {
		errs = append(errs, fmt.Errorf("csrf: Secret must be at least %d bytes, got %d", MinSecretLen, len(opts.Secret)))
	}
	if len(opts.AllowedOrigins) == 0 {
		errs = append(errs, errors.New("csrf: AllowedOrigins must name at least the issuer's origin"))
	}
	if opts.MaxAge < 0 {
		errs = append(errs, errors.New("csrf: MaxAge must not be negative"))
	}
	origins := make(map[string]bool)
	for _, o := range opts.AllowedOrigins {
		n, err := NormalizeOrigin(o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		origins[n] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	key, err := hkdf.Key(sha256.New, opts.Secret, nil, "gatehouse csrf token v1", 32)
	if err != nil {
		return nil, fmt.Errorf("csrf: derive key: %w", err)
	}
	p := &Protector{
		key:     key,
		name:    CookieNameInsecure,
		secure:  opts.Secure,
		origins: origins,
		binding: opts.Binding,
		reject:  opts.Reject,
		maxAge:  int(DefaultMaxAge / time.Second),
		rand:    opts.Rand,
		log:     opts.Logger,
	}
	if p.secure {
		p.name = CookieNameSecure
	}
	if opts.MaxAge > 0 {
		p.maxAge = max(1, int(opts.MaxAge/time.Second))
	}
	if p.binding == nil {
		p.binding = func(*http.Request) string { return "" }
	}
	if p.reject == nil {
		p.reject = defaultReject
	}
	if p.rand == nil {
		p.rand = rand.Reader
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	return p, nil
}

// NormalizeOrigin turns a URL or origin ("https://ID.example.com:443/x")
// into the form browsers send in Origin ("https://id.example.com").
func NormalizeOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("csrf: origin %q: %w", s, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "https" && scheme != "http") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("csrf: origin %q must be http(s)://host[:port]", s)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// FormField returns a Binding that reads the named field of the posted
// form, e.g. FormField("id") for forms bound to their auth request.
func FormField(name string) func(*http.Request) string {
	return func(r *http.Request) string {
		if r.PostForm == nil {
			if err := r.ParseForm(); err != nil {
				return ""
			}
		}
		return r.PostForm.Get(name)
	}
}

// CookieName is the name of the cookie this Protector reads and writes.
func (p *Protector) CookieName() string { return p.name }

// Token returns the csrf_token value for a form bound to binding, and sets
// (or renews) the cookie on w. Call it before the response is written. It
// panics only if the randomness source fails, which crypto/rand never does.
func (p *Protector) Token(w http.ResponseWriter, r *http.Request, binding string) string {
	value, ok := p.pendingCookie(w)
	if !ok {
		value, ok = p.cookieValue(r)
	}
	if !ok {
		b := make([]byte, valueBytes)
		if _, err := io.ReadFull(p.rand, b); err != nil {
			panic(fmt.Sprintf("csrf: randomness failed: %v", err))
		}
		value = base64.RawURLEncoding.EncodeToString(b)
	}
	if _, already := p.pendingCookie(w); !already {
		http.SetCookie(w, &http.Cookie{
			Name:     p.name,
			Value:    value,
			Path:     "/",
			MaxAge:   p.maxAge,
			Secure:   p.secure,
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
		})
	}
	return base64.RawURLEncoding.EncodeToString(p.mac(value, binding))
}

// pendingCookie finds the cookie value an earlier Token call in this
// response set, so that two forms on one page share one cookie.
func (p *Protector) pendingCookie(w http.ResponseWriter) (string, bool) {
	for _, line := range w.Header().Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == p.name && validValue(c.Value) {
			return c.Value, true
		}
	}
	return "", false
}

func (p *Protector) cookieValue(r *http.Request) (string, bool) {
	c, err := r.Cookie(p.name)
	if err != nil || !validValue(c.Value) {
		return "", false
	}
	return c.Value, true
}

// validValue reports whether v has the shape of a cookie value (and so of
// a token): 43 base64url characters.
func validValue(v string) bool {
	if len(v) != valueLen {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(v)
	return err == nil
}

// mac is HMAC-SHA256(key, value || "|" || binding). value is fixed-length
// base64url, so the input is unambiguous whatever binding holds.
func (p *Protector) mac(value, binding string) []byte {
	h := hmac.New(sha256.New, p.key)
	h.Write([]byte(value))
	h.Write([]byte{'|'})
	h.Write([]byte(binding))
	return h.Sum(nil)
}

// Verify checks a state-changing request completely: the origin checks,
// then the csrf_token form field against the cookie and binding
// (constant-time). It parses the form (r.ParseForm), so handlers can read
// r.PostForm afterwards. The token is read from the body only, never from
// the query string.
func (p *Protector) Verify(r *http.Request, binding string) error {
	if err := p.checkOrigin(r); err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadForm, err)
	}
	value, ok := p.cookieValue(r)
	if !ok {
		return ErrNoCookie
	}
	token := r.PostForm.Get(FieldName)
	if len(token) != valueLen {
		return ErrNoToken
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil {
		return ErrNoToken
	}
	if !hmac.Equal(got, p.mac(value, binding)) {
		return ErrBadToken
	}
	return nil
}

// checkOrigin applies the browser's own statements about where a request
// comes from. Origin, when present, must be an allowed origin, with one
// exception: "null" is what browsers send for a same-origin POST from a
// page with Referrer-Policy: no-referrer, so "null" passes only together
// with Sec-Fetch-Site: same-origin. Sec-Fetch-Site "cross-site" always
// fails; "same-site" (a sibling subdomain) passes only with an allowed
// Origin.
func (p *Protector) checkOrigin(r *http.Request) error {
	site := r.Header.Get("Sec-Fetch-Site")
	if site == "cross-site" {
		return ErrCrossSite
	}
	origins := r.Header.Values("Origin")
	if len(origins) > 1 {
		return ErrOrigin
	}
	if len(origins) == 1 {
		o := origins[0]
		switch {
		case p.origins[strings.ToLower(o)]:
			return nil
		case o == "null" && site == "same-origin":
			return nil
		default:
			return ErrOrigin
		}
	}
	if site == "same-site" {
		return ErrCrossSite
	}
	return nil
}

// safeMethod reports whether method must not change state and so needs no
// token.
func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// Protect refuses state-changing requests (every method but GET, HEAD and
// OPTIONS) that fail Verify with the binding Options.Binding gives, and
// logs why. Safe methods pass untouched: they must not change state.
func (p *Protector) Protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if safeMethod(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		// Origin first, so a cross-site request is refused before its
		// body is read; then the form, which the binding may come from.
		err := p.checkOrigin(r)
		if err == nil {
			if perr := r.ParseForm(); perr != nil {
				err = fmt.Errorf("%w: %w", ErrBadForm, perr)
			} else {
				err = p.Verify(r, p.binding(r))
			}
		}
		if err != nil {
			status := http.StatusForbidden
			if errors.Is(err, ErrBadForm) {
				status = http.StatusBadRequest
			}
			p.log.WarnContext(r.Context(), "csrf: request refused",
				"reason", err.Error(),
				"method", r.Method,
				"origin", truncate(r.Header.Get("Origin"), 100),
				"sec_fetch_site", truncate(r.Header.Get("Sec-Fetch-Site"), 20))
			p.reject(w, r, status)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

const rejectPage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Please try again</title></head>
<body>
<main>
<h1>Please try again</h1>
<p>This page was open for too long or was sent from somewhere we don't recognise, so we didn't act on it.</p>
<p>Go back, reload the page and try again.</p>
</main>
</body>
</html>
`

func defaultReject(w http.ResponseWriter, _ *http.Request, status int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, rejectPage)
}
