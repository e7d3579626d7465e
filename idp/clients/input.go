package clients

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Grant types a client may be registered for. Implicit and password grants
// are deliberately absent: Gatehouse never serves them.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Access token formats.
const (
	AccessTokenOpaque = "opaque"
	AccessTokenJWT    = "jwt"
)

// DefaultIDTokenAlg signs the ID tokens of a client that registered no
// id_token_signed_response_alg (OpenID Connect Registration's default). It
// is stored as "", so that the default can be told from a choice.
const DefaultIDTokenAlg = "RS256"

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

	maxNameLen = 200
)

// DefaultGrantTypes and DefaultScopes apply when a client lists none.
// Callers must not modify them.
var (
	DefaultGrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
	DefaultScopes     = []string{"openid", "profile", "email", "offline_access"}
)

var (
	idRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	// scopeRE is RFC 6749 section 3.3's scope-token.
	scopeRE = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+$`)

	validGrants      = []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials}
	validIDTokenAlgs = []string{DefaultIDTokenAlg, "ES256", "EdDSA"}
	validFormats     = []string{AccessTokenOpaque, AccessTokenJWT}
)

// Input describes a client as an operator declares it: in the config file,
// with the CLI or through the admin API, each of which converts its own
// shape into this one. Zero values mean the defaults above.
type Input struct {
	ID   string
	Name string
	// Secret is a secret the operator supplies for a confidential client
	// (see CheckSecret). Empty means: generate one (the CLI and the API),
	// or an error for a declared client (DeclaredClient), whose generated
	// secret nobody would ever see.
	Secret                 string
	Public                 bool
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	Scopes                 []string
	// IDTokenSignedResponseAlg: "" (DefaultIDTokenAlg), RS256, ES256 or
	// EdDSA.
	IDTokenSignedResponseAlg string
	AccessTokenFormat        string
	AccessTokenTTL           time.Duration
	IDTokenTTL               time.Duration
	RefreshTokenTTL          time.Duration
	// RequireMFA refuses tokens for this client to users who did not
	// complete a second factor.
	RequireMFA bool
	// InitiateLoginURI is where a sign-in into the client starts from
	// Gatehouse's "My apps" (OpenID Connect Core §4); https only.
	InitiateLoginURI string
}

// inputFields has Input's fields without its methods, so that String can
// format a redacted copy without recursing.
type inputFields Input

func (in Input) redacted() inputFields {
	c := inputFields(in)
	if c.Secret != "" {
		c.Secret = "[redacted]"
	}
	return c
}

// String implements fmt.Stringer so %v and %+v never print the secret.
func (in Input) String() string { return fmt.Sprintf("%+v", in.redacted()) }

// GoString implements fmt.GoStringer so %#v never prints the secret.
func (in Input) GoString() string { return fmt.Sprintf("%#v", in.redacted()) }

// LogValue implements slog.LogValuer: the secret never reaches a log.
func (in Input) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", in.ID), slog.Bool("public", in.Public),
		slog.Bool("secret_set", in.Secret != ""), slog.Any("redirect_uris", in.RedirectURIs),
		slog.Any("grant_types", in.GrantTypes))
}

var (
	_ fmt.Stringer   = Input{}
	_ fmt.GoStringer = Input{}
	_ slog.LogValuer = Input{}
)

// FieldError is one problem with one field of an Input. Field is the key
// the config file and the admin API give the field ("redirect_uris"), so
// that each caller can report it at its own path ("clients[2].redirect_uris");
// Err says what is wrong without naming the field. Messages never quote a
// secret.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate checks in as the CLI and the admin API submit it, defaults
// applied. It returns every problem at once, joined with errors.Join, each
// a *FieldError. A confidential client may leave Secret empty: the caller
// generates one.
func (in Input) Validate() error { return in.withDefaults().validate(false) }

// Client validates in like Validate and returns the client it describes,
// defaults applied and the secret, if any, hashed. Bookkeeping (Source,
// OrgID, timestamps) is the caller's.
func (in Input) Client() (storage.Client, error) { return in.client(false) }

// DeclaredClient is Client for a client declared ahead of time (the config
// file): a confidential one must supply its secret, since a generated one
// would never be shown to anyone.
func (in Input) DeclaredClient() (storage.Client, error) { return in.client(true) }

func (in Input) client(declared bool) (storage.Client, error) {
	n := in.withDefaults()
	if err := n.validate(declared); err != nil {
		return storage.Client{}, err
	}
	c := storage.Client{
		ID: n.ID, Name: n.Name, Public: n.Public,
		RedirectURIs: n.RedirectURIs, PostLogoutRedirectURIs: n.PostLogoutRedirectURIs,
		GrantTypes: n.GrantTypes, Scopes: n.Scopes,
		IDTokenSignedResponseAlg: n.IDTokenSignedResponseAlg, AccessTokenFormat: n.AccessTokenFormat,
		AccessTokenTTL: n.AccessTokenTTL, IDTokenTTL: n.IDTokenTTL, RefreshTokenTTL: n.RefreshTokenTTL,
		RequireMFA: n.RequireMFA, InitiateLoginURI: n.InitiateLoginURI,
	}
	if !n.Public && n.Secret != "" {
		c.SecretHash = storage.HashSecret(n.Secret)
	}
	return c, nil
}

// withDefaults fills in the defaults and drops empty and repeated list
// entries. The lists are copies, so the stored client never shares memory
// with the caller's input. URIs are kept exactly as given: the
// authorization endpoint compares strings, so nothing is canonicalised.
func (in Input) withDefaults() Input {
	n := in
	n.Name = strings.TrimSpace(in.Name)
	if n.Name == "" {
		n.Name = in.ID
	}
	n.RedirectURIs = dedupe(in.RedirectURIs)
	n.PostLogoutRedirectURIs = dedupe(in.PostLogoutRedirectURIs)
	n.GrantTypes = orDefault(dedupe(in.GrantTypes), DefaultGrantTypes)
	n.Scopes = orDefault(dedupe(in.Scopes), DefaultScopes)
	n.AccessTokenFormat = cmp.Or(in.AccessTokenFormat, AccessTokenOpaque)
	n.AccessTokenTTL = cmp.Or(in.AccessTokenTTL, DefaultAccessTokenTTL)
	n.IDTokenTTL = cmp.Or(in.IDTokenTTL, DefaultIDTokenTTL)
	n.RefreshTokenTTL = cmp.Or(in.RefreshTokenTTL, DefaultRefreshTokenTTL)
	return n
}

// validate checks an input that has its defaults applied. errors.Join
// drops the nil results of the checks that passed.
func (in Input) validate(declared bool) error {
	errs := []error{CheckID(in.ID)}
	if len(in.Name) > maxNameLen {
		errs = append(errs, fieldErr("name", "is longer than %d characters", maxNameLen))
	}
	errs = append(errs, grantProblems(in.GrantTypes, in.Public)...)
	if slices.Contains(in.GrantTypes, GrantAuthorizationCode) && len(in.RedirectURIs) == 0 {
		errs = append(errs, fieldErr("redirect_uris", "at least one redirect URI is required for the authorization_code grant"))
	}
	errs = append(errs, uriProblems("redirect_uris", in.RedirectURIs)...)
	errs = append(errs, uriProblems("post_logout_redirect_uris", in.PostLogoutRedirectURIs)...)
	for _, s := range in.Scopes {
		if !scopeRE.MatchString(s) {
			errs = append(errs, fieldErr("scopes", "%q is not a valid scope token (no spaces, quotes or backslashes)", s))
		}
	}
	if in.IDTokenSignedResponseAlg != "" && !slices.Contains(validIDTokenAlgs, in.IDTokenSignedResponseAlg) {
		errs = append(errs, fieldErr("id_token_signed_response_alg", "%q is not one of %s",
			in.IDTokenSignedResponseAlg, strings.Join(validIDTokenAlgs, ", ")))
	}
	if in.InitiateLoginURI != "" {
		// OpenID Connect Core §4: it MUST use https. It is a link the
		// pages show, so nothing but an absolute https URL.
		if u, err := url.Parse(in.InitiateLoginURI); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(in.InitiateLoginURI) > 2048 {
			errs = append(errs, fieldErr("initiate_login_uri", "must be an absolute https URL (at most 2048 bytes)"))
		}
	}
	if !slices.Contains(validFormats, in.AccessTokenFormat) {
		errs = append(errs, fieldErr("access_token_format", "%q is not one of %s",
			in.AccessTokenFormat, strings.Join(validFormats, ", ")))
	}
	return errors.Join(append(errs,
		ttlProblem("access_token_ttl", in.AccessTokenTTL, MinAccessTokenTTL, MaxAccessTokenTTL),
		ttlProblem("id_token_ttl", in.IDTokenTTL, MinIDTokenTTL, MaxIDTokenTTL),
		ttlProblem("refresh_token_ttl", in.RefreshTokenTTL, MinRefreshTokenTTL, MaxRefreshTokenTTL),
		secretProblem(in.Public, in.Secret != "", declared, in.Secret),
	)...)
}

// CheckID checks a client id: required, and 1-128 letters, digits, '.',
// '_' or '-', so that it is safe in URLs, logs and the CLI's table.
func CheckID(id string) error {
	switch {
	case id == "":
		return fieldErr("id", "required")
	case !idRE.MatchString(id):
		return fieldErr("id", "%q is not valid: use 1-128 letters, digits, '.', '_' or '-'", id)
	}
	return nil
}

// CheckUniqueIDs checks that clients declared together (the config file's
// list) have distinct ids: two entries with one id would take turns
// overwriting one stored client. It maps the position of every entry whose
// id an earlier entry already has to a *FieldError on "id". Empty ids are
// CheckID's to report.
func CheckUniqueIDs(ids []string) map[int]error {
	out := map[int]error{}
	first := map[string]int{}
	for i, id := range ids {
		if id == "" {
			continue
		}
		if j, dup := first[id]; dup {
			out[i] = fieldErr("id", "%q is already the id of clients[%d]", id, j)
			continue
		}
		first[id] = i
	}
	return out
}

func grantProblems(grants []string, public bool) []error {
	var errs []error
	for _, g := range grants {
		if !slices.Contains(validGrants, g) {
			errs = append(errs, fieldErr("grant_types", "%q is not one of %s", g, strings.Join(validGrants, ", ")))
		}
	}
	if slices.Contains(grants, GrantRefreshToken) && !slices.Contains(grants, GrantAuthorizationCode) {
		errs = append(errs, fieldErr("grant_types",
			"refresh_token needs authorization_code: refresh tokens are only issued from an authorization code"))
	}
	if public && slices.Contains(grants, GrantClientCredentials) {
		errs = append(errs, fieldErr("grant_types",
			"a public client cannot use client_credentials: it has no secret to authenticate with"))
	}
	return errs
}

func ttlProblem(field string, v, lo, hi time.Duration) error {
	if v < lo || v > hi {
		return fieldErr(field, "must be between %v and %v, got %v", lo, hi, v)
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

func orDefault(list, def []string) []string {
	if len(list) == 0 {
		return slices.Clone(def)
	}
	return list
}

// InputOf is the input that describes c, for an edit of its settings: every
// field but the secret, which is stored only as a hash.
func InputOf(c storage.Client) Input {
	return Input{
		ID: c.ID, Name: c.Name, Public: c.Public,
		RedirectURIs: slices.Clone(c.RedirectURIs), PostLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs),
		GrantTypes: slices.Clone(c.GrantTypes), Scopes: slices.Clone(c.Scopes),
		IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg, AccessTokenFormat: c.AccessTokenFormat,
		AccessTokenTTL: c.AccessTokenTTL, IDTokenTTL: c.IDTokenTTL, RefreshTokenTTL: c.RefreshTokenTTL,
		RequireMFA: c.RequireMFA, InitiateLoginURI: c.InitiateLoginURI,
	}
}
