package authflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Steps of an AuthRequest.
const (
	StepLogin = "login" // identify and authenticate (email + password)
	StepMFA   = "mfa"   // a second factor is required and not yet given
	StepDone  = "done"  // the front door may issue its response
)

// Authentication methods (RFC 8176 names) and the ACR values they give.
const (
	AMRPassword = "pwd"
	AMRMFA      = "mfa"

	ACRPassword = "urn:gatehouse:acr:pwd"
	ACRMFA      = "urn:gatehouse:acr:mfa"
)

// Extra keys the flow keeps on the AuthRequest.
const (
	// ExtraHintSubject is the subject of a verified id_token_hint: a
	// silent login must be for that user or fail.
	ExtraHintSubject = "id_token_hint_sub"
)

var (
	// ErrInvalidCredentials is the one answer to every failed password
	// step: unknown user, wrong password, disabled, locked, no password.
	ErrInvalidCredentials = errors.New("authflow: incorrect email or password")
	// ErrOutOfTurn: the operation is not the request's current step.
	ErrOutOfTurn = errors.New("authflow: step out of turn")
	// ErrRequestGone: the auth request is unknown or expired.
	ErrRequestGone = errors.New("authflow: login request expired or unknown")
	// ErrLoginRequired: the browser session cannot satisfy the request
	// (none, prompt=login, max_age exceeded, another user hinted).
	ErrLoginRequired = errors.New("authflow: login required")
)

// DefaultTTL bounds a login in progress: long enough to fetch a phone for a
// code, short enough that an abandoned request dies.
const DefaultTTL = 30 * time.Minute

// Flow runs logins.
type Flow struct {
	Store  storage.Storage
	Hasher *password.Hasher
	Audit  *audit.Recorder
	Now    func() time.Time
	TTL    time.Duration
}

// Begin stores a new auth request at the login step. The front door fills
// in the protocol fields; Begin owns id, step and lifetime.
func (f *Flow) Begin(ctx context.Context, r storage.AuthRequest) (storage.AuthRequest, error) {
	now := f.Now()
	ttl := f.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	r.ID = storage.NewID()
	r.Step = StepLogin
	r.Attempts = 0
	r.UserID, r.OrgID, r.SessionID, r.AMR, r.AuthTime = "", "", "", nil, time.Time{}
	r.CreatedAt, r.ExpiresAt = now, now.Add(ttl)
	if err := f.Store.CreateAuthRequest(ctx, r); err != nil {
		return storage.AuthRequest{}, fmt.Errorf("authflow: begin: %w", err)
	}
	return r, nil
}

// Load returns a live auth request.
func (f *Flow) Load(ctx context.Context, id string) (storage.AuthRequest, error) {
	r, err := f.Store.GetAuthRequest(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.AuthRequest{}, ErrRequestGone
	} else if err != nil {
		return storage.AuthRequest{}, fmt.Errorf("authflow: load: %w", err)
	}
	if !f.Now().Before(r.ExpiresAt) {
		return storage.AuthRequest{}, ErrRequestGone
	}
	return r, nil
}

// update applies fn to the request only while it is live and at step want.
func (f *Flow) update(ctx context.Context, id, want string, fn func(*storage.AuthRequest) error) (storage.AuthRequest, error) {
	now := f.Now()
	r, err := f.Store.UpdateAuthRequest(ctx, id, func(r storage.AuthRequest) (storage.AuthRequest, error) {
		if !now.Before(r.ExpiresAt) {
			return r, ErrRequestGone
		}
		if r.Step != want {
			return r, ErrOutOfTurn
		}
		return r, fn(&r)
	})
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return storage.AuthRequest{}, ErrRequestGone
	case err != nil:
		for _, sentinel := range []error{ErrRequestGone, ErrOutOfTurn, ErrInvalidCredentials, ErrLoginRequired} {
			if errors.Is(err, sentinel) {
				return storage.AuthRequest{}, sentinel
			}
		}
		return storage.AuthRequest{}, fmt.Errorf("authflow: %w", err)
	}
	return r, nil
}

