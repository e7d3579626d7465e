package selfservice

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/emailcode"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/smscode"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/totp"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/totplogin"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/webauthnmfa"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// A user's own second factors, from /me: adding an authenticator app or
// an email address at any time (even where the organization does not
// require MFA), resetting an app, removing a factor and making new
// recovery codes. A factor is usable only once its first code is
// confirmed; an enrolment left unconfirmed expires and is never usable.
// The methods themselves (idp/mfa/...) make, seal, send and check; this
// file decides what a user may change and records it.

var (
	// ErrNoFactor: the factor is not one of the user's, or its enrolment
	// expired.
	ErrNoFactor = errors.New("selfservice: no such factor")
	// ErrWrongCode: the code does not confirm the enrolment (a *Refused
	// says what to tell the user).
	ErrWrongCode = errors.New("selfservice: the code is not correct")
	// ErrAddressRefused: the address cannot receive codes (malformed, or
	// not allowed by the organization's policy); a *Refused says which.
	ErrAddressRefused = errors.New("selfservice: the address cannot receive codes")
	// ErrLabelRefused: the name given a new security key is refused
	// (too long, line breaks); a *Refused says why.
	ErrLabelRefused = errors.New("selfservice: the security key's name is refused")
	// ErrNumberRefused: codes cannot be texted to the number (malformed,
	// or in a country not allowed); a *Refused says which.
	ErrNumberRefused = errors.New("selfservice: the number cannot receive codes")
	// ErrNoPhone: the account has no mobile number and the organization
	// does not let users enter one.
	ErrNoPhone = errors.New("selfservice: the account has no mobile number")
	// ErrLastFactor: the organization requires MFA and this is the user's
	// last factor that counts.
	ErrLastFactor = errors.New("selfservice: the last second factor cannot be removed while MFA is required")
	// ErrNotAllowed: the method is not configured here, or the
	// organization's policy does not allow it.
	ErrNotAllowed = errors.New("selfservice: the method is not allowed")
)

// Refused is a code or an address a method refused, with what the page
// tells the user about it.
type Refused struct {
	// Err is ErrWrongCode or ErrAddressRefused.
	Err error
	// Show is the method's plain words ("This code has expired. Send a
	// new code."); nil leaves the page its own generic message.
	Show error
}

func (e *Refused) Error() string {
	if e.Show != nil {
		return e.Err.Error() + ": " + e.Show.Error()
	}
	return e.Err.Error()
}

func (e *Refused) Unwrap() error { return e.Err }

// FactorStore is the storage of factors the service uses itself; the
// methods write the rest (CreateFactor, ConfirmFactor, UseFactorStep).
type FactorStore interface {
	GetFactor(ctx context.Context, id string) (storage.Factor, error)
	ListFactors(ctx context.Context, userID string, now time.Time) ([]storage.Factor, error)
	SetFactorData(ctx context.Context, id string, data []byte, now time.Time) error
	DeleteFactor(ctx context.Context, id string) error
	ReplaceRecoveryCodes(ctx context.Context, userID string, codes []storage.Factor) error
}

// TOTPEnroller makes, shows and confirms authenticator apps
// (*totplogin.Method).
type TOTPEnroller interface {
	Begin(ctx context.Context, u storage.User, label string) (storage.Factor, error)
	Enrolment(ctx context.Context, u storage.User, f storage.Factor) (totp.Enrolment, error)
	Confirm(ctx context.Context, u storage.User, f storage.Factor, code string, replace ...string) (authflow.Proof, error)
}

// Enroller adds factors of a login's method as a login's enrol step
// would (*emailcode.Method, *smscode.Method, *webauthnmfa.Method): the
// method's state for a login lives in the pending factor's Data.
type Enroller interface {
	BeginEnrol(ctx context.Context, t authflow.Turn, in authflow.Input) (string, []byte, error)
	EnrolView(ctx context.Context, t authflow.Turn, f storage.Factor) (authflow.View, []byte, error)
	ConfirmEnrol(ctx context.Context, t authflow.Turn, f storage.Factor, in authflow.Input) (authflow.Proof, error)
}

// RecoveryIssuer makes a new set of recovery codes, voiding the old one
// (*recovery.Method).
type RecoveryIssuer interface {
	Issue(ctx context.Context, userID string) ([]string, error)
}

