package selfservice

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Paths of the pages that serve the links (ui mounts them; the links in
// emails point at them).
const (
	PathForgot = "/password/forgot"
	PathReset  = "/password/reset"
	PathInvite = "/invite"
	PathRenew  = "/password/renew"
	PathChange = "/me/password"
)

// Defaults.
const (
	DefaultResetTTL  = time.Hour
	DefaultInviteTTL = 72 * time.Hour
)

// Mail templates the service sends (idp/notify has one of each).
const (
	TemplateReset           = "reset"
	TemplateInvite          = "invite"
	TemplatePasswordChanged = "password_changed"
	TemplateMFAChanged      = "mfa_changed"
)

var (
	// ErrRateLimited: too many links were asked for this address or from
	// this network. The answer is the same for every address.
	ErrRateLimited = errors.New("selfservice: too many requests")
	// ErrSendFailed: the mail server (or, for a phone factor, the SMS
	// gateway) did not take the message. The wrapped error has the
	// detail, for the log; a link already stored stays valid.
	ErrSendFailed = errors.New("selfservice: the message could not be sent")
	// ErrLinkInvalid: the link is unknown, expired, used or voided, or its
	// account can no longer use it.
	ErrLinkInvalid = errors.New("selfservice: the link is not valid")
	// ErrWrongPassword: the current password is wrong, or the account is
	// locked (the same answer, so a lock does not tell).
	ErrWrongPassword = errors.New("selfservice: the current password is not correct")
	// ErrNoPassword: the account signs in without a password (SSO).
	ErrNoPassword = errors.New("selfservice: the account has no password")
	// ErrNotInvited: an invite was asked for an account that is not
	// waiting for one.
	ErrNotInvited = errors.New("selfservice: the account is not waiting for an invite")
	// ErrAttemptRefused is what a Guard's refusal wraps.
	ErrAttemptRefused = errors.New("selfservice: attempt refused by the lockout")
	// ErrMismatch: the two new passwords differ.
	ErrMismatch = errors.New("The two passwords do not match.")
)

// UserMessage is what to tell the user about err, when err is a refusal
// of the new password itself (a policy rule, the two fields differing):
// the plain words of the rule. ok is false for every other error.
func UserMessage(err error) (msg string, ok bool) {
	var pe *password.PolicyError
	switch {
	case errors.As(err, &pe):
		return pe.Error(), true
	case errors.Is(err, ErrMismatch):
		return ErrMismatch.Error(), true
	}
	return "", false
}

// Store is the storage the service uses.
type Store interface {
	GetUser(ctx context.Context, id string) (storage.User, error)
	GetUserByEmail(ctx context.Context, email string) (storage.User, error)
	UpdateUser(ctx context.Context, id string, fn func(storage.User) (storage.User, error)) (storage.User, error)
	GetOrganization(ctx context.Context, id string) (storage.Organization, error)
	CreateOneTimeToken(ctx context.Context, t storage.OneTimeToken) error
	GetOneTimeToken(ctx context.Context, purpose, hash string) (storage.OneTimeToken, error)
	ConsumeOneTimeToken(ctx context.Context, purpose, hash string, now time.Time) (storage.OneTimeToken, error)
	DeleteUserSessions(ctx context.Context, userID string) (int, error)
	DeleteOtherUserSessions(ctx context.Context, userID, keepHash string) (int, error)
	// The sessions page (/me/sessions) lists and ends the user's own.
	ListUserSessions(ctx context.Context, userID string, now time.Time) ([]storage.Session, error)
	DeleteUserSession(ctx context.Context, userID, hash string) error
	RevokeUserTokens(ctx context.Context, userID string, now time.Time) (int, error)
	// RevokeSessionTokens ends what applications got from a session
	// signed out.
	RevokeSessionTokens(ctx context.Context, sessionID string, now time.Time) (int, error)
	FactorStore
}

var _ Store = storage.Storage(nil)

// Rules checks a new password against the user's organization policy.
type Rules interface {
	// Check refuses pw as u's new password with a *password.PolicyError
	// that names the rule in plain words; any other error is an outage.
	// selfService applies the minimum password age (a change or reset
	// the user asked for; an invite or an administrator's link does not).
	Check(ctx context.Context, u storage.User, pw string, selfService bool) error
}

// Mailer renders a template and sends it.
type Mailer interface {
	Mail(ctx context.Context, template, to string, d MailData) error
}

// Prober is a Mailer that can check its server without sending, so that
// an address with no account meets the same outage as one with.
type Prober interface {
	Probe(ctx context.Context) error
}

// MailData is what the templates show.
type MailData struct {
	Org     string // the organization's display name ("" for none)
	User    string
	Email   string
	Link    string
	Expires time.Duration
	// Change is what a notice of a change to the second factors says
	// changed, in one sentence; At is when.
	Change string
	At     time.Time
}

// Limiter counts an event under key and reports whether it is allowed.
type Limiter interface {
	Allow(ctx context.Context, key string) (bool, error)
}

// Guard is the account lockout (idp/lockout): one API for every secret.
type Guard interface {
	// Reserve admits one attempt at userID's secret from ip. An error
	// wrapping ErrAttemptRefused (locked, throttled) refuses it before
	// anything is checked; any other error is an outage.
	Reserve(ctx context.Context, userID, ip string) (Attempt, error)
}

// Unlocker is a Guard that can end an account's temporary lock: a reset
// from the account's own mailbox ends it (whoever locked the account by
// guessing cannot read that mailbox; whoever can could reset anyway).
type Unlocker interface {
	Unlock(ctx context.Context, userID string) error
}

// Attempt is one admitted attempt.
type Attempt interface {
	Failed(ctx context.Context)
	Succeeded(ctx context.Context)
	Released(ctx context.Context)
}

// Service issues and honours the links and changes passwords. Set the
// fields before use; it is then safe for concurrent use.
type Service struct {
	Store  Store
	Hasher *password.Hasher
	Rules  Rules
	Mail   Mailer
	Audit  *audit.Recorder
	Logger *slog.Logger
	Now    func() time.Time
	// Issuer is the base of every link (the configured issuer URL).
	Issuer string
	// ResetTTL bounds a reset link, and a set-password link an invited
	// user asked for (default 1 hour); InviteTTL bounds the welcome link
	// an administrator sends (default 72 hours).
	ResetTTL, InviteTTL time.Duration
	// AddressLimit and IPLimit cap link requests (nil: no cap).
	AddressLimit, IPLimit Limiter
	// Guard is the lockout the current-password check counts toward.
	Guard Guard
	// AnswerFloor is the least time a link request takes, whatever the
	// address, so that its timing does not tell whether an account
	// exists (0: no floor).
	AnswerFloor time.Duration
	// Sleep waits d or until ctx ends (tests replace it; default a timer).
	Sleep func(ctx context.Context, d time.Duration)
	// TOTP adds and resets authenticator apps at /me (idp/mfa/totplogin,
	// the login's own method: one place makes and seals secrets); nil
	// offers none.
	TOTP TOTPEnroller
	// EmailCodes adds email-code factors at /me (idp/mfa/emailcode); nil
	// (no mail configured) offers none.
	EmailCodes Enroller
	// SMS adds text-message factors at /me (idp/mfa/smscode); nil (no
	// gateway configured) offers none.
	SMS Enroller
	// Keys registers security keys and passkeys at /me
	// (idp/mfa/webauthnmfa); nil (an issuer on an IP address) offers none.
	Keys Enroller
	// Recovery issues recovery codes (idp/mfa/recovery); nil issues none.
	Recovery RecoveryIssuer
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Service) ttl(purpose string, asked bool) time.Duration {
	if purpose == storage.PurposeInvite && !asked {
		if s.InviteTTL > 0 {
			return s.InviteTTL
		}
		return DefaultInviteTTL
	}
	if s.ResetTTL > 0 {
		return s.ResetTTL
	}
	return DefaultResetTTL
}

func (s *Service) record(ctx context.Context, typ, actor string, u storage.User, details map[string]string) {
	if s.Audit == nil {
		return
	}
	// An audit failure is logged by the recorder; it must not change the
	// answer (that would tell whether an account exists).
	_ = s.Audit.Record(ctx, storage.AuditEvent{Type: typ, OrgID: u.OrgID, ActorID: actor, UserID: u.ID, Details: details})
}

// RequestReset is the "forgot password" form: it sends a link to email
// when it names an account that can use one (an active account with a
// password gets a reset link; an invited one a set-password link, so an
// expired welcome email is never a dead end). For every other address it
// sends nothing and answers the same. authRequestID, when set, is the
// login the user came from, to return to after the reset.
//
// Errors: ErrRateLimited; ErrSendFailed (the mail server is down: for any
// address, see Prober); an outage. Nothing else tells an address apart.
func (s *Service) RequestReset(ctx context.Context, email, ip, authRequestID string) error {
	defer s.floor(ctx, s.now())
	return s.requestReset(ctx, email, ip, authRequestID)
}

func (s *Service) requestReset(ctx context.Context, email, ip, authRequestID string) error {
	email = storage.NormalizeEmail(email)
	if err := s.allow(ctx, email, ip); err != nil {
		return err
	}
	u, err := s.Store.GetUserByEmail(ctx, email)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return s.decoy(ctx, storage.User{}, "unknown_user")
	case err != nil:
		return fmt.Errorf("selfservice: find account: %w", err)
	}
	purpose, template := storage.PurposePasswordReset, TemplateReset
	switch {
	case u.State == storage.UserInvited:
		purpose, template = storage.PurposeInvite, TemplateInvite
	case u.State != storage.UserActive:
		return s.decoy(ctx, u, "state_"+string(u.State))
	case u.PasswordHash == "":
		// An account that signs in through its organization's SSO has
		// no password here to reset.
		return s.decoy(ctx, u, "no_password")
	}
	if err := s.issue(ctx, "", u, purpose, template, true, authRequestID); err != nil {
		return err
	}
	s.record(ctx, audit.PasswordResetRequested, "", u, map[string]string{"purpose": purpose})
	return nil
}

