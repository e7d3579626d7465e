package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// loginClient drives one browser login after another, each with its own
// cookie jar, over HTTP only: it knows no more of the server than a
// browser and a relying party do.
type loginClient struct {
	issuer, clientID, secret, redirectURI string
	email, password, scope                string
	transport                             http.RoundTripper
	prov                                  *oidc.Provider
	verifier                              *oidc.IDTokenVerifier
}

// maxBody bounds what one response may make the client read.
const maxBody = 1 << 20

// flow runs one login: /authorize with PKCE, state and nonce; the login
// form; the redirects up to the redirect URI; the code exchange; the ID
// token's verification. It returns "" or the kind of failure.
func (l *loginClient) flow(ctx context.Context) string {
	verifier := oauth2.GenerateVerifier()
	state, nonce := rand.Text(), rand.Text()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Transport: l.transport, Jar: jar, Timeout: time.Minute, CheckRedirect: l.stopAtClient}
	q := url.Values{"client_id": {l.clientID}, "response_type": {"code"}, "scope": {l.scope},
		"redirect_uri": {l.redirectURI}, "state": {state}, "nonce": {nonce},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	authURL := l.prov.Endpoint().AuthURL
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL+sep(authURL)+q.Encode(), nil)
	if err != nil {
		return "authorize: " + err.Error()
	}
	resp, body, err := fetch(browser, req)
	if err != nil {
		return "authorize: " + transportKind(err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("authorize: status %d", resp.StatusCode)
	}
	form, ok := parseLoginForm(body)
	if !ok {
		return "login page: no password form"
	}
	code, kind := l.submit(ctx, browser, resp.Request.URL, form, state)
	if kind != "" {
		return kind
	}
	return l.exchange(ctx, code, verifier, nonce)
}

// stopAtClient stops following redirects at the client's redirect URI,
// which is never fetched: the code is taken from the Location.
func (l *loginClient) stopAtClient(req *http.Request, via []*http.Request) error {
	if atRedirectURI(req.URL, l.redirectURI) {
		return http.ErrUseLastResponse
	}
	if len(via) >= 10 {
		return errors.New("too many redirects")
	}
	return nil
}

// atRedirectURI reports whether u is the redirect URI (with the response
// parameters added to its query).
func atRedirectURI(u *url.URL, redirectURI string) bool {
	r, err := url.Parse(redirectURI)
	return err == nil && u.Scheme == r.Scheme && u.Host == r.Host && u.Path == r.Path
}

// submit posts the login form as a browser does and follows the server's
// redirects to the redirect URI; it returns the code there.
func (l *loginClient) submit(ctx context.Context, browser *http.Client, page *url.URL, form loginForm, state string) (string, string) {
	action, err := page.Parse(form.action)
	if err != nil {
		return "", "login page: bad form action"
	}
	fields := form.hidden
	fields.Set(form.emailField, l.email)
	fields.Set(form.passwordField, l.password)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(fields.Encode()))
	if err != nil {
		return "", "login: " + err.Error()
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", page.Scheme+"://"+page.Host)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, body, err := fetch(browser, req)
	switch {
	case err != nil:
		return "", "login: " + transportKind(err)
	case resp.StatusCode == http.StatusOK:
		if _, again := parseLoginForm(body); again {
			return "", "login: refused (the form came back: wrong email or password?)"
		}
		return "", "login: a page instead of a redirect to the client"
	case resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther:
		return "", fmt.Sprintf("login: status %d", resp.StatusCode)
	}
	loc, err := resp.Location()
	if err != nil || !atRedirectURI(loc, l.redirectURI) {
		return "", "callback: redirect does not reach the redirect URI"
	}
	p := loc.Query()
	switch {
	case p.Get("error") != "":
		return "", "callback: error=" + p.Get("error")
	case p.Get("state") != state:
		return "", "callback: state mismatch"
	case p.Get("iss") != "" && p.Get("iss") != l.issuer:
		return "", "callback: iss mismatch"
	case p.Get("code") == "":
		return "", "callback: no code"
	}
	return p.Get("code"), ""
}