var (
	_ TOTPEnroller     = (*totplogin.Method)(nil)
	_ Enroller         = (*emailcode.Method)(nil)
	_ Enroller         = (*smscode.Method)(nil)
	_ Enroller         = (*webauthnmfa.Method)(nil)
	_ FactorStore      = storage.Factors(nil)
	_ authflow.Notices = (*Service)(nil)
)

// MFAOverview is what the user's two-step sign-in page shows.
type MFAOverview struct {
	// Factors are the confirmed factors, recovery codes left out, oldest
	// first.
	Factors []storage.Factor
	// RecoveryLeft of RecoveryTotal recovery codes are unused.
	RecoveryLeft, RecoveryTotal int
	// TOTP: an authenticator app may be added (or reset).
	TOTP bool
	// EmailOwn: email codes may go to the account's address, Email;
	// EmailOther: to another address.
	EmailOwn, EmailOther bool
	Email                string
	// Keys: a security key or passkey may be added.
	Keys bool
	// SMS: text-message codes may be added: to Phone, the profile's
	// number, or (SMSAsk) to a number the user enters; SMS with neither
	// means the account has no number and may not enter one.
	SMS, SMSAsk bool
	Phone       string
	// Recovery: recovery codes can be made (the user has a factor).
	Recovery bool
	// Required: the organization requires a second factor.
	Required bool
}

// Overview is the user's factors and what they may add.
func (s *Service) Overview(ctx context.Context, userID string) (MFAOverview, error) {
	u, p, err := s.account(ctx, userID)
	if err != nil {
		return MFAOverview{}, err
	}
	all, err := s.Store.ListFactors(ctx, u.ID, s.now())
	if err != nil {
		return MFAOverview{}, fmt.Errorf("selfservice: factors: %w", err)
	}
	o := MFAOverview{Email: u.Email, Required: p.Required, TOTP: s.TOTP != nil && mfa.Allowed(p, mfa.TOTP),
		Keys: s.Keys != nil && mfa.Allowed(p, mfa.WebAuthn), SMS: s.SMS != nil && mfa.Allowed(p, mfa.SMS)}
	if o.SMS {
		o.Phone, o.SMSAsk = mfa.SMSNumber(p, u)
	}
	if s.EmailCodes != nil {
		o.EmailOwn = u.Email != "" && mfa.EmailAddressAllowed(p, u, u.Email)
		o.EmailOther = mfa.OtherEmailAllowed(p)
	}
	for _, f := range all {
		switch {
		case f.ConfirmedAt.IsZero():
		case f.Kind == storage.FactorRecovery:
			o.RecoveryTotal++
			if f.LastUsedAt.IsZero() {
				o.RecoveryLeft++
			}
		default:
			o.Factors = append(o.Factors, f)
		}
	}
	o.Recovery = s.Recovery != nil && len(o.Factors) > 0
	return o, nil
}

// Factors lists the user's confirmed factors (recovery codes left out).
func (s *Service) Factors(ctx context.Context, userID string) ([]storage.Factor, error) {
	o, err := s.Overview(ctx, userID)
	return o.Factors, err
}

// account loads the user and their organization's MFA policy.
func (s *Service) account(ctx context.Context, userID string) (storage.User, storage.MFAPolicy, error) {
	u, o, err := s.accountOrg(ctx, userID)
	return u, o.MFA, err
}

// accountOrg loads the user and their organization (the zero one when
// they have none).
func (s *Service) accountOrg(ctx context.Context, userID string) (storage.User, storage.Organization, error) {
	u, err := s.Store.GetUser(ctx, userID)
	if err != nil {
		return u, storage.Organization{}, fmt.Errorf("selfservice: load account: %w", err)
	}
	if u.OrgID == "" {
		return u, storage.Organization{}, nil
	}
	o, err := s.Store.GetOrganization(ctx, u.OrgID)
	if err != nil {
		return u, storage.Organization{}, fmt.Errorf("selfservice: organization: %w", err)
	}
	return u, o, nil
}

// pending is u's enrolment id of kind, while it waits for its code.
func (s *Service) pending(ctx context.Context, u storage.User, id, kind string) (storage.Factor, error) {
	return s.factorOf(ctx, u, id, kind, func(f storage.Factor) bool { return f.Pending(s.now()) })
}

