package admin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Grant types a client may be registered for. Implicit and password grants
// are deliberately absent: Gatehouse never serves them.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Where a client comes from (storage.Client.Source).
const (
	// SourceConfig clients are declared in the config file and reconciled
	// on every start; the file is their only source of truth.
	SourceConfig = "config"
	// SourceAPI clients are created at runtime by the CLI or the admin API.
	SourceAPI = "api"
)

// Access token formats.
const (
	AccessTokenOpaque = "opaque"
	AccessTokenJWT    = "jwt"
)

// Client defaults and bounds. The bounds keep a typo ("24000h") from
// minting tokens that outlive every key rotation, and keep a too-short TTL
// from turning every page load into a token refresh.
const (
	DefaultAccessTokenTTL  = time.Hour
	DefaultIDTokenTTL      = time.Hour
	DefaultRefreshTokenTTL = 30 * 24 * time.Hour

	MinAccessTokenTTL  = 5 * time.Minute
	MaxAccessTokenTTL  = 24 * time.Hour
	MinIDTokenTTL      = 5 * time.Minute
	MaxIDTokenTTL      = 24 * time.Hour
	MinRefreshTokenTTL = time.Hour
	MaxRefreshTokenTTL = 365 * 24 * time.Hour

	// ClientSecretBytes is the entropy of a generated secret: 256 bits,
	// so an unsalted SHA-256 at rest is as strong as the secret itself.
	ClientSecretBytes = 32
	// MinClientSecretLen is the floor for a secret an operator supplies.
	// 32 characters of anything printable is not 256 bits, but it rules
	// out passwords-as-secrets, which a fast hash would not protect.
	MinClientSecretLen = 32
	// maxClientSecretLen bounds what we hash per request.
	maxClientSecretLen = 1024

	maxClientNameLen = 200
	maxURILen        = 2048
	maxURIs          = 100
)

// DefaultGrantTypes and DefaultScopes apply when a client lists none.
var (
	DefaultGrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
	DefaultScopes     = []string{"openid", "profile", "email", "offline_access"}
)