// Prompted reports whether the request carries prompt value p.
func Prompted(r storage.AuthRequest, p string) bool { return slices.Contains(r.Prompt, p) }

// ResumeSession lets an existing browser session satisfy the login step
// (single sign-on), unless the request demands a fresh login.
func (f *Flow) ResumeSession(ctx context.Context, id string, s storage.Session) (storage.AuthRequest, error) {
	now := f.Now()
	u, err := f.Store.GetUser(ctx, s.UserID)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return storage.AuthRequest{}, ErrLoginRequired
		}
		return storage.AuthRequest{}, fmt.Errorf("authflow: resume: %w", err)
	}
	if !usable(u, now) {
		return storage.AuthRequest{}, ErrLoginRequired
	}
	r, err := f.Load(ctx, id)
	if err != nil {
		return r, err
	}
	switch {
	case Prompted(r, "login"),
		// max_age=0 is prompt=login (OIDC Core errata); a session
		// authenticated "in the future" (clock skew) proves nothing.
		r.MaxAge != nil && (*r.MaxAge == 0 || now.Sub(s.AuthTime) > time.Duration(*r.MaxAge)*time.Second),
		s.AuthTime.After(now),
		!now.Before(s.ExpiresAt), !s.IdleExpiresAt.IsZero() && !now.Before(s.IdleExpiresAt),
		r.Extra[ExtraHintSubject] != "" && r.Extra[ExtraHintSubject] != u.ID:
		return storage.AuthRequest{}, ErrLoginRequired
	}
	return f.authenticate(ctx, r, func(r *storage.AuthRequest) {
		r.UserID, r.OrgID, r.SessionID = u.ID, u.OrgID, s.Hash
		r.AuthTime, r.AMR = s.AuthTime, slices.Clone(s.AMR)
	})
}

func usable(u storage.User, now time.Time) bool {
	return u.State == storage.UserActive && !u.LockedUntil.After(now)
}

// SubmitPassword runs the password step. Every failure is
// ErrInvalidCredentials, and costs one password verification, so that
// neither the answer nor its timing tells whether the account exists.
func (f *Flow) SubmitPassword(ctx context.Context, id, email, pw string) (storage.AuthRequest, error) {
	r, err := f.Load(ctx, id)
	if err != nil {
		return r, err
	}
	if r.Step != StepLogin {
		return storage.AuthRequest{}, ErrOutOfTurn
	}
	now := f.Now()
	u, err := f.Store.GetUserByEmail(ctx, storage.NormalizeEmail(email))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return storage.AuthRequest{}, fmt.Errorf("authflow: password: %w", err)
	}
	reason := ""
	switch {
	case err != nil:
		reason = "unknown_user"
	case u.PasswordHash == "":
		reason = "no_password"
	}
	if reason != "" {
		f.Hasher.VerifyDummy(ctx, pw)
		f.record(ctx, audit.LoginFailed, r, u, map[string]string{"reason": reason, "step": StepLogin})
		return storage.AuthRequest{}, ErrInvalidCredentials
	}
	ok, rehash, err := f.Hasher.Verify(ctx, u.PasswordHash, pw)
	if err != nil && !errors.Is(err, password.ErrMalformedHash) {
		// Cancelled or timed out waiting for a hash slot: an outage, not a
		// wrong password, so it must not count as a failed login.
		return storage.AuthRequest{}, fmt.Errorf("authflow: verify password: %w", err)
	}
	if err != nil {
		// A malformed hash is a data fault, not a wrong password: log it
		// loudly, but the user still sees the generic answer.
		f.record(ctx, audit.LoginFailed, r, u, map[string]string{"reason": "hash_error", "error": err.Error()})
		return storage.AuthRequest{}, ErrInvalidCredentials
	}
	switch {
	case !ok:
		reason = "wrong_password"
	case u.State != storage.UserActive:
		reason = "state_" + string(u.State)
	case u.LockedUntil.After(now):
		reason = "locked"
	}
	if reason != "" {
		f.record(ctx, audit.LoginFailed, r, u, map[string]string{"reason": reason, "step": StepLogin})
		return storage.AuthRequest{}, ErrInvalidCredentials
	}
	if hint := r.Extra[ExtraHintSubject]; hint != "" && hint != u.ID && Prompted(r, "none") {
		return storage.AuthRequest{}, ErrLoginRequired
	}
	if rehash {
		f.rehash(ctx, u, pw)
	}
	r, err = f.authenticate(ctx, r, func(r *storage.AuthRequest) {
		r.UserID, r.OrgID, r.SessionID = u.ID, u.OrgID, ""
		r.AuthTime, r.AMR = now, []string{AMRPassword}
	})
	if err != nil {
		return r, err
	}
	f.record(ctx, audit.LoginPassword, r, u, nil)
	if _, err := f.Store.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
		u.LastLoginAt = now
		return u, nil
	}); err != nil {
		return storage.AuthRequest{}, fmt.Errorf("authflow: record login: %w", err)
	}
	return r, nil
}