// factorOf is u's factor id of kind when fits says it is in the state
// asked for. An id that is malformed, another user's, of another kind or
// in another state is ErrNoFactor alike: a page cannot tell them apart.
func (s *Service) factorOf(ctx context.Context, u storage.User, id, kind string, fits func(storage.Factor) bool) (storage.Factor, error) {
	if id == "" || len(id) > MaxToken || !storage.Storable(id) {
		return storage.Factor{}, ErrNoFactor
	}
	f, err := s.Store.GetFactor(ctx, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return f, ErrNoFactor
	case err != nil:
		return f, fmt.Errorf("selfservice: load factor: %w", err)
	case f.UserID != u.ID || f.Kind != kind || !fits(f):
		return f, ErrNoFactor
	}
	return f, nil
}

// reserve admits one guess at u's codes under the lockout. A refusal (a
// locked account, a throttled network) is the answer of a wrong code,
// with nothing checked; nil Guard admits every guess.
func (s *Service) reserve(ctx context.Context, u storage.User, kind, ip string) (Attempt, error) {
	if s.Guard == nil {
		return noAttempt{}, nil
	}
	att, err := s.Guard.Reserve(ctx, u.ID, ip)
	switch {
	case errors.Is(err, ErrAttemptRefused):
		s.record(ctx, audit.FactorAddFailed, u.ID, u, map[string]string{"kind": kind, "reason": "locked"})
		return nil, &Refused{Err: ErrWrongCode}
	case err != nil:
		return nil, fmt.Errorf("selfservice: lockout: %w", err)
	}
	return att, nil
}

type noAttempt struct{}

func (noAttempt) Failed(context.Context)    {}
func (noAttempt) Succeeded(context.Context) {}
func (noAttempt) Released(context.Context)  {}

// settle turns what a confirmation returned into the service's answer and
// settles the lockout's attempt: a refused code is a failed guess; an
// enrolment that expired meanwhile, or an outage, guessed nothing.
func (s *Service) settle(ctx context.Context, att Attempt, u storage.User, f storage.Factor, err error) error {
	ctx = context.WithoutCancel(ctx) // the count must not depend on the client staying
	var fail *authflow.Failure
	switch {
	case err == nil:
		att.Succeeded(ctx)
		return nil
	case errors.Is(err, ErrNoFactor):
		att.Released(ctx)
		return err
	case errors.As(err, &fail) && (fail.Reason == totplogin.ReasonExpired || fail.Reason == emailcode.ReasonEnrolExpired ||
		fail.Reason == webauthnmfa.ReasonEnrolExpired || fail.Reason == webauthnmfa.ReasonUsed):
		att.Released(ctx)
		return ErrNoFactor
	case errors.As(err, &fail):
		att.Failed(ctx)
		s.record(ctx, audit.FactorAddFailed, u.ID, u, map[string]string{"kind": f.Kind, "factor_id": f.ID, "reason": fail.Reason})
		return &Refused{Err: ErrWrongCode, Show: fail.Show}
	}
	att.Released(ctx)
	return fmt.Errorf("selfservice: confirm factor: %w", err)
}

// Confirmed is a factor just confirmed at /me.
type Confirmed struct {
	Factor storage.Factor
	// Reset: it replaced an authenticator app, whose secret no longer
	// works.
	Reset bool
	// Codes are the recovery codes made with it, because the user had
	// none left unused: the page shows them once. Nil when none were made.
	Codes *RecoveryCodes
	// First: it is the account's first second factor, so two-step
	// sign-in has just been turned on (SecureOthers).
	First bool
}

// SecureOthers ends every session of userID but current when c turned
// two-step sign-in on (c.First): those sessions were signed in with the
// password alone, which is what the user just chose no longer to trust.
// It says how many ended.
func (s *Service) SecureOthers(ctx context.Context, userID, current string, c Confirmed) (int, error) {
	if !c.First {
		return 0, nil
	}
	return s.SignOutOthers(ctx, userID, current)
}

