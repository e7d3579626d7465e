package storage

import (
	"context"
	"time"
)

// The roles below are the parts of Storage, one per kind of row, grouped
// as the conformance suite (storagetest) groups its tests; its
// UpdateByFunction and Races groups cross roles. Storage embeds them all,
// so every backend implements every role, and the promises in Storage's
// doc (concurrent use, update-by-function) hold for each. A consumer
// declares, where it is consumed, an interface of the roles (or single
// methods) it uses, and any Storage satisfies it.

// Maintenance is the database as a whole: whether it answers, releasing
// it, and the purge of rows whose lifetime is over (suite groups Ping,
// Unavailable, DeleteExpired).
type Maintenance interface {
	// Ping reports whether the database answers; /readyz uses it.
	Ping(ctx context.Context) error
	Close() error

	// DeleteExpired removes rows whose lifetime ended before now: auth
	// requests, codes, tokens, sessions, one-time tokens, attempt
	// counters, unconfirmed factors whose enrolment expired and assertion
	// replay records. Audit events are kept.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
}

// Organizations stores tenants and their email domains.
type Organizations interface {
	CreateOrganization(ctx context.Context, o Organization) error
	GetOrganization(ctx context.Context, id string) (Organization, error)
	GetOrganizationByName(ctx context.Context, name string) (Organization, error)
	// GetOrganizationByDomain finds the organization that owns an email
	// domain (lower case). Domains are unique across organizations.
	GetOrganizationByDomain(ctx context.Context, domain string) (Organization, error)
	ListOrganizations(ctx context.Context) ([]Organization, error)
	UpdateOrganization(ctx context.Context, id string, fn func(Organization) (Organization, error)) (Organization, error)
	// DeleteOrganization fails with ErrConflict while users belong to it.
	// Its connectors (and their domains) go with it.
	DeleteOrganization(ctx context.Context, id string) error
}

// Users stores local accounts.
type Users interface {
	// CreateUser fails with ErrConflict when the email is taken; emails
	// are unique across organizations because login starts from the email.
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByEmail expects NormalizeEmail(email).
	GetUserByEmail(ctx context.Context, email string) (User, error)
	ListUsers(ctx context.Context, q UserQuery) ([]User, error)
	UpdateUser(ctx context.Context, id string, fn func(User) (User, error)) (User, error)
	// DeleteUser also deletes the user's sessions, refresh and access
	// tokens, one-time tokens and factors. Audit events about the user are kept.
	DeleteUser(ctx context.Context, id string) error
	// CountUsers counts all users; bootstrap uses it to tell a first start.
	CountUsers(ctx context.Context) (int, error)
	// CountUsersBy counts users by organization, state, whether they are
	// locked at now, and MFA status (UserQuery.MFA); groups with no user
	// are left out.
	CountUsersBy(ctx context.Context, now time.Time) ([]UserCount, error)
}

