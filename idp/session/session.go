package session

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Cookie names. The __Host- prefix makes the browser refuse the cookie
// unless it is Secure, host-only and Path=/, so a sibling subdomain or a
// plain-http man in the middle cannot plant one; it requires Secure, so
// dev mode on http://localhost uses the plain name.
const (
	CookieNameSecure   = "__Host-gatehouse-session"
	CookieNameInsecure = "gatehouse-session"
)

// Defaults for Options.
const (
	DefaultIdleTTL     = 12 * time.Hour
	DefaultAbsoluteTTL = 7 * 24 * time.Hour
	// TouchInterval is the least time between two writes of one session's
	// idle expiry.
	TouchInterval = time.Minute
	// MinSecretLen is the least length of Options.Secret.
	MinSecretLen = 32
	// maxUserAgent bounds what a client can make us store.
	maxUserAgent = 512
)

// Store is the part of storage.Storage a Manager uses: the session rows.
type Store interface {
	storage.Sessions
}

// participantMover is the part of storage that moves a session's SAML
// session participants to the session replacing it (storage.SAML); a
// store without it has none to move.
type participantMover interface {
	MoveSAMLParticipants(ctx context.Context, fromHash, toHash string) error
}

// Options configures a Manager. Store and Secret are required.
type Options struct {
	Store Store
	// Secret keys the cookie codec (HKDF-SHA256 derives separate MAC and
	// AES keys from it); e.g. the master key bytes. At least 32 bytes.
	Secret []byte
	// Secure marks the cookie Secure and gives it the __Host- prefix.
	// Only dev mode on http://localhost runs without it.
	Secure bool
	// IdleTTL ends a session this long after its last activity (default
	// 12h); AbsoluteTTL ends it this long after login whatever happens
	// (default 7 days). IdleTTL is capped at AbsoluteTTL.
	IdleTTL     time.Duration
	AbsoluteTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// IP returns the client address of the request ctx belongs to; wire
	// httpserver.ClientIP. Default: the host of Request.RemoteAddr.
	IP func(ctx context.Context) string
	// NewID returns a new random session id (default storage.NewID). It
	// must return at least 128 bits of entropy.
	NewID  func() string
	Logger *slog.Logger
}

// Manager issues, reads and ends browser sessions. It is safe for
// concurrent use.
type Manager struct {
	store       Store
	cookies     *sessions.CookieStore
	name        string
	secure      bool
	idleTTL     time.Duration
	absoluteTTL time.Duration
	now         func() time.Time
	ip          func(context.Context) string
	newID       func() string
	log         *slog.Logger
}

