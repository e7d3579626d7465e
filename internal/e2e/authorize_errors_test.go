package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAuthorizeErrorsArePages: a person who follows a broken /authorize
// link (unknown client, unregistered redirect URI) gets Gatehouse's HTML
// error page with a 400, not the library's JSON, and is never redirected.
func TestAuthorizeErrorsArePages(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.client("web", nil)
		b := h.browser()
		tests := []struct {
			name string
			q    url.Values
		}{
			{"unknown client", url.Values{"client_id": {"nope"}, "redirect_uri": {"https://evil.example/cb"}}},
			{"unregistered redirect_uri", url.Values{"redirect_uri": {"https://evil.example/cb"}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := b.get(h.authURL("web", tt.q))
				ct := p.resp.Header.Get("Content-Type")
				if p.resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(ct, "text/html") ||
					p.resp.Header.Get("Location") != "" || strings.Contains(p.body, "server_error") || !strings.Contains(p.body, "not valid") {
					t.Fatalf("status %d, Content-Type %q, Location %q\n%s", p.resp.StatusCode, ct, p.resp.Header.Get("Location"), p.body)
				}
			})
		}
	})
}
