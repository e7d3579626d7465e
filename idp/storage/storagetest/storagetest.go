package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// t0 is the fixed base time of every test. It has microsecond precision,
// which is what backends keep (they store Unix microseconds), and it is far
// from the real clock so that a backend that reads the clock is caught.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)

// at returns t0 shifted by d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// concurrency is how many goroutines race in the concurrency tests.
const concurrency = 20

// Run runs the conformance suite. newStore must return a fresh, empty,
// migrated store on every call and register its own cleanup; the suite
// calls it once per leaf subtest.
//
// Subtests run one after another: a backend may give each store its own
// database, but the suite does not rely on that, and the concurrency tests
// already load the database with many goroutines.
func Run(t *testing.T, newStore func(t *testing.T) storage.Storage) {
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"Ping", pingTests},
		{"Organizations", organizationTests},
		{"Users", userTests},
		{"Clients", clientTests},
		{"ClientCascade", clientCascadeTests},
		{"AuthRequests", authRequestTests},
		{"AuthCodes", authCodeTests},
		{"RefreshTokens", refreshTokenTests},
		{"AccessTokens", accessTokenTests},
		{"Redeem", redeemTests},
		{"Revocation", revocationTests},
		{"Sessions", sessionTests},
		{"OneTimeTokens", oneTimeTokenTests},
		{"SigningKeys", signingKeyTests},
		{"AuditEvents", auditEventTests},
		{"Attempts", attemptTests},
		{"Factors", factorTests},
		{"Connectors", connectorTests},
		{"Links", linkTests},
		{"Assertions", assertionTests},
		{"SAML", samlTests},
		{"Units", unitTests},
		{"UpdateByFunction", updateByFunctionTests},
		{"DeleteExpired", deleteExpiredTests},
		{"Races", raceTests},
		{"Unavailable", unavailableTests},
		{"BadText", badTextTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					s := newStore(t)
					if s == nil {
						t.Fatal("newStore returned nil")
					}
					c.run(t, &fixture{s: s, ctx: t.Context()})
				})
			}
		})
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, f *fixture)
}

// fixture is one fresh store plus builders for rows that other rows
// reference. Builders create the row and stop the test if that fails.
type fixture struct {
	s   storage.Storage
	ctx context.Context
	// v1, when set, inserts users, sessions and refresh tokens with the
	// columns of 0001_init.sql (upgrade tests: the store's own Create*
	// write the columns of the newest schema).
	v1 Exec
}

var pingTests = []testCase{
	{"Answers", func(t *testing.T, f *fixture) {
		if err := f.s.Ping(f.ctx); err != nil {
			t.Errorf("Ping on a fresh store: %v", err)
		}
	}},
}

// --- full-field builders -------------------------------------------------
//
// Each builder fills every field with a distinct, non-zero value, so that a
// backend that drops or swaps a column is caught by the round-trip checks.

func newOrg(id, name string, domains ...string) storage.Organization {
	return storage.Organization{
		ID:          id,
		Name:        name,
		DisplayName: "Organization " + name + " – Ünïcode ✓",
		Domains:     domains,
		MFA: storage.MFAPolicy{
			Required:       true,
			AllowedMethods: []string{"totp", "webauthn"},
			AllowSkip:      true,
			OtherEmail:     true,
			Since:          at(-12 * time.Hour),
			DisabledAt:     at(-13 * time.Hour),
		},
		PasswordPolicy: storage.PasswordPolicy{MinLength: 12},
		CreatedAt:      at(-48 * time.Hour),
		UpdatedAt:      at(-24 * time.Hour),
	}
}

func newUser(id, orgID, email string) storage.User {
	return storage.User{
		ID:                id,
		OrgID:             orgID,
		Email:             email,
		EmailVerified:     true,
		Name:              "User " + id + " O'Brien",
		Phone:             "+41791234567",
		PasswordHash:      "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		State:             storage.UserActive,
		Roles:             []string{storage.RoleAdmin, "auditor"},
		LockedUntil:       at(10 * time.Minute),
		MFASkipped:        true,
		MFASkippedAt:      at(-3 * time.Hour),
		MFAEnrollRequired: true,
		MFAEnrolMethod:    "email",
		PasswordChangedAt: at(-36 * time.Hour),
		LastLoginAt:       at(-time.Hour),
		CreatedAt:         at(-47 * time.Hour),
		UpdatedAt:         at(-2 * time.Hour),
	}
}

