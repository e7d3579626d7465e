package authflow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var (
	// ErrInvalidCredentials is the one answer to every failed proof:
	// unknown user, wrong password, disabled, locked, no password.
	ErrInvalidCredentials = errors.New("authflow: incorrect email or password")
	// ErrOutOfTurn: the operation is not one the request's current step
	// allows. The row is unchanged.
	ErrOutOfTurn = errors.New("authflow: step out of turn")
	// ErrRequestGone: the auth request is unknown or expired.
	ErrRequestGone = errors.New("authflow: login request expired or unknown")
	// ErrIncomplete: Complete was called before the login was done.
	ErrIncomplete = errors.New("authflow: login not complete")
	// ErrWrongBrowser: Complete was called by a browser other than the
	// one whose session finished the login.
	ErrWrongBrowser = errors.New("authflow: login finished in another browser")
	// ErrUnknownDoor: no front door is registered for the protocol.
	ErrUnknownDoor = errors.New("authflow: no front door for this protocol")
	// ErrUnknownParty: the door does not know the relying party. Its
	// policy (such as requiring MFA) cannot be known, so the login stops.
	ErrUnknownParty = errors.New("authflow: unknown relying party")
	// ErrUnknownMethod: no back door is registered under that name.
	ErrUnknownMethod = errors.New("authflow: unknown method")
)

// DefaultTTL bounds a login in progress: long enough to fetch a phone for a
// code, short enough that an abandoned request dies.
const DefaultTTL = 30 * time.Minute

// Authentication methods (RFC 8176 names) and the ACR values they give.
const (
	AMRPassword = "pwd"
	AMRMFA      = "mfa"

	ACRPassword = "urn:gatehouse:acr:pwd"
	ACRMFA      = "urn:gatehouse:acr:mfa"
)

// ACR is the acr claim for a login proved by amr: this is the one mapping,
// for ID tokens at the code exchange and at every refresh.
func ACR(amr []string) string {
	if slices.Contains(amr, AMRMFA) {
		return ACRMFA
	}
	return ACRPassword
}

// Door is what the flow needs of a front door: its relying parties'
// policy. Doors register by protocol (RegisterDoor) and may implement more
// (ui.Door: how the browser continues there).
type Door interface {
	// Party describes the relying party id names. An unknown party is an
	// error wrapping storage.ErrNotFound, never a party without policy.
	Party(ctx context.Context, id string) (Party, error)
}

// Party is a relying party as the flow sees it.
type Party struct {
	// Name is what the pages call it.
	Name string
	// RequireMFA: the party demands a second factor of every login.
	RequireMFA bool
}

// Store is the storage the flow uses.
type Store interface {
	CreateAuthRequest(ctx context.Context, r storage.AuthRequest) error
	GetAuthRequest(ctx context.Context, id string) (storage.AuthRequest, error)
	UpdateAuthRequest(ctx context.Context, id string, fn func(storage.AuthRequest) (storage.AuthRequest, error)) (storage.AuthRequest, error)
	GetUser(ctx context.Context, id string) (storage.User, error)
	UpdateUser(ctx context.Context, id string, fn func(storage.User) (storage.User, error)) (storage.User, error)
	GetOrganization(ctx context.Context, id string) (storage.Organization, error)
	// The user's factors, to know which count, and an enrolment's
	// pending factor.
	ListFactors(ctx context.Context, userID string, now time.Time) ([]storage.Factor, error)
	GetFactor(ctx context.Context, id string) (storage.Factor, error)
	DeleteFactor(ctx context.Context, id string) error
}

// Sessions starts browser sessions for finished logins (session.Manager).
type Sessions interface {
	Create(ctx context.Context, b session.Browser, l session.Login) (session.Started, error)
	Discard(ctx context.Context, st session.Started) error
	Touch(ctx context.Context, s storage.Session) (storage.Session, error)
}

// Notices sends a user a notice of a change to their second factors
// (idp/selfservice, by email): best effort, after the change committed.
type Notices interface {
	FactorAdded(ctx context.Context, u storage.User, method string)
}

// Expiry says whether a user's password has expired under their
// organization's policy (idp/password's maximum age).
type Expiry interface {
	Expired(ctx context.Context, u storage.User) (bool, error)
}

