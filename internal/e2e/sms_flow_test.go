package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
)

// smsGateway is a local HTTP server that speaks the webhook format and
// keeps the texts it received.
type smsGateway struct {
	mu    sync.Mutex
	texts []sentText
}

func (g *smsGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m sentText
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	g.texts = append(g.texts, m)
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"id":"msg-1","status":"queued"}`))
}

var smsCodeRE = regexp.MustCompile(`#(\d{6})\s*$`)

// sentText is a text a local gateway received.
type sentText struct{ To, Text string }

// lastText is the newest of texts to to, and its WebOTP code.
func lastText(t *testing.T, texts []sentText, to string) (text, code string) {
	t.Helper()
	for i := len(texts) - 1; i >= 0; i-- {
		if texts[i].To == to {
			m := smsCodeRE.FindStringSubmatch(texts[i].Text)
			if m == nil {
				t.Fatalf("no WebOTP code line in the text %q", texts[i].Text)
			}
			return texts[i].Text, m[1]
		}
	}
	t.Fatalf("no text to %s (%d texts)", to, len(texts))
	return "", ""
}

// last is the code of the newest text to to.
func (g *smsGateway) last(t *testing.T, to string) string {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	_, code := lastText(t, g.texts, to)
	return code
}

func (g *smsGateway) count() int { g.mu.Lock(); defer g.mu.Unlock(); return len(g.texts) }

// TestSMSEnrolAndLogin: with text messages through a webhook gateway, a
// user with a number on the profile goes straight to its enrolment, gets
// the code by text (in the WebOTP format), and at the next login the code
// is sent with no click; a user without a number, where users may not
// enter one, is told to ask an administrator.
func TestSMSEnrolAndLogin(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) { eachSMSEnrolAndLogin(t, backend) })
	}
}

// newSMSHarness starts an instance on backend that texts through a local
// webhook gateway, with edit (nil: none) applied to its SMS settings.
func newSMSHarness(t *testing.T, backend string, edit func(*config.SMS)) (*harness, *smsGateway) {
	t.Helper()
	gw := &smsGateway{}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	h := newHarnessWith(t, backend, harnessOptions{config: func(c *config.Config) {
		webhookSMS(srv.URL + "/send")(c)
		if edit != nil {
			edit(&c.SMS)
		}
	}})
	return h, gw
}

func eachSMSEnrolAndLogin(t *testing.T, backend string) {
	h, gw := newSMSHarness(t, backend, nil)
	secretC := h.client("web", nil)
	h.user(aliceEmail, alicePW)
	h.user(bobEmail, alicePW)
	const number = "+41791234567"
	if _, err := h.inst.Admin.SetPhone(h.ctx, "test-admin", aliceEmail, "+41 79 123 45 67"); err != nil {
		t.Fatal(err)
	}
	h.setMFAPolicy(admin.MFAPolicyInput{Required: true, Methods: []string{"sms"}})

	b := h.browser()
	q, verifier := withPKCE(nil)
	p := b.login(b.get(h.authURL("web", q)), aliceEmail, alicePW)
	wantPage(t, "sms enrolment", p, http.StatusOK, "Check your phone")
	if gw.count() != 1 {
		t.Fatalf("%d texts sent at the enrolment; want 1", gw.count())
	}
	wantPage(t, "wrong code", b.press(p, `name="code"`, map[string]string{"code": "000000"}), http.StatusUnprocessableEntity, `role="alert"`)
	n := b.press(p, `name="code"`, map[string]string{"code": gw.last(t, number)})
	wantPage(t, "enrolled", n, http.StatusOK, "Two-step sign-in is on")
	status, tok := h.tokenRequest("web", secretC, codeForm("web", b.press(n, `id="finish"`, nil).callback(t).Get("code"), verifier))
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, tok)
	}
	claims := jwtClaims(t, jsonStr(tok, "id_token"))
	if claims["acr"] != "urn:gatehouse:acr:mfa" {
		t.Fatalf("acr %v", claims["acr"])
	}

	// The next login: the code goes out when the step is shown.
	c := h.browser()
	lp := c.login(c.get(h.authURL("web", nil)), aliceEmail, alicePW)
	wantPage(t, "code step", lp, http.StatusOK, "we texted to &#43;•••67")
	if gw.count() != 2 {
		t.Fatalf("%d texts; want 2", gw.count())
	}
	c.press(lp, `name="code"`, map[string]string{"code": gw.last(t, number)}).callback(t)

	// Bob has no number, and users may not enter one.
	d := h.browser()
	dp := d.login(d.get(h.authURL("web", nil)), bobEmail, alicePW)
	wantPage(t, "no number", dp, http.StatusOK, "Your account has no mobile number; contact your administrator.")
	if strings.Contains(dp.body, `data-method="sms"`) {
		t.Fatal("text messages offered to a user without a number")
	}
}