// rehash upgrades a hash made with weaker parameters; failure is logged by
// the audit trail only, since the login itself succeeded.
func (f *Flow) rehash(ctx context.Context, u storage.User, pw string) {
	h, err := f.Hasher.Hash(ctx, pw)
	if err != nil {
		return
	}
	_, _ = f.Store.UpdateUser(ctx, u.ID, func(cur storage.User) (storage.User, error) {
		if cur.PasswordHash == u.PasswordHash { // not changed meanwhile
			cur.PasswordHash = h
		}
		return cur, nil
	})
}

// authenticate records who authenticated (set) and moves the request, in one
// write that also re-checks it is still at the login step, to its next
// step: done when the second factor is satisfied or not required, mfa
// otherwise.
func (f *Flow) authenticate(ctx context.Context, r storage.AuthRequest, set func(*storage.AuthRequest)) (storage.AuthRequest, error) {
	probe := r
	set(&probe)
	need, err := f.mfaRequired(ctx, probe)
	if err != nil {
		return storage.AuthRequest{}, err
	}
	next := StepDone
	if need && !slices.Contains(probe.AMR, AMRMFA) {
		next = StepMFA
	}
	return f.update(ctx, r.ID, StepLogin, func(r *storage.AuthRequest) error {
		set(r)
		r.Step = next
		return nil
	})
}

// mfaRequired: the organization's policy, the client's policy, or the
// relying party asking for the MFA ACR.
func (f *Flow) mfaRequired(ctx context.Context, r storage.AuthRequest) (bool, error) {
	if slices.Contains(r.ACRValues, ACRMFA) {
		return true, nil
	}
	if r.ClientID != "" {
		c, err := f.Store.GetClient(ctx, r.ClientID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return false, fmt.Errorf("authflow: client policy: %w", err)
		}
		if c.RequireMFA {
			return true, nil
		}
	}
	if r.OrgID == "" {
		return false, nil
	}
	o, err := f.Store.GetOrganization(ctx, r.OrgID)
	if err != nil {
		return false, fmt.Errorf("authflow: organization policy: %w", err)
	}
	return o.MFA.Required, nil
}

// AttachSession records the browser session that the finished login
// created or used, so logout and token revocation can find it.
func (f *Flow) AttachSession(ctx context.Context, id, sessionHash string) (storage.AuthRequest, error) {
	return f.update(ctx, id, StepDone, func(r *storage.AuthRequest) error {
		r.SessionID = sessionHash
		return nil
	})
}

// ACR is the acr claim for a finished request.
func ACR(r storage.AuthRequest) string {
	if slices.Contains(r.AMR, AMRMFA) {
		return ACRMFA
	}
	return ACRPassword
}

func (f *Flow) record(ctx context.Context, typ string, r storage.AuthRequest, u storage.User, details map[string]string) {
	// Audit failures must not turn a login answer into a different one
	// (that would leak); the recorder logs them.
	_ = f.Audit.Record(ctx, storage.AuditEvent{Type: typ, OrgID: u.OrgID, UserID: u.ID, ClientID: r.ClientID, Details: details})
}
