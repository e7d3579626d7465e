package audit

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Event types. Later features add theirs here so the list stays the one
// place an operator reads to know what can appear.
const (
	OrgCreated = "org.created"
	// OrgUpdated's details map each changed field (display_name,
	// domains) to "old -> new".
	OrgUpdated            = "org.updated"
	UserCreated           = "user.created"
	UserDisabled          = "user.disabled"
	UserEnabled           = "user.enabled"
	UserDeleted           = "user.deleted"
	UserPasswordSet       = "user.password_set"
	OrgDeleted            = "org.deleted"
	BootstrapAdminCreated = "bootstrap.admin_created"

	LoginPassword  = "login.password_ok"
	LoginTOTP      = "login.totp_ok"
	LoginFailed    = "login.failed"
	LoginSucceeded = "login.succeeded"
	Logout         = "logout"
	TokenReuse     = "token.reuse_detected"

	ClientCreated       = "client.created"
	ClientUpdated       = "client.updated"
	ClientDeleted       = "client.deleted"
	ClientSecretRotated = "client.secret_rotated"
	// KeyRotated: an operator rotated a chain of signing keys (details
	// kid, use, alg and not_before, when the new key starts signing).
	KeyRotated = "key.rotated"

	PasswordResetRequested = "password.reset_requested"
	PasswordResetRefused   = "password.reset_refused"
	PasswordReset          = "password.reset"
	PasswordChanged        = "password.changed"
	PasswordChangeFailed   = "password.change_failed"
	InviteSent             = "invite.sent"
	InviteAccepted         = "invite.accepted"
	MailFailed             = "mail.failed"

	FactorAdded = "mfa.factor_added"
	// MFASkipped: the user chose "Skip for now" at enrolment.
	MFASkipped = "mfa.skipped"
	// RecoveryCodesIssued: a new set of recovery codes (the old voided).
	RecoveryCodesIssued = "mfa.recovery_codes_issued"
	FactorAddFailed     = "mfa.factor_add_failed"
	FactorRemoved       = "mfa.factor_removed"
	// FactorReset: a user replaced an authenticator app's secret with a
	// new one, confirmed by its code; the old one no longer works.
	FactorReset = "mfa.factor_reset"
	// OrgPasswordPolicyChanged's details map each changed setting to
	// "old -> new" ("default" when the organization inherits it).
	OrgPasswordPolicyChanged = "org.password_policy_changed"
)

// Second-factor events (idp/mfa's methods). Each is a Proof's Event,
// recorded by idp/authflow when it accepts the proof; each failed code is
// a LoginFailed.
const (
	// LoginEmailCode: a code sent by email proved the second factor
	// (idp/mfa/emailcode), at a login or confirming a new address.
	LoginEmailCode = "login.email_code_ok"
	// LoginSMSCode: a code sent by text message proved the second factor
	// (idp/mfa/smscode), at a login or confirming a new number.
	LoginSMSCode = "login.sms_code_ok"
	// LoginRecoveryCode: a recovery code stood in for the second factor
	// (idp/mfa/recovery); that code of the user's set is spent.
	LoginRecoveryCode = "login.recovery_code_ok"
	// LoginWebAuthn: a security key (WebAuthn) proved the second factor
	// (idp/mfa/webauthnmfa), at a login or registering a new key. A key
	// whose signature counter went backwards is a LoginFailed with reason
	// "sign_count_regression": a sign of a cloned key.
	LoginWebAuthn = "login.webauthn_ok"
	// LoginPasskey: a passkey (a discoverable WebAuthn credential with
	// user verification) proved a whole login, with no password.
	LoginPasskey = "login.passkey_ok"
	// SMSNotSent: a text message with a code was not sent (idp/mfa/smscode),
	// at a login or confirming a new number. Details "reason"
	// ("country_not_allowed", "cap_reached" or "send_failed"), "cap"
	// (number, account, network or org) for cap_reached, "purpose"
	// ("sign_in" or "enrol") and "number", masked (phone.Mask). A run of
	// them is what an SMS pumping attack looks like.
	SMSNotSent = "mfa.sms_not_sent"
)

// Lockout events (idp/lockout, idp/admin). Each failed guess is a
// LoginFailed.
const (
	// UserLocked: failed guesses at a user's secrets reached the limit;
	// new logins are refused until the lock ends by itself.
	UserLocked = "user.locked"
	// UserUnlocked: an administrator lifted a temporary lock and reset
	// the failure count.
	UserUnlocked = "user.unlocked"
)

// Administration of second factors and roles (idp/admin).
const (
	// OrgMFAPolicyChanged's details are the "old" and "new" policy in
	// words and, when a new generation started, "since".
	OrgMFAPolicyChanged = "org.mfa_policy_changed"
	// UserMFAReset: an administrator removed a user's factors and made
	// the next login enrol one; details "method" ("" for any allowed),
	// "factors_removed", "sessions_ended", "tokens_revoked".
	UserMFAReset = "user.mfa_reset"
	// UserRoleGranted and UserRoleRevoked: details "role" ("admin",
	// "org-admin") and, for org-admin, "org".
	UserRoleGranted = "user.role_granted"
	UserRoleRevoked = "user.role_revoked"
)