func newClient(id, orgID string) storage.Client {
	return storage.Client{
		ID:                       id,
		OrgID:                    orgID,
		Name:                     "Client " + id,
		SecretHash:               storage.HashSecret("secret-" + id),
		Public:                   false,
		RedirectURIs:             []string{"https://rp.example/cb", "https://rp.example/cb2?x=1&y=%20"},
		PostLogoutRedirectURIs:   []string{"https://rp.example/bye"},
		GrantTypes:               []string{"authorization_code", "refresh_token"},
		Scopes:                   []string{"openid", "email", "profile", "offline_access"},
		IDTokenSignedResponseAlg: "ES256",
		AccessTokenFormat:        "jwt",
		AccessTokenTTL:           5 * time.Minute,
		IDTokenTTL:               time.Hour,
		RefreshTokenTTL:          30 * 24 * time.Hour,
		RequireMFA:               true,
		Source:                   "config",
		InitiateLoginURI:         "https://rp.example/login?from=idp",
		CreatedAt:                at(-46 * time.Hour),
		UpdatedAt:                at(-45 * time.Hour),
	}
}

func newSession(hash, userID string) storage.Session {
	return storage.Session{
		Hash:     hash,
		UserID:   userID,
		AuthTime: at(-30 * time.Minute),
		AMR:      []string{"pwd", "otp"},
		// A federated login's session: the link it stood on.
		ConnectorID:     "acme-okta",
		UpstreamSubject: "00u-" + userID + "-Ünïcode ✓",
		IP:              "2001:db8::1",
		UserAgent:       "Mozilla/5.0 (X11; Linux x86_64) \"quoted\"",
		CreatedAt:       at(-30 * time.Minute),
		LastSeenAt:      at(-5 * time.Minute),
		IdleExpiresAt:   at(25 * time.Minute),
		ExpiresAt:       at(12 * time.Hour),
	}
}

// newAuthRequest returns a request in its first step: no user, session or
// organization yet.
func newAuthRequest(id, clientID string) storage.AuthRequest {
	return storage.AuthRequest{
		ID:       id,
		Protocol: "oidc",
		ClientID: clientID,
		OIDC: &storage.OIDCParams{
			RedirectURI:         "https://rp.example/cb",
			State:               "state-" + id,
			Nonce:               "nonce-" + id,
			Scopes:              []string{"openid", "email"},
			ResponseType:        "code",
			ResponseMode:        "query",
			CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
			CodeChallengeMethod: "S256",
		},
		CreatedAt: at(-time.Minute),
		ExpiresAt: at(29 * time.Minute),
		Step:      "identify",
	}
}

func newAuthCode(hash, authRequestID, clientID, grantID string) storage.AuthCode {
	return storage.AuthCode{
		Hash:          hash,
		AuthRequestID: authRequestID,
		ClientID:      clientID,
		GrantID:       grantID,
		CreatedAt:     at(-10 * time.Second),
		ExpiresAt:     at(50 * time.Second),
	}
}

func newRefreshToken(hash, familyID, clientID, userID, sessionID string) storage.RefreshToken {
	return storage.RefreshToken{
		Hash:      hash,
		FamilyID:  familyID,
		ClientID:  clientID,
		UserID:    userID,
		SessionID: sessionID,
		Scopes:    []string{"openid", "offline_access"},
		Audience:  []string{clientID, "https://api.example"},
		AMR:       []string{"pwd", "hwk"},
		AuthTime:  at(-2 * time.Hour),
		// A federated login's token: the link it stood on.
		ConnectorID:     "acme-okta",
		UpstreamSubject: "00u-" + userID + "-Ünïcode ✓",
		CreatedAt:       at(-time.Hour),
		ExpiresAt:       at(24 * time.Hour),
	}
}

func newAccessToken(hash, familyID, clientID, userID string) storage.AccessToken {
	return storage.AccessToken{
		Hash:      hash,
		FamilyID:  familyID,
		ClientID:  clientID,
		UserID:    userID,
		Subject:   "sub-" + userID,
		Scopes:    []string{"openid", "email"},
		Audience:  []string{"https://api.example"},
		CreatedAt: at(-time.Minute),
		ExpiresAt: at(4 * time.Minute),
	}
}

func newOneTimeToken(hash, purpose, userID string) storage.OneTimeToken {
	return storage.OneTimeToken{
		Hash:      hash,
		Purpose:   purpose,
		UserID:    userID,
		CreatedAt: at(-time.Minute),
		ExpiresAt: at(59 * time.Minute),
	}
}

func newSigningKey(id, use string, created time.Time) storage.SigningKey {
	return storage.SigningKey{
		ID:               id,
		Use:              use,
		Algorithm:        "ES256",
		PublicKey:        []byte("public-der-" + id + "\x00\xff\x01"),
		PrivateKeySealed: []byte("sealed-" + id + "\x00\xfe\x02"),
		CreatedAt:        created,
		NotBefore:        created.Add(time.Hour),
	}
}

