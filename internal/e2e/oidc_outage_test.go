package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// rawGet fetches u without following redirects and returns the response
// and its body.
func rawGet(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestOIDCEdgeDuringOutage (issue 8): with storage unavailable, /authorize
// answers 503 with Retry-After and the "temporarily unavailable" page (not
// a 500, and never a redirect), and /keys keeps serving the last key set it
// loaded, byte for byte, with no storage error in any body.
func TestOIDCEdgeDuringOutage(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.client("web", nil)
		resp, before := rawGet(t, h.issuer+"/keys")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/keys before the outage: %d %s", resp.StatusCode, before)
		}
		if err := h.inst.Store.Close(); err != nil {
			t.Fatal(err)
		}
		// Past every cache the key manager keeps: only the door's
		// last-good set can answer.
		h.clock.Advance(time.Hour)

		resp, body := rawGet(t, h.authURL("web", mustPKCE()))
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("/authorize during an outage: %d Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("/authorize during an outage redirected to %s", loc)
		}
		if !strings.Contains(body, "temporarily unavailable") || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("/authorize during an outage: %s page %q; want the HTML temporarily unavailable page", resp.Header.Get("Content-Type"), body)
		}
		// POST /authorize too.
		pr, err := http.PostForm(h.issuer+"/authorize", url.Values{"client_id": {"web"}, "response_type": {"code"},
			"redirect_uri": {redirectURI("web")}, "scope": {"openid"}})
		if err != nil {
			t.Fatal(err)
		}
		pr.Body.Close()
		if pr.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("POST /authorize during an outage: %d; want 503", pr.StatusCode)
		}

		resp, during := rawGet(t, h.issuer+"/keys")
		if resp.StatusCode != http.StatusOK || during != before {
			t.Errorf("/keys during an outage: %d %q; want 200 and the set served before (%q)", resp.StatusCode, during, before)
		}
		for _, leak := range []string{"postgres", "sqlite", "storage", "127.0.0.1", "5432", "unavailable"} {
			if strings.Contains(strings.ToLower(during), leak) {
				t.Errorf("/keys body names %q: %s", leak, during)
			}
		}
	})
}
