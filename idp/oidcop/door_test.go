package oidcop

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// The OIDC door's contract with the flow and the pages, tested on the
// provider alone: real SQLite storage, a real flow and session manager,
// and a first factor that proves whichever user the test names.

var doorT0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

const doorIssuer = "https://login.example.com"

type doorEnv struct {
	t     *testing.T
	ctx   context.Context
	st    storage.Storage
	flow  *authflow.Flow
	sess  *session.Manager
	p     *Provider
	user  storage.User
	now   time.Time
	proof string // the user the test method proves
}

// proveMethod is a first factor that proves e.proof.
type proveMethod struct{ e *doorEnv }

func (m proveMethod) Name() string        { return "test" }
func (m proveMethod) Step() authflow.Step { return authflow.StepLogin }
func (m proveMethod) Verify(context.Context, storage.AuthRequest, authflow.Input) (authflow.Proof, error) {
	return authflow.Proof{UserID: m.e.proof, AMR: []string{authflow.AMRPassword}}, nil
}

type noKeys struct{}

func (noKeys) Signer(context.Context, string) (SigningKey, error) {
	return SigningKey{}, errors.New("no keys in door tests")
}
func (noKeys) PublicKeys(context.Context) ([]PublicKey, error) { return nil, nil }

func newDoorEnv(t *testing.T) *doorEnv {
	t.Helper()
	e := &doorEnv{t: t, ctx: context.Background(), st: testenv.SQLite(t), now: doorT0}
	clock := func() time.Time { return e.now }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	org := storage.Organization{ID: "org-1", Name: "acme", CreatedAt: doorT0, UpdatedAt: doorT0}
	e.user = storage.User{ID: "user-1", OrgID: org.ID, Email: "alice@acme.example", State: storage.UserActive, CreatedAt: doorT0, UpdatedAt: doorT0}
	e.proof = e.user.ID
	for _, c := range []storage.Client{
		{ID: "web", Name: "Team wiki", RedirectURIs: []string{"https://rp.example/cb"}, Source: "api", CreatedAt: doorT0, UpdatedAt: doorT0},
		{ID: "strict", RequireMFA: true, RedirectURIs: []string{"https://strict.example/cb"}, Source: "api", CreatedAt: doorT0, UpdatedAt: doorT0},
	} {
		if err := e.st.CreateClient(e.ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.st.CreateOrganization(e.ctx, org); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateUser(e.ctx, e.user); err != nil {
		t.Fatal(err)
	}
	var err error
	e.sess, err = session.New(session.Options{Store: e.st, Secret: make([]byte, 32), Now: clock, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	e.flow = &authflow.Flow{Store: e.st, Sessions: e.sess, Now: clock,
		Audit: &audit.Recorder{Store: e.st, Logger: log, Now: clock}}
	e.flow.RegisterMethod(proveMethod{e})
	e.p, err = New(Options{Issuer: doorIssuer, Store: e.st, Flow: e.flow, Keys: noKeys{}, Sessions: e.sess,
		Audit: e.flow.Audit, Now: clock, Logger: log, LoginURL: func(id string) string { return "/login?id=" + id }, Pages: testPages()})
	if err != nil {
		t.Fatal(err)
	}
	e.flow.RegisterDoor(Protocol, e.p)
	return e
}

// begin starts a request the way /authorize does, through the door's
// op.Storage.
func (e *doorEnv) begin(clientID, mode string) storage.AuthRequest {
	e.t.Helper()
	redirect := map[string]string{"web": "https://rp.example/cb", "strict": "https://strict.example/cb"}[clientID]
	ar, err := (&opStorage{p: e.p}).CreateAuthRequest(e.ctx, &oidc.AuthRequest{ClientID: clientID, RedirectURI: redirect,
		State: "st&1", Nonce: "n", Scopes: []string{"openid"}, ResponseType: oidc.ResponseTypeCode,
		ResponseMode: oidc.ResponseMode(mode), CodeChallenge: strings.Repeat("a", 43), CodeChallengeMethod: oidc.CodeChallengeMethodS256}, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return ar.(authRequest).r
}

// finish proves the request's login in a fresh browser and returns that
// browser's cookie.
func (e *doorEnv) finish(id string) *http.Cookie {
	e.t.Helper()
	b, err := e.sess.Browser(httptest.NewRequest(http.MethodGet, "/login", nil))
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := e.flow.Submit(e.ctx, id, b, "test", nil)
	if err != nil || out.Action != authflow.Continue || out.Session == nil {
		e.t.Fatalf("Submit = %+v, %v; want continue with a new session", out, err)
	}
	w := httptest.NewRecorder()
	if err := e.sess.SetCookie(w, httptest.NewRequest(http.MethodGet, "/login", nil), *out.Session); err != nil {
		e.t.Fatal(err)
	}
	return w.Result().Cookies()[0]
}

func (e *doorEnv) callback(id string, c *http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, e.p.ContinueURL(id), nil)
	if c != nil {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	e.p.callback(w, r)
	return w
}

func (e *doorEnv) step(id string) string {
	e.t.Helper()
	r, err := e.st.GetAuthRequest(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r.Step
}

func TestDoorParty(t *testing.T) {
	e := newDoorEnv(t)
	for _, tc := range []struct {
		id      string
		want    authflow.Party
		wantErr error
	}{
		{"web", authflow.Party{Name: "Team wiki"}, nil},
		{"strict", authflow.Party{Name: "strict", RequireMFA: true}, nil}, // no name: the id
		{"no-such-client", authflow.Party{}, storage.ErrNotFound},
	} {
		t.Run(tc.id, func(t *testing.T) {
			got, err := e.p.Party(e.ctx, tc.id)
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Fatalf("Party(%q) = %+v, %v; want %+v, %v", tc.id, got, err, tc.want, tc.wantErr)
			}
		})
	}
	t.Run("outage", func(t *testing.T) {
		e := newDoorEnv(t)
		e.st.Close()
		if _, err := e.p.Party(e.ctx, "web"); err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Party on a closed store = %v; want an outage, not not-found", err)
		}
	})
}

// TestDoorBeginsInTheFlow: /authorize's request becomes a flow request
// at login with the OIDC data typed, the id_token_hint subject as the
// flow's SubjectHint, and no identity.
func TestDoorBeginsInTheFlow(t *testing.T) {
	e := newDoorEnv(t)
	maxAge := uint(0)
	ar, err := (&opStorage{p: e.p}).CreateAuthRequest(e.ctx, &oidc.AuthRequest{ClientID: "web", RedirectURI: "https://rp.example/cb",
		State: "s", Nonce: "n", Scopes: []string{"openid", "email"}, ResponseType: oidc.ResponseTypeCode, Prompt: []string{"login"},
		MaxAge: &maxAge, LoginHint: "alice@acme.example", ACRValues: []string{authflow.ACRMFA}}, "user-1")
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.st.GetAuthRequest(e.ctx, ar.GetID())
	if err != nil {
		t.Fatal(err)
	}
	if r.Protocol != Protocol || authflow.StepOf(r) != authflow.StepLogin || r.SubjectHint != "user-1" || r.UserID != "" ||
		r.OIDC == nil || r.OIDC.RedirectURI != "https://rp.example/cb" || r.OIDC.Nonce != "n" || len(r.OIDC.Scopes) != 2 ||
		r.MaxAge == nil || *r.MaxAge != 0 || r.LoginHint != "alice@acme.example" || r.ACRValues[0] != authflow.ACRMFA {
		t.Fatalf("stored %+v (oidc %+v)", r, r.OIDC)
	}
	if err := (&opStorage{p: e.p}).SaveAuthCode(e.ctx, r.ID, "code"); err == nil {
		t.Fatal("the library's SaveAuthCode issued a code around authflow.Complete")
	}
}

func TestDoorResponseOrigins(t *testing.T) {
	e := newDoorEnv(t)
	for _, tc := range []struct {
		name string
		req  storage.AuthRequest
		want string
	}{
		{"https", storage.AuthRequest{OIDC: &storage.OIDCParams{RedirectURI: "https://rp.example:8443/cb?x=1"}}, "https://rp.example:8443"},
		{"loopback http", storage.AuthRequest{OIDC: &storage.OIDCParams{RedirectURI: "http://127.0.0.1:8400/cb"}}, "http://127.0.0.1:8400"},
		{"native app scheme has no host", storage.AuthRequest{OIDC: &storage.OIDCParams{RedirectURI: "com.example.app:/cb"}}, ""},
		{"another door's request", storage.AuthRequest{Protocol: "saml"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := e.p.ResponseOrigins(tc.req)
			if (tc.want == "" && len(got) != 0) || (tc.want != "" && (len(got) != 1 || got[0] != tc.want)) {
				t.Fatalf("ResponseOrigins = %v; want %q", got, tc.want)
			}
		})
	}
}

// TestDoorLoginRequired: a passive request ends at the client with
// login_required, its state and the issuer, by query or form_post.
func TestDoorLoginRequired(t *testing.T) {
	e := newDoorEnv(t)
	for _, mode := range []string{"", "query", "form_post"} {
		t.Run("mode="+mode, func(t *testing.T) {
			req := e.begin("web", mode)
			w := httptest.NewRecorder()
			e.p.LoginRequired(w, httptest.NewRequest(http.MethodGet, "/login?id="+req.ID, nil), req)
			var got url.Values
			if mode == "form_post" {
				body := w.Body.String()
				if w.Code != http.StatusOK || !strings.Contains(body, `action="https://rp.example/cb"`) {
					t.Fatalf("%d\n%s", w.Code, body)
				}
				got = url.Values{}
				for _, k := range []string{"error", "state", "iss"} {
					if i := strings.Index(body, `name="`+k+`" value="`); i >= 0 {
						rest := body[i+len(`name="`+k+`" value="`):]
						got.Set(k, strings.ReplaceAll(rest[:strings.Index(rest, `"`)], "&amp;", "&"))
					}
				}
			} else {
				loc, err := url.Parse(w.Header().Get("Location"))
				if w.Code != http.StatusFound || err != nil || loc.Host != "rp.example" {
					t.Fatalf("%d %q", w.Code, w.Header().Get("Location"))
				}
				got = loc.Query()
			}
			if got.Get("error") != "login_required" || got.Get("state") != "st&1" || got.Get("iss") != doorIssuer {
				t.Fatalf("response parameters %v", got)
			}
		})
	}
}

// TestDoorCallback: the code is issued once, only through Complete, only
// to the browser that finished the login.
func TestDoorCallback(t *testing.T) {
	t.Run("done, same browser: one code, then issued", func(t *testing.T) {
		e := newDoorEnv(t)
		req := e.begin("web", "")
		c := e.finish(req.ID)
		w := e.callback(req.ID, c)
		loc, _ := url.Parse(w.Header().Get("Location"))
		code := loc.Query().Get("code")
		if w.Code != http.StatusFound || loc.Host != "rp.example" || code == "" || loc.Query().Get("iss") != doorIssuer ||
			loc.Query().Get("state") != "st&1" {
			t.Fatalf("%d %q", w.Code, w.Header().Get("Location"))
		}
		ac, err := e.st.GetAuthCode(e.ctx, storage.HashSecret(code))
		if err != nil || ac.AuthRequestID != req.ID || ac.ClientID != "web" || ac.GrantID == "" || !ac.ExpiresAt.Equal(doorT0.Add(time.Minute)) {
			t.Fatalf("stored code %+v, %v", ac, err)
		}
		if s := e.step(req.ID); s != authflow.StepIssued.String() {
			t.Fatalf("step %q after the callback; want issued", s)
		}
		// A replayed callback gets no second code.
		if w := e.callback(req.ID, c); w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" {
			t.Fatalf("replayed callback: %d %q", w.Code, w.Header().Get("Location"))
		}
	})
	t.Run("another browser gets nothing", func(t *testing.T) {
		e := newDoorEnv(t)
		req := e.begin("web", "")
		e.finish(req.ID)
		other := e.finish(e.begin("web", "").ID) // a live session of the same user, another login
		for _, c := range []*http.Cookie{nil, other} {
			if w := e.callback(req.ID, c); w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" {
				t.Fatalf("callback from another browser: %d %q", w.Code, w.Header().Get("Location"))
			}
		}
		if s := e.step(req.ID); s != authflow.StepDone.String() {
			t.Fatalf("step %q after refused callbacks; want done", s)
		}
	})
	t.Run("before the login is done: interaction_required at the client", func(t *testing.T) {
		e := newDoorEnv(t)
		req := e.begin("web", "")
		w := e.callback(req.ID, nil)
		loc, _ := url.Parse(w.Header().Get("Location"))
		if w.Code != http.StatusFound || loc.Query().Get("error") != "interaction_required" || loc.Query().Get("iss") != doorIssuer {
			t.Fatalf("%d %q", w.Code, w.Header().Get("Location"))
		}
		if s := e.step(req.ID); s != authflow.StepLogin.String() {
			t.Fatalf("step %q; want login", s)
		}
	})
	t.Run("unknown or expired request: an error page, no redirect", func(t *testing.T) {
		e := newDoorEnv(t)
		req := e.begin("web", "")
		c := e.finish(req.ID)
		e.now = e.now.Add(authflow.DefaultTTL)
		for _, id := range []string{"no-such-request", req.ID} {
			if w := e.callback(id, c); w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" {
				t.Fatalf("callback(%s): %d %q", id, w.Code, w.Header().Get("Location"))
			}
		}
	})
	t.Run("storage outage: 503, never a redirect", func(t *testing.T) {
		e := newDoorEnv(t)
		req := e.begin("web", "")
		c := e.finish(req.ID)
		e.st.Close()
		if w := e.callback(req.ID, c); w.Code != http.StatusServiceUnavailable || w.Header().Get("Location") != "" {
			t.Fatalf("%d %q", w.Code, w.Header().Get("Location"))
		}
	})
}

// TestDoorPartyPolicyReachesTheFlow: a client's RequireMFA stops the flow
// before done, and a request whose client is gone is refused rather than
// finished without its policy.
func TestDoorPartyPolicyReachesTheFlow(t *testing.T) {
	e := newDoorEnv(t)
	b, _ := e.sess.Browser(httptest.NewRequest(http.MethodGet, "/login", nil))
	req := e.begin("strict", "")
	out, err := e.flow.Submit(e.ctx, req.ID, b, "test", nil)
	// The user has no factor: the login stops at enrolment.
	if err != nil || out.Action == authflow.Continue || e.step(req.ID) != authflow.StepEnrol.String() {
		t.Fatalf("Submit for a client requiring MFA = %v, %v (step %s); want enrol", out.Action, err, e.step(req.ID))
	}
	req = e.begin("web", "")
	if err := e.st.DeleteClient(e.ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.flow.Submit(e.ctx, req.ID, b, "test", nil); !errors.Is(err, authflow.ErrUnknownParty) {
		t.Fatalf("Submit for a deleted client = %v; want ErrUnknownParty", err)
	}
	if s := e.step(req.ID); s != authflow.StepLogin.String() {
		t.Fatalf("step %q; want login", s)
	}
}
