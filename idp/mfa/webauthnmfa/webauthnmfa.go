package webauthnmfa

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Name is the method's name in forms and the audit log, and the Kind of
// the factors it proves.
const Name = mfa.WebAuthn

// Form fields.
const (
	// FieldCredential is the JSON of the PublicKeyCredential the page
	// script got from navigator.credentials (its toJSON()).
	FieldCredential = "credential"
	// FieldLabel is what the user calls a new key (BeginEnrol).
	FieldLabel = "label"
)

// RFC 8176 values of the proof.
const (
	// AMRHardwareKey: proof of possession of a hardware-secured key.
	AMRHardwareKey = "hwk"
	// AMRSoftwareKey: proof of possession of a key that may live in
	// software (a synced passkey: the backup-eligible flag).
	AMRSoftwareKey = "swk"
	// AMRUser: the authenticator verified its user (the UV flag).
	AMRUser = "user"
)

const (
	// CeremonyTTL bounds a challenge's life: the browser's prompt times
	// out well before it.
	CeremonyTTL = 5 * time.Minute
	// EnrolTTL bounds a pending key: leaving the page abandons it.
	EnrolTTL = 10 * time.Minute
	// MaxInput is the most of FieldCredential read: a real response is a
	// few kilobytes.
	MaxInput = 64 << 10
	// MaxLabel is the longest label, in characters.
	MaxLabel = 64
	// DefaultLabel names a key the user did not name.
	DefaultLabel = "Security key"
	// MinKey is the shortest user-handle key accepted, in bytes.
	MinKey = 32
)

// Failure reasons in the audit log.
const (
	ReasonMalformed = "malformed_credential"
	// ReasonNoChallenge: no live challenge in this login (none issued,
	// already spent by a finish attempt, or for another ceremony).
	ReasonNoChallenge = "no_challenge"
	ReasonExpired     = "challenge_expired"
	// ReasonReplayed: the factor proved a login after this challenge was
	// issued, or with this very challenge.
	ReasonReplayed = "challenge_replayed"
	// ReasonUnknownCredential: the key is none of the factors that count
	// for this user (another user's, removed, not registered).
	ReasonUnknownCredential = "unknown_credential"
	ReasonWrongOrigin       = "wrong_origin"
	ReasonWrongRPID         = "wrong_rp_id"
	// ReasonInvalid: the response failed another check (signature,
	// flags, challenge, attestation).
	ReasonInvalid = "invalid_credential"
	// ReasonSignCount: the key's signature counter went backwards, a sign
	// of a cloned key. The factor is flagged.
	ReasonSignCount = "sign_count_regression"
	// ReasonFlagged: the key was flagged by an earlier ReasonSignCount.
	ReasonFlagged   = "flagged_credential"
	ReasonDuplicate = "duplicate_credential"
	// ReasonTaken: the credential id is registered to another factor
	// (another account's): WebAuthn asks that a credential id belong to
	// one account only.
	ReasonTaken = "credential_taken"
	// ReasonNoUser: a passkey's response carries a user handle that is
	// not its factor's user's.
	ReasonNoUser       = "user_handle_mismatch"
	ReasonBadLabel     = "malformed_label"
	ReasonEnrolExpired = "enrolment_expired"
	ReasonUsed         = "enrolment_used"
)

// What a page tells the user (Failure.Show, View.Notice), in plain words.
var (
	ErrRetry      = errors.New("Your security key's answer could not be read. Try again.")
	ErrExpired    = errors.New("This request has expired. Try your security key again.")
	ErrUnknownKey = errors.New("This security key is not registered to your account. Try another key or another method.")
	ErrFlagged    = errors.New("This security key may have been copied, so it can no longer sign you in. Use another method, and remove the key from your account.")
	ErrNoKey      = errors.New("None of your security keys can sign you in. Use another method.")
	ErrDuplicate  = errors.New("This security key is already registered to your account.")
	ErrTaken      = errors.New("This security key is already registered. Use another key.")
	ErrBadLabel   = errors.New("Name the key in at most 64 characters, without line breaks.")
)

// ErrIPAddress is what New wraps for an issuer whose host is an IP
// address: WebAuthn's RP ID must be a domain name.
var ErrIPAddress = errors.New("webauthnmfa: the issuer's host is an IP address, which WebAuthn forbids as a relying party id; serve the issuer on a domain name (localhost in development)")

// Store is the storage the method writes.
type Store interface {
	CreateFactor(ctx context.Context, f storage.Factor) error
	GetFactor(ctx context.Context, id string) (storage.Factor, error)
	ConfirmFactor(ctx context.Context, id string, now time.Time, replace ...string) (storage.Factor, error)
	SetFactorData(ctx context.Context, id string, data []byte, now time.Time) error
	// Passkey sign-in finds a key by its credential id (Factor.Lookup).
	SetFactorLookup(ctx context.Context, id, lookup string, now time.Time) error
	FindFactor(ctx context.Context, kind, lookup string) (storage.Factor, error)
	TouchFactor(ctx context.Context, id string, now time.Time) error
}

var _ Store = storage.Factors(nil)