var (
	clientIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	// scopeRE is RFC 6749 section 3.3's scope-token.
	scopeRE = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+$`)
)

var (
	validGrants      = []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials}
	validIDTokenAlgs = []string{"", "RS256", "ES256", "EdDSA"}
)

// ClientInput describes a client as an operator declares it (CLI, admin API
// or the config file). Zero values mean the defaults above. It is
// independent of the config package on purpose: admin must not import
// config, so the caller converts.
type ClientInput struct {
	ID   string
	Name string
	// Secret is a secret the operator supplies for a confidential client
	// (at least MinClientSecretLen characters). Empty means: generate one
	// (CreateClient), or an error for config clients, whose secret nobody
	// would ever see.
	Secret                   string
	Public                   bool
	RedirectURIs             []string
	PostLogoutRedirectURIs   []string
	GrantTypes               []string
	Scopes                   []string
	IDTokenSignedResponseAlg string
	AccessTokenFormat        string
	AccessTokenTTL           time.Duration
	IDTokenTTL               time.Duration
	RefreshTokenTTL          time.Duration
	RequireMFA               bool
}

// clientInputFields has ClientInput's fields without its methods, so that
// String can format a redacted copy without recursing.
type clientInputFields ClientInput

func (in ClientInput) redacted() clientInputFields {
	c := clientInputFields(in)
	if c.Secret != "" {
		c.Secret = "[redacted]"
	}
	return c
}

// String implements fmt.Stringer so %v and %+v never print the secret.
func (in ClientInput) String() string { return fmt.Sprintf("%+v", in.redacted()) }

// GoString implements fmt.GoStringer so %#v never prints the secret.
func (in ClientInput) GoString() string { return fmt.Sprintf("%#v", in.redacted()) }

// LogValue implements slog.LogValuer: the secret never reaches a log.
func (in ClientInput) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", in.ID), slog.Bool("public", in.Public),
		slog.Bool("secret_set", in.Secret != ""), slog.Any("redirect_uris", in.RedirectURIs),
		slog.Any("grant_types", in.GrantTypes))
}

var (
	_ fmt.Stringer   = ClientInput{}
	_ fmt.GoStringer = ClientInput{}
	_ slog.LogValuer = ClientInput{}
)

// NewClientSecret returns ClientSecretBytes from crypto/rand, base64url
// without padding (43 characters).
func NewClientSecret() string {
	b := make([]byte, ClientSecretBytes)
	// crypto/rand.Read never fails (it crashes the program instead).
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// dummySecretHash stands in for the hash of a client that has none (public
// or unknown), so VerifyClientSecret does the same work either way.
var dummySecretHash = storage.HashSecret("gatehouse: no client secret; this value is never accepted")

// VerifyClientSecret reports whether secret is c's client secret. It costs
// one SHA-256 and one constant-time compare whatever c is: a confidential
// client, a public client, or the zero Client the token endpoint passes for
// an unknown client id. That way the response time does not tell an
// attacker whether a client id exists, and the endpoint never pays for a
// password hash (client secrets are 256-bit random, so a fast hash is
// right). Public clients and empty secrets never verify.
func VerifyClientSecret(c storage.Client, secret string) bool {
	stored, usable := c.SecretHash, !c.Public && c.SecretHash != "" && secret != ""
	if stored == "" {
		stored = dummySecretHash
	}
	got := storage.HashSecret(secret)
	match := subtle.ConstantTimeCompare([]byte(got), []byte(stored)) == 1
	return match && usable
}

// ValidateRedirectURI checks one redirect_uri or post_logout_redirect_uri
// for registration. It accepts:
//
//   - https URLs with a host;
//   - http URLs whose host is localhost, 127.0.0.1 or [::1] (RFC 8252
//     section 7.3: native apps listening on loopback, any port);
//   - private-use schemes containing a dot, e.g. com.example.app:/cb (RFC
//     8252 section 7.1), which a reverse domain name makes unlikely to
//     collide with another app's.
//
// It rejects relative URIs, fragments (RFC 6749 section 3.1.2), wildcards
// (matching is exact, so a "*" is either a mistake or a hope for pattern
// matching we do not do), user info (https://good@evil confuses people
// reading the URI), and schemes that run code or read local files.
// The URI is stored exactly as given; the authorization endpoint compares
// strings, with no normalisation, so nothing here needs to canonicalise.
func ValidateRedirectURI(raw string) error {
	if raw == "" {
		return errors.New("is empty")
	}
	if len(raw) > maxURILen {
		return fmt.Errorf("is longer than %d characters", maxURILen)
	}
	shown := redactUserinfo(raw) // never echo a password pasted into a URI
	for _, r := range raw {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%q contains a space or control character", shown)
		}
	}
	if strings.Contains(raw, "#") {
		return fmt.Errorf("%q must not contain a fragment (#)", shown)
	}
	if strings.Contains(raw, `\`) {
		// Browsers read a backslash as a slash in http(s) URLs, so the
		// URI they follow would not be the one registered.
		return fmt.Errorf("%q must not contain a backslash", shown)
	}
	if strings.Contains(raw, "*") {
		return fmt.Errorf("%q must not contain a wildcard (*): redirect URIs are matched exactly", shown)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a valid URI", shown)
	}
	if u.Scheme == "" {
		return fmt.Errorf("%q must be an absolute URI with a scheme", shown)
	}
	if u.User != nil {
		return fmt.Errorf("%q must not contain user info (user@host)", shown)
	}
	switch u.Scheme {
	case "javascript", "data", "file", "vbscript":
		return fmt.Errorf("%q: the %s: scheme is not allowed", shown, u.Scheme)
	}
	if u.Opaque != "" {
		return fmt.Errorf("%q is not a hierarchical URI (expected scheme:/path or scheme://host/path)", shown)
	}
	switch {
	case u.Scheme == "https":
		if u.Host == "" || u.Hostname() == "" {
			return fmt.Errorf("%q must have a host", shown)
		}
	case u.Scheme == "http":
		if !isLoopbackHost(u.Hostname()) {
			return fmt.Errorf("%q: http is allowed only for localhost, 127.0.0.1 or [::1]; use https", shown)
		}
	case strings.Contains(u.Scheme, "."):
		// Private-use scheme for a native app.
	default:
		return fmt.Errorf("%q: scheme %q is not allowed (use https, http on loopback, or a private-use scheme with a dot such as com.example.app)", shown, u.Scheme)
	}
	return nil
}

// redactUserinfo hides the user info of a URI for error messages. It
// works on the raw text, so it also covers URIs that do not parse.
func redactUserinfo(raw string) string {
	_, rest, ok := strings.Cut(raw, "//")
	if !ok {
		return raw
	}
	end := strings.IndexAny(rest, `/?#\`)
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return raw
	}
	return raw[:len(raw)-len(rest)] + "xxxxx" + rest[at:]
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// problems collects every mistake in one input, so that an operator fixes
// them in one round.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) err(prefix string) error {
	if len(p) == 0 {
		return nil
	}
	return &InputError{Msg: prefix + strings.Join(p, "; ")}
}