// Clients stores OIDC relying parties (suite groups Clients,
// ClientCascade).
type Clients interface {
	CreateClient(ctx context.Context, c Client) error
	GetClient(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	UpdateClient(ctx context.Context, id string, fn func(Client) (Client, error)) (Client, error)
	// DeleteClient also deletes the client's authorization codes and
	// refresh and access tokens, so that none of them works once the
	// client is gone. Creating a code or token for a client that does not
	// exist (deleted meanwhile) gives ErrConflict.
	DeleteClient(ctx context.Context, id string) error
}

// AuthRequests stores logins in progress.
type AuthRequests interface {
	CreateAuthRequest(ctx context.Context, r AuthRequest) error
	GetAuthRequest(ctx context.Context, id string) (AuthRequest, error)
	UpdateAuthRequest(ctx context.Context, id string, fn func(AuthRequest) (AuthRequest, error)) (AuthRequest, error)
	DeleteAuthRequest(ctx context.Context, id string) error
}

// Grants stores what a login or a client was granted: authorization codes
// and the refresh and access tokens issued for them, and revokes them by
// grant (family) or by user (suite groups AuthCodes, RefreshTokens,
// AccessTokens, Redeem, Revocation). They are one role because redeeming,
// rotating and revoking write codes and tokens in one transaction.
type Grants interface {
	CreateAuthCode(ctx context.Context, c AuthCode) error
	// ConsumeAuthCode marks the code used and returns it. Exactly one of
	// any number of concurrent callers succeeds. Others get ErrAlreadyUsed
	// together with the stored code (so the caller can revoke
	// code.GrantID), ErrExpired, or ErrNotFound.
	ConsumeAuthCode(ctx context.Context, hash string, now time.Time) (AuthCode, error)
	// GetAuthCode returns the code as stored, consumed or not, without
	// consuming it.
	GetAuthCode(ctx context.Context, hash string) (AuthCode, error)
	// RedeemAuthCode consumes the code and stores the tokens it was
	// exchanged for (refresh may be nil) in one transaction; both get the
	// code's GrantID as FamilyID. If the code was used before, the grant's
	// tokens are revoked, that revocation is committed, and ErrAlreadyUsed
	// is returned with the code: a replay racing the first exchange
	// cannot leave that exchange's tokens alive. An expired or unknown code
	// gives ErrExpired or ErrNotFound. On any error nothing is stored.
	RedeemAuthCode(ctx context.Context, hash string, access AccessToken, refresh *RefreshToken, now time.Time) (AuthCode, error)

	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	GetRefreshToken(ctx context.Context, hash string) (RefreshToken, error)
	// RotateRefreshToken marks the token oldHash used and stores next in
	// the same family, atomically. If oldHash was used before, the whole
	// family is revoked and ErrAlreadyUsed is returned: that is refresh
	// token reuse, the signature of a stolen token. Revoked or expired
	// tokens give ErrRevoked or ErrExpired and store nothing. access, when
	// not nil, is the access token issued with next and is stored in the
	// same transaction, so that a family revocation racing the rotation
	// revokes it too. The FamilyID of next and access is overwritten with
	// the old token's family; every other field of next is stored as
	// given, so the caller carries ConnectorID and UpstreamSubject over
	// from the old token.
	RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, access *AccessToken, now time.Time) (RefreshToken, error)

	CreateAccessToken(ctx context.Context, t AccessToken) error
	GetAccessToken(ctx context.Context, hash string) (AccessToken, error)
	RevokeAccessToken(ctx context.Context, hash string, now time.Time) error

	// RevokeFamily revokes every refresh and access token of one grant
	// (the tokens descending from one authorization code or login). A
	// rotation racing with it must not leave a live token behind. An
	// unknown family gives (0, nil); revoking twice keeps the first
	// RevokedAt.
	RevokeFamily(ctx context.Context, familyID string, now time.Time) (int, error)
	// RevokeUserTokens revokes every refresh and access token of a user;
	// disable, password reset and MFA reset call it.
	RevokeUserTokens(ctx context.Context, userID string, now time.Time) (int, error)
	// RevokeSessionTokens revokes every token of the grants (families)
	// issued from one browser session (RefreshToken.SessionID): signing
	// that session out ends what it handed to applications too. An
	// unknown session gives (0, nil).
	RevokeSessionTokens(ctx context.Context, sessionID string, now time.Time) (int, error)
}

// Sessions stores browser SSO sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, hash string) (Session, error)
	UpdateSession(ctx context.Context, hash string, fn func(Session) (Session, error)) (Session, error)
	DeleteSession(ctx context.Context, hash string) error
	DeleteUserSessions(ctx context.Context, userID string) (int, error)
	// DeleteOtherUserSessions deletes every session of userID but the one
	// keepHash names: a password change signs out the user's other
	// browsers and keeps the one that changed it.
	DeleteOtherUserSessions(ctx context.Context, userID, keepHash string) (int, error)
	// ListUserSessions lists userID's sessions live at now, the most
	// recently seen first.
	ListUserSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	// DeleteUserSession deletes the session hash names when it is
	// userID's (ErrNotFound otherwise): a sign-out by a handle a page
	// showed cannot end another user's session.
	DeleteUserSession(ctx context.Context, userID, hash string) error
}

