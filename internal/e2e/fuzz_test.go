package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/oidcop"
	"github.com/gatehouse-idp/gatehouse/idp/samlidp"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

// fuzzSurface is one instance the fuzz target sends outside input to:
// PostgreSQL when the environment names one (it refuses NUL and invalid
// UTF-8 where SQLite stores them), SQLite otherwise.
type fuzzSurface struct {
	issuer   string
	secret   string // client "web"
	adminTok string
	hc       *http.Client
}

func newFuzzSurface(f *testing.F) *fuzzSurface {
	backend := config.StorageSQLite
	if os.Getenv(testenv.EnvPostgres) != "" || testenv.Required("postgres") {
		backend = config.StoragePostgres
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	cfg, ln := newConfig(f, backend)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	inst := startInstance(f, ctx, cfg, &clock{t: time.Now().UTC().Truncate(time.Second)}, logger, nil)
	serve(f, ctx, cancel, inst, ln, logger)
	s := &fuzzSurface{issuer: cfg.Issuer, hc: &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	s.secret = registerClient(f, ctx, inst, "web", nil)
	autoSecret := registerClient(f, ctx, inst, "automation", func(in *clients.Input) {
		in.RedirectURIs, in.PostLogoutRedirectURIs = nil, nil
		in.GrantTypes, in.Scopes = []string{"client_credentials"}, []string{oidcop.ScopeAdmin}
	})
	resp, err := s.hc.PostForm(cfg.Issuer+oidcop.PathToken, url.Values{"grant_type": {"client_credentials"},
		"client_id": {"automation"}, "client_secret": {autoSecret}, "scope": {oidcop.ScopeAdmin}})
	if err != nil {
		f.Fatal(err)
	}
	var tok map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if s.adminTok, _ = tok["access_token"].(string); s.adminTok == "" {
		f.Fatalf("no admin token: %v", tok)
	}
	return s
}

// requests are the places a value goes: identifiers in paths and
// queries, and form fields, at every endpoint a stranger can reach.
func (s *fuzzSurface) requests(v string) []*http.Request {
	authorize := func(set url.Values) *http.Request {
		q, _ := withPKCE(url.Values{"client_id": {"web"}, "response_type": {"code"}, "scope": {"openid"},
			"redirect_uri": {redirectURI("web")}, "state": {"st"}})
		for k, vs := range set {
			q[k] = vs
		}
		r, _ := http.NewRequest(http.MethodGet, s.issuer+oidcop.PathAuthorize+"?"+q.Encode(), nil)
		return r
	}
	form := func(path string, f url.Values, basicUser, basicPass string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, s.issuer+path, strings.NewReader(f.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basicUser != "" {
			r.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPass))
		}
		return r
	}
	get := func(u, bearer string) *http.Request {
		r, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return nil
		}
		if bearer != "" {
			r.Header.Set("Authorization", "Bearer "+bearer)
		}
		return r
	}
	e := url.QueryEscape(v)
	return []*http.Request{
		authorize(url.Values{"client_id": {v}}),
		authorize(url.Values{"redirect_uri": {v}}),
		authorize(url.Values{"state": {v}, "nonce": {v}, "login_hint": {v}}),
		authorize(url.Values{"scope": {"openid " + v}, "prompt": {v}, "max_age": {v}, "ui_locales": {v}, "acr_values": {v}}),
		authorize(url.Values{"id_token_hint": {v}, "response_mode": {v}}),
		get(s.issuer+"/login?id="+e, ""),
		form("/login", url.Values{"id": {v}, "email": {v}, "password": {v}, "csrf_token": {v}, "method": {v}}, "", ""),
		form("/login", url.Values{"id": {v}, "csrf_token": {v}, "action": {v}, "method": {v}, "code": {v}, "address": {v}}, "", ""),
		form("/me/mfa/email", url.Values{"csrf_token": {v}, "address": {v}}, "", ""),
		form("/me/mfa/totp/confirm", url.Values{"csrf_token": {v}, "factor": {v}, "code": {v}}, "", ""),
		form(oidcop.PathToken, url.Values{"grant_type": {"authorization_code"}, "client_id": {v}, "client_secret": {v}, "code": {v}}, "", ""),
		form(oidcop.PathToken, url.Values{"grant_type": {v}, "code": {v}, "refresh_token": {v}, "redirect_uri": {v}, "code_verifier": {v}}, "web", s.secret),
		form(oidcop.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {v}, "scope": {v}}, v, v),
		form(oidcop.PathIntrospect, url.Values{"token": {v}}, "web", s.secret),
		form(oidcop.PathRevoke, url.Values{"token": {v}}, "web", s.secret),
		get(s.issuer+oidcop.PathUserinfo, v),
		get(s.issuer+oidcop.PathEndSession+"?id_token_hint="+e+"&post_logout_redirect_uri="+e+"&state="+e+"&client_id="+e, ""),
		get(s.issuer+"/admin/api/v1/clients/"+url.PathEscape(v), s.adminTok),
		get(s.issuer+"/admin/api/v1/users?org="+e+"&after="+e+"&limit="+e, s.adminTok),
		form("/admin/api/v1/users/"+url.PathEscape(v)+"/disable", url.Values{}, "", ""),
		// Federation: the SSO form, a connector's callback, ACS and
		// metadata (of no connector, or a name the fuzzer makes), and the
		// admin API's connectors.
		get(s.issuer+"/login/sso?id="+e, ""),
		form("/login/sso", url.Values{"id": {v}, "csrf_token": {v}, "sso": {v}}, "", ""),
		get(s.issuer+"/federation/"+url.PathEscape(v)+"/callback?code="+e+"&state="+e+"&error="+e, ""),
		get(s.issuer+"/federation/acme/callback?state="+e+"."+e, ""),
		form("/federation/"+url.PathEscape(v)+"/acs", url.Values{"SAMLResponse": {v}, "RelayState": {v}}, "", ""),
		form("/federation/acme/acs?bounced=1", url.Values{"SAMLResponse": {v}, "RelayState": {v}}, "", ""),
		get(s.issuer+"/federation/"+url.PathEscape(v)+"/metadata", ""),
		get(s.issuer+"/admin/api/v1/connectors/"+url.PathEscape(v), s.adminTok),
		// The SAML front door: a value as the message, as an id, as a
		// provider, and as XML in both bindings.
		get(s.issuer+samlidp.PathSSO+"?SAMLRequest="+e+"&RelayState="+e+"&SigAlg="+e+"&Signature="+e, ""),
		form(samlidp.PathSSO, url.Values{"SAMLRequest": {v}, "RelayState": {v}}, "", ""),
		get(upstreamtest.RawRedirect(s.issuer+samlidp.PathSSO, []byte(v), v), ""),
		form(samlidp.PathSSO, upstreamtest.Post([]byte(v), v), "", ""),
		get(s.issuer+samlidp.PathContinue+"?id="+e, ""),
		get(s.issuer+samlidp.PathInit+"?sp="+e+"&RelayState="+e, ""),
		get(s.issuer+samlidp.PathSLO+"?SAMLRequest="+e+"&RelayState="+e, ""),
		get(s.issuer+samlidp.PathSLO+"?SAMLResponse="+e+"&RelayState="+e+"&SigAlg="+e+"&Signature="+e, ""),
		form(samlidp.PathSLO, url.Values{"SAMLResponse": {v}, "RelayState": {v}}, "", ""),
		get(s.issuer+samlidp.PathSLONext+"?id="+e, ""),
	}
}

