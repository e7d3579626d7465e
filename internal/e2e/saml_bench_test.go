//go:build unix

package e2e

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

// BenchmarkSAMLRoundTrip is one SP-initiated sign-on of a browser that is
// signed in to Gatehouse already, through real HTTP: crewjam's samlsp
// application sends it to /saml/sso (HTTP-Redirect), the flow finds the
// session, /saml/continue makes and signs the Response (RSA-2048), the
// browser posts it to the application's ACS, and the application's page
// answers. Seven requests per op, the application's side included (it
// runs in this process, verifying the signature): cpu-ns/op is the whole
// round trip's CPU.
//
//	go test -run '^$' -bench SAMLRoundTrip -cpu 1 -count 6 ./internal/e2e/
func BenchmarkSAMLRoundTrip(b *testing.B) {
	forBackends(b, []string{"redirect"}, func(h *benchHarness, _ string) func(*testing.B) {
		md := h.fetch(h.issuer + "/saml/metadata")
		app := upstreamtest.NewSAMLSP(h.tb, md, upstreamtest.SAMLSPOptions{Now: h.now})
		if _, err := h.inst.Admin.CreateServiceProvider(h.ctx, "bench", admin.SPInput{Name: "Bench", Metadata: app.Metadata(h.tb)}); err != nil {
			h.tb.Fatal(err)
		}
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
		do := func(req *http.Request) (int, string, *url.URL) {
			resp, err := browser.Do(req)
			if err != nil {
				h.tb.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body), resp.Request.URL
		}
		post := func(u string, form url.Values, origin string) (int, string, *url.URL) {
			req, _ := http.NewRequestWithContext(h.ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", origin)
			return do(req)
		}
		// roundTrip signs in to the application; login answers the login
		// form when one is shown (the first time only).
		roundTrip := func(login bool) {
			req, _ := http.NewRequestWithContext(h.ctx, http.MethodGet, app.URL+"/", nil)
			status, body, at := do(req)
			if login {
				p := page{&http.Response{StatusCode: status, Request: &http.Request{URL: at}}, body}
				form := p.hidden()
				form.Set("email", "alice@example.com")
				form.Set("password", alicePW)
				status, body, at = post(h.issuer+"/login", form, h.issuer)
			}
			action, fields := autoPostOf(body)
			if status != http.StatusOK || action != app.URL+"/saml/acs" {
				h.tb.Fatalf("expected the Response for the ACS, got %d at %s\n%s", status, at, body)
			}
			if status, body, _ = post(action, fields, h.issuer); status != http.StatusOK || !strings.Contains(body, `"name_id"`) {
				h.tb.Fatalf("the application's page: %d\n%s", status, body)
			}
			// The application forgets its session: the next op signs in
			// again, from the start.
			u, _ := url.Parse(app.URL)
			var drop []*http.Cookie
			for _, c := range jar.Cookies(u) {
				if strings.HasPrefix(c.Name, "token_") || strings.HasPrefix(c.Name, "saml_") {
					drop = append(drop, &http.Cookie{Name: c.Name, Value: "", Path: "/", MaxAge: -1})
				}
			}
			jar.SetCookies(u, drop)
		}
		untimed(func() { roundTrip(true) })
		return func(b *testing.B) {
			b.ReportAllocs()
			cpu := processCPU(b)
			b.ResetTimer()
			for range b.N {
				roundTrip(false)
			}
			b.StopTimer()
			b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
		}
	})
}

// fetch GETs u and returns its body (setup only).
func (h *benchHarness) fetch(u string) []byte {
	h.tb.Helper()
	resp, err := h.hc.Get(u)
	if err != nil {
		h.tb.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		h.tb.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return buf.Bytes()
}
