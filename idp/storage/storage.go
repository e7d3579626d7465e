package storage

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors. Backends wrap driver errors into these so that callers can
// use errors.Is without knowing the backend.
var (
	// ErrNotFound: no row with that key.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: a row with that unique key already exists, or a row
	// that the write references (a token's client or user) does not.
	ErrConflict = errors.New("storage: conflict")
	// ErrExpired: the artefact exists but its lifetime is over.
	ErrExpired = errors.New("storage: expired")
	// ErrAlreadyUsed: a single-use artefact was consumed before. For
	// authorization codes and refresh tokens the caller treats this as
	// replay and revokes the family the artefact belongs to.
	ErrAlreadyUsed = errors.New("storage: already used")
	// ErrRevoked: the artefact was revoked.
	ErrRevoked = errors.New("storage: revoked")
	// ErrUnavailable: the database cannot be reached. Callers turn this
	// into 503 and must never turn it into "wrong password" or a lockout.
	ErrUnavailable = errors.New("storage: unavailable")
	// ErrInvalid: a write carried text that no backend may store: a NUL
	// byte or invalid UTF-8 (PostgreSQL's text refuses both). Callers
	// treat it as bad input (400), never as an outage. A lookup, delete
	// or update keyed by such text is ErrNotFound instead, since no
	// stored row can have that key; a list filtered by it is empty.
	ErrInvalid = errors.New("storage: the value cannot be stored: NUL or invalid UTF-8")
	// ErrLimited: an attempt counter is at its limit; ReserveAttempt
	// counted nothing.
	ErrLimited = errors.New("storage: attempt limit reached")
)

// Storable reports whether s is text every backend stores as is: valid
// UTF-8 without NUL bytes. Writes of anything else give ErrInvalid.
func Storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// Storage is the one contract every backend implements: every role (see
// roles.go). Every method is safe for concurrent use by many goroutines and
// many processes sharing one database.
//
// Update* methods take a function that receives the current row and returns
// the new one. The backend runs it inside a transaction holding a row lock,
// so read-modify-write races cannot be written by accident. The function may
// run more than once and must not have side effects. Returning an error from
// it aborts the update and that error is returned, wrapped.
type Storage interface {
	Maintenance
	Organizations
	Users
	Clients
	AuthRequests
	Grants
	Sessions
	OneTimeTokens
	SigningKeys
	Audit
	Attempts
	Factors
	Connectors
	Links
	Assertions
	SAML
	Units
}