// buildClient validates in and returns the client it describes, defaults
// applied, without bookkeeping (timestamps, source) and without a secret
// hash. It does not look at in.Secret beyond the rules
// that need no storage: length, and public clients having none.
func buildClient(in ClientInput) (storage.Client, error) {
	var p problems
	if !clientIDRE.MatchString(in.ID) {
		p.add("client id %q: use 1-128 letters, digits, '.', '_' or '-'", in.ID)
	}
	c := storage.Client{
		ID:                       in.ID,
		Name:                     strings.TrimSpace(in.Name),
		Public:                   in.Public,
		IDTokenSignedResponseAlg: in.IDTokenSignedResponseAlg,
		AccessTokenFormat:        firstNonEmpty(in.AccessTokenFormat, AccessTokenOpaque),
		RequireMFA:               in.RequireMFA,
	}
	if c.Name == "" {
		c.Name = in.ID
	}
	if len(c.Name) > maxClientNameLen {
		p.add("name is longer than %d characters", maxClientNameLen)
	}

	c.GrantTypes = dedupe(in.GrantTypes)
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = slices.Clone(DefaultGrantTypes)
	}
	for _, g := range c.GrantTypes {
		if !slices.Contains(validGrants, g) {
			p.add("grant type %q is not one of %s", g, strings.Join(validGrants, ", "))
		}
	}
	hasCode := slices.Contains(c.GrantTypes, GrantAuthorizationCode)
	if slices.Contains(c.GrantTypes, GrantRefreshToken) && !hasCode {
		p.add("grant type refresh_token needs authorization_code: refresh tokens are only issued from an authorization code")
	}
	if in.Public && slices.Contains(c.GrantTypes, GrantClientCredentials) {
		p.add("a public client cannot use client_credentials: it has no secret to authenticate with")
	}

	c.RedirectURIs = dedupe(in.RedirectURIs)
	if hasCode && len(c.RedirectURIs) == 0 {
		p.add("at least one redirect URI is required for the authorization_code grant")
	}
	checkURIs(&p, "redirect URI", c.RedirectURIs)
	c.PostLogoutRedirectURIs = dedupe(in.PostLogoutRedirectURIs)
	checkURIs(&p, "post-logout redirect URI", c.PostLogoutRedirectURIs)

	c.Scopes = dedupe(in.Scopes)
	if len(c.Scopes) == 0 {
		c.Scopes = slices.Clone(DefaultScopes)
	}
	for _, s := range c.Scopes {
		if !scopeRE.MatchString(s) {
			p.add("scope %q is not a valid scope token (no spaces, quotes or backslashes)", s)
		}
	}

	if !slices.Contains(validIDTokenAlgs, c.IDTokenSignedResponseAlg) {
		p.add("id_token_signed_response_alg %q is not one of RS256, ES256, EdDSA", c.IDTokenSignedResponseAlg)
	}
	if c.AccessTokenFormat != AccessTokenOpaque && c.AccessTokenFormat != AccessTokenJWT {
		p.add("access_token_format %q is not one of opaque, jwt", c.AccessTokenFormat)
	}
	c.AccessTokenTTL = ttl(&p, "access_token_ttl", in.AccessTokenTTL, DefaultAccessTokenTTL, MinAccessTokenTTL, MaxAccessTokenTTL)
	c.IDTokenTTL = ttl(&p, "id_token_ttl", in.IDTokenTTL, DefaultIDTokenTTL, MinIDTokenTTL, MaxIDTokenTTL)
	c.RefreshTokenTTL = ttl(&p, "refresh_token_ttl", in.RefreshTokenTTL, DefaultRefreshTokenTTL, MinRefreshTokenTTL, MaxRefreshTokenTTL)

	if in.Public && in.Secret != "" {
		p.add("a public client has no secret")
	}
	if in.Secret != "" {
		if err := checkSuppliedSecret(in.Secret); err != nil {
			p.add("%s", err.Error())
		}
	}
	return c, p.err("")
}