// decoy answers a request that sends nothing: audited, and meeting the
// mail server the way a send would, so an outage shows for every address.
func (s *Service) decoy(ctx context.Context, u storage.User, reason string) error {
	s.record(ctx, audit.PasswordResetRefused, "", u, map[string]string{"reason": reason})
	p, ok := s.Mail.(Prober)
	if !ok {
		return nil
	}
	if err := p.Probe(ctx); err != nil {
		s.log().WarnContext(ctx, "selfservice: mail server probe failed", "err", err)
		return fmt.Errorf("%w: %w", ErrSendFailed, err)
	}
	return nil
}

// allow applies the per-address and per-IP caps. Both count every
// request, for any address, so the cap does not tell addresses apart.
func (s *Service) allow(ctx context.Context, email, ip string) error {
	for _, l := range []struct {
		lim Limiter
		key string
	}{{s.AddressLimit, "mail:addr:" + email}, {s.IPLimit, "mail:ip:" + ip}} {
		if l.lim == nil || strings.HasSuffix(l.key, ":") {
			continue
		}
		ok, err := l.lim.Allow(ctx, l.key)
		if err != nil {
			return fmt.Errorf("selfservice: rate limit: %w", err)
		}
		if !ok {
			return ErrRateLimited
		}
	}
	return nil
}

