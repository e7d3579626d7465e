package e2e

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/instance"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// countingStore wraps an instance's store and logs every call of a write
// method, each of which is one write transaction, and the reads that the
// login path makes. Methods it does not override pass through uncounted
// (a role added later is not counted until it is listed here).
type countingStore struct {
	instance.Store
	mu     sync.Mutex
	on     bool
	writes []string
	reads  map[string]int
}

func (c *countingStore) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on, c.writes, c.reads = true, nil, map[string]int{}
}

func (c *countingStore) stop() (writes []string, reads map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	return c.writes, c.reads
}

// inUnitKey marks a context inside a unit of work: its writes are part of
// the unit's one transaction.
type inUnitKey struct{}

// write notes one write; inside a unit it is part of the unit's entry,
// not a transaction of its own.
func (c *countingStore) write(ctx context.Context, what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		return
	}
	if i, ok := ctx.Value(inUnitKey{}).(int); ok && i < len(c.writes) {
		c.writes[i] += " + " + what
		return
	}
	c.writes = append(c.writes, what)
}

// Atomically is one transaction, whatever it writes.
func (c *countingStore) Atomically(ctx context.Context, fn func(context.Context) error) error {
	if _, ok := ctx.Value(inUnitKey{}).(int); ok {
		return c.Store.Atomically(ctx, fn)
	}
	c.mu.Lock()
	i := len(c.writes)
	if c.on {
		c.writes = append(c.writes, "unit:")
	}
	c.mu.Unlock()
	return c.Store.Atomically(ctx, func(ctx context.Context) error {
		return fn(context.WithValue(ctx, inUnitKey{}, i))
	})
}

func (c *countingStore) read(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on {
		c.reads[what]++
	}
}

// Reads on the login path.

func (c *countingStore) GetClient(ctx context.Context, id string) (storage.Client, error) {
	c.read("GetClient")
	return c.Store.GetClient(ctx, id)
}
func (c *countingStore) GetUser(ctx context.Context, id string) (storage.User, error) {
	c.read("GetUser")
	return c.Store.GetUser(ctx, id)
}
func (c *countingStore) GetUserByEmail(ctx context.Context, email string) (storage.User, error) {
	c.read("GetUserByEmail")
	return c.Store.GetUserByEmail(ctx, email)
}
func (c *countingStore) GetOrganization(ctx context.Context, id string) (storage.Organization, error) {
	c.read("GetOrganization")
	return c.Store.GetOrganization(ctx, id)
}
func (c *countingStore) GetAuthRequest(ctx context.Context, id string) (storage.AuthRequest, error) {
	c.read("GetAuthRequest")
	return c.Store.GetAuthRequest(ctx, id)
}
func (c *countingStore) GetSession(ctx context.Context, hash string) (storage.Session, error) {
	c.read("GetSession")
	return c.Store.GetSession(ctx, hash)
}
func (c *countingStore) GetAuthCode(ctx context.Context, hash string) (storage.AuthCode, error) {
	c.read("GetAuthCode")
	return c.Store.GetAuthCode(ctx, hash)
}
func (c *countingStore) ListSigningKeys(ctx context.Context, use string) ([]storage.SigningKey, error) {
	c.read("ListSigningKeys")
	return c.Store.ListSigningKeys(ctx, use)
}

// Writes: every one.