func checkURIs(p *problems, what string, uris []string) {
	if len(uris) > maxURIs {
		p.add("at most %d %ss are allowed", maxURIs, what)
		return
	}
	for _, u := range uris {
		if err := ValidateRedirectURI(u); err != nil {
			p.add("%s %s", what, err.Error())
		}
	}
}

func ttl(p *problems, name string, v, def, lo, hi time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	if v < lo || v > hi {
		p.add("%s must be between %v and %v, got %v", name, lo, hi, v)
	}
	return v
}

// checkSuppliedSecret never quotes the secret.
func checkSuppliedSecret(s string) error {
	if len(s) < MinClientSecretLen {
		return fmt.Errorf("a client secret must be at least %d characters (got %d)", MinClientSecretLen, len(s))
	}
	if len(s) > maxClientSecretLen {
		return fmt.Errorf("a client secret must be at most %d characters", maxClientSecretLen)
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return errors.New("a client secret must not contain control characters")
		}
	}
	return nil
}

// dedupe drops empty and repeated entries, keeping the first order.
func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func clientNotFound(id string) error {
	return &InputError{Msg: fmt.Sprintf("no client with id %q", id), Err: storage.ErrNotFound}
}

// CreateClient registers a runtime ("api") client. For a confidential
// client it generates a secret unless in.Secret supplies one; the generated
// secret is returned once and only its hash is stored. secret is empty
// when the caller supplied it (they already know it) or the client is
// public.
func (s *Service) CreateClient(ctx context.Context, actor string, in ClientInput) (c storage.Client, secret string, err error) {
	c, err = buildClient(in)
	if err != nil {
		return storage.Client{}, "", err
	}
	if !c.Public {
		plain := in.Secret
		if plain == "" {
			plain = NewClientSecret()
			secret = plain
		}
		c.SecretHash = storage.HashSecret(plain)
	}
	now := s.Now()
	c.Source, c.CreatedAt, c.UpdatedAt = SourceAPI, now, now
	if err := s.Store.CreateClient(ctx, c); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return storage.Client{}, "", conflictErr("a client with id %q already exists", c.ID)
		}
		return storage.Client{}, "", fmt.Errorf("create client: %w", err)
	}
	if err := s.Audit.Record(ctx, storage.AuditEvent{Type: audit.ClientCreated, ActorID: actor, ClientID: c.ID,
		Details: clientAuditDetails(c)}); err != nil {
		return c, "", err
	}
	return c, secret, nil
}

