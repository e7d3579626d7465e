package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/internal/testenv"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

var secret = bytes.Repeat([]byte("k"), 32)

// faultStore wraps a real store; a non-nil error field makes that method
// fail, and updates counts UpdateSession calls.
type faultStore struct {
	Store
	getErr, createErr, updateErr, deleteErr, deleteUserErr error
	updates                                                atomic.Int64
}

func (f *faultStore) GetSession(ctx context.Context, hash string) (storage.Session, error) {
	if f.getErr != nil {
		return storage.Session{}, f.getErr
	}
	return f.Store.GetSession(ctx, hash)
}

func (f *faultStore) CreateSession(ctx context.Context, s storage.Session) error {
	if f.createErr != nil {
		return f.createErr
	}
	return f.Store.CreateSession(ctx, s)
}

func (f *faultStore) UpdateSession(ctx context.Context, hash string, fn func(storage.Session) (storage.Session, error)) (storage.Session, error) {
	f.updates.Add(1)
	if f.updateErr != nil {
		return storage.Session{}, f.updateErr
	}
	return f.Store.UpdateSession(ctx, hash, fn)
}

func (f *faultStore) DeleteSession(ctx context.Context, hash string) error {
	if f.deleteErr != nil {
		return f.deleteErr
	}
	return f.Store.DeleteSession(ctx, hash)
}

func (f *faultStore) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	if f.deleteUserErr != nil {
		return 0, f.deleteUserErr
	}
	return f.Store.DeleteUserSessions(ctx, userID)
}

type env struct {
	m     *Manager
	store *faultStore
	now   time.Time
	logs  *bytes.Buffer
}

func (e *env) advance(d time.Duration) { e.now = e.now.Add(d) }

// newEnv opens a migrated SQLite database with users "alice" and "bob".
func newEnv(t *testing.T, secure bool) *env {
	t.Helper()
	ctx := context.Background()
	st := testenv.SQLite(t)
	if err := st.CreateOrganization(ctx, storage.Organization{ID: "org", Name: "default", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"alice", "bob"} {
		u := storage.User{ID: id, OrgID: "org", Email: id + "@example.com", State: storage.UserActive, CreatedAt: t0, UpdatedAt: t0}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{store: &faultStore{Store: st}, now: t0, logs: new(bytes.Buffer)}
	var err error
	e.m, err = New(Options{
		Store:  e.store,
		Secret: secret,
		Secure: secure,
		Now:    func() time.Time { return e.now },
		IP:     func(context.Context) string { return "203.0.113.7" },
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// login runs Start for userID on a request carrying cookies, and returns
// the session and the cookie set.
func (e *env) login(t *testing.T, userID string, cookies ...*http.Cookie) (storage.Session, *http.Cookie) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/login", nil)
	r.Header.Set("User-Agent", "TestBrowser/1.0")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	s, err := start(e.m, w, r, userID, []string{"pwd"}, e.now)
	if err != nil {
		t.Fatalf("Start(%s): %v", userID, err)
	}
	return s, onlyCookie(t, w, e.m.CookieName())
}

func onlyCookie(t *testing.T, w *httptest.ResponseRecorder, name string) *http.Cookie {
	t.Helper()
	cs := w.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != name {
		t.Fatalf("Set-Cookie = %v, want one cookie named %s", w.Header().Values("Set-Cookie"), name)
	}
	return cs[0]
}

func (e *env) current(t *testing.T, c *http.Cookie) (storage.Session, bool) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if c != nil {
		r.AddCookie(c)
	}
	s, ok, err := e.m.Current(r)
	if err != nil {
		t.Fatalf("Current: %v", err)
	}
	return s, ok
}

func (e *env) rowGone(t *testing.T, hash string) {
	t.Helper()
	if _, err := e.store.Store.GetSession(context.Background(), hash); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetSession after end = %v, want ErrNotFound (row deleted)", err)
	}
}

func TestNewValidates(t *testing.T) {
	st := &faultStore{}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no store", Options{Secret: secret}, "Store is required"},
		{"short secret", Options{Store: st, Secret: secret[:31]}, "at least 32 bytes"},
		{"negative ttl", Options{Store: st, Secret: secret, IdleTTL: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want error containing %q", err, tt.want)
			}
		})
	}
	m, err := New(Options{Store: st, Secret: secret, IdleTTL: 30 * 24 * time.Hour})
	if err != nil || m.idleTTL != DefaultAbsoluteTTL || m.absoluteTTL != DefaultAbsoluteTTL {
		t.Fatalf("IdleTTL above AbsoluteTTL: idle %v abs %v err %v; want idle capped at %v", m.idleTTL, m.absoluteTTL, err, DefaultAbsoluteTTL)
	}
}