// OneTimeTokens stores reset, invite and verification links.
type OneTimeTokens interface {
	// CreateOneTimeToken stores t and, in the same transaction, deletes
	// every unconsumed token with the same purpose and user: a newer
	// reset or invite link voids the older ones. This holds under
	// concurrency too: after N concurrent creates one token is left.
	CreateOneTimeToken(ctx context.Context, t OneTimeToken) error
	// GetOneTimeToken returns the token as stored, consumed or not;
	// opening a link must not consume it (mail scanners open links).
	GetOneTimeToken(ctx context.Context, purpose, hash string) (OneTimeToken, error)
	// ConsumeOneTimeToken marks the token used; exactly one concurrent
	// caller wins. Others get ErrAlreadyUsed, ErrExpired or ErrNotFound.
	ConsumeOneTimeToken(ctx context.Context, purpose, hash string, now time.Time) (OneTimeToken, error)
}

// SigningKeys stores signing key pairs, private keys sealed.
type SigningKeys interface {
	CreateSigningKey(ctx context.Context, k SigningKey) error
	// ListSigningKeys returns the keys for one use, oldest first.
	ListSigningKeys(ctx context.Context, use string) ([]SigningKey, error)
	UpdateSigningKey(ctx context.Context, id string, fn func(SigningKey) (SigningKey, error)) (SigningKey, error)
	DeleteSigningKey(ctx context.Context, id string) error
	// CreateSigningKeysIf decides and creates keys of one use as one step:
	// in one transaction it reads the keys of use (oldest first), passes
	// them to decide and stores the keys decide returns (each of that
	// use). Calls for the same use, from any process, run one after the
	// other, so decide sees every key an earlier call stored: N instances
	// that each create "the first keys unless there are some" create one
	// set. decide may run more than once and must have no side effects;
	// its error is returned as is. It returns the keys it stored.
	CreateSigningKeysIf(ctx context.Context, use string, decide func(existing []SigningKey) ([]SigningKey, error)) ([]SigningKey, error)
}

// Audit stores the append-only security events (suite group AuditEvents).
type Audit interface {
	// AppendAuditEvent stores e; the backend assigns e.ID. Audit events
	// are never updated.
	AppendAuditEvent(ctx context.Context, e AuditEvent) error
	// ListAuditEvents returns events newest first, by ID.
	ListAuditEvents(ctx context.Context, q AuditQuery) ([]AuditEvent, error)
	// CountAuditEvents counts events by type and time bucket, oldest
	// bucket first; buckets with none are left out.
	CountAuditEvents(ctx context.Context, q AuditCountQuery) ([]AuditCount, error)
}

// Attempts counts attempts under a key, atomically across goroutines and
// processes, for limits that must hold however many instances share the
// database (suite group Attempts): failed guesses at a user's secrets and
// failures per client network (idp/lockout). A key names what is counted;
// its format is the caller's.
type Attempts interface {
	// ReserveAttempt counts one attempt under key unless the key is at its
	// limit, as one atomic step: if the live counter (ExpiresAt after now)
	// has Count >= limit, it returns ErrLimited with that counter and
	// stores nothing (so a refused attempt never extends ExpiresAt);
	// otherwise it adds one (to a fresh counter when there is none or it
	// expired), sets ExpiresAt to now+ttl and returns the counter. Of any
	// number of concurrent callers against limit n, at most n succeed. A
	// limit <= 0 refuses everything.
	ReserveAttempt(ctx context.Context, key string, limit int, ttl time.Duration, now time.Time) (AttemptCounter, error)
	// ReleaseAttempt takes back one reservation of a live counter (the
	// attempt could not be evaluated: an outage, not a guess). Nothing to
	// take back is not an error.
	ReleaseAttempt(ctx context.Context, key string, now time.Time) error
	// ResetAttempts forgets key's counter; an unknown key is not an error.
	ResetAttempts(ctx context.Context, key string) error
	// GetAttempts returns key's live counter, or a zero Count (and zero
	// ExpiresAt) when there is none or it expired.
	GetAttempts(ctx context.Context, key string, now time.Time) (AttemptCounter, error)
}