// --- fixture helpers that create referenced rows ---------------------------

// base creates one organization, one user in it and one client, the rows
// most other rows reference.
type base struct {
	org    storage.Organization
	user   storage.User
	client storage.Client
}

func (f *fixture) base(t *testing.T) base {
	t.Helper()
	b := base{
		org:    newOrg("org-1", "acme", "acme.example"),
		user:   newUser("user-1", "org-1", "alice@acme.example"),
		client: newClient("client-1", "org-1"),
	}
	b.org = f.createOrg(t, b.org)
	b.user = f.createUser(t, b.user) // an upgrade test's user lacks the newer columns
	b.client = f.createClient(t, b.client)
	return b
}

// createOrg stores o; in an upgrade test, in the version-1 columns (no
// branding: 0013), with its domains.
func (f *fixture) createOrg(t *testing.T, o storage.Organization) storage.Organization {
	t.Helper()
	if f.v1 != nil {
		o.Branding = storage.Branding{}
		mfa, _ := json.Marshal(o.MFA)
		pp, _ := json.Marshal(o.PasswordPolicy)
		mustOK(t, f.v1(f.ctx, `INSERT INTO organizations (id, name, display_name, mfa, password_policy, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, o.ID, o.Name, o.DisplayName, string(mfa), string(pp),
			micros0(o.CreatedAt), micros0(o.UpdatedAt)), "insert a version-1 organization "+o.ID)
		for i, d := range o.Domains {
			mustOK(t, f.v1(f.ctx, `INSERT INTO org_domains (domain, org_id, ord) VALUES ($1, $2, $3)`, d, o.ID, i),
				"insert a version-1 domain "+d)
		}
		return o
	}
	mustOK(t, f.s.CreateOrganization(f.ctx, o), "CreateOrganization "+o.ID)
	return o
}

func (f *fixture) createClient(t *testing.T, c storage.Client) storage.Client {
	t.Helper()
	if f.v1 != nil {
		c.InitiateLoginURI = "" // 0010
		mustOK(t, f.v1(f.ctx, `INSERT INTO clients (id, org_id, name, secret_hash, is_public, redirect_uris,
			post_logout_redirect_uris, grant_types, scopes, id_token_signed_response_alg, access_token_format,
			access_token_ttl, id_token_ttl, refresh_token_ttl, require_mfa, source, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
			c.ID, c.OrgID, c.Name, c.SecretHash, c.Public, jsonList(c.RedirectURIs), jsonList(c.PostLogoutRedirectURIs),
			jsonList(c.GrantTypes), jsonList(c.Scopes), c.IDTokenSignedResponseAlg, c.AccessTokenFormat,
			int64(c.AccessTokenTTL), int64(c.IDTokenTTL), int64(c.RefreshTokenTTL), c.RequireMFA, c.Source,
			micros0(c.CreatedAt), micros0(c.UpdatedAt)), "insert a version-1 client "+c.ID)
		return c
	}
	mustOK(t, f.s.CreateClient(f.ctx, c), "CreateClient "+c.ID)
	return c
}

func (f *fixture) createUser(t *testing.T, u storage.User) storage.User {
	t.Helper()
	if f.v1 != nil {
		// The columns every version has had since 0001; the ones added
		// later take their defaults.
		u.MFASkippedAt, u.MFAEnrolMethod, u.Phone = time.Time{}, "", ""
		mustOK(t, f.v1(f.ctx, `INSERT INTO users (id, org_id, email, email_verified, name, password_hash, state, roles,
			locked_until, mfa_skipped, mfa_enroll_required, password_changed_at, last_login_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			u.ID, u.OrgID, u.Email, u.EmailVerified, u.Name, u.PasswordHash, string(u.State), jsonList(u.Roles),
			micros0(u.LockedUntil), u.MFASkipped, u.MFAEnrollRequired, micros0(u.PasswordChangedAt), micros0(u.LastLoginAt),
			micros0(u.CreatedAt), micros0(u.UpdatedAt)), "insert a version-1 user "+u.ID)
		return u
	}
	mustOK(t, f.s.CreateUser(f.ctx, u), "CreateUser "+u.ID)
	return u
}

func (f *fixture) createSession(t *testing.T, s storage.Session) storage.Session {
	t.Helper()
	if f.v1 != nil {
		s.ConnectorID, s.UpstreamSubject = "", "" // 0009
		mustOK(t, f.v1(f.ctx, `INSERT INTO sessions (hash, user_id, auth_time, amr, ip, user_agent, created_at, last_seen_at,
			idle_expires_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			s.Hash, orNull(s.UserID), micros0(s.AuthTime), jsonList(s.AMR), s.IP, s.UserAgent, micros0(s.CreatedAt),
			micros0(s.LastSeenAt), micros0(s.IdleExpiresAt), micros0(s.ExpiresAt)), "insert a version-1 session")
		return s
	}
	mustOK(t, f.s.CreateSession(f.ctx, s), "CreateSession "+s.Hash)
	return s
}

func (f *fixture) createAuthRequest(t *testing.T, r storage.AuthRequest) storage.AuthRequest {
	t.Helper()
	mustOK(t, f.s.CreateAuthRequest(f.ctx, r), "CreateAuthRequest "+r.ID)
	return r
}

func (f *fixture) createAuthCode(t *testing.T, c storage.AuthCode) storage.AuthCode {
	t.Helper()
	mustOK(t, f.s.CreateAuthCode(f.ctx, c), "CreateAuthCode "+c.Hash)
	return c
}

func (f *fixture) createRefreshToken(t *testing.T, r storage.RefreshToken) storage.RefreshToken {
	t.Helper()
	if f.v1 != nil {
		r.ConnectorID, r.UpstreamSubject = "", "" // 0009
		mustOK(t, f.v1(f.ctx, `INSERT INTO refresh_tokens (hash, family_id, client_id, user_id, session_id, scopes, audience,
			amr, auth_time, created_at, expires_at, used_at, revoked_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			r.Hash, r.FamilyID, r.ClientID, orNull(r.UserID), r.SessionID, jsonList(r.Scopes), jsonList(r.Audience),
			jsonList(r.AMR), micros0(r.AuthTime), micros0(r.CreatedAt), micros0(r.ExpiresAt), micros0(r.UsedAt),
			micros0(r.RevokedAt)), "insert a version-1 refresh token")
		return r
	}
	mustOK(t, f.s.CreateRefreshToken(f.ctx, r), "CreateRefreshToken "+r.Hash)
	return r
}

func (f *fixture) createAccessToken(t *testing.T, a storage.AccessToken) storage.AccessToken {
	t.Helper()
	mustOK(t, f.s.CreateAccessToken(f.ctx, a), "CreateAccessToken "+a.Hash)
	return a
}

func (f *fixture) createOneTimeToken(t *testing.T, o storage.OneTimeToken) storage.OneTimeToken {
	t.Helper()
	mustOK(t, f.s.CreateOneTimeToken(f.ctx, o), "CreateOneTimeToken "+o.Hash)
	return o
}

// refresh returns the stored refresh token or stops the test.
func (f *fixture) refresh(t *testing.T, hash string) storage.RefreshToken {
	t.Helper()
	r, err := f.s.GetRefreshToken(f.ctx, hash)
	mustOK(t, err, "GetRefreshToken "+hash)
	return r
}

// access returns the stored access token or stops the test.
func (f *fixture) access(t *testing.T, hash string) storage.AccessToken {
	t.Helper()
	a, err := f.s.GetAccessToken(f.ctx, hash)
	mustOK(t, err, "GetAccessToken "+hash)
	return a
}

// h is a stored hash for a readable name.
func h(name string) string { return storage.HashSecret(name) }

// race runs fn(i) for i in [0, n) on n goroutines released together, and
// waits for all of them.
func race(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	for i := range n {
		done.Go(func() {
			ready.Done()
			<-start
			fn(i)
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// outcome counts the results of a race by sentinel error.
type outcome struct {
	ok, alreadyUsed, revoked, expired, notFound int
	other                                       []error
}

func errorIs(err, target error) bool { return errors.Is(err, target) }

func tally(errs []error) outcome {
	var o outcome
	for _, err := range errs {
		switch {
		case err == nil:
			o.ok++
		case errors.Is(err, storage.ErrAlreadyUsed):
			o.alreadyUsed++
		case errors.Is(err, storage.ErrRevoked):
			o.revoked++
		case errors.Is(err, storage.ErrExpired):
			o.expired++
		case errors.Is(err, storage.ErrNotFound):
			o.notFound++
		default:
			o.other = append(o.other, err)
		}
	}
	return o
}

func (o outcome) String() string {
	return fmt.Sprintf("%d ok, %d ErrAlreadyUsed, %d ErrRevoked, %d ErrExpired, %d ErrNotFound, other errors %v",
		o.ok, o.alreadyUsed, o.revoked, o.expired, o.notFound, o.other)
}

// micros0 is a time as the stores keep it: Unix microseconds, 0 for unset.
func micros0(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// orNull is a reference column's value: "" is stored as NULL.
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func jsonList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}
