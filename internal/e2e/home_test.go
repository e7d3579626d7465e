package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestHomeAndBareLogin: someone who opens the server directly learns what
// it is and where sign-in starts, instead of a bare 404; /login without a
// sign-in request goes there instead of saying a request "expired". Any
// other unknown path is still a 404.
func TestHomeAndBareLogin(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		b := h.browser()
		p := b.get(h.issuer + "/")
		if p.resp.StatusCode != http.StatusOK || !strings.Contains(p.body, "open the application you want to use") ||
			!strings.Contains(p.body, h.issuer+"/.well-known/openid-configuration") ||
			!strings.Contains(p.resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Fatalf("GET /: %d %v\n%s", p.resp.StatusCode, p.resp.Header, p.body)
		}
		p = b.get(h.issuer + "/login")
		if p.resp.Request.URL.Path != "/" || p.resp.StatusCode != http.StatusOK || strings.Contains(p.body, "expired") {
			t.Fatalf("GET /login without a request ended at %s: %d\n%s", p.resp.Request.URL, p.resp.StatusCode, p.body)
		}
		if p := b.get(h.issuer + "/login?id=nope"); p.resp.StatusCode != http.StatusBadRequest || !strings.Contains(p.body, "expired") {
			t.Fatalf("GET /login with an unknown request: %d", p.resp.StatusCode)
		}
		if p := b.get(h.issuer + "/no-such-page"); p.resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET /no-such-page: %d", p.resp.StatusCode)
		}
	})
}