// New validates opts and builds a Manager.
func New(opts Options) (*Manager, error) {
	var errs []error
	if opts.Store == nil {
		errs = append(errs, errors.New("session: Store is required"))
	}
	if len(opts.Secret) < MinSecretLen {
		errs = append(errs, fmt.Errorf("session: Secret must be at least %d bytes, got %d", MinSecretLen, len(opts.Secret)))
	}
	if opts.IdleTTL < 0 || opts.AbsoluteTTL < 0 {
		errs = append(errs, errors.New("session: IdleTTL and AbsoluteTTL must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m := &Manager{
		store:       opts.Store,
		secure:      opts.Secure,
		idleTTL:     orDefault(opts.IdleTTL, DefaultIdleTTL),
		absoluteTTL: orDefault(opts.AbsoluteTTL, DefaultAbsoluteTTL),
		now:         opts.Now,
		ip:          opts.IP,
		newID:       opts.NewID,
		log:         opts.Logger,
		name:        CookieNameInsecure,
	}
	if m.secure {
		m.name = CookieNameSecure
	}
	m.idleTTL = min(m.idleTTL, m.absoluteTTL)
	if m.now == nil {
		m.now = time.Now
	}
	if m.newID == nil {
		m.newID = storage.NewID
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	hashKey, err := hkdf.Key(sha256.New, opts.Secret, nil, "gatehouse session cookie mac v1", 32)
	if err != nil {
		return nil, fmt.Errorf("session: derive mac key: %w", err)
	}
	blockKey, err := hkdf.Key(sha256.New, opts.Secret, nil, "gatehouse session cookie aes v1", 32)
	if err != nil {
		return nil, fmt.Errorf("session: derive aes key: %w", err)
	}
	// gorilla/sessions' defaults (30 days, no HttpOnly, no SameSite) are
	// all replaced. Its codec's timestamp check uses the wall clock; it is
	// a second line only, the row's expiries (on the injected clock) decide.
	m.cookies = sessions.NewCookieStore(hashKey, blockKey)
	m.cookies.Options = &sessions.Options{Path: "/", Secure: m.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	m.cookies.MaxAge(int(m.absoluteTTL / time.Second))
	return m, nil
}

func orDefault(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// CookieName is the name of the session cookie this Manager reads and
// writes.
func (m *Manager) CookieName() string { return m.name }

// secretID is a raw session id: the bearer secret in the cookie. It
// redacts itself in logs and fmt output; use .v to read it.
type secretID struct{ v string }

// LogValue implements slog.LogValuer.
func (secretID) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// String keeps the id out of %v and %s.
func (secretID) String() string { return "[REDACTED]" }

// GoString keeps the id out of %#v.
func (secretID) GoString() string { return "[REDACTED]" }

var _ slog.LogValuer = secretID{}

func (id secretID) hash() string { return storage.HashSecret(id.v) }

// readCookie returns the id the browser presented, if its cookie is
// present and authentic.
func (m *Manager) readCookie(r *http.Request) (secretID, bool) {
	if _, err := r.Cookie(m.name); err != nil {
		return secretID{}, false
	}
	sess, err := m.cookies.New(r, m.name)
	if err != nil {
		m.log.DebugContext(r.Context(), "session: cookie rejected", "reason", cookieErrorKind(err))
		return secretID{}, false
	}
	raw, _ := sess.Values[cookieKey].(string)
	if raw == "" {
		return secretID{}, false
	}
	return secretID{v: raw}, true
}

// cookieErrorKind describes a decode failure without echoing the cookie.
func cookieErrorKind(err error) string {
	var ce securecookie.Error
	if errors.As(err, &ce) && ce.IsDecode() {
		return "invalid or tampered"
	}
	return "unreadable"
}

// cookieKey is the one value the cookie holds: the session id.
const cookieKey = "sid"

func (m *Manager) expireCookie(w http.ResponseWriter) {
	opts := *m.cookies.Options
	opts.MaxAge = -1
	http.SetCookie(w, sessions.NewCookie(m.name, "", &opts))
}

// expired reports whether s is over at now.
func expired(s storage.Session, now time.Time) bool {
	return !now.Before(s.IdleExpiresAt) || !now.Before(s.ExpiresAt)
}

// Current returns the live session the request's cookie names. ok is false
// when there is none: no cookie, a cookie that fails authentication, an
// unknown row (ended, or the user's sessions were revoked), or a session
// past its idle or absolute expiry (its row is deleted then). err is
// non-nil only when storage failed; callers must answer 503 then, not a
// login page.
func (m *Manager) Current(r *http.Request) (s storage.Session, ok bool, err error) {
	ctx := r.Context()
	id, present := m.readCookie(r)
	if !present {
		return storage.Session{}, false, nil
	}
	s, err = m.store.GetSession(ctx, id.hash())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return storage.Session{}, false, nil
	case err != nil:
		return storage.Session{}, false, fmt.Errorf("session: current: %w", err)
	}
	if expired(s, m.now()) {
		if err := m.store.DeleteSession(ctx, s.Hash); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return storage.Session{}, false, fmt.Errorf("session: delete expired: %w", err)
		}
		m.log.DebugContext(ctx, "session: expired session ended", "user_id", s.UserID)
		return storage.Session{}, false, nil
	}
	return s, true, nil
}

// Browser is what a login knows of the browser driving it: its live
// session, if any, and what a new session would record about it. Read it
// with Manager.Browser once per request.
type Browser struct {
	// Session is the live session the cookie names; nil when none.
	Session *storage.Session
	// presented is the id the browser sent, live or not, so that the
	// session a login starts can replace it.
	presented secretID
	ip        string
	userAgent string
}

// IP is the client address a new session would record; the login flow
// keys a guess's network by it (idp/lockout).
func (b Browser) IP() string { return b.ip }

// Browser reads the request's session. err is non-nil only when storage
// failed; callers answer 503 then, not a login page.
func (m *Manager) Browser(r *http.Request) (Browser, error) {
	b := Browser{ip: m.clientIP(r.Context(), r), userAgent: clean(r.UserAgent(), maxUserAgent)}
	b.presented, _ = m.readCookie(r)
	s, ok, err := m.Current(r)
	if err != nil {
		return Browser{}, err
	}
	if ok {
		b.Session = &s
	}
	return b, nil
}

// Started is a session stored for a finished login whose cookie has not
// been set yet: the login flow creates it (idp/authflow) and the page that
// answers the browser sets it (SetCookie). It redacts its secret in logs.
type Started struct {
	Session storage.Session
	id      secretID
}

// Login is what a finished login gives its session: who, how and when,
// and for a federated login the link it stood on, so that single sign-on
// from the session stays bound to that link.
type Login struct {
	UserID                       string
	AMR                          []string
	AuthTime                     time.Time
	ConnectorID, UpstreamSubject string
}

// Create stores a new session for userID under a new id. It deletes the
// row of any session id the browser presented first, so a planted or
// pre-login id dies here. Call it at every login and step-up, never reuse
// an id across them; SetCookie then hands the id to the browser.
func (m *Manager) Create(ctx context.Context, b Browser, l Login) (Started, error) {
	userID, amr, authTime := l.UserID, l.AMR, l.AuthTime
	if userID == "" {
		return Started{}, errors.New("session: create: empty user id")
	}
	if b.presented.v != "" {
		if err := m.store.DeleteSession(ctx, b.presented.hash()); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return Started{}, fmt.Errorf("session: create: delete previous session: %w", err)
		}
	}
	id := secretID{v: m.newID()}
	if len(id.v) < 26 { // storage.NewID: 26 base32 characters, 130 bits
		return Started{}, errors.New("session: create: NewID returned a short id")
	}
	now := m.now()
	if authTime.IsZero() {
		authTime = now
	}
	s := storage.Session{
		Hash:            id.hash(),
		UserID:          userID,
		AuthTime:        authTime,
		AMR:             slices.Clone(amr),
		ConnectorID:     l.ConnectorID,
		UpstreamSubject: l.UpstreamSubject,
		IP:              b.ip,
		UserAgent:       b.userAgent,
		CreatedAt:       now,
		LastSeenAt:      now,
		IdleExpiresAt:   now.Add(m.idleTTL),
		ExpiresAt:       now.Add(m.absoluteTTL),
	}
	if err := m.store.CreateSession(ctx, s); err != nil {
		return Started{}, fmt.Errorf("session: create: %w", err)
	}
	if mv, ok := m.store.(participantMover); ok && b.Session != nil && b.Session.UserID == userID {
		// The same person signed in again in this browser (a step-up):
		// the SAML applications they are signed in to stay this
		// session's, so that single logout still reaches them. Another
		// person's login leaves them with the old session, which ends.
		if err := mv.MoveSAMLParticipants(ctx, b.Session.Hash, s.Hash); err != nil {
			return Started{}, fmt.Errorf("session: create: keep saml participants: %w", err)
		}
	}
	m.log.DebugContext(ctx, "session: started", "user_id", userID)
	return Started{Session: s, id: id}, nil
}

// Discard deletes a session that was created but will not be handed to
// the browser (the login it was for lost a race).
func (m *Manager) Discard(ctx context.Context, st Started) error {
	if err := m.store.DeleteSession(ctx, st.Session.Hash); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("session: discard: %w", err)
	}
	return nil
}

// SetCookie gives the browser the id of a created session.
func (m *Manager) SetCookie(w http.ResponseWriter, r *http.Request, st Started) error {
	if st.id.v == "" {
		return errors.New("session: set cookie: no session")
	}
	cs := sessions.NewSession(m.cookies, m.name)
	opts := *m.cookies.Options
	cs.Options = &opts
	cs.Values[cookieKey] = st.id.v
	if err := m.cookies.Save(r, w, cs); err != nil {
		return fmt.Errorf("session: set cookie: %w", err)
	}
	return nil
}

func (m *Manager) clientIP(ctx context.Context, r *http.Request) string {
	if m.ip != nil {
		return clean(m.ip(ctx), 64)
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return clean(r.RemoteAddr, 64)
}

// clean makes client-supplied text storable: valid UTF-8 without NUL
// (PostgreSQL rejects both), at most n bytes, cut on a rune boundary.
func clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Touch records activity on s: it moves the idle expiry to now+IdleTTL,
// never past the absolute expiry. To spare the database it writes at most
// once per TouchInterval per session and otherwise returns s unchanged.
// A session that ended meanwhile gives an error wrapping
// storage.ErrNotFound; one that expired meanwhile, storage.ErrExpired.
func (m *Manager) Touch(ctx context.Context, s storage.Session) (storage.Session, error) {
	now := m.now()
	if now.Sub(s.LastSeenAt) < TouchInterval {
		return s, nil
	}
	s, err := m.store.UpdateSession(ctx, s.Hash, func(cur storage.Session) (storage.Session, error) {
		if expired(cur, now) {
			return cur, storage.ErrExpired
		}
		if now.Sub(cur.LastSeenAt) < TouchInterval { // a concurrent request touched it
			return cur, nil
		}
		cur.LastSeenAt = now
		cur.IdleExpiresAt = now.Add(m.idleTTL)
		if cur.IdleExpiresAt.After(cur.ExpiresAt) {
			cur.IdleExpiresAt = cur.ExpiresAt
		}
		return cur, nil
	})
	if err != nil {
		return storage.Session{}, fmt.Errorf("session: touch: %w", err)
	}
	return s, nil
}

// End logs the browser out: it deletes the row the cookie names and
// expires the cookie. ok says whether a live row was deleted; s is that
// row (for the audit record and back-channel logout). On a storage error
// the cookie is left in place so that a retry can still end the row.
func (m *Manager) End(ctx context.Context, w http.ResponseWriter, r *http.Request) (s storage.Session, ok bool, err error) {
	id, present := m.readCookie(r)
	if !present {
		m.expireCookie(w)
		return storage.Session{}, false, nil
	}
	s, err = m.store.GetSession(ctx, id.hash())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		m.expireCookie(w)
		return storage.Session{}, false, nil
	case err != nil:
		return storage.Session{}, false, fmt.Errorf("session: end: %w", err)
	}
	err = m.store.DeleteSession(ctx, s.Hash)
	switch {
	case errors.Is(err, storage.ErrNotFound): // a concurrent logout won
		m.expireCookie(w)
		return storage.Session{}, false, nil
	case err != nil:
		return storage.Session{}, false, fmt.Errorf("session: end: %w", err)
	}
	m.expireCookie(w)
	live := !expired(s, m.now())
	if !live {
		s = storage.Session{}
	}
	return s, live, nil
}

// EndUser ends every session of userID (disable, password reset, MFA
// reset, "sign out everywhere") and returns how many there were.
func (m *Manager) EndUser(ctx context.Context, userID string) (int, error) {
	n, err := m.store.DeleteUserSessions(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("session: end user sessions: %w", err)
	}
	return n, nil
}