func clientAuditDetails(c storage.Client) map[string]string {
	return map[string]string{"source": c.Source, "public": fmt.Sprint(c.Public),
		"grant_types": strings.Join(c.GrantTypes, " "), "redirect_uris": strings.Join(c.RedirectURIs, " ")}
}

// ListClients lists every client, ordered by id. The rows carry secret
// hashes: callers show them through ViewClient.
func (s *Service) ListClients(ctx context.Context) ([]storage.Client, error) {
	cs, err := s.Store.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return cs, nil
}

// GetClient returns one client; an unknown id is an *InputError wrapping
// storage.ErrNotFound.
func (s *Service) GetClient(ctx context.Context, id string) (storage.Client, error) {
	c, err := s.Store.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Client{}, clientNotFound(id)
	} else if err != nil {
		return storage.Client{}, fmt.Errorf("get client: %w", err)
	}
	return c, nil
}

// configManaged is the error, an InputError wrapping storage.ErrConflict,
// returned when the CLI or API tries to change a config client:
// the next start would silently undo the change.
func configManaged(id string) error {
	return conflictErr("client %q is declared in the config file; change it there", id)
}

// DeleteClient deletes a runtime client. Config clients are refused.
//
// Tokens already issued to the client are not revoked here (storage has no
// per-client revocation yet); the token and introspection endpoints must
// look the client up and refuse tokens of a client that no longer exists.
func (s *Service) DeleteClient(ctx context.Context, actor, id string) error {
	c, err := s.GetClient(ctx, id)
	if err != nil {
		return err
	}
	if c.Source == SourceConfig {
		return configManaged(id)
	}
	if err := s.Store.DeleteClient(ctx, id); errors.Is(err, storage.ErrNotFound) {
		return clientNotFound(id)
	} else if err != nil {
		return fmt.Errorf("delete client: %w", err)
	}
	return s.Audit.Record(ctx, storage.AuditEvent{Type: audit.ClientDeleted, ActorID: actor, ClientID: id,
		Details: map[string]string{"source": c.Source}})
}

// RotateClientSecret replaces a confidential runtime client's secret, at
// once: the old secret stops working with this call. supplied, when not
// empty, is the new secret (at least MinClientSecretLen characters);
// otherwise one is generated and returned, once. newSecret is empty when
// supplied was used.
func (s *Service) RotateClientSecret(ctx context.Context, actor, id, supplied string) (newSecret string, err error) {
	plain := supplied
	if plain == "" {
		plain = NewClientSecret()
		newSecret = plain
	} else if err := checkSuppliedSecret(plain); err != nil {
		return "", &InputError{Msg: err.Error()}
	}
	hash := storage.HashSecret(plain)
	now := s.Now()
	_, err = s.Store.UpdateClient(ctx, id, func(c storage.Client) (storage.Client, error) {
		if c.Source == SourceConfig {
			return c, configManaged(id)
		}
		if c.Public {
			return c, inputErr("client %q is public and has no secret", id)
		}
		c.SecretHash, c.UpdatedAt = hash, now
		return c, nil
	})
	var ie *InputError
	switch {
	case errors.As(err, &ie):
		return "", ie
	case errors.Is(err, storage.ErrNotFound):
		return "", clientNotFound(id)
	case err != nil:
		return "", fmt.Errorf("rotate client secret: %w", err)
	}
	if err := s.Audit.Record(ctx, storage.AuditEvent{Type: audit.ClientSecretRotated, ActorID: actor, ClientID: id,
		Details: map[string]string{"generated": fmt.Sprint(supplied == "")}}); err != nil {
		return "", err
	}
	return newSecret, nil
}

// configActor is the audit actor of changes made by reconciliation.
const configActor = "config"

// errUnchanged aborts an update that would write nothing, so an unchanged
// config file costs no writes and no audit events on every start.
var errUnchanged = errors.New("unchanged")