func TestCookieAttributes(t *testing.T) {
	tests := []struct {
		secure bool
		name   string
	}{
		{true, "__Host-gatehouse-session"},
		{false, "gatehouse-session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.secure)
			if e.m.CookieName() != tt.name {
				t.Fatalf("CookieName = %q, want %q", e.m.CookieName(), tt.name)
			}
			r := httptest.NewRequest(http.MethodPost, "/login", nil)
			w := httptest.NewRecorder()
			if _, err := start(e.m, w, r, "alice", []string{"pwd"}, t0); err != nil {
				t.Fatal(err)
			}
			raw := w.Header().Get("Set-Cookie")
			c := onlyCookie(t, w, tt.name)
			if c.Secure != tt.secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
				t.Errorf("cookie %q: Secure=%v HttpOnly=%v SameSite=%v Path=%q Domain=%q", raw, c.Secure, c.HttpOnly, c.SameSite, c.Path, c.Domain)
			}
			if strings.Contains(strings.ToLower(raw), "domain=") {
				t.Errorf("cookie %q has a Domain attribute", raw)
			}
			if want := int(DefaultAbsoluteTTL / time.Second); c.MaxAge != want {
				t.Errorf("Max-Age = %d, want the absolute lifetime %d", c.MaxAge, want)
			}

			// The logout cookie matches, so the browser replaces it.
			r = httptest.NewRequest(http.MethodPost, "/logout", nil)
			r.AddCookie(c)
			w = httptest.NewRecorder()
			if _, ok, err := e.m.End(r.Context(), w, r); !ok || err != nil {
				t.Fatalf("End = %v, %v", ok, err)
			}
			x := onlyCookie(t, w, tt.name)
			if x.MaxAge >= 0 || x.Value != "" || x.Secure != tt.secure || !x.HttpOnly || x.Path != "/" || x.Domain != "" {
				t.Errorf("logout cookie %q does not expire the session cookie", w.Header().Get("Set-Cookie"))
			}
		})
	}
}

// The cookie carries the id encrypted: neither the raw id nor its hash
// appears in it, and the row's hash is HashSecret(id).
func TestCookieHoldsOnlyTheSealedID(t *testing.T) {
	e := newEnv(t, true)
	const id = "PLAINTEXTSESSIONIDPLAINTEXT"
	e.m.newID = func() string { return id }
	s, c := e.login(t, "alice")
	if s.Hash != storage.HashSecret(id) {
		t.Fatalf("row hash = %q, want HashSecret(id)", s.Hash)
	}
	if strings.Contains(c.Value, id) || strings.Contains(c.Value, s.Hash) {
		t.Fatalf("cookie value %q exposes the id or its hash", c.Value)
	}
	if got, ok := e.current(t, c); !ok || got.UserID != "alice" || got.IP != "203.0.113.7" || got.UserAgent != "TestBrowser/1.0" {
		t.Fatalf("Current = %+v, %v", got, ok)
	}
}