// Flow runs logins. Register its doors and methods before serving; after
// that it is safe for concurrent use.
type Flow struct {
	Store    Store
	Sessions Sessions
	Audit    *audit.Recorder
	Now      func() time.Time
	TTL      time.Duration
	// Expiry, when set, sends a login whose password has expired to
	// StepNewPassword before anything else.
	Expiry Expiry
	// Lockout counts guesses at the secrets of Guarded methods; nil
	// counts nothing.
	Lockout Lockout

	// Recovery issues recovery codes after a user's first enrolment; nil
	// issues none.
	Recovery RecoveryCodes
	// Passkeys, when set, offers passkey sign-in at the login step.
	Passkeys Passkeys

	// Federation, when set, lets organizations' upstream identity
	// providers sign their users in (upstream.go).
	Federation *Federation

	// Notices tells users of changes to their factors made during a
	// login (an enrolment), after the change is committed; nil tells no
	// one.
	Notices Notices

	doors   map[string]Door
	methods map[string]Method
	factors map[string]SecondFactor
}

// RegisterDoor makes protocol's requests belong to d.
func (f *Flow) RegisterDoor(protocol string, d Door) {
	if f.doors == nil {
		f.doors = map[string]Door{}
	}
	f.doors[protocol] = d
}

// Door returns the door registered for protocol.
func (f *Flow) Door(protocol string) (Door, bool) {
	d, ok := f.doors[protocol]
	return d, ok
}

// Doors lists the registered protocols (for start-up checks).
func (f *Flow) Doors() []string { return slices.Sorted(maps.Keys(f.doors)) }

// RegisterMethod adds a back door under m.Name().
func (f *Flow) RegisterMethod(m Method) {
	if f.methods == nil {
		f.methods = map[string]Method{}
	}
	f.methods[m.Name()] = m
}

// Begin stores a new auth request at the login step. The front door fills
// in the protocol fields; Begin owns id, step, identity and lifetime.
func (f *Flow) Begin(ctx context.Context, r storage.AuthRequest) (storage.AuthRequest, error) {
	if _, ok := f.doors[r.Protocol]; !ok {
		return storage.AuthRequest{}, fmt.Errorf("%w: %q", ErrUnknownDoor, r.Protocol)
	}
	now := f.Now()
	ttl := f.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	r.ID = storage.NewID()
	r.Step = StepLogin.name
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

// update is the one way the flow writes a request: fn runs only while the
// request is live and at step from, inside the storage's row lock, so a
// transition either happens from the step it was decided on or not at all.
func (f *Flow) update(ctx context.Context, id string, from Step, fn func(*storage.AuthRequest) error) (storage.AuthRequest, error) {
	now := f.Now()
	r, err := f.Store.UpdateAuthRequest(ctx, id, func(r storage.AuthRequest) (storage.AuthRequest, error) {
		if !now.Before(r.ExpiresAt) {
			return r, ErrRequestGone
		}
		if StepOf(r) != from {
			return r, ErrOutOfTurn
		}
		return r, fn(&r)
	})
	if err != nil {
		return storage.AuthRequest{}, f.mapErr(err)
	}
	return r, nil
}

// mapErr turns a failed conditional write into the flow's sentinel, or a
// wrapped storage error (an outage).
func (f *Flow) mapErr(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return ErrRequestGone
	}
	for _, sentinel := range []error{ErrRequestGone, ErrOutOfTurn, ErrIncomplete, ErrWrongBrowser} {
		if errors.Is(err, sentinel) {
			return sentinel
		}
	}
	return fmt.Errorf("authflow: %w", err)
}

// Prompted reports whether the request carries prompt value p.
func Prompted(r storage.AuthRequest, p string) bool { return slices.Contains(r.Prompt, p) }

// party is the relying party of r, through its door.
func (f *Flow) party(ctx context.Context, r storage.AuthRequest) (Party, error) {
	d, ok := f.doors[r.Protocol]
	if !ok {
		return Party{}, fmt.Errorf("%w: %q", ErrUnknownDoor, r.Protocol)
	}
	p, err := d.Party(ctx, r.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return Party{}, fmt.Errorf("%w: %s %q", ErrUnknownParty, r.Protocol, r.ClientID)
	} else if err != nil {
		return Party{}, fmt.Errorf("authflow: relying party: %w", err)
	}
	return p, nil
}

func (f *Flow) record(ctx context.Context, typ string, r storage.AuthRequest, u storage.User, details map[string]string) {
	// Audit failures must not turn a login answer into a different one
	// (that would leak); the recorder logs them.
	_ = f.Audit.Record(ctx, storage.AuditEvent{Type: typ, OrgID: u.OrgID, UserID: u.ID, ClientID: r.ClientID, Details: details})
}
