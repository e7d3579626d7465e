package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/phone"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// InputError is a mistake in what the operator asked for; its message is
// safe to show them.
// Err, when set, is the sentinel behind it (storage.ErrConflict for "already
// exists"), so callers can tell a lost race from a typo.
type InputError struct {
	Msg string
	Err error
}

func (e *InputError) Error() string { return e.Msg }
func (e *InputError) Unwrap() error { return e.Err }

func inputErr(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

func conflictErr(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...), Err: storage.ErrConflict}
}

// Store is what the Service needs of storage: it manages organizations,
// users, clients and connectors, and disabling a user ends the user's sessions and
// revokes the user's tokens, for which it needs one method each of the
// Sessions and Grants roles; an MFA reset also deletes the user's
// factors. (A reset runs as one unit of work where the backend has units,
// storage.Atomically.)
type Store interface {
	storage.Organizations
	storage.Users
	storage.Clients
	// DeleteUserSessions is storage.Sessions'.
	DeleteUserSessions(ctx context.Context, userID string) (int, error)
	// RevokeUserTokens is storage.Grants'.
	RevokeUserTokens(ctx context.Context, userID string, now time.Time) (int, error)
	// ListFactors is storage.Factors' (users show).
	ListFactors(ctx context.Context, userID string, now time.Time) ([]storage.Factor, error)
	// DeleteUserFactors is storage.Factors' (an MFA reset).
	DeleteUserFactors(ctx context.Context, userID string) (int, error)
	// ListUserSessions and DeleteUserSession are storage.Sessions' (the
	// console's user page).
	ListUserSessions(ctx context.Context, userID string, now time.Time) ([]storage.Session, error)
	DeleteUserSession(ctx context.Context, userID, hash string) error
	// RevokeSessionTokens is storage.Grants' (a session signed out).
	RevokeSessionTokens(ctx context.Context, sessionID string, now time.Time) (int, error)
	// The audit trail is read for the console (its overview, a user's
	// events, the log).
	ListAuditEvents(ctx context.Context, q storage.AuditQuery) ([]storage.AuditEvent, error)
	CountAuditEvents(ctx context.Context, q storage.AuditCountQuery) ([]storage.AuditCount, error)
	// Connectors and links are administered here; a connector opened
	// for Test is given the replay cache its type may require.
	storage.Connectors
	storage.Links
	storage.Assertions
	// SAML service providers are administered here too.
	storage.SAML
}

var _ Store = storage.Storage(nil)