func (s *Service) floor(ctx context.Context, start time.Time) {
	if s.AnswerFloor <= 0 {
		return
	}
	wait := s.AnswerFloor - s.now().Sub(start)
	if wait <= 0 {
		return
	}
	if s.Sleep != nil {
		s.Sleep(ctx, wait)
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// issue stores a new link for u (voiding older ones of its kind) and
// mails it. A failed send keeps the link: the error says so.
func (s *Service) issue(ctx context.Context, actor string, u storage.User, purpose, template string, asked bool, authRequestID string) error {
	raw, err := newToken()
	if err != nil {
		return err
	}
	now := s.now()
	ttl := s.ttl(purpose, asked)
	t := storage.OneTimeToken{Hash: storage.HashSecret(raw), Purpose: purpose, UserID: u.ID,
		AuthRequestID: authRequestID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.Store.CreateOneTimeToken(ctx, t); err != nil {
		return fmt.Errorf("selfservice: store link: %w", err)
	}
	link, err := s.link(purpose, raw)
	if err != nil {
		return err
	}
	d := MailData{Org: s.orgName(ctx, u), User: u.Name, Email: u.Email, Link: link, Expires: ttl}
	if err := s.Mail.Mail(ctx, template, u.Email, d); err != nil {
		s.log().ErrorContext(ctx, "selfservice: sending a link failed", "user_id", u.ID, "template", template, "err", err)
		s.record(ctx, audit.MailFailed, actor, u, map[string]string{"template": template, "error": err.Error()})
		return fmt.Errorf("%w: %w", ErrSendFailed, err)
	}
	return nil
}

// link is the URL of a link: the configured issuer, the page for its
// kind, the token.
func (s *Service) link(purpose, raw string) (string, error) {
	path := PathReset
	if purpose == storage.PurposeInvite {
		path = PathInvite
	}
	base, err := url.Parse(strings.TrimSuffix(s.Issuer, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return "", fmt.Errorf("selfservice: issuer %q is not an absolute URL", s.Issuer)
	}
	u := base.JoinPath(path)
	u.RawQuery = url.Values{"token": {raw}}.Encode()
	return u.String(), nil
}

func (s *Service) orgName(ctx context.Context, u storage.User) string {
	if u.OrgID == "" {
		return ""
	}
	o, err := s.Store.GetOrganization(ctx, u.OrgID)
	if err != nil {
		return ""
	}
	return o.DisplayName
}

// newToken is 256 random bits, URL-safe.
func newToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("selfservice: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Invite sends u's welcome email with a set-password link valid
// InviteTTL: after `users create --invite` and for `users resend-invite`.
// actor is the administrator. ErrNotInvited when u is not waiting for one.
func (s *Service) Invite(ctx context.Context, actor string, u storage.User) error {
	if u.State != storage.UserInvited {
		return ErrNotInvited
	}
	if err := s.issue(ctx, actor, u, storage.PurposeInvite, TemplateInvite, false, ""); err != nil {
		return err
	}
	s.record(ctx, audit.InviteSent, actor, u, map[string]string{"expires_in": s.ttl(storage.PurposeInvite, false).String()})
	return nil
}

// SendReset sends an administrator's reset link to an active u: unlike the
// user's own, it is not held back by the minimum password age.
func (s *Service) SendReset(ctx context.Context, actor string, u storage.User) error {
	switch {
	case u.State == storage.UserInvited:
		return s.Invite(ctx, actor, u)
	case u.State != storage.UserActive:
		return fmt.Errorf("selfservice: the account is %s", u.State)
	}
	if err := s.issue(ctx, actor, u, storage.PurposeAdminReset, TemplateReset, false, ""); err != nil {
		return err
	}
	s.record(ctx, audit.PasswordResetRequested, actor, u, map[string]string{"purpose": storage.PurposeAdminReset})
	return nil
}