func (c *countingStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	c.write(ctx, "DeleteExpired")
	return c.Store.DeleteExpired(ctx, now)
}
func (c *countingStore) CreateOrganization(ctx context.Context, o storage.Organization) error {
	c.write(ctx, "CreateOrganization")
	return c.Store.CreateOrganization(ctx, o)
}
func (c *countingStore) UpdateOrganization(ctx context.Context, id string, fn func(storage.Organization) (storage.Organization, error)) (storage.Organization, error) {
	c.write(ctx, "UpdateOrganization")
	return c.Store.UpdateOrganization(ctx, id, fn)
}
func (c *countingStore) DeleteOrganization(ctx context.Context, id string) error {
	c.write(ctx, "DeleteOrganization")
	return c.Store.DeleteOrganization(ctx, id)
}
func (c *countingStore) CreateUser(ctx context.Context, u storage.User) error {
	c.write(ctx, "CreateUser")
	return c.Store.CreateUser(ctx, u)
}
func (c *countingStore) UpdateUser(ctx context.Context, id string, fn func(storage.User) (storage.User, error)) (storage.User, error) {
	c.write(ctx, "UpdateUser")
	return c.Store.UpdateUser(ctx, id, fn)
}
func (c *countingStore) DeleteUser(ctx context.Context, id string) error {
	c.write(ctx, "DeleteUser")
	return c.Store.DeleteUser(ctx, id)
}
func (c *countingStore) CreateClient(ctx context.Context, cl storage.Client) error {
	c.write(ctx, "CreateClient")
	return c.Store.CreateClient(ctx, cl)
}
func (c *countingStore) UpdateClient(ctx context.Context, id string, fn func(storage.Client) (storage.Client, error)) (storage.Client, error) {
	c.write(ctx, "UpdateClient")
	return c.Store.UpdateClient(ctx, id, fn)
}
func (c *countingStore) DeleteClient(ctx context.Context, id string) error {
	c.write(ctx, "DeleteClient")
	return c.Store.DeleteClient(ctx, id)
}
func (c *countingStore) CreateAuthRequest(ctx context.Context, r storage.AuthRequest) error {
	c.write(ctx, "CreateAuthRequest")
	return c.Store.CreateAuthRequest(ctx, r)
}
func (c *countingStore) UpdateAuthRequest(ctx context.Context, id string, fn func(storage.AuthRequest) (storage.AuthRequest, error)) (storage.AuthRequest, error) {
	r, err := c.Store.UpdateAuthRequest(ctx, id, fn)
	c.write(ctx, "UpdateAuthRequest→"+r.Step)
	return r, err
}
func (c *countingStore) DeleteAuthRequest(ctx context.Context, id string) error {
	c.write(ctx, "DeleteAuthRequest")
	return c.Store.DeleteAuthRequest(ctx, id)
}
func (c *countingStore) CreateAuthCode(ctx context.Context, ac storage.AuthCode) error {
	c.write(ctx, "CreateAuthCode")
	return c.Store.CreateAuthCode(ctx, ac)
}
func (c *countingStore) ConsumeAuthCode(ctx context.Context, hash string, now time.Time) (storage.AuthCode, error) {
	c.write(ctx, "ConsumeAuthCode")
	return c.Store.ConsumeAuthCode(ctx, hash, now)
}
func (c *countingStore) RedeemAuthCode(ctx context.Context, hash string, access storage.AccessToken, refresh *storage.RefreshToken, now time.Time) (storage.AuthCode, error) {
	c.write(ctx, "RedeemAuthCode")
	return c.Store.RedeemAuthCode(ctx, hash, access, refresh, now)
}
func (c *countingStore) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	c.write(ctx, "CreateRefreshToken")
	return c.Store.CreateRefreshToken(ctx, t)
}
func (c *countingStore) RotateRefreshToken(ctx context.Context, oldHash string, next storage.RefreshToken, access *storage.AccessToken, now time.Time) (storage.RefreshToken, error) {
	c.write(ctx, "RotateRefreshToken")
	return c.Store.RotateRefreshToken(ctx, oldHash, next, access, now)
}
func (c *countingStore) CreateAccessToken(ctx context.Context, t storage.AccessToken) error {
	c.write(ctx, "CreateAccessToken")
	return c.Store.CreateAccessToken(ctx, t)
}
func (c *countingStore) RevokeAccessToken(ctx context.Context, hash string, now time.Time) error {
	c.write(ctx, "RevokeAccessToken")
	return c.Store.RevokeAccessToken(ctx, hash, now)
}
func (c *countingStore) RevokeFamily(ctx context.Context, familyID string, now time.Time) (int, error) {
	c.write(ctx, "RevokeFamily")
	return c.Store.RevokeFamily(ctx, familyID, now)
}
func (c *countingStore) RevokeUserTokens(ctx context.Context, userID string, now time.Time) (int, error) {
	c.write(ctx, "RevokeUserTokens")
	return c.Store.RevokeUserTokens(ctx, userID, now)
}
func (c *countingStore) CreateSession(ctx context.Context, s storage.Session) error {
	c.write(ctx, "CreateSession")
	return c.Store.CreateSession(ctx, s)
}
func (c *countingStore) UpdateSession(ctx context.Context, hash string, fn func(storage.Session) (storage.Session, error)) (storage.Session, error) {
	c.write(ctx, "UpdateSession")
	return c.Store.UpdateSession(ctx, hash, fn)
}
func (c *countingStore) DeleteSession(ctx context.Context, hash string) error {
	c.write(ctx, "DeleteSession")
	return c.Store.DeleteSession(ctx, hash)
}
func (c *countingStore) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	c.write(ctx, "DeleteUserSessions")
	return c.Store.DeleteUserSessions(ctx, userID)
}
func (c *countingStore) CreateOneTimeToken(ctx context.Context, t storage.OneTimeToken) error {
	c.write(ctx, "CreateOneTimeToken")
	return c.Store.CreateOneTimeToken(ctx, t)
}
func (c *countingStore) ConsumeOneTimeToken(ctx context.Context, purpose, hash string, now time.Time) (storage.OneTimeToken, error) {
	c.write(ctx, "ConsumeOneTimeToken")
	return c.Store.ConsumeOneTimeToken(ctx, purpose, hash, now)
}
func (c *countingStore) CreateSigningKey(ctx context.Context, k storage.SigningKey) error {
	c.write(ctx, "CreateSigningKey")
	return c.Store.CreateSigningKey(ctx, k)
}
func (c *countingStore) UpdateSigningKey(ctx context.Context, id string, fn func(storage.SigningKey) (storage.SigningKey, error)) (storage.SigningKey, error) {
	c.write(ctx, "UpdateSigningKey")
	return c.Store.UpdateSigningKey(ctx, id, fn)
}
func (c *countingStore) DeleteSigningKey(ctx context.Context, id string) error {
	c.write(ctx, "DeleteSigningKey")
	return c.Store.DeleteSigningKey(ctx, id)
}
func (c *countingStore) CreateSigningKeysIf(ctx context.Context, use string, decide func([]storage.SigningKey) ([]storage.SigningKey, error)) ([]storage.SigningKey, error) {
	c.write(ctx, "CreateSigningKeysIf")
	return c.Store.CreateSigningKeysIf(ctx, use, decide)
}
func (c *countingStore) AppendAuditEvent(ctx context.Context, e storage.AuditEvent) error {
	c.write(ctx, "AppendAuditEvent "+e.Type)
	return c.Store.AppendAuditEvent(ctx, e)
}