// ReconcileConfigClients makes the config clients in storage match inputs,
// the clients declared in the config file: missing ones are created,
// changed ones updated, and config clients no longer declared deleted.
// Runtime ("api") clients are never touched; a declared id that belongs to
// one is an error. Every input is validated before anything changes, and
// all problems are reported together. Config clients must supply their
// secret: a generated one would never be shown to anyone.
//
// It runs on every start, possibly on several instances at once; each step
// tolerates another instance having done it first.
func (s *Service) ReconcileConfigClients(ctx context.Context, inputs []ClientInput) error {
	existing, err := s.ListClients(ctx)
	if err != nil {
		return fmt.Errorf("reconcile config clients: %w", err)
	}
	byID := map[string]storage.Client{}
	for _, c := range existing {
		byID[c.ID] = c
	}
	var errs []error
	want := make([]storage.Client, 0, len(inputs))
	seen := map[string]bool{}
	for i, in := range inputs {
		prefix := fmt.Sprintf("clients[%d] (id %q): ", i, in.ID)
		if seen[in.ID] {
			errs = append(errs, &InputError{Msg: prefix + "the id is declared twice"})
			continue
		}
		seen[in.ID] = true
		c, err := buildClient(in)
		if err != nil {
			errs = append(errs, &InputError{Msg: prefix + err.Error()})
			continue
		}
		switch {
		case !c.Public && in.Secret == "":
			errs = append(errs, &InputError{Msg: prefix + "a confidential client needs secret or secret_file"})
		case byID[c.ID].ID != "" && byID[c.ID].Source != SourceConfig:
			errs = append(errs, &InputError{Msg: prefix + "a client with this id was created through the CLI or admin API; " +
				"delete it or rename the config entry", Err: storage.ErrConflict})
		}
		if !c.Public {
			c.SecretHash = storage.HashSecret(in.Secret)
		}
		c.Source = SourceConfig
		want = append(want, c)
	}
	if len(errs) > 0 {
		return fmt.Errorf("config clients: %w", errors.Join(errs...))
	}
	for _, c := range want {
		if err := s.reconcileOne(ctx, c, byID[c.ID].ID != ""); err != nil {
			return fmt.Errorf("reconcile config client %q: %w", c.ID, err)
		}
	}
	for _, old := range existing {
		if old.Source != SourceConfig || seen[old.ID] {
			continue
		}
		err := s.Store.DeleteClient(ctx, old.ID)
		if errors.Is(err, storage.ErrNotFound) {
			continue // another instance deleted it
		} else if err != nil {
			return fmt.Errorf("reconcile config clients: delete %q: %w", old.ID, err)
		}
		if err := s.Audit.Record(ctx, storage.AuditEvent{Type: audit.ClientDeleted, ActorID: configActor, ClientID: old.ID,
			Details: map[string]string{"source": SourceConfig}}); err != nil {
			return err
		}
	}
	return nil
}

// reconcileOne creates or updates one config client. exists is a hint from
// the listing; a concurrent start may have changed the truth since.
func (s *Service) reconcileOne(ctx context.Context, want storage.Client, exists bool) error {
	now := s.Now()
	if !exists {
		c := want
		c.CreatedAt, c.UpdatedAt = now, now
		err := s.Store.CreateClient(ctx, c)
		if err == nil {
			return s.Audit.Record(ctx, storage.AuditEvent{Type: audit.ClientCreated, ActorID: configActor, ClientID: c.ID,
				Details: clientAuditDetails(c)})
		}
		if !errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("create: %w", err)
		}
		// Another instance created it first: fall through and update.
	}
	var changed []string
	_, err := s.Store.UpdateClient(ctx, want.ID, func(old storage.Client) (storage.Client, error) {
		if old.Source != SourceConfig {
			return old, conflictErr("a client with this id was created through the CLI or admin API")
		}
		changed = clientChanges(old, want)
		if len(changed) == 0 {
			return old, errUnchanged
		}
		next := want
		next.OrgID, next.CreatedAt, next.UpdatedAt = old.OrgID, old.CreatedAt, now
		return next, nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return nil
	case err != nil:
		return fmt.Errorf("update: %w", err)
	}
	return s.Audit.Record(ctx, storage.AuditEvent{Type: audit.ClientUpdated, ActorID: configActor, ClientID: want.ID,
		Details: map[string]string{"source": SourceConfig, "changed": strings.Join(changed, " ")}})
}