// Service performs admin actions.
type Service struct {
	Store  Store
	Hasher *password.Hasher
	Audit  *audit.Recorder
	Now    func() time.Time
	// Policy is the server-wide default password policy (config
	// "password:"); an organization's stored settings override it
	// (password.Policy.WithOrg).
	Policy password.Policy
	// Links sends invites and reset links; nil when email is not
	// configured (those actions then fail with ErrNoMail).
	Links Links
	// Checker judges a password an administrator sets; nil checks length
	// and the common-password list, with no breach service.
	Checker *password.Checker
	// Lockout lifts temporary locks (idp/lockout.Limiter); nil means no
	// lockout is configured, and UnlockUser fails.
	Lockout Locks
	// Mail sends users notices (an MFA reset's); nil when email is not
	// configured, and no notice is sent.
	Mail Mailer
	// Logger gets what fails after an action was done (a notice not
	// sent); nil is slog.Default().
	Logger *slog.Logger
	// Federation is what administering connectors needs (the master
	// key, the issuer, the connector types).
	Federation Federation
	// MetadataClient fetches SAML service providers' metadata URLs (nil:
	// spmeta's default, with its timeout and https-only redirects).
	MetadataClient *http.Client
	// Keys are the signing-key managers ListKeys and RotateKeys use.
	Keys Keys
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Locks is what the Service needs of idp/lockout.
type Locks interface {
	// Unlock resets the user's failure count and ends their lock.
	Unlock(ctx context.Context, userID string) error
	// Status is the user's failure count and, when locked, its end.
	Status(ctx context.Context, userID string) (failures int, lockedUntil time.Time, err error)
}

// Limits of what an operator may store (README.md, "Limits"). Lengths of
// names are in characters; a domain is ASCII, so its bytes.
const (
	MaxDisplayName = 200
	MaxDomains     = 100
	MaxDomainLen   = 253
	MaxUserName    = 200
)

// checkText refuses a free-text field that storage cannot hold (NUL,
// invalid UTF-8) or that is longer than max characters. The value is never
// echoed: it may be megabytes.
func checkText(field, v string, max int) error {
	if !storage.Storable(v) {
		return inputErr("%s contains a NUL byte or invalid UTF-8", field)
	}
	if n := utf8.RuneCountInString(v); n > max {
		return inputErr("%s is %d characters long; the limit is %d", field, n, max)
	}
	return nil
}

// shorten bounds an operator's input quoted back in an error message.
func shorten(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

var orgNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// domainRE accepts lower-case DNS names; IDNs must arrive in punycode.
var domainRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

// CreateOrgInput describes a new organization.
type CreateOrgInput struct {
	Name        string
	DisplayName string
	Domains     []string
}

// CreateOrg creates an organization.
func (s *Service) CreateOrg(ctx context.Context, actor string, in CreateOrgInput) (storage.Organization, error) {
	name := strings.TrimSpace(in.Name)
	if !orgNameRE.MatchString(name) {
		return storage.Organization{}, inputErr("organization name %q: use 1-63 lower-case letters, digits and hyphens", shorten(in.Name))
	}
	if err := checkText("display_name", in.DisplayName, MaxDisplayName); err != nil {
		return storage.Organization{}, err
	}
	domains, err := normalizeDomains(in.Domains)
	if err != nil {
		return storage.Organization{}, err
	}
	now := s.Now()
	o := storage.Organization{
		ID: storage.NewID(), Name: name, DisplayName: firstNonEmpty(strings.TrimSpace(in.DisplayName), name),
		Domains: domains, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.Store.CreateOrganization(ctx, o); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return storage.Organization{}, conflictErr("organization %q or one of its domains already exists", name)
		}
		return storage.Organization{}, fmt.Errorf("create organization: %w", err)
	}
	if err := s.Audit.Record(ctx, storage.AuditEvent{Type: audit.OrgCreated, OrgID: o.ID, ActorID: actor,
		Details: map[string]string{"name": o.Name}}); err != nil {
		return o, err
	}
	return o, nil
}

func normalizeDomains(in []string) ([]string, error) {
	if len(in) > MaxDomains {
		return nil, inputErr("%d domains; an organization has at most %d", len(in), MaxDomains)
	}
	var out []string
	for _, d := range in {
		d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
		if len(d) > MaxDomainLen || !domainRE.MatchString(d) {
			return nil, inputErr("domain %q is not a valid DNS name of at most %d characters", shorten(d), MaxDomainLen)
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// ListOrgs lists organizations.
func (s *Service) ListOrgs(ctx context.Context) ([]storage.Organization, error) {
	orgs, err := s.Store.ListOrganizations(ctx)
	if err != nil {
		return nil, fmt.Errorf("list organizations: %w", err)
	}
	return orgs, nil
}

// CreateUserInput describes a new user. An empty Password creates an
// invited user who cannot log in until they set one through an invite.
type CreateUserInput struct {
	Email    string
	Name     string
	Org      string // organization name
	Password string
	// PasswordHash is an existing hash to keep (an import from another
	// IdP): an argon2id PHC string or bcrypt. It excludes Password.
	PasswordHash  string
	Admin         bool
	EmailVerified bool
	// Phone is the number as the operator typed it; CreateUser stores
	// its E.164 form (idp/phone.Parse). "" is none.
	Phone string
}

// CheckImportedHash is an InputError unless h is a hash Gatehouse can
// verify: an argon2id PHC string or bcrypt ($2a$, $2b$, $2y$).
func CheckImportedHash(h string) error {
	if password.CheckImported(h) != nil {
		return inputErr("password_hash is neither an argon2id PHC string nor a bcrypt hash with a cost of at most 14")
	}
	return nil
}

// CreateUser creates a user in an organization.
func (s *Service) CreateUser(ctx context.Context, actor string, in CreateUserInput) (storage.User, error) {
	email, err := ValidateEmail(in.Email)
	if err != nil {
		return storage.User{}, err
	}
	if err := checkText("name", strings.TrimSpace(in.Name), MaxUserName); err != nil {
		return storage.User{}, err
	}
	number, err := parsePhone(in.Phone)
	if err != nil {
		return storage.User{}, err
	}
	org, err := s.Store.GetOrganizationByName(ctx, in.Org)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, inputErr("organization %q does not exist", shorten(in.Org))
	} else if err != nil {
		return storage.User{}, fmt.Errorf("create user: %w", err)
	}
	now := s.Now()
	u := storage.User{
		ID: storage.NewID(), OrgID: org.ID, Email: email, EmailVerified: in.EmailVerified,
		Name: strings.TrimSpace(in.Name), Phone: number, State: storage.UserInvited, CreatedAt: now, UpdatedAt: now,
	}
	if in.Admin {
		u.Roles = []string{storage.RoleAdmin}
	}
	if in.PasswordHash != "" {
		if in.Password != "" {
			return storage.User{}, inputErr("give a password or a password hash, not both")
		}
		if err := CheckImportedHash(in.PasswordHash); err != nil {
			return storage.User{}, err
		}
		u.PasswordHash, u.State, u.PasswordChangedAt = in.PasswordHash, storage.UserActive, now
	}
	if in.Password != "" {
		if err := s.checkPassword(ctx, org, in.Password); err != nil {
			return storage.User{}, fmt.Errorf("create user: %w", err)
		}
		if u.PasswordHash, err = s.Hasher.Hash(ctx, in.Password); err != nil {
			return storage.User{}, fmt.Errorf("create user: %w", err)
		}
		u.State = storage.UserActive
		u.PasswordChangedAt = now
	}
	if err := s.Store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return storage.User{}, conflictErr("a user with email %q already exists", email)
		}
		return storage.User{}, fmt.Errorf("create user: %w", err)
	}
	ev := storage.AuditEvent{Type: audit.UserCreated, OrgID: org.ID, ActorID: actor, UserID: u.ID,
		Details: map[string]string{"state": string(u.State)}}
	if in.PasswordHash != "" {
		ev.Details["password"] = "imported hash"
	}
	if in.Admin {
		ev.Details["roles"] = storage.RoleAdmin
	}
	if number != "" {
		ev.Details["phone"] = phone.Mask(number)
	}
	return u, s.Audit.Record(ctx, ev)
}

// ValidateEmail returns the normalised form of a plain address (no display
// name), or an InputError.
func ValidateEmail(email string) (string, error) {
	// Checked before normalising: strings.ToLower turns invalid UTF-8
	// into U+FFFD, which would store an address nobody typed.
	e := storage.NormalizeEmail(email)
	if !storage.Storable(email) || len(e) > 254 {
		return "", inputErr("%q is not a valid email address", shorten(email))
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" {
		return "", inputErr("%q is not a valid email address", shorten(email))
	}
	return e, nil
}

// ListUsers lists users, optionally of one organization (by name).
func (s *Service) ListUsers(ctx context.Context, org string, afterEmail string, limit int) ([]storage.User, error) {
	return s.ListUsersInReach(ctx, Everyone, org, afterEmail, limit)
}

// DisableUser disables a user by email and ends everything they hold: browser
// sessions and every refresh and access token. A disabled user who kept a
// live refresh token would not really be disabled.
func (s *Service) DisableUser(ctx context.Context, actor, email string) (storage.User, error) {
	const op = "disable user"
	u, err := s.userByEmail(ctx, op, email)
	if err != nil {
		return u, err
	}
	return s.changeEndingAccess(ctx, actor, op, u.ID, audit.UserDisabled, func(u *storage.User) { u.State = storage.UserDisabled })
}

// BootstrapResult says what Bootstrap did. AdminPassword is set only when
// the admin was created by this call; it is shown once and never stored.
type BootstrapResult struct {
	OrgCreated bool
	// NoUsers is set when the install has no users and no admin was
	// created (adminEmail was empty): the operator must create one.
	NoUsers       bool
	AdminEmail    string
	AdminPassword string
}

// Bootstrap makes a fresh install usable: it ensures the default
// organization exists and, when there are no users at all and adminEmail is
// set, creates an admin with a random password. It is safe to run on every start and from
// several instances at once: the unique constraints decide one winner and
// the losers see ErrConflict and do nothing.
func (s *Service) Bootstrap(ctx context.Context, orgName, adminEmail string) (BootstrapResult, error) {
	var res BootstrapResult
	_, err := s.Store.GetOrganizationByName(ctx, orgName)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if _, err := s.CreateOrg(ctx, "bootstrap", CreateOrgInput{Name: orgName}); err != nil {
			if !errors.Is(err, storage.ErrConflict) { // a concurrent start created it: fine
				return res, fmt.Errorf("bootstrap organization: %w", err)
			}
		} else {
			res.OrgCreated = true
		}
	case err != nil:
		return res, fmt.Errorf("bootstrap: %w", err)
	}
	n, err := s.Store.CountUsers(ctx)
	if err != nil {
		return res, fmt.Errorf("bootstrap: %w", err)
	}
	if n > 0 {
		return res, nil
	}
	if adminEmail == "" {
		res.NoUsers = true
		return res, nil
	}
	pw, err := password.Generate(24)
	if err != nil {
		return res, err
	}
	u, err := s.CreateUser(ctx, "bootstrap", CreateUserInput{Email: adminEmail, Name: "Administrator", Org: orgName,
		Password: pw, Admin: true, EmailVerified: true})
	if err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return res, nil // another instance won the race
		}
		return res, fmt.Errorf("bootstrap admin: %w", err)
	}
	if err := s.Audit.Record(ctx, storage.AuditEvent{Type: audit.BootstrapAdminCreated, OrgID: u.OrgID, ActorID: "bootstrap", UserID: u.ID}); err != nil {
		return res, err
	}
	res.AdminEmail, res.AdminPassword = u.Email, pw
	return res, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