// Changes to a user's profile (idp/admin).
const (
	// UserPhoneChanged: the phone number on a user's profile was set,
	// changed or cleared; details "old" and "new", each masked to its
	// last two digits (phone.Mask, "" for none), so the trail shows that
	// a number changed without holding it.
	UserPhoneChanged = "user.phone_changed"
	// UserNameChanged: the display name on a user's profile changed; no
	// details, the name is the profile's to hold.
	UserNameChanged = "user.name_changed"
	// UserEmailVerified: an administrator marked a user's email as
	// verified or not (detail "verified": true or false).
	UserEmailVerified = "user.email_verified_changed"
	// UserEmailChanged: an administrator changed a user's email address
	// (details "old" and "new"); the new one is unverified unless they
	// said otherwise.
	UserEmailChanged = "user.email_changed"
	// SessionRevoked: one browser session of a user was signed out, by an
	// administrator (the console's user page) or by the user from another
	// session (/me); details "session" (its handle) and "by" ("admin" or
	// "user").
	SessionRevoked = "session.revoked"
)

// Appender is the part of storage the recorder needs: the append half of
// the storage.Audit role, since a recorder never reads events back.
type Appender interface {
	AppendAuditEvent(ctx context.Context, e storage.AuditEvent) error
}

var _ Appender = storage.Audit(nil)

// Meta is the request metadata attached to every event.
type Meta struct {
	RequestID string
	IP        string
	UserAgent string
}

// Recorder writes audit events.
type Recorder struct {
	Store  Appender
	Logger *slog.Logger
	Now    func() time.Time
	// Meta extracts request metadata from the context; nil means none
	// (CLI). The HTTP layer wires it to its own accessors.
	Meta func(ctx context.Context) Meta
}

type reasonKey struct{}

// DetailAdminReason is the detail WithReason adds.
const DetailAdminReason = "admin_reason"

// WithReason returns ctx carrying an administrator's reason for an action
// (the console asks for one before a bulk action): every event recorded
// under ctx gets it as the detail "admin_reason" ("reason" is a failure's
// cause), whichever package records it, so that one reason reaches each
// user's event of a bulk action.
func WithReason(ctx context.Context, reason string) context.Context {
	if reason == "" {
		return ctx
	}
	return context.WithValue(ctx, reasonKey{}, reason)
}

// Record stamps e and stores it. An event that cannot be stored is an error
// the caller must surface: an action whose audit record is lost should not
// be reported as done.
func (r *Recorder) Record(ctx context.Context, e storage.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = r.Now()
	}
	if reason, ok := ctx.Value(reasonKey{}).(string); ok {
		d := make(map[string]string, len(e.Details)+1)
		maps.Copy(d, e.Details)
		d[DetailAdminReason] = reason
		e.Details = d
	}
	if r.Meta != nil {
		m := r.Meta(ctx)
		e.RequestID = firstNonEmpty(e.RequestID, m.RequestID)
		e.IP = firstNonEmpty(e.IP, m.IP)
		e.UserAgent = firstNonEmpty(e.UserAgent, m.UserAgent)
	}
	if err := r.Store.AppendAuditEvent(ctx, e); err != nil {
		r.logger().ErrorContext(ctx, "audit event not stored", "type", e.Type, "user_id", e.UserID, "err", err)
		return fmt.Errorf("audit: %s: %w", e.Type, err)
	}
	attrs := []any{"type", e.Type}
	for _, kv := range [][2]string{
		{"org_id", e.OrgID}, {"actor_id", e.ActorID}, {"user_id", e.UserID},
		{"client_id", e.ClientID}, {"ip", e.IP}, {"request_id", e.RequestID},
	} {
		if kv[1] != "" {
			attrs = append(attrs, kv[0], kv[1])
		}
	}
	if len(e.Details) > 0 {
		attrs = append(attrs, "details", e.Details)
	}
	r.logger().InfoContext(ctx, "audit", attrs...)
	return nil
}

func (r *Recorder) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Federation events (idp/authflow, for logins through an organization's
// upstream identity provider).
const (
	// LoginUpstream: an upstream connector proved the first factor (an
	// identity linked, or being linked, to the user). Details "connector"
	// and "mfa" ("upstream" when the organization's trust in the
	// connector's MFA counted what it reported).
	LoginUpstream = "login.upstream_ok"
	// LinkCreated: an upstream identity was linked to a local user.
	// Details "connector", "subject" and "how" ("auto_link": a verified
	// email from a connector trusted for email; "prove": the person
	// proved the local account; "provision": a new account).
	LinkCreated = "link.created"
	// UserProvisioned: a first federated login created the account
	// (just-in-time provisioning).
	UserProvisioned = "user.provisioned"
)

// SAML service providers (idp/admin). ClientID is the provider's entity id.
const (
	// SAMLSPCreated, SAMLSPUpdated, SAMLSPDeleted: details "source"
	// ("config" or "api") and, for updates, "changed".
	SAMLSPCreated = "saml.sp_created"
	SAMLSPUpdated = "saml.sp_updated"
	SAMLSPDeleted = "saml.sp_deleted"
	// SAMLSPMetadataRefreshed: metadata fetched again from its URL
	// changed; SAMLSPMetadataFailed: a fetch or its check failed (the
	// stored metadata stays), details "error".
	SAMLSPMetadataRefreshed = "saml.sp_metadata_refreshed"
	SAMLSPMetadataFailed    = "saml.sp_metadata_failed"
)
