package sqlstore

import "github.com/gatehouse-idp/gatehouse/idp/storage"

// One fields function per table: the single list of its columns, in the
// order of migrations/*/0001_init.sql.

var orgs = newTable("organizations", "id",
	func(o *storage.Organization) *string { return &o.ID },
	func(o *storage.Organization) *fields {
		f := new(fields)
		f.text("id", &o.ID)
		f.text("name", &o.Name)
		f.text("display_name", &o.DisplayName)
		f.jsonText("mfa", &o.MFA, func() {
			if len(o.MFA.AllowedMethods) == 0 {
				o.MFA.AllowedMethods = nil
			}
		})
		f.jsonText("password_policy", &o.PasswordPolicy, nil)
		f.time("created_at", &o.CreatedAt)
		f.time("updated_at", &o.UpdatedAt)
		f.jsonText("branding", &o.Branding, nil) // 0013_branding.sql
		return f
	})

var users = newTable("users", "id",
	func(u *storage.User) *string { return &u.ID },
	func(u *storage.User) *fields {
		f := new(fields)
		f.text("id", &u.ID)
		f.ref("org_id", &u.OrgID)
		f.text("email", &u.Email)
		f.boolean("email_verified", &u.EmailVerified)
		f.text("name", &u.Name)
		f.text("password_hash", &u.PasswordHash)
		f.text("state", (*string)(&u.State))
		f.list("roles", &u.Roles)
		f.time("locked_until", &u.LockedUntil)
		f.boolean("mfa_skipped", &u.MFASkipped)
		f.boolean("mfa_enroll_required", &u.MFAEnrollRequired)
		f.time("password_changed_at", &u.PasswordChangedAt)
		f.time("last_login_at", &u.LastLoginAt)
		f.time("created_at", &u.CreatedAt)
		f.time("updated_at", &u.UpdatedAt)
		f.time("mfa_skipped_at", &u.MFASkippedAt)
		f.text("mfa_enrol_method", &u.MFAEnrolMethod)
		f.text("phone", &u.Phone)
		return f
	})

var clients = newTable("clients", "id",
	func(c *storage.Client) *string { return &c.ID },
	func(c *storage.Client) *fields {
		f := new(fields)
		f.text("id", &c.ID)
		f.text("org_id", &c.OrgID)
		f.text("name", &c.Name)
		f.text("secret_hash", &c.SecretHash)
		f.boolean("is_public", &c.Public)
		f.list("redirect_uris", &c.RedirectURIs)
		f.list("post_logout_redirect_uris", &c.PostLogoutRedirectURIs)
		f.list("grant_types", &c.GrantTypes)
		f.list("scopes", &c.Scopes)
		f.text("id_token_signed_response_alg", &c.IDTokenSignedResponseAlg)
		f.text("access_token_format", &c.AccessTokenFormat)
		f.duration("access_token_ttl", &c.AccessTokenTTL)
		f.duration("id_token_ttl", &c.IDTokenTTL)
		f.duration("refresh_token_ttl", &c.RefreshTokenTTL)
		f.boolean("require_mfa", &c.RequireMFA)
		f.text("source", &c.Source)
		f.time("created_at", &c.CreatedAt)
		f.time("updated_at", &c.UpdatedAt)
		f.text("initiate_login_uri", &c.InitiateLoginURI) // migrations/*/0010_saml.sql
		return f
	})

var authRequests = newTable("auth_requests", "id",
	func(r *storage.AuthRequest) *string { return &r.ID },
	func(r *storage.AuthRequest) *fields {
		// The OIDC columns are read into o and o becomes r.OIDC only when
		// it holds something, so other doors' requests read back nil.
		o := r.OIDC
		if o == nil {
			o = new(storage.OIDCParams)
		}
		f := new(fields)
		f.text("id", &r.ID)
		f.text("protocol", &r.Protocol)
		f.text("client_id", &r.ClientID)
		f.text("redirect_uri", &o.RedirectURI)
		f.text("state", &o.State)
		f.text("nonce", &o.Nonce)
		f.list("scopes", &o.Scopes)
		f.text("response_type", &o.ResponseType)
		f.text("response_mode", &o.ResponseMode)
		f.text("code_challenge", &o.CodeChallenge)
		f.text("code_challenge_method", &o.CodeChallengeMethod)
		f.list("prompt", &r.Prompt)
		f.optInt64("max_age", &r.MaxAge)
		f.text("login_hint", &r.LoginHint)
		f.list("acr_values", &r.ACRValues)
		f.list("ui_locales", &r.UILocales)
		f.jsonBytes("door_data", &r.DoorData)
		f.text("step", &r.Step)
		f.text("org_id", &r.OrgID)
		f.text("user_id", &r.UserID)
		f.text("session_id", &r.SessionID)
		f.time("auth_time", &r.AuthTime)
		f.list("amr", &r.AMR)
		f.integer("attempts", &r.Attempts)
		f.time("created_at", &r.CreatedAt)
		f.time("expires_at", &r.ExpiresAt)
		f.text("subject_hint", &r.SubjectHint)
		f.jsonBytes("flow_data", &r.FlowData)
		optJSON(f, "upstream", &r.Upstream) // migrations/*/0009_federation.sql
		f.dec = append(f.dec, func() error {
			r.OIDC = nil
			if !o.IsZero() {
				r.OIDC = o
			}
			return nil
		})
		return f
	})