func TestStartRenewsID(t *testing.T) {
	e := newEnv(t, true)
	attacker, attackerCookie := e.login(t, "bob")
	tests := []struct {
		name    string
		present func(t *testing.T) (*http.Cookie, string) // cookie, hash of its row ("" if none)
	}{
		{"no cookie", func(*testing.T) (*http.Cookie, string) { return nil, "" }},
		{"planted id of another user", func(*testing.T) (*http.Cookie, string) { return attackerCookie, attacker.Hash }},
		{"pre-login id of the same user", func(t *testing.T) (*http.Cookie, string) {
			s, c := e.login(t, "alice")
			return c, s.Hash
		}},
		{"tampered cookie", func(*testing.T) (*http.Cookie, string) {
			return &http.Cookie{Name: e.m.CookieName(), Value: "AAAA" + attackerCookie.Value[4:]}, ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, oldHash := tt.present(t)
			var presented []*http.Cookie
			if old != nil {
				presented = append(presented, old)
			}
			s, c := e.login(t, "alice", presented...)
			if old != nil && c.Value == old.Value {
				t.Fatal("Start kept the presented cookie")
			}
			if oldHash != "" {
				if s.Hash == oldHash {
					t.Fatal("Start kept the presented id")
				}
				e.rowGone(t, oldHash)
				if _, ok := e.current(t, old); ok {
					t.Error("the id presented before login is still live after login")
				}
			}
			if got, ok := e.current(t, c); !ok || got.UserID != "alice" || got.Hash != s.Hash {
				t.Errorf("new session: Current = %+v, %v", got, ok)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		name string
		// steps: advance the clock by each duration, touching the session
		// after each step while it is live.
		steps []time.Duration
		live  bool
	}{
		{"fresh", nil, true},
		{"just before idle expiry", []time.Duration{DefaultIdleTTL - time.Second}, true},
		{"idle expiry", []time.Duration{DefaultIdleTTL}, false},
		{"idle expiry moved by activity", []time.Duration{11 * time.Hour, 11 * time.Hour, 11 * time.Hour}, true},
		{"activity within the absolute lifetime (165h)", repeat(11*time.Hour, 15), true},
		{"absolute expiry reached with activity", append(repeat(11*time.Hour, 15), 3*time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, false)
			s, c := e.login(t, "alice")
			for _, d := range tt.steps {
				e.advance(d)
				cur, ok := e.current(t, c)
				if !ok {
					break
				}
				if _, err := e.m.Touch(context.Background(), cur); err != nil {
					t.Fatalf("Touch: %v", err)
				}
			}
			got, ok := e.current(t, c)
			if ok != tt.live {
				t.Fatalf("after %v: live = %v, want %v (session %+v)", e.now.Sub(t0), ok, tt.live, got)
			}
			if !tt.live {
				e.rowGone(t, s.Hash)
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestTamperedCookie(t *testing.T) {
	e := newEnv(t, true)
	_, good := e.login(t, "alice")
	insecure := newEnv(t, false)
	_, insecureCookie := insecure.login(t, "alice")
	otherKey, err := New(Options{Store: e.store, Secret: bytes.Repeat([]byte("o"), 32), Secure: true, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	w := httptest.NewRecorder()
	if _, err := start(otherKey, w, r, "alice", nil, t0); err != nil {
		t.Fatal(err)
	}
	otherKeyCookie := onlyCookie(t, w, CookieNameSecure)

	flip := []byte(good.Value)
	flip[len(flip)/2] ^= 1
	name := e.m.CookieName()
	tests := []struct {
		name  string
		value string
	}{
		{"one bit flipped", string(flip)},
		{"truncated", good.Value[:len(good.Value)-3]},
		{"empty", ""},
		{"garbage", "not-a-cookie"},
		{"huge", strings.Repeat("A", 8000)},
		{"signed with another secret", otherKeyCookie.Value},
		{"minted under the insecure name", insecureCookie.Value},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := e.current(t, &http.Cookie{Name: name, Value: tt.value}); ok {
				t.Fatal("tampered cookie gave a session")
			}
		})
	}
	// Control: the good cookie works, so the cases above can fail.
	if _, ok := e.current(t, good); !ok {
		t.Fatal("good cookie gave no session")
	}
	// The right value under the wrong name is not read.
	if _, ok := e.current(t, &http.Cookie{Name: CookieNameInsecure, Value: good.Value}); ok {
		t.Fatal("the secure manager read the insecure cookie name")
	}
}

func TestEnd(t *testing.T) {
	e := newEnv(t, true)
	s, c := e.login(t, "alice")
	end := func() (storage.Session, bool, *httptest.ResponseRecorder) {
		r := httptest.NewRequest(http.MethodPost, "/logout", nil)
		r.AddCookie(c)
		w := httptest.NewRecorder()
		got, ok, err := e.m.End(r.Context(), w, r)
		if err != nil {
			t.Fatalf("End: %v", err)
		}
		return got, ok, w
	}
	got, ok, w := end()
	if !ok || got.Hash != s.Hash || got.UserID != "alice" {
		t.Fatalf("End = %+v, %v; want alice's session", got, ok)
	}
	if x := onlyCookie(t, w, e.m.CookieName()); x.MaxAge >= 0 {
		t.Fatalf("End did not expire the cookie: %q", w.Header().Get("Set-Cookie"))
	}
	e.rowGone(t, s.Hash)
	if _, live := e.current(t, c); live {
		t.Fatal("session live after End (replayed cookie)")
	}
	if _, ok, w := end(); ok || len(w.Result().Cookies()) != 1 {
		t.Fatalf("second End: ok=%v cookies=%v; want false and the cookie expired again", ok, w.Header().Values("Set-Cookie"))
	}
}

func TestEndUser(t *testing.T) {
	e := newEnv(t, true)
	a1, c1 := e.login(t, "alice")
	a2, c2 := e.login(t, "alice")
	_, b := e.login(t, "bob")
	n, err := e.m.EndUser(context.Background(), "alice")
	if err != nil || n != 2 {
		t.Fatalf("EndUser = %d, %v; want 2", n, err)
	}
	for _, c := range []*http.Cookie{c1, c2} {
		if _, ok := e.current(t, c); ok {
			t.Error("alice's session live after EndUser")
		}
	}
	e.rowGone(t, a1.Hash)
	e.rowGone(t, a2.Hash)
	if _, ok := e.current(t, b); !ok {
		t.Error("EndUser(alice) ended bob's session")
	}
}

func TestTouch(t *testing.T) {
	tests := []struct {
		name       string
		since      time.Duration // since the last write
		wantWrite  bool
		wantIdleAt time.Duration // from login; 0: unchanged
	}{
		{"immediately", 0, false, 0},
		{"after 59s", 59 * time.Second, false, 0},
		{"after a minute", time.Minute, true, time.Minute + DefaultIdleTTL},
		{"after an hour", time.Hour, true, time.Hour + DefaultIdleTTL},
		{"capped at the absolute expiry", DefaultAbsoluteTTL - time.Hour, true, DefaultAbsoluteTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, true)
			s, c := e.login(t, "alice")
			// Keep the session alive until the step without moving
			// LastSeenAt (through the inner store: not counted).
			_, err := e.store.Store.UpdateSession(context.Background(), s.Hash, func(cur storage.Session) (storage.Session, error) {
				cur.IdleExpiresAt = cur.ExpiresAt
				return cur, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			e.advance(tt.since)
			cur, ok := e.current(t, c)
			if !ok {
				t.Fatal("no session")
			}
			before := e.store.updates.Load()
			got, err := e.m.Touch(context.Background(), cur)
			if err != nil {
				t.Fatal(err)
			}
			if wrote := e.store.updates.Load() > before; wrote != tt.wantWrite {
				t.Fatalf("wrote = %v, want %v", wrote, tt.wantWrite)
			}
			stored, err := e.store.GetSession(context.Background(), s.Hash)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.wantWrite {
				if !stored.LastSeenAt.Equal(t0) {
					t.Errorf("LastSeenAt = %v, want unchanged", stored.LastSeenAt)
				}
				return
			}
			if want := t0.Add(tt.wantIdleAt); !stored.IdleExpiresAt.Equal(want) || !got.IdleExpiresAt.Equal(want) {
				t.Errorf("IdleExpiresAt = %v (returned %v), want %v", stored.IdleExpiresAt, got.IdleExpiresAt, want)
			}
			if !stored.LastSeenAt.Equal(e.now) || !stored.ExpiresAt.Equal(s.ExpiresAt) {
				t.Errorf("LastSeenAt = %v ExpiresAt = %v; want now and unchanged", stored.LastSeenAt, stored.ExpiresAt)
			}
		})
	}
}

func TestTouchEndedSession(t *testing.T) {
	e := newEnv(t, true)
	s, c := e.login(t, "alice")
	cur, _ := e.current(t, c)
	if _, err := e.m.EndUser(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	e.advance(time.Hour)
	if _, err := e.m.Touch(context.Background(), cur); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Touch of an ended session = %v, want ErrNotFound", err)
	}
	e.rowGone(t, s.Hash) // Touch must not resurrect it
}

func TestStorageErrorsSurface(t *testing.T) {
	down := fmt.Errorf("dial: %w", storage.ErrUnavailable)
	tests := []struct {
		name   string
		break_ func(f *faultStore)
		call   func(e *env, c *http.Cookie) (*httptest.ResponseRecorder, error)
	}{
		{"Current: get", func(f *faultStore) { f.getErr = down }, func(e *env, c *http.Cookie) (*httptest.ResponseRecorder, error) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(c)
			_, ok, err := e.m.Current(r)
			if ok {
				return nil, errors.New("ok = true")
			}
			return nil, err
		}},
		{"Current: delete expired", func(f *faultStore) { f.deleteErr = down }, func(e *env, c *http.Cookie) (*httptest.ResponseRecorder, error) {
			e.advance(DefaultAbsoluteTTL)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(c)
			_, _, err := e.m.Current(r)
			return nil, err
		}},
		{"Start: delete previous", func(f *faultStore) { f.deleteErr = down }, func(e *env, c *http.Cookie) (*httptest.ResponseRecorder, error) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.AddCookie(c)
			w := httptest.NewRecorder()
			_, err := start(e.m, w, r, "alice", nil, t0)
			return w, err
		}},
		{"Start: create", func(f *faultStore) { f.createErr = down }, func(e *env, c *http.Cookie) (*httptest.ResponseRecorder, error) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			w := httptest.NewRecorder()
			_, err := start(e.m, w, r, "alice", nil, t0)
			return w, err
		}},
		{"End: get", func(f *faultStore) { f.getErr = down }, func(e *env, c *http.Cookie) (*httptest.ResponseRecorder, error) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.AddCookie(c)
			w := httptest.NewRecorder()
			_, _, err := e.m.End(r.Context(), w, r)
			return w, err
		}},
		{"End: delete", func(f *faultStore) { f.deleteErr = down }, func(e *env, c *http.Cookie) (*httptest.ResponseRecorder, error) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.AddCookie(c)
			w := httptest.NewRecorder()
			_, _, err := e.m.End(r.Context(), w, r)
			return w, err
		}},
		{"EndUser", func(f *faultStore) { f.deleteUserErr = down }, func(e *env, c *http.Cookie) (*httptest.ResponseRecorder, error) {
			_, err := e.m.EndUser(context.Background(), "alice")
			return nil, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, true)
			_, c := e.login(t, "alice")
			tt.break_(e.store)
			w, err := tt.call(e, c)
			if !errors.Is(err, storage.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable (a storage failure must not read as logged out)", err)
			}
			if w != nil && len(w.Result().Cookies()) != 0 {
				t.Errorf("a failed call set cookies %v", w.Header().Values("Set-Cookie"))
			}
		})
	}
}

func TestTouchStorageError(t *testing.T) {
	e := newEnv(t, true)
	_, c := e.login(t, "alice")
	cur, _ := e.current(t, c)
	e.store.updateErr = fmt.Errorf("dial: %w", storage.ErrUnavailable)
	e.advance(time.Hour)
	if _, err := e.m.Touch(context.Background(), cur); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Touch = %v, want ErrUnavailable", err)
	}
}

