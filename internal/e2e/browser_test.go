package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// TestBrowserLogin is the login as a person does it, in Debian's Chromium:
// a relying party (coreos/go-oidc with x/oauth2, on its own loopback
// origin) sends the browser to Gatehouse, the user types into the
// labelled form and presses Enter, and the relying party receives a code
// and verifies the ID token. It runs for query and form_post responses,
// with JavaScript and without (form_post then needs the Continue button).
// Any Content Security Policy violation or script error fails it: those
// only show in a real browser.
func TestBrowserLogin(t *testing.T) {
	chromium := chromiumPath(t)
	eachBackend(t, func(t *testing.T, h *harness) {
		h.user(aliceEmail, alicePW)
		rp := newBrowserRP(t, h)
		for _, tc := range []struct {
			name, mode string
			js         bool
		}{
			{"query", "query", true},
			{"form_post", "form_post", true},
			{"query without JavaScript", "query", false},
			{"form_post without JavaScript", "form_post", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx := newChromium(t, chromium)
				if !tc.js {
					noScript(t, ctx)
				}
				problems := watchConsole(ctx)
				step := stepper(t, ctx, problems)
				step("open the relying party", chromedp.Navigate(rp.url+"/start?mode="+tc.mode),
					chromedp.WaitVisible(chromedp.ID("email")))
				for sel, want := range map[string]string{"#email": "username", "#password": "current-password"} {
					got, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), "autocomplete"))
					if err != nil || !got.Exists || got.Value != want {
						t.Errorf("%s autocomplete = %+v (%v); want %q", sel, got, err, want)
					}
					lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
					if _, err := chromedp.Run(lctx, chromedp.Nodes(chromedp.CSS(`label[for="`+sel[1:]+`"]`))); err != nil {
						t.Errorf("no label for %s: %v", sel, err)
					}
					cancel()
				}
				// Keyboard only: type, then Enter submits the form.
				step("type and submit", chromedp.SendKeys(chromedp.ID("email"), aliceEmail),
					chromedp.SendKeys(chromedp.ID("password"), alicePW+kb.Enter))
				if tc.mode == "form_post" && !tc.js {
					// The form that posts to the relying party, not the
					// login form still on screen while the login posts.
					cont := chromedp.CSS(`form[action^="` + rp.url + `/"] button`)
					step("continue without JavaScript", chromedp.WaitVisible(cont), chromedp.Click(cont))
				}
				step("arrive signed in", chromedp.WaitVisible(chromedp.ID("result")))
				got, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("result")))
				if err != nil || got != "Signed in as "+aliceEmail {
					t.Fatalf("relying party says %q (%v)", got, err)
				}
				if p := problems(); len(p) > 0 {
					t.Fatalf("the browser reported: %q", p)
				}
			})
		}
	})
}

// noScript turns JavaScript off in the browser of ctx: the pages must
// work without it.
func noScript(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled,
		emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
}

// stepper returns a function that runs one step of a browser test within
// 15 seconds, failing the test with where the browser was and what its
// console said.
func stepper(t *testing.T, ctx context.Context, problems func() []string) func(what string, actions ...chromedp.Action[chromedp.Void]) {
	return func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			// What the page says, bounded: an error page explains more
			// than its address.
			tctx, tcancel := context.WithTimeout(ctx, 2*time.Second)
			text, _ := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("main")))
			tcancel()
			if len(text) > 500 {
				text = text[:500]
			}
			t.Fatalf("%s: %v (at %s; page: %q; console: %v)", what, err, loc, text, problems())
		}
	}
}

// chromiumPath finds the browser: GATEHOUSE_TEST_CHROMIUM, else Debian's
// chromium. Without one the test skips, or fails where
// GATEHOUSE_TEST_REQUIRE lists chromium (CI).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GATEHOUSE_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Missing(t, "chromium", "no chromium on PATH (apt-get install chromium)")
	return ""
}