// Organization is a tenant: its users, policies and email domains.
type Organization struct {
	ID string
	// Name is unique and stable; used in CLI and config ("default").
	Name        string
	DisplayName string
	// Domains are lower-case email domains used for home-realm discovery.
	// A domain belongs to at most one organization.
	Domains        []string
	MFA            MFAPolicy
	PasswordPolicy PasswordPolicy
	// Branding is how the login pages look to the organization's users
	// once they are known (after the email step, on SSO pages).
	Branding  Branding
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Branding is an organization's look on the login pages; the zero value
// is Gatehouse's own. DisplayName is the organization's.
type Branding struct {
	// LogoURL is an https image URL shown above the page (the pages'
	// CSP allows that one origin for images).
	LogoURL string `json:"logo_url,omitempty"`
	// Accent is a #rrggbb colour for the main buttons, dark enough for
	// white text (4.5:1).
	Accent string `json:"accent,omitempty"`
}

// Branded reports whether b changes anything.
func (b Branding) Branded() bool { return b.LogoURL != "" || b.Accent != "" }

// MFAPolicy is the organization's second-factor policy.
type MFAPolicy struct {
	Required bool `json:"required"`
	// AllowedMethods lists method names ("totp", "webauthn", ...). Empty
	// with Required means every method the server supports.
	AllowedMethods []string `json:"allowed_methods,omitempty"`
	// AllowSkip offers "Skip for now", remembered until an admin reset.
	AllowSkip bool `json:"allow_skip,omitempty"`
	// OtherEmail lets a user send email codes to another address than
	// the account's, confirmed by its first code.
	OtherEmail bool `json:"other_email,omitempty"`
	// SMSSelfEnrol lets a user whose profile has no mobile number enter
	// one at enrolment, confirmed by its first code; without it, text
	// messages go only to the number an administrator put on the profile.
	SMSSelfEnrol bool `json:"sms_self_enrol,omitempty"`
	// Since starts the policy's generation: factors confirmed and skips
	// chosen before it do not count. It is set when MFA is turned on
	// again after having been turned off (DisabledAt), so that everyone
	// enrols again; the first time MFA is turned on it stays zero, so
	// that factors users added for themselves keep counting.
	Since time.Time `json:"since,omitzero"`
	// DisabledAt is when MFA was last turned off (zero: never).
	DisabledAt time.Time `json:"disabled_at,omitzero"`
}

// PasswordPolicy is what an organization overrides of the server's default
// password policy (config "password:"). An unset setting inherits the
// default: MinLength 0, or a nil pointer. A set one replaces it, so a
// pointer to 0 (MaxAge, MinAge) or false (BreachCheck) turns a rule off
// for the organization even when the default has it on. It is stored as
// JSON, so rows written before a setting existed read as "inherit".
type PasswordPolicy struct {
	MinLength int `json:"min_length,omitempty"`
	// MaxAge and MinAge are in nanoseconds in the JSON.
	MaxAge      *time.Duration `json:"max_age,omitempty"`
	MinAge      *time.Duration `json:"min_age,omitempty"`
	BreachCheck *bool          `json:"breach_check,omitempty"`
}

// UserState is the long-lived state of an account. A temporary lockout is
// User.LockedUntil, not a state: it ends by itself.
type UserState string

const (
	UserInvited  UserState = "invited"
	UserActive   UserState = "active"
	UserDisabled UserState = "disabled"
)

// Role names. A user's Roles hold RoleAdmin, and RoleOrgAdminPrefix
// followed by an organization's ID for each organization the user
// administers ("org-admin:<orgID>"): IDs, not names, so that a role
// survives a rename and never names an organization created later with a
// freed name.
const (
	// RoleAdmin administers the whole install.
	RoleAdmin = "admin"
	// RoleOrgAdminPrefix starts an organization administrator's role: it
	// may manage that organization's users, nothing else.
	RoleOrgAdminPrefix = "org-admin:"
)

// OrgAdminRole is the role that administers the organization orgID.
func OrgAdminRole(orgID string) string { return RoleOrgAdminPrefix + orgID }

// OrgAdminOf lists the IDs of the organizations the user administers.
func (u User) OrgAdminOf() []string {
	var out []string
	for _, r := range u.Roles {
		if id, ok := strings.CutPrefix(r, RoleOrgAdminPrefix); ok && id != "" {
			out = append(out, id)
		}
	}
	return out
}

// User is a local account. SSO-only users have no PasswordHash.
type User struct {
	ID    string
	OrgID string
	// Email is NormalizeEmail(address), unique across organizations.
	Email         string
	EmailVerified bool
	Name          string
	// Phone is the user's phone number in E.164 form ("+41791234567",
	// idp/phone.Parse); "" is none. Storage keeps what it is given: the
	// callers that take a number from a person parse it.
	Phone string
	// PasswordHash is a PHC string (argon2id); empty means no password.
	PasswordHash string
	State        UserState
	Roles        []string
	LockedUntil  time.Time
	// MFASkipped: the user chose "Skip for now" at enrolment, at
	// MFASkippedAt. A skip counts only while the organization's policy
	// is of the generation it was made in (MFAPolicy.Since).
	MFASkipped   bool
	MFASkippedAt time.Time
	// MFAEnrollRequired: an administrator reset the user's MFA; the next
	// login enrols a factor, with no "Skip for now", and
	// MFAEnrolMethod, when set, is the one method offered.
	MFAEnrollRequired bool
	MFAEnrolMethod    string
	PasswordChangedAt time.Time
	LastLoginAt       time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// MaySignIn reports whether the user may start a new login at now: an
// active account that is not temporarily locked. Every login path (a
// password, a browser session resuming, later a factor or an upstream)
// asks this one question.
func (u User) MaySignIn(now time.Time) bool {
	return u.State == UserActive && !u.LockedUntil.After(now)
}

// MayHoldTokens reports whether the user may keep receiving and using
// tokens: an active account. A temporary lock stops new logins only: it
// answers failed guesses at a secret, and existing sessions and tokens
// were earned before them, so they keep working; disabling the account
// ends them.
func (u User) MayHoldTokens() bool { return u.State == UserActive }

// HasRole reports whether the user holds role.
func (u User) HasRole(role string) bool {
	for _, r := range u.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// UserQuery pages through users ordered by email. The filters combine
// (AND); each zero value filters nothing.
type UserQuery struct {
	OrgID string // empty: all organizations
	// AfterEmail is the cursor: return users whose email sorts after it.
	AfterEmail string
	// BeforeEmail is the cursor of the page before: return the last
	// Limit users whose email sorts before it, still in ascending order.
	// It cannot be combined with AfterEmail.
	BeforeEmail string
	Limit       int // 0: backend default (100)

	// Search keeps users whose email or name contains it, ignoring case
	// (ASCII case on SQLite).
	Search string
	// State keeps users in that state.
	State UserState
	// LockedAt, when set, keeps users temporarily locked at that time.
	LockedAt time.Time
	// MFA keeps users by second-factor status (MFAStatusEnrolled,
	// MFAStatusSkipped, MFAStatusNone).
	MFA string
	// LastLoginAfter keeps users who signed in after it; LastLoginBefore
	// those who did not sign in since it (never included).
	LastLoginAfter, LastLoginBefore time.Time
}

// Second-factor statuses of UserQuery.MFA and UserCount. Enrolled: a
// confirmed factor other than recovery codes (which stand in for lost
// ones); skipped: "Skip for now" chosen and no such factor; none: neither.
// They say what is stored; whether a factor counts under the
// organization's current policy generation is idp/mfa's to say.
const (
	MFAStatusEnrolled = "enrolled"
	MFAStatusSkipped  = "skipped"
	MFAStatusNone     = "none"
)

// UserCount is how many users of an organization are in a state, locked
// or not at the time asked, with an MFA status (CountUsersBy).
type UserCount struct {
	OrgID  string
	State  UserState
	Locked bool
	MFA    string
	Count  int
}

// AuditCount is how many events of a type began in the bucket starting
// at Start (CountAuditEvents).
type AuditCount struct {
	Type  string
	Start time.Time
	Count int
}

// AuditCountQuery counts events of Types since Since, by buckets of
// Bucket (at least a second), optionally of one organization.
type AuditCountQuery struct {
	Types  []string
	OrgID  string
	Since  time.Time
	Bucket time.Duration
}

// Client is an OIDC relying party.
type Client struct {
	ID    string
	OrgID string
	Name  string
	// SecretHash is HashSecret(secret); empty for public clients. Client
	// secrets are high-entropy random values, so a fast hash is right and
	// keeps the token endpoint cheap.
	SecretHash               string
	Public                   bool
	RedirectURIs             []string
	PostLogoutRedirectURIs   []string
	GrantTypes               []string
	Scopes                   []string
	IDTokenSignedResponseAlg string
	// AccessTokenFormat is "opaque" (default) or "jwt".
	AccessTokenFormat string
	AccessTokenTTL    time.Duration
	IDTokenTTL        time.Duration
	RefreshTokenTTL   time.Duration
	RequireMFA        bool
	// InitiateLoginURI is the client's initiate_login_uri (OpenID
	// Connect Core §4): where "My apps" sends a user to start a sign-in
	// from Gatehouse ("" : the client is not listed there).
	InitiateLoginURI string
	// Source is "config" for clients declared in the config file (they
	// are reconciled at start) or "api" for runtime-managed ones.
	Source    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AuthRequest is one login in progress, whatever front door started it.
// Step is the authflow state; the server, not the browser, decides what
// comes next from it, and only idp/authflow writes it.
//
// The fields are in three groups: which door and party asked; what the
// party asked of the login, in the flow's own terms (each door maps its
// protocol onto them); and the door's protocol data, typed for OIDC and
// opaque (DoorData) for doors without typed fields, so a new door needs no
// schema change.
type AuthRequest struct {
	ID string
	// Protocol names the front door that owns the request ("oidc",
	// "saml"); authflow finds the door, and the relying party's policy,
	// by it.
	Protocol string
	// ClientID is the relying party as its door names it: an OIDC
	// client_id, a SAML service provider's entity id.
	ClientID string

	// Prompt holds the flow's login constraints: "none" (passive: no page
	// may be shown; SAML IsPassive) and "login" (a fresh login; SAML
	// ForceAuthn). Other values are kept for the door.
	Prompt []string
	// MaxAge is the oldest authentication accepted, in seconds; nil when
	// the request had none. 0 means a fresh login.
	MaxAge    *int64
	LoginHint string
	// SubjectHint is the user the login must be for ("" for any): OIDC's
	// verified id_token_hint, SAML's Subject.
	SubjectHint string
	ACRValues   []string
	UILocales   []string

	// OIDC is the OIDC door's protocol data; nil for other protocols.
	OIDC *OIDCParams
	// DoorData is protocol data a door keeps as JSON (like Dex's
	// ConnectorData); only that door reads it. Empty means none.
	DoorData []byte
	// FlowData is the login flow's own state as JSON (a second factor
	// being enrolled, a code sent for this login); only idp/authflow
	// reads or writes it. Empty means none.
	FlowData []byte

	Step      string
	OrgID     string
	UserID    string
	SessionID string
	AuthTime  time.Time
	AMR       []string
	// Upstream is the identity an upstream connector proved for this
	// login (nil for a local login): kept from the callback until the
	// login is done, so that the link the flow makes (or the proof of
	// the local account it asks for first) and the tokens issued after
	// it name the same (connector, subject). Only idp/authflow writes it.
	Upstream *UpstreamLogin
	// Attempts counts failed steps within this request.
	Attempts  int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// UpstreamLogin is what an upstream connector proved for one login.
type UpstreamLogin struct {
	ConnectorID   string   `json:"connector"`
	Subject       string   `json:"subject"`
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"email_verified,omitempty"`
	Name          string   `json:"name,omitempty"`
	Groups        []string `json:"groups,omitempty"`
	// AMR and ACR are what the upstream said it did, as it said it.
	AMR []string `json:"amr,omitempty"`
	ACR string   `json:"acr,omitempty"`
	// Linked is set once the login's user is linked to (ConnectorID,
	// Subject); until then the identity is only a claim, and LinkHow says
	// how the link will be made when the login is done ("auto_link",
	// "prove", "provision": federation's decisions).
	Linked  bool   `json:"linked,omitempty"`
	LinkHow string `json:"link_how,omitempty"`
}

// OIDCParams is what an OIDC authorization request carries for its
// response and its token exchange.
type OIDCParams struct {
	RedirectURI         string
	State               string
	Nonce               string
	Scopes              []string
	ResponseType        string
	ResponseMode        string
	CodeChallenge       string
	CodeChallengeMethod string
}

// IsZero reports whether p holds nothing.
func (p OIDCParams) IsZero() bool {
	return p.RedirectURI == "" && p.State == "" && p.Nonce == "" && len(p.Scopes) == 0 && p.ResponseType == "" &&
		p.ResponseMode == "" && p.CodeChallenge == "" && p.CodeChallengeMethod == ""
}

// AuthCode is an OIDC authorization code, stored by hash.
type AuthCode struct {
	Hash          string
	AuthRequestID string
	ClientID      string
	// GrantID is the family id given to every token issued for this code,
	// so a replayed code can revoke them.
	GrantID    string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	ConsumedAt time.Time
}

// RefreshToken is stored by hash. Every rotation adds a token to the family.
type RefreshToken struct {
	Hash      string
	FamilyID  string
	ClientID  string
	UserID    string
	SessionID string
	Scopes    []string
	Audience  []string
	AMR       []string
	AuthTime  time.Time
	// ConnectorID and UpstreamSubject name the link a federated login
	// stood on ("" for a local login): the token stops working when that
	// link is removed or its connector disabled or deleted. Rotation
	// carries them to the next token (the caller copies them into next;
	// see RotateRefreshToken).
	ConnectorID     string
	UpstreamSubject string
	CreatedAt       time.Time
	ExpiresAt       time.Time
	UsedAt          time.Time
	RevokedAt       time.Time
}

// AccessToken is an opaque access token (or a JWT's id), stored by hash so
// that introspection and revocation can find it.
type AccessToken struct {
	Hash     string
	FamilyID string
	ClientID string
	// UserID is empty for client_credentials tokens.
	UserID    string
	Subject   string
	Scopes    []string
	Audience  []string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

// Session is a browser SSO session. The cookie holds the random id; the row
// is keyed by its hash so that a database leak yields no usable cookie.
type Session struct {
	Hash     string
	UserID   string
	AuthTime time.Time
	AMR      []string
	// ConnectorID and UpstreamSubject name the link a federated login
	// stood on ("" for a local one), so that single sign-on from this
	// session stays bound to it.
	ConnectorID     string
	UpstreamSubject string
	IP              string
	UserAgent       string
	CreatedAt       time.Time
	LastSeenAt      time.Time
	// IdleExpiresAt moves with activity; ExpiresAt is absolute.
	IdleExpiresAt time.Time
	ExpiresAt     time.Time
}

// SessionHandle is how the audit trail names a session: the start of its
// hash, enough to tell a user's sessions apart, not to look one up.
func SessionHandle(hash string) string {
	if len(hash) > 8 {
		return hash[:8]
	}
	return hash
}

// Purposes of one-time tokens.
const (
	PurposePasswordReset = "password_reset"
	// PurposeAdminReset is a reset link an administrator sent; unlike the
	// user's own it is not held back by the minimum password age.
	PurposeAdminReset  = "password_reset_admin"
	PurposeInvite      = "invite"
	PurposeEmailVerify = "email_verify"
)

// OneTimeToken is a reset link, invite link or similar, stored by hash.
type OneTimeToken struct {
	Hash          string
	Purpose       string
	UserID        string
	AuthRequestID string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	ConsumedAt    time.Time
}

// Usable reports whether t may still be consumed at now.
func (t OneTimeToken) Usable(now time.Time) bool {
	return t.ConsumedAt.IsZero() && now.Before(t.ExpiresAt)
}

// AttemptCounter counts attempts under one key (a user's failed logins, an
// IP's failures in one window) until ExpiresAt. An expired counter counts
// nothing: the next reservation starts a fresh one.
type AttemptCounter struct {
	Key       string
	Count     int
	ExpiresAt time.Time
}

// Factor kinds.
const (
	FactorTOTP     = "totp"
	FactorEmail    = "email"
	FactorRecovery = "recovery"
)

// Factor is one second factor of a user: an authenticator app, an email
// address, a recovery code, later a phone or a security key. All methods
// share one row shape so that listing, resetting and deleting a user's
// factors is one query whatever the method; what only one method needs is
// in Data.
type Factor struct {
	ID     string
	UserID string
	Kind   string
	// Label is what the user calls it ("Phone", the address).
	Label string
	// Secret is sealed with the master key (a TOTP seed) or a hash (a
	// recovery code); never the clear secret.
	Secret []byte
	// Address is the email factor's address (later a phone number).
	Address string
	// Data is JSON: a method's own fields (a WebAuthn credential later).
	Data []byte
	// Lookup finds the factor without its user (FindFactor): a WebAuthn
	// credential id, base64url, for a passkey sign-in that reads it
	// before anyone is identified. Unique per Kind among non-empty
	// values; "" for every other factor.
	Lookup string
	// ConfirmedAt is when enrolment was confirmed; zero: not confirmed,
	// not usable.
	ConfirmedAt time.Time
	// LastStep is, for TOTP, the last accepted time step: a code is
	// accepted once.
	LastStep int64
	// LastUsedAt is when the factor last proved a login; for a recovery
	// code, when it was consumed (zero: unused).
	LastUsedAt time.Time
	CreatedAt  time.Time
	// ExpiresAt ends an unconfirmed factor, so that an abandoned
	// enrolment dies (zero: no end); ConfirmFactor clears it.
	ExpiresAt time.Time
}

// Pending reports whether f is an enrolment still waiting for its
// confirmation at now: unconfirmed and not expired.
func (f Factor) Pending(now time.Time) bool {
	return f.ConfirmedAt.IsZero() && (f.ExpiresAt.IsZero() || now.Before(f.ExpiresAt))
}

// LogValue redacts the secret, so a factor can be logged whole.
func (f Factor) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", f.ID), slog.String("user_id", f.UserID), slog.String("kind", f.Kind),
		slog.Bool("confirmed", !f.ConfirmedAt.IsZero()))
}

// Connector types.
const (
	ConnectorOIDC = "oidc"
	ConnectorSAML = "saml"
)

// Connector is an organization's upstream identity provider (its corporate
// SSO): users of its Domains sign in there, and the identity it proves is
// linked to a local account (federation's rules).
type Connector struct {
	// ID is chosen by the administrator ("acme-okta") and appears in the
	// connector's fixed URLs (ISSUER/federation/ID/callback, .../acs,
	// .../metadata), so it is known before anything is created. Unique.
	ID    string
	OrgID string
	Type  string // ConnectorOIDC or ConnectorSAML
	// Name is what the login pages call it ("Acme SSO").
	Name string
	// Domains are the lower-case email domains whose users home-realm
	// discovery sends here. A domain belongs to one connector at most.
	Domains []string
	// Enabled: a disabled connector starts no login and accepts no
	// callback, and tokens of logins that stood on it stop working.
	Enabled bool
	// TrustEmail: the organization trusts this upstream's verified
	// emails enough to link a first login to the local account with that
	// email (when that account's email is verified too).
	TrustEmail bool
	// TrustMFA: a second factor the upstream reports (amr/acr) satisfies
	// the organization's MFA policy.
	TrustMFA bool
	// JIT: a first login whose email matches no account creates one in
	// OrgID.
	JIT bool
	// RequireSSO: users whose email is in Domains may not sign in with a
	// password.
	RequireSSO bool
	// Config is the type's own settings as JSON (federation/oidc,
	// federation/saml own its shape: issuer, client id, metadata, claim
	// names, group prefix).
	Config []byte
	// SecretSealed is the OIDC client secret sealed with the master key
	// (nil: none). Storage never sees it in the clear.
	SecretSealed []byte
	// Source is "config" (declared in the config file, reconciled at
	// start) or "api".
	Source    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Link ties an upstream identity (connector, subject) to a local user. It
// is keyed by the pair, never by email: an upstream that changes a user's
// email never moves the link to another account.
type Link struct {
	ConnectorID string
	Subject     string
	UserID      string
	// Email and Groups are what the upstream last said (groups with the
	// connector's prefix applied), refreshed at each federated login.
	Email       string
	Groups      []string
	CreatedAt   time.Time
	LastLoginAt time.Time
}

// Key uses.
const (
	KeyUseOIDC = "oidc"
	KeyUseSAML = "saml"
)

// SigningKey is a signing key pair. The private key is sealed with the master
// key before it reaches storage; storage never sees it in the clear.
type SigningKey struct {
	ID        string // kid
	Use       string // KeyUseOIDC or KeyUseSAML
	Algorithm string // RS256, ES256, EdDSA
	// PublicKey is PKIX DER; Certificate (SAML) is X.509 DER.
	PublicKey        []byte
	PrivateKeySealed []byte
	Certificate      []byte
	CreatedAt        time.Time
	// The key is published from CreatedAt, signs from NotBefore until
	// RetireAt (zero: no end), and is unpublished at ExpiresAt (zero: no
	// end), after the tokens it signed have expired.
	NotBefore time.Time
	RetireAt  time.Time
	ExpiresAt time.Time
}

// AuditEvent is an append-only security event.
type AuditEvent struct {
	ID        int64
	Time      time.Time
	Type      string
	OrgID     string
	ActorID   string
	UserID    string
	ClientID  string
	IP        string
	UserAgent string
	RequestID string
	Details   map[string]string
}

// AuditQuery pages through audit events, newest first.
type AuditQuery struct {
	UserID string
	OrgID  string
	Type   string
	// BeforeID is the cursor: return events with ID < BeforeID (0: none).
	BeforeID int64
	// Since and Until, when set, keep events at or after Since and
	// before Until.
	Since, Until time.Time
	Limit        int // 0: backend default (100)
}

// NewID returns a random identifier with 130 bits of entropy.
func NewID() string { return rand.Text() }

// HashSecret is how every stored token, code and session id is keyed: the
// unsalted SHA-256 of a high-entropy secret, base64url. Unsalted is right
// here because the input is random (≥128 bits) and lookup is by hash.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// NormalizeEmail is the form in which emails are stored and looked up.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}