// exchange redeems the code (client_secret_basic) and verifies the ID
// token: issuer, audience, expiry, signature by the JWKS, and nonce.
func (l *loginClient) exchange(ctx context.Context, code, verifier, nonce string) string {
	hc := &http.Client{Transport: l.transport, Timeout: time.Minute}
	body := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {l.redirectURI},
		"code_verifier": {verifier}}.Encode()
	tok, kind := tokenRequest(ctx, hc, l.prov.Endpoint().TokenURL, l.clientID, l.secret, body)
	if kind != "" {
		return kind
	}
	if tok.IDToken == "" {
		return "token: no id_token"
	}
	idt, err := l.verifier.Verify(ctx, tok.IDToken)
	if err != nil {
		return "id_token: " + idTokenKind(err)
	}
	if idt.Nonce != nonce {
		return "id_token: nonce mismatch"
	}
	return ""
}

// tokenResponse is the part of a token response the bench checks.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	IDToken     string `json:"id_token"`
	Error       string `json:"error"`
}

// tokenRequest posts body to the token endpoint with client_secret_basic.
func tokenRequest(ctx context.Context, hc *http.Client, tokenURL, clientID, secret, body string) (tokenResponse, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(body))
	if err != nil {
		return tokenResponse{}, "token: " + err.Error()
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// RFC 6749 §2.3.1: both are form-urlencoded inside Basic.
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, raw, err := fetch(hc, req)
	if err != nil {
		return tokenResponse{}, "token: " + transportKind(err)
	}
	var tr tokenResponse
	jsonErr := json.Unmarshal(raw, &tr)
	switch {
	case resp.StatusCode != http.StatusOK && tr.Error != "":
		return tr, fmt.Sprintf("token: status %d %s", resp.StatusCode, tr.Error)
	case resp.StatusCode != http.StatusOK:
		return tr, fmt.Sprintf("token: status %d", resp.StatusCode)
	case jsonErr != nil:
		return tr, "token: response is not JSON"
	case tr.AccessToken == "" || !strings.EqualFold(tr.TokenType, "bearer"):
		return tr, "token: no bearer access_token"
	}
	return tr, ""
}

// fetch sends req and reads (a bounded part of) the body.
func fetch(c *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, err
	}
	return resp, body, nil
}

// transportKind names a failed round trip briefly, without the URL, so
// that failures of one kind count together.
func transportKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection reset"
	case strings.Contains(err.Error(), "too many redirects"):
		return "too many redirects"
	}
	return "transport error"
}

// idTokenKind names a verification failure without the token.
func idTokenKind(err error) string {
	var expired *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return "expired"
	case strings.Contains(msg, "issuer"):
		return "wrong issuer"
	case strings.Contains(msg, "audience"):
		return "wrong audience"
	case strings.Contains(msg, "signature"):
		return "bad signature"
	}
	return "invalid"
}

func sep(u string) string {
	if strings.Contains(u, "?") {
		return "&"
	}
	return "?"
}

// loginForm is the password form of a login page.
type loginForm struct {
	action                    string
	hidden                    url.Values
	emailField, passwordField string
}

var (
	formRE  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRE = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	attrRE  = regexp.MustCompile(`(?s)([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))`)
)

// attrs parses a tag's attributes (names lower-cased, values unescaped).
func attrs(s string) map[string]string {
	out := map[string]string{}
	for _, m := range attrRE.FindAllStringSubmatch(s, -1) {
		out[strings.ToLower(m[1])] = html.UnescapeString(m[2] + m[3] + m[4])
	}
	return out
}

// parseLoginForm finds the POST form with a password field: its action,
// its hidden fields (the CSRF token, the request id) and the names of its
// email and password fields.
func parseLoginForm(page []byte) (loginForm, bool) {
	for _, fm := range formRE.FindAllStringSubmatch(string(page), -1) {
		fa := attrs(fm[1])
		if m := strings.ToLower(fa["method"]); m != "post" {
			continue
		}
		f := loginForm{action: fa["action"], hidden: url.Values{}}
		for _, im := range inputRE.FindAllStringSubmatch(fm[2], -1) {
			a := attrs(im[1])
			switch strings.ToLower(a["type"]) {
			case "hidden":
				f.hidden.Set(a["name"], a["value"])
			case "password":
				f.passwordField = a["name"]
			case "email", "text":
				if f.emailField == "" {
					f.emailField = a["name"]
				}
			}
		}
		if f.passwordField != "" && f.emailField != "" {
			return f, true
		}
	}
	return loginForm{}, false
}