// newChromium starts a headless Chromium with a fresh profile for one
// test, so no cookie is shared between tests.
func newChromium(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-gpu", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run its sandbox as root
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// watchConsole collects console errors, uncaught exceptions and browser log
// entries of level error (CSP violations are those) from now on.
func watchConsole(ctx context.Context) func() []string {
	var mu sync.Mutex
	var got []string
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				got = append(got, m.Text+" ("+m.URL+")")
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// browserRP is a relying party a browser can reach: a confidential client
// on its own loopback origin, using coreos/go-oidc and x/oauth2 with PKCE,
// state and nonce. GET or POST /cb finishes the login and shows the
// verified email in #result.
type browserRP struct {
	url  string
	conf oauth2.Config
	idv  *oidc.IDTokenVerifier

	mu      sync.Mutex
	pending map[string][2]string // state -> PKCE verifier, nonce
}

func newBrowserRP(t *testing.T, h *harness) *browserRP {
	t.Helper()
	rp := &browserRP{pending: map[string][2]string{}}
	srv := httptest.NewServer(http.HandlerFunc(rp.serve))
	t.Cleanup(srv.Close)
	rp.url = srv.URL
	secret := h.client("browser-rp", func(in *clients.Input) {
		in.RedirectURIs = []string{srv.URL + "/cb"}
		in.IDTokenSignedResponseAlg = "ES256"
	})
	provider, err := oidc.NewProvider(h.ctx, h.issuer)
	if err != nil {
		t.Fatal(err)
	}
	rp.conf = oauth2.Config{ClientID: "browser-rp", ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: srv.URL + "/cb", Scopes: []string{oidc.ScopeOpenID, "email"}}
	rp.idv = provider.Verifier(&oidc.Config{ClientID: "browser-rp"})
	return rp
}

func (rp *browserRP) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/start":
		state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
		rp.mu.Lock()
		rp.pending[state] = [2]string{verifier, nonce}
		rp.mu.Unlock()
		http.Redirect(w, r, rp.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce),
			oauth2.SetAuthURLParam("response_mode", r.URL.Query().Get("mode"))), http.StatusFound)
	case "/cb":
		c, err := rp.finish(r)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "<!doctype html><p id=error>%s</p>", html.EscapeString(err.Error()))
			return
		}
		fmt.Fprintf(w, "<!doctype html><title>RP</title><p id=result>Signed in as %s</p><p id=acr>%s</p><p id=amr>%s</p>",
			html.EscapeString(c.Email), html.EscapeString(c.ACR), html.EscapeString(strings.Join(c.AMR, " ")))
	case "/favicon.ico":
		w.WriteHeader(http.StatusNoContent) // the final page has no icon; keep 404s for real faults
	default:
		http.NotFound(w, r)
	}
}

// rpClaims are the ID token's claims the relying party's page shows.
type rpClaims struct {
	Email string   `json:"email"`
	ACR   string   `json:"acr"`
	AMR   []string `json:"amr"`
}

func (rp *browserRP) finish(r *http.Request) (rpClaims, error) {
	if e := r.FormValue("error"); e != "" {
		return rpClaims{}, fmt.Errorf("authorization error %s: %s", e, r.FormValue("error_description"))
	}
	rp.mu.Lock()
	p, ok := rp.pending[r.FormValue("state")]
	delete(rp.pending, r.FormValue("state"))
	rp.mu.Unlock()
	if !ok {
		return rpClaims{}, fmt.Errorf("unknown state")
	}
	tok, err := rp.conf.Exchange(r.Context(), r.FormValue("code"), oauth2.VerifierOption(p[0]))
	if err != nil {
		return rpClaims{}, fmt.Errorf("exchange: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.idv.Verify(r.Context(), raw)
	if err != nil {
		return rpClaims{}, fmt.Errorf("verify ID token: %w", err)
	}
	if idt.Nonce != p[1] {
		return rpClaims{}, fmt.Errorf("nonce mismatch")
	}
	var c rpClaims
	err = idt.Claims(&c)
	return c, err
}