var authCodes = newTable("auth_codes", "hash",
	func(c *storage.AuthCode) *string { return &c.Hash },
	func(c *storage.AuthCode) *fields {
		f := new(fields)
		f.text("hash", &c.Hash)
		f.text("auth_request_id", &c.AuthRequestID)
		f.text("client_id", &c.ClientID)
		f.text("grant_id", &c.GrantID)
		f.time("created_at", &c.CreatedAt)
		f.time("expires_at", &c.ExpiresAt)
		f.time("consumed_at", &c.ConsumedAt)
		return f
	})

var refreshTokens = newTable("refresh_tokens", "hash",
	func(t *storage.RefreshToken) *string { return &t.Hash },
	func(t *storage.RefreshToken) *fields {
		f := new(fields)
		f.text("hash", &t.Hash)
		f.text("family_id", &t.FamilyID)
		f.text("client_id", &t.ClientID)
		f.ref("user_id", &t.UserID)
		f.text("session_id", &t.SessionID)
		f.list("scopes", &t.Scopes)
		f.list("audience", &t.Audience)
		f.list("amr", &t.AMR)
		f.time("auth_time", &t.AuthTime)
		f.time("created_at", &t.CreatedAt)
		f.time("expires_at", &t.ExpiresAt)
		f.time("used_at", &t.UsedAt)
		f.time("revoked_at", &t.RevokedAt)
		f.text("connector_id", &t.ConnectorID) // migrations/*/0009_federation.sql
		f.text("upstream_subject", &t.UpstreamSubject)
		return f
	})

var accessTokens = newTable("access_tokens", "hash",
	func(t *storage.AccessToken) *string { return &t.Hash },
	func(t *storage.AccessToken) *fields {
		f := new(fields)
		f.text("hash", &t.Hash)
		f.text("family_id", &t.FamilyID)
		f.text("client_id", &t.ClientID)
		f.ref("user_id", &t.UserID)
		f.text("subject", &t.Subject)
		f.list("scopes", &t.Scopes)
		f.list("audience", &t.Audience)
		f.time("created_at", &t.CreatedAt)
		f.time("expires_at", &t.ExpiresAt)
		f.time("revoked_at", &t.RevokedAt)
		return f
	})

var sessions = newTable("sessions", "hash",
	func(s *storage.Session) *string { return &s.Hash },
	func(s *storage.Session) *fields {
		f := new(fields)
		f.text("hash", &s.Hash)
		f.ref("user_id", &s.UserID)
		f.time("auth_time", &s.AuthTime)
		f.list("amr", &s.AMR)
		f.text("ip", &s.IP)
		f.text("user_agent", &s.UserAgent)
		f.time("created_at", &s.CreatedAt)
		f.time("last_seen_at", &s.LastSeenAt)
		f.time("idle_expires_at", &s.IdleExpiresAt)
		f.time("expires_at", &s.ExpiresAt)
		f.text("connector_id", &s.ConnectorID) // migrations/*/0009_federation.sql
		f.text("upstream_subject", &s.UpstreamSubject)
		return f
	})

var oneTimeTokens = newTable("one_time_tokens", "hash",
	func(t *storage.OneTimeToken) *string { return &t.Hash },
	func(t *storage.OneTimeToken) *fields {
		f := new(fields)
		f.text("hash", &t.Hash)
		f.text("purpose", &t.Purpose)
		f.ref("user_id", &t.UserID)
		f.text("auth_request_id", &t.AuthRequestID)
		f.time("created_at", &t.CreatedAt)
		f.time("expires_at", &t.ExpiresAt)
		f.time("consumed_at", &t.ConsumedAt)
		return f
	})