func (c *countingStore) DeleteOtherUserSessions(ctx context.Context, userID, keepHash string) (int, error) {
	c.write(ctx, "DeleteOtherUserSessions")
	return c.Store.DeleteOtherUserSessions(ctx, userID, keepHash)
}
func (c *countingStore) ReserveAttempt(ctx context.Context, key string, limit int, ttl time.Duration, now time.Time) (storage.AttemptCounter, error) {
	c.write(ctx, "ReserveAttempt "+strings.SplitN(key, ":", 2)[0])
	return c.Store.ReserveAttempt(ctx, key, limit, ttl, now)
}
func (c *countingStore) ReleaseAttempt(ctx context.Context, key string, now time.Time) error {
	c.write(ctx, "ReleaseAttempt "+strings.SplitN(key, ":", 2)[0])
	return c.Store.ReleaseAttempt(ctx, key, now)
}
func (c *countingStore) ResetAttempts(ctx context.Context, key string) error {
	c.write(ctx, "ResetAttempts "+strings.SplitN(key, ":", 2)[0])
	return c.Store.ResetAttempts(ctx, key)
}

var _ storage.Storage = (*countingStore)(nil)

// maxLoginWrites is the budget of write transactions for one password
// login through the OIDC door: /authorize, the login page and its POST,
// the callback and the code exchange. Each step that changes state is one
// transaction (a unit of work, storage.Units, where it writes several
// rows):
//
//	GET  /authorize           CreateAuthRequest            the login in progress
//	POST /login               unit: ReserveAttempt ip, user  the guess counted before the hash
//	                          unit: ReleaseAttempt, ResetAttempts, CreateSession,
//	                                UpdateAuthRequest → done, login.password_ok, last_login_at
//	GET  /authorize/callback  unit: UpdateAuthRequest → issued, login.succeeded, CreateAuthCode
//	POST /oauth/token         RedeemAuthCode               code consumed, access token stored
//
// Never raise it without saying why.
const maxLoginWrites = 5

// One full password login over HTTP writes at most maxLoginWrites
// transactions. A regression that adds a write fails here; the log lists
// each write so the new one is easy to find.
func TestLoginWriteTransactions(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			var cs *countingStore
			h := newWrappedHarness(t, backend, func(s instance.Store) instance.Store {
				cs = &countingStore{Store: s}
				return cs
			})
			h.user("alice@example.com", alicePW)
			secret := h.client("web", nil)
			// One login first: keys and caches warm, as on a serving
			// instance.
			login := func() {
				b := h.browser()
				verifier, challenge := pkce()
				q := b.login(b.get(h.authURL("web", url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}})),
					"alice@example.com", alicePW).callback(t)
				status, out := h.tokenRequest("web", secret, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
					"redirect_uri": {"https://" + rpHost + "/web/cb"}, "code_verifier": {verifier}})
				if status != 200 || out["id_token"] == nil {
					t.Fatalf("token: %d %v", status, out)
				}
			}
			login()
			cs.start()
			login()
			writes, reads := cs.stop()
			t.Logf("%d write transactions per login:\n  %s", len(writes), strings.Join(writes, "\n  "))
			t.Logf("reads per login: %v", reads)
			if len(writes) > maxLoginWrites {
				t.Errorf("a password login wrote %d transactions, want at most %d", len(writes), maxLoginWrites)
			}
		})
	}
}