// FuzzHTTPSurface: no value in an identifier or a form field makes any
// endpoint answer 5xx (or panic: the server would answer 500). CI runs it
// against PostgreSQL for a bounded time; `go test` runs the seeds.
func FuzzHTTPSurface(f *testing.F) {
	for _, seed := range []string{
		"", "web", "a@b.example", "\x00", "a\x00b", "\xff\xfe", "\xc3\x28", "é", "\u202e", "%00", "../../etc/passwd",
		"'; DROP TABLE users; --", "<script>", strings.Repeat("A", 9000), "\r\nSet-Cookie: x=y", "{}", "null",
	} {
		f.Add(seed)
	}
	s := newFuzzSurface(f)
	f.Fuzz(func(t *testing.T, v string) {
		jar, _ := cookiejar.New(nil)
		hc := *s.hc
		hc.Jar = jar
		for _, r := range s.requests(v) {
			if r == nil {
				continue // not a request a client could send (a malformed URL)
			}
			if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/admin/") {
				r.Header.Set("Authorization", "Bearer "+s.adminTok)
			}
			resp, err := hc.Do(r)
			if err != nil && strings.Contains(err.Error(), "invalid header field") {
				continue // the client refuses to send it, so no server sees it
			}
			if err != nil {
				t.Fatalf("%s %s: %v", r.Method, r.URL.Path, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Errorf("%s %s with %q: %d", r.Method, r.URL.Path, v, resp.StatusCode)
			}
		}
	})
}