func TestIDNeverLogged(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	id := secretID{v: "RAWSESSIONIDRAWSESSIONIDRAW"}
	logger.Info("x", "id", id, "struct", struct{ ID secretID }{id})
	fmt.Fprintf(&buf, "%v %s %+v %#v", id, id, id, id)
	if strings.Contains(buf.String(), id.v) {
		t.Fatalf("raw id leaked: %s", buf.String())
	}

	// The manager's own debug logs carry neither the id nor the cookie.
	e := newEnv(t, true)
	const raw = "ANOTHERRAWSESSIONIDANOTHERR"
	e.m.newID = func() string { return raw }
	s, c := e.login(t, "alice")
	e.current(t, &http.Cookie{Name: c.Name, Value: "tampered" + c.Value})
	e.advance(DefaultAbsoluteTTL)
	e.current(t, c)
	for _, secret := range []string{raw, c.Value, s.Hash} {
		if strings.Contains(e.logs.String(), secret) {
			t.Fatalf("log contains a secret: %s", e.logs.String())
		}
	}
	if !strings.Contains(e.logs.String(), "session: started") {
		t.Fatalf("no debug log captured, the check above proves nothing: %q", e.logs.String())
	}
}

func TestCleanUserAgent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Mozilla/5.0", "Mozilla/5.0"},
		{"a\x00b", "ab"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{strings.Repeat("é", 300), strings.Repeat("é", 256)},
	}
	for _, tt := range tests {
		if got := clean(tt.in, maxUserAgent); got != tt.want {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// start is what the login flow does with a Manager when a login is done
// (idp/authflow: Browser, Create) and the page then (SetCookie).
func start(m *Manager, w http.ResponseWriter, r *http.Request, userID string, amr []string, authTime time.Time) (storage.Session, error) {
	b, err := m.Browser(r)
	if err != nil {
		return storage.Session{}, err
	}
	st, err := m.Create(r.Context(), b, Login{UserID: userID, AMR: amr, AuthTime: authTime})
	if err != nil {
		return storage.Session{}, err
	}
	return st.Session, m.SetCookie(w, r, st)
}
