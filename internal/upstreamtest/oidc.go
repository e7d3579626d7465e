package upstreamtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	exstorage "github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// Person is someone who can sign in at an upstream.
type Person struct {
	// ID is the upstream's subject.
	ID            string
	Username      string
	Password      string
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string
	// MFA makes the upstream report amr ["pwd", "mfa"] for their logins.
	MFA bool
}

// OIDC is zitadel/oidc's example OpenID Provider on loopback.
type OIDC struct {
	// Issuer is its issuer URL (http://127.0.0.1:PORT).
	Issuer       string
	ClientID     string
	ClientSecret string
	server       *httptest.Server
	people       *people
}

// NewOIDC starts an OpenID Provider that knows one web client (ClientID,
// ClientSecret) whose only redirect URI is redirectURI.
func NewOIDC(t testing.TB, redirectURI string) *OIDC {
	t.Helper()
	quiet()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	o := &OIDC{Issuer: issuer, ClientID: "gatehouse-" + strings.ToLower(randomWord()), ClientSecret: randomWord() + randomWord(),
		server: srv, people: &people{byID: map[string]Person{}}}
	clients := map[string]*exstorage.Client{o.ClientID: exstorage.WebClient(o.ClientID, o.ClientSecret, redirectURI)}
	st := &opStorage{Storage: exstorage.NewStorageWithClients(o.people, clients), people: o.people}
	op := exampleop.SetupServer(issuer, st, nil, false)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			// The example serves none; a browser's 404 for it would read
			// as a fault in browser tests.
			w.WriteHeader(http.StatusNoContent)
			return
		}
		op.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return o
}

// Add makes p able to sign in (or replaces the person with p's ID: an
// email change upstream).
func (o *OIDC) Add(p Person) { o.people.put(p) }

// Close stops the provider (an unreachable upstream).
func (o *OIDC) Close() { o.server.Close() }

// loginForm finds the example login page's auth request id.
var loginForm = regexp.MustCompile(`name="id" value="([^"]+)"`)

// SignIn is the person's part at the upstream, over HTTP: from the
// upstream's login page at loginURL (where the browser was sent), it posts
// username and password and returns the redirect the upstream answers
// with (to the relying party's redirect URI), without following it.
func (o *OIDC) SignIn(ctx context.Context, c *http.Client, loginURL, username, password string) (*url.URL, error) {
	noFollow := *c
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	page := loginURL
	for range 5 { // the authorize endpoint redirects to the login page
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, page, nil)
		resp, err := noFollow.Do(req)
		if err != nil {
			return nil, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
			next, err := resp.Request.URL.Parse(loc)
			if err != nil {
				return nil, err
			}
			page = next.String()
			continue
		}
		m := loginForm.FindSubmatch(body)
		if m == nil {
			return nil, fmt.Errorf("upstreamtest: no login form at %s (status %d): %.300s", page, resp.StatusCode, body)
		}
		form := url.Values{"id": {string(m[1])}, "username": {username}, "password": {password}}
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, o.Issuer+"/login/username", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err = noFollow.Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		// The login page redirects to the OP's callback, which redirects
		// to the relying party.
		for hop := 0; hop < 5 && resp.StatusCode/100 == 3; hop++ {
			next, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				return nil, err
			}
			if !strings.HasPrefix(next.String(), o.Issuer) {
				return next, nil
			}
			req, _ = http.NewRequestWithContext(ctx, http.MethodGet, next.String(), nil)
			if resp, err = noFollow.Do(req); err != nil {
				return nil, err
			}
			resp.Body.Close()
		}
		return nil, fmt.Errorf("upstreamtest: sign-in of %s did not come back (status %d)", username, resp.StatusCode)
	}
	return nil, fmt.Errorf("upstreamtest: too many redirects from %s", loginURL)
}

// people is the example storage's UserStore over Persons.
type people struct {
	mu   sync.Mutex
	byID map[string]Person
}

func (p *people) put(x Person) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byID[x.ID] = x
}

func (p *people) get(id string) (Person, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	x, ok := p.byID[id]
	return x, ok
}

func (p *people) user(x Person) *exstorage.User {
	first, last, _ := strings.Cut(x.Name, " ")
	return &exstorage.User{ID: x.ID, Username: x.Username, Password: x.Password, FirstName: first, LastName: last,
		Email: x.Email, EmailVerified: x.EmailVerified, PreferredLanguage: language.English}
}

func (p *people) GetUserByID(id string) *exstorage.User {
	x, ok := p.get(id)
	if !ok {
		return nil
	}
	return p.user(x)
}

func (p *people) GetUserByUsername(name string) *exstorage.User {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, x := range p.byID {
		if x.Username == name {
			return p.user(x)
		}
	}
	return nil
}

func (p *people) ExampleClientID() string { return "" }

// opStorage is the example storage plus what the tests control: groups in
// the userinfo, and amr with "mfa" for people who have MFA.
type opStorage struct {
	*exstorage.Storage
	people *people
}

func (s *opStorage) groups(userinfo *oidc.UserInfo, subject string) {
	if x, ok := s.people.get(subject); ok && len(x.Groups) > 0 {
		userinfo.AppendClaims("groups", x.Groups)
	}
}

func (s *opStorage) SetUserinfoFromToken(ctx context.Context, userinfo *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, userinfo, tokenID, subject, origin); err != nil {
		return err
	}
	s.groups(userinfo, userinfo.Subject)
	return nil
}

func (s *opStorage) SetUserinfoFromRequest(ctx context.Context, userinfo *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, userinfo, token, scopes); err != nil {
		return err
	}
	s.groups(userinfo, token.GetSubject())
	return nil
}

func (s *opStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	r, err := s.Storage.AuthRequestByCode(ctx, code)
	if err != nil {
		return nil, err
	}
	if x, ok := s.people.get(r.GetSubject()); ok && x.MFA {
		return mfaRequest{r}, nil
	}
	return r, nil
}

// mfaRequest reports a second factor, as an upstream with MFA does.
type mfaRequest struct{ op.AuthRequest }

func (mfaRequest) GetAMR() []string { return []string{"pwd", "mfa"} }