// confirmed is the rest of a confirmation, in its unit of work: the
// pending data goes (a spent code's hash is worth nothing to keep), an
// administrator's "enrol at next login" and a "Skip for now" are done
// with, as after an enrolment at a login, and a user without unused
// recovery codes gets a set.
func (s *Service) confirmed(ctx context.Context, u storage.User, f storage.Factor) (Confirmed, error) {
	now := s.now()
	c := Confirmed{Factor: f, First: true}
	before, err := s.Store.ListFactors(ctx, u.ID, now)
	if err != nil {
		return c, fmt.Errorf("selfservice: factors: %w", err)
	}
	for _, o := range before {
		if o.ID != f.ID && o.Kind != storage.FactorRecovery && !o.ConfirmedAt.IsZero() {
			c.First = false
		}
	}
	// A security key's Data is its record (public key, counter) from now
	// on, not enrolment data.
	if f.Kind != mfa.WebAuthn {
		if err := s.Store.SetFactorData(ctx, f.ID, nil, now); err != nil {
			return c, fmt.Errorf("selfservice: clear enrolment data: %w", err)
		}
	}
	if u.MFAEnrollRequired || u.MFAEnrolMethod != "" || u.MFASkipped {
		if _, err := s.Store.UpdateUser(ctx, u.ID, func(cur storage.User) (storage.User, error) {
			cur.MFAEnrollRequired, cur.MFAEnrolMethod = false, ""
			cur.MFASkipped, cur.MFASkippedAt = false, time.Time{}
			return cur, nil
		}); err != nil {
			return c, fmt.Errorf("selfservice: record the enrolment: %w", err)
		}
	}
	if s.Recovery == nil {
		return c, nil
	}
	// before holds the recovery codes as they are: this unit has changed
	// no factor but f's data.
	for _, r := range before {
		if r.Kind == storage.FactorRecovery && !r.ConfirmedAt.IsZero() && r.LastUsedAt.IsZero() {
			return c, nil
		}
	}
	codes, err := s.Recovery.Issue(ctx, u.ID)
	if err != nil {
		return c, fmt.Errorf("selfservice: issue recovery codes: %w", err)
	}
	c.Codes = s.recoveryCodes(ctx, u, codes)
	return c, nil
}

// added records and tells a confirmed factor, after its commit.
func (s *Service) added(ctx context.Context, u storage.User, c Confirmed, replaced string) {
	f := c.Factor
	if c.Reset {
		s.record(ctx, audit.FactorReset, u.ID, u, map[string]string{"kind": f.Kind, "factor_id": f.ID, "replaced": replaced, "at": "me"})
	} else {
		s.record(ctx, audit.FactorAdded, u.ID, u, map[string]string{"kind": f.Kind, "factor_id": f.ID, "at": "me"})
	}
	if c.Codes != nil {
		s.record(ctx, audit.RecoveryCodesIssued, u.ID, u, map[string]string{"count": fmt.Sprint(len(c.Codes.Codes)), "at": "me"})
	}
	s.tellChange(ctx, u, addedChange(f, c.Reset, c.Codes != nil))
}

// RemoveFactor removes one of the user's factors, unless the organization
// requires MFA and it is the last one that counts (recovery codes do not:
// they stand in for a lost factor, they are not one). Removing the last
// factor removes the recovery codes too: with nothing to stand in for,
// they would be a second factor of their own.
func (s *Service) RemoveFactor(ctx context.Context, userID, id string) error {
	u, p, err := s.account(ctx, userID)
	if err != nil {
		return err
	}
	var found storage.Factor
	var codesGone bool
	// The check and the removal are one unit, so that two removals at
	// once cannot each leave the other as the last factor.
	err = storage.Atomically(ctx, s.Store, func(ctx context.Context) error {
		found, codesGone = storage.Factor{}, false
		all, err := s.Store.ListFactors(ctx, u.ID, s.now())
		if err != nil {
			return fmt.Errorf("selfservice: factors: %w", err)
		}
		var others, counting, codes int
		for _, f := range all {
			switch {
			case f.ConfirmedAt.IsZero():
			case f.Kind == storage.FactorRecovery:
				codes++
			case f.ID == id:
				found = f
			default:
				others++
				if mfa.Counts(p, u, f) {
					counting++
				}
			}
		}
		switch {
		case found.ID == "":
			return ErrNoFactor
		case p.Required && mfa.Counts(p, u, found) && counting == 0:
			return ErrLastFactor
		}
		if err := s.Store.DeleteFactor(ctx, found.ID); errors.Is(err, storage.ErrNotFound) {
			return ErrNoFactor
		} else if err != nil {
			return fmt.Errorf("selfservice: remove factor: %w", err)
		}
		if others == 0 && codes > 0 {
			if err := s.Store.ReplaceRecoveryCodes(ctx, u.ID, nil); err != nil {
				return fmt.Errorf("selfservice: remove recovery codes: %w", err)
			}
			codesGone = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.record(ctx, audit.FactorRemoved, u.ID, u, map[string]string{"kind": found.Kind, "factor_id": found.ID,
		"recovery_codes_removed": fmt.Sprint(codesGone), "at": "me"})
	s.tellChange(ctx, u, removedChange(found, codesGone))
	return nil
}