// clientChanges names the settings that differ between a and b. The secret
// shows as "secret", never its hash.
func clientChanges(a, b storage.Client) []string {
	var out []string
	add := func(name string, differs bool) {
		if differs {
			out = append(out, name)
		}
	}
	add("name", a.Name != b.Name)
	add("secret", a.SecretHash != b.SecretHash)
	add("public", a.Public != b.Public)
	add("redirect_uris", !slices.Equal(a.RedirectURIs, b.RedirectURIs))
	add("post_logout_redirect_uris", !slices.Equal(a.PostLogoutRedirectURIs, b.PostLogoutRedirectURIs))
	add("grant_types", !slices.Equal(a.GrantTypes, b.GrantTypes))
	add("scopes", !slices.Equal(a.Scopes, b.Scopes))
	add("id_token_signed_response_alg", a.IDTokenSignedResponseAlg != b.IDTokenSignedResponseAlg)
	add("access_token_format", a.AccessTokenFormat != b.AccessTokenFormat)
	add("access_token_ttl", a.AccessTokenTTL != b.AccessTokenTTL)
	add("id_token_ttl", a.IDTokenTTL != b.IDTokenTTL)
	add("refresh_token_ttl", a.RefreshTokenTTL != b.RefreshTokenTTL)
	add("require_mfa", a.RequireMFA != b.RequireMFA)
	return out
}

// ClientView is how a client is shown to operators (CLI JSON, admin API).
// It has no secret hash field at all, so no caller can leak one by
// accident.
type ClientView struct {
	ID                       string    `json:"id"`
	Name                     string    `json:"name"`
	Public                   bool      `json:"public"`
	HasSecret                bool      `json:"has_secret"`
	RedirectURIs             []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs   []string  `json:"post_logout_redirect_uris"`
	GrantTypes               []string  `json:"grant_types"`
	Scopes                   []string  `json:"scopes"`
	IDTokenSignedResponseAlg string    `json:"id_token_signed_response_alg"`
	AccessTokenFormat        string    `json:"access_token_format"`
	AccessTokenTTL           string    `json:"access_token_ttl"`
	IDTokenTTL               string    `json:"id_token_ttl"`
	RefreshTokenTTL          string    `json:"refresh_token_ttl"`
	RequireMFA               bool      `json:"require_mfa"`
	Source                   string    `json:"source"`
	CreatedAt                time.Time `json:"created_at"`
	UpdatedAt                time.Time `json:"updated_at"`
}

// ViewClient returns c as shown to operators. Lists are never null in
// JSON, and TTLs are Go duration strings ("1h0m0s"), the same syntax the
// config file and the API accept.
func ViewClient(c storage.Client) ClientView {
	alg := c.IDTokenSignedResponseAlg
	if alg == "" {
		alg = "RS256"
	}
	return ClientView{
		ID: c.ID, Name: c.Name, Public: c.Public, HasSecret: c.SecretHash != "",
		RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		GrantTypes: nonNil(c.GrantTypes), Scopes: nonNil(c.Scopes),
		IDTokenSignedResponseAlg: alg, AccessTokenFormat: c.AccessTokenFormat,
		AccessTokenTTL: c.AccessTokenTTL.String(), IDTokenTTL: c.IDTokenTTL.String(), RefreshTokenTTL: c.RefreshTokenTTL.String(),
		RequireMFA: c.RequireMFA, Source: c.Source, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