// Config is what New needs.
type Config struct {
	// Issuer is the public base URL (https://id.example.com[:port]/...):
	// its host is the RP ID, its origin the only origin accepted.
	Issuer string
	// RPDisplayName is what the browser's prompt calls the site; ""
	// is "Gatehouse".
	RPDisplayName string
	// Key keys the user handles (HMAC-SHA256 of the user id), at least
	// MinKey bytes; derive it from the master key.
	Key   []byte
	Store Store
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger gets refused ceremonies' details and flagged keys; nil is
	// slog.Default().
	Logger *slog.Logger
}

// Method runs the security-key ceremonies. Make it with New; it is then
// safe for concurrent use.
type Method struct {
	wa     *webauthn.WebAuthn
	rpID   string
	origin string
	key    []byte
	store  Store
	now    func() time.Time
	logger *slog.Logger
}

var _ authflow.Enroller = (*Method)(nil)

// New checks c, all of it at once, and returns the method.
func New(c Config) (*Method, error) {
	rpID, origin, err := relyingParty(c.Issuer)
	errs := []error{err}
	if len(c.Key) < MinKey {
		errs = append(errs, fmt.Errorf("webauthnmfa: the user-handle key has %d bytes; want at least %d", len(c.Key), MinKey))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("webauthnmfa: no store"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	name := c.RPDisplayName
	if name == "" {
		name = "Gatehouse"
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID: rpID, RPDisplayName: name, RPOrigins: []string{origin},
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementPreferred,
			RequireResidentKey: protocol.ResidentKeyNotRequired(),
			UserVerification:   protocol.VerificationPreferred,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("webauthnmfa: %w", err)
	}
	m := &Method{wa: wa, rpID: rpID, origin: origin, key: append([]byte(nil), c.Key...), store: c.Store,
		now: c.Now, logger: c.Logger}
	if m.now == nil {
		m.now = time.Now
	}
	if m.logger == nil {
		m.logger = slog.Default()
	}
	return m, nil
}

// relyingParty is the RP ID (host, no port) and the origin
// (scheme://host[:port], without a default port) of issuer.
func relyingParty(issuer string) (rpID, origin string, err error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return "", "", fmt.Errorf("webauthnmfa: the issuer is not a URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || u.User != nil {
		return "", "", fmt.Errorf("webauthnmfa: the issuer %q is not an http(s) URL with a host", issuer)
	}
	host := strings.ToLower(u.Hostname())
	if net.ParseIP(host) != nil {
		return "", "", fmt.Errorf("%w (%s)", ErrIPAddress, host)
	}
	if err := protocol.ValidateRPID(host); err != nil {
		return "", "", fmt.Errorf("webauthnmfa: the issuer's host %q is no relying party id: %w", host, err)
	}
	origin = u.Scheme + "://" + host
	if p := u.Port(); p != "" && !(u.Scheme == "https" && p == "443") && !(u.Scheme == "http" && p == "80") {
		origin += ":" + p
	}
	return host, origin, nil
}

// RPID is the relying party id: the issuer's host.
func (m *Method) RPID() string { return m.rpID }

// Origin is the one origin a response may come from.
func (m *Method) Origin() string { return m.origin }

// Name is "webauthn".
func (m *Method) Name() string { return Name }

// UserHandle is u's WebAuthn user handle: HMAC-SHA256(Key, user id). The
// authenticator stores it with the credential and returns it, so it must
// be stable for the life of the account, and WebAuthn asks that it reveal
// nothing about the user: it is not the user id itself (which appears in
// URLs and logs), and without the key it cannot be guessed from one or
// linked to one. Deriving it spares storage a per-user column.
func (m *Method) UserHandle(userID string) []byte {
	mac := hmac.New(sha256.New, m.key)
	mac.Write([]byte("gatehouse webauthn user handle\x00"))
	mac.Write([]byte(userID))
	return mac.Sum(nil)
}

// user is go-webauthn's view of a user and the credentials that count.
type user struct {
	handle []byte
	name   string
	creds  []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.handle }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.name }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

var _ webauthn.User = (*user)(nil)

func (m *Method) userOf(u storage.User, keys []key) *user {
	name := u.Email
	if name == "" {
		name = u.Name
	}
	if name == "" {
		name = u.ID
	}
	out := &user{handle: m.UserHandle(u.ID), name: name}
	for _, k := range keys {
		out.creds = append(out.creds, k.rec.credential())
	}
	return out
}

// checkTurn refuses a turn without a login or a user: a challenge is bound
// to both, so this is the caller's bug, not the user's.
func checkTurn(t authflow.Turn) error {
	if t.Request.ID == "" || t.User.ID == "" {
		return errors.New("webauthnmfa: the turn names no login or no user")
	}
	return nil
}

func failure(t authflow.Turn, reason string, show error) *authflow.Failure {
	return &authflow.Failure{User: t.User, Reason: reason, Show: show, State: spentState()}
}

// proof is what a response with authenticator flags fl proved: hwk for
// a key bound to its device, swk for one that may be backed up and synced
// (the BE flag: a synced passkey's private key lives in software across
// the user's devices), and user when the authenticator verified its user.
func proof(t authflow.Turn, fl protocol.AuthenticatorFlags, event string) authflow.Proof {
	amr := []string{AMRHardwareKey}
	if fl.HasBackupEligible() {
		amr = []string{AMRSoftwareKey}
	}
	if fl.HasUserVerified() {
		amr = append(amr, AMRUser)
	}
	return authflow.Proof{UserID: t.User.ID, AMR: amr, Event: event}
}