// Factors stores users' second factors, one row per authenticator app,
// email address, recovery code and later phone or security key (suite
// group Factors). The single-use rules (a TOTP step, a recovery code) are
// atomic here, so that they hold across goroutines and instances.
//
// A factor is usable once confirmed. An unconfirmed one is an enrolment
// in progress: it ends at its ExpiresAt (zero: no end), after which it is
// treated as gone, and DeleteExpired purges it.
type Factors interface {
	// CreateFactor stores f. ErrConflict when the id is taken or the user
	// does not exist.
	CreateFactor(ctx context.Context, f Factor) error
	// GetFactor returns the factor as stored, confirmed, expired or not.
	GetFactor(ctx context.Context, id string) (Factor, error)
	// ListFactors returns the user's factors, confirmed and not, oldest
	// first (by CreatedAt, then ID). Unconfirmed ones expired at now are
	// left out. (now is a parameter because storage never reads the
	// clock.)
	ListFactors(ctx context.Context, userID string, now time.Time) ([]Factor, error)
	// ConfirmFactor marks an unconfirmed, unexpired factor confirmed
	// (ConfirmedAt now, ExpiresAt zero) and, in the same transaction,
	// deletes the user's factors listed in replace: a TOTP reset replaces
	// the old secret only once the new one is confirmed, so an abandoned
	// reset leaves the old one working. Ids in replace that are not the
	// user's, or gone, are ignored. ErrNotFound when the factor is gone or
	// expired; ErrAlreadyUsed when it was confirmed before. It returns the
	// confirmed factor.
	ConfirmFactor(ctx context.Context, id string, now time.Time, replace ...string) (Factor, error)
	// UseFactorStep records step as used for a confirmed factor with
	// steps (TOTP), atomically: only when step > LastStep, setting
	// LastStep to step and LastUsedAt to now; otherwise ErrAlreadyUsed. Of
	// concurrent submissions of one code exactly one wins. ErrNotFound
	// when no confirmed factor has the id.
	UseFactorStep(ctx context.Context, id string, step int64, now time.Time) (Factor, error)
	// ConsumeRecoveryCode consumes the user's confirmed recovery factor
	// whose Secret equals hash, atomically, by setting LastUsedAt to now
	// (the row is kept so that a used code is told apart from a wrong
	// one). Exactly one of concurrent callers wins; others get
	// ErrAlreadyUsed. ErrNotFound when the user has no such code (another
	// user's code is not found).
	ConsumeRecoveryCode(ctx context.Context, userID string, hash []byte, now time.Time) (Factor, error)
	// ReplaceRecoveryCodes deletes the user's recovery factors, used or
	// not, and stores codes, in one transaction: a new set voids the old
	// one, also against a concurrent replacement. Each code is stored with
	// UserID userID and Kind FactorRecovery; it must be confirmed (a code
	// is usable once the user has seen it) and carry a Secret.
	ReplaceRecoveryCodes(ctx context.Context, userID string, codes []Factor) error
	// SetFactorData replaces the Data of a live factor (pending or
	// confirmed): a method's own fields, such as an email code sent for
	// an enrolment at /me. ErrNotFound when the factor is gone or expired
	// at now.
	SetFactorData(ctx context.Context, id string, data []byte, now time.Time) error
	// SetFactorLookup sets the Lookup of a live factor (pending or
	// confirmed): a WebAuthn credential id, known only once the browser
	// created it. ErrConflict when a factor of the same kind has it
	// already; ErrNotFound when the factor is gone or expired at now.
	SetFactorLookup(ctx context.Context, id, lookup string, now time.Time) error
	// FindFactor returns the factor of kind whose Lookup is lookup,
	// confirmed or not. ErrNotFound when there is none or lookup is "".
	FindFactor(ctx context.Context, kind, lookup string) (Factor, error)
	// TouchFactor sets LastUsedAt (email codes, later WebAuthn).
	// ErrNotFound when there is no such factor.
	TouchFactor(ctx context.Context, id string, now time.Time) error
	DeleteFactor(ctx context.Context, id string) error
	// DeleteUserFactors removes every factor of the user (an admin's MFA
	// reset) and returns how many.
	DeleteUserFactors(ctx context.Context, userID string) (int, error)
}