var signingKeys = newTable("signing_keys", "id",
	func(k *storage.SigningKey) *string { return &k.ID },
	func(k *storage.SigningKey) *fields {
		f := new(fields)
		f.text("id", &k.ID)
		f.text("key_use", &k.Use)
		f.text("algorithm", &k.Algorithm)
		f.bytes("public_key", &k.PublicKey)
		f.bytes("private_key_sealed", &k.PrivateKeySealed)
		f.bytes("certificate", &k.Certificate)
		f.time("created_at", &k.CreatedAt)
		f.time("not_before", &k.NotBefore)
		f.time("retire_at", &k.RetireAt)
		f.time("expires_at", &k.ExpiresAt)
		return f
	})

// Audit events are never updated and their id is assigned by the database:
// auditInsert leaves it out, auditEvents reads it.
var auditInsert = newTable("audit_events", "id",
	func(*storage.AuditEvent) *string { return new(string) },
	func(e *storage.AuditEvent) *fields {
		f := new(fields)
		auditColumns(f, e)
		return f
	})

var auditEvents = newTable("audit_events", "id",
	func(*storage.AuditEvent) *string { return new(string) },
	func(e *storage.AuditEvent) *fields {
		f := new(fields)
		f.int64("id", &e.ID)
		auditColumns(f, e)
		return f
	})

func auditColumns(f *fields, e *storage.AuditEvent) {
	f.time("occurred_at", &e.Time)
	f.text("event_type", &e.Type)
	f.text("org_id", &e.OrgID)
	f.text("actor_id", &e.ActorID)
	f.text("user_id", &e.UserID)
	f.text("client_id", &e.ClientID)
	f.text("ip", &e.IP)
	f.text("user_agent", &e.UserAgent)
	f.text("request_id", &e.RequestID)
	f.dict("details", &e.Details)
}

// factors is migrations/*/0005_factors.sql.
var factors = newTable("factors", "id",
	func(f *storage.Factor) *string { return &f.ID },
	func(v *storage.Factor) *fields {
		f := new(fields)
		f.text("id", &v.ID)
		f.text("user_id", &v.UserID) // not ref: no factor is without a user, "" fails the key
		f.text("kind", &v.Kind)
		f.text("label", &v.Label)
		f.bytes("secret", &v.Secret)
		f.text("address", &v.Address)
		f.jsonBytes("data", &v.Data)
		f.text("lookup", &v.Lookup) // migrations/*/0008_factor_lookup.sql
		f.time("confirmed_at", &v.ConfirmedAt)
		f.int64("last_step", &v.LastStep)
		f.time("last_used_at", &v.LastUsedAt)
		f.time("created_at", &v.CreatedAt)
		f.time("expires_at", &v.ExpiresAt)
		return f
	})

// connectors, connector domains, links and assertion ids are
// migrations/*/0009_federation.sql.
var connectors = newTable("connectors", "id",
	func(c *storage.Connector) *string { return &c.ID },
	func(c *storage.Connector) *fields {
		f := new(fields)
		f.text("id", &c.ID)
		f.text("org_id", &c.OrgID) // not ref: no connector is without an organization, "" fails the key
		f.text("connector_type", &c.Type)
		f.text("name", &c.Name)
		f.boolean("enabled", &c.Enabled)
		f.boolean("trust_email", &c.TrustEmail)
		f.boolean("trust_mfa", &c.TrustMFA)
		f.boolean("jit", &c.JIT)
		f.boolean("require_sso", &c.RequireSSO)
		f.bytes("config", &c.Config)
		f.bytes("secret_sealed", &c.SecretSealed)
		f.text("source", &c.Source)
		f.time("created_at", &c.CreatedAt)
		f.time("updated_at", &c.UpdatedAt)
		return f
	})

// links is keyed by (connector_id, subject): its key is no single column,
// so links.go has its own lookups, update and delete, and get, update and
// remove must not be used with it.
var links = newTable("links", "",
	func(*storage.Link) *string { return new(string) },
	func(l *storage.Link) *fields {
		f := new(fields)
		f.text("connector_id", &l.ConnectorID)
		f.text("subject", &l.Subject)
		f.text("user_id", &l.UserID) // not ref: no link is without a user, "" fails the key
		f.text("email", &l.Email)
		f.list("group_names", &l.Groups)
		f.time("created_at", &l.CreatedAt)
		f.time("last_login_at", &l.LastLoginAt)
		return f
	})