// Connectors stores organizations' upstream identity providers (suite
// group Connectors).
type Connectors interface {
	// CreateConnector stores c. ErrConflict when the id is taken, a
	// domain belongs to another connector, or the organization does not
	// exist.
	CreateConnector(ctx context.Context, c Connector) error
	GetConnector(ctx context.Context, id string) (Connector, error)
	// GetConnectorByDomain returns the connector a lower-case email
	// domain belongs to, enabled or not. ErrNotFound when none.
	GetConnectorByDomain(ctx context.Context, domain string) (Connector, error)
	// ListConnectors lists an organization's connectors ("" for all),
	// by id.
	ListConnectors(ctx context.Context, orgID string) ([]Connector, error)
	// UpdateConnector rewrites a connector; ErrConflict when a new domain
	// belongs to another connector. ID, OrgID and CreatedAt are kept.
	UpdateConnector(ctx context.Context, id string, fn func(Connector) (Connector, error)) (Connector, error)
	// DeleteConnector removes the connector with its domains, its links
	// and its replay records.
	DeleteConnector(ctx context.Context, id string) error
}

// Links stores the ties between upstream identities and local users (suite
// group Links). Deleting a user or a connector deletes its links.
type Links interface {
	// CreateLink stores l. ErrConflict when (ConnectorID, Subject) is
	// linked already, or the connector or the user does not exist.
	CreateLink(ctx context.Context, l Link) error
	GetLink(ctx context.Context, connectorID, subject string) (Link, error)
	// ListUserLinks lists a user's links, oldest first.
	ListUserLinks(ctx context.Context, userID string) ([]Link, error)
	// UpdateLink rewrites a link's Email, Groups and LastLoginAt; the key,
	// the user and CreatedAt are kept.
	UpdateLink(ctx context.Context, connectorID, subject string, fn func(Link) (Link, error)) (Link, error)
	DeleteLink(ctx context.Context, connectorID, subject string) error
}

// Assertions is the replay cache of upstream SAML assertions (suite group
// Assertions), in storage so that every instance sharing the database
// refuses an assertion any of them accepted.
type Assertions interface {
	// UseAssertionID records assertion id of the connector as used until
	// expiresAt, atomically: ErrAlreadyUsed when a record of it is live
	// at now (of concurrent callers exactly one wins). A record past its
	// expiresAt counts as none; DeleteExpired purges it.
	UseAssertionID(ctx context.Context, connectorID, id string, expiresAt, now time.Time) error
}

// Units makes several calls one transaction.
type Units interface {
	// Atomically runs fn with a context in which every call on this
	// storage is part of one write transaction, committed when fn returns
	// nil and rolled back otherwise, or when a statement inside failed
	// even though fn went on. What fn returns is returned as is. fn may
	// run more than once (after a transient conflict) and must have no
	// effect outside storage; calls made with another context are not
	// part of the unit, and a nested Atomically joins the outer one. Keep
	// units short: on SQLite a unit holds the one writer.
	Atomically(ctx context.Context, fn func(ctx context.Context) error) error
}

// Atomically runs fn as one unit of work of s when s has units (Units),
// and as it is otherwise (a test double without them). Consumers call
// this rather than assert the role themselves, so that an interface of
// the roles they use stays small.
func Atomically(ctx context.Context, s any, fn func(ctx context.Context) error) error {
	if u, ok := s.(Units); ok {
		return u.Atomically(ctx, fn)
	}
	return fn(ctx)
}
