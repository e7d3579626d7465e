package emailcode

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/otpcode"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Name is the method's name in forms and the audit log, and the Kind of
// the factors it proves.
const Name = mfa.Email

// Form fields.
const (
	FieldCode = "code"
	// FieldAddress is the address to add (BeginEnrol); empty means the
	// account's own.
	FieldAddress = "address"
)

// AMROTP is the RFC 8176 value of the proof: a one-time password.
const AMROTP = "otp"

const (
	// Digits is a code's length: 10^6 codes, of which an attacker gets
	// MaxMisses tries per code sent and the sends are capped.
	Digits = otpcode.Digits
	// MaxTTL bounds a code's life and is the default TTL: long enough to
	// switch to a mail app, short enough that a code read later is dead.
	MaxTTL = otpcode.MaxTTL
	// MaxMisses wrong tries burn a code: the user must send a new one.
	MaxMisses = otpcode.MaxMisses
)

// Failure reasons in the audit log.
const (
	ReasonMalformed      = otpcode.ReasonMalformed
	ReasonExpired        = otpcode.ReasonExpired // none sent, expired, replaced or burnt
	ReasonWrong          = otpcode.ReasonWrong
	ReasonUnknownFactor  = otpcode.ReasonUnknownFactor
	ReasonUsed           = otpcode.ReasonUsed
	ReasonBadAddress     = "malformed_address"
	ReasonAddressRefused = "address_not_allowed"
	ReasonEnrolExpired   = otpcode.ReasonEnrolExpired
)

// What a page tells the user (Failure.Show, View.Notice), in plain words.
// None of them says anything about the code beyond this login.
var (
	ErrRetype       = errors.New("Enter the 6-digit code from the email.")
	ErrWrongCode    = errors.New("This code is not right. Check the email and try again.")
	ErrExpired      = errors.New("This code has expired or was replaced. Send a new code.")
	ErrBurnt        = errors.New("Too many wrong codes. Send a new code.")
	ErrTooManySends = errors.New("Too many codes were sent. Wait a few minutes, then send a new code.")
	ErrBadAddress   = errors.New("Enter one email address, like name@example.com.")
	// ErrOwnAddressRefused: the organization has not chosen email codes,
	// and the account's mailbox already resets its password.
	ErrOwnAddressRefused   = errors.New("Your organization does not allow sign-in codes to your account's own email address. Choose another method.")
	ErrOtherAddressRefused = errors.New("Your organization does not allow sign-in codes to an address other than your account's.")
	ErrEnrolExpired        = errors.New("This address was not confirmed in time. Start again to add it.")
)

var (
	// ErrSendFailed wraps a failed send (the mail server is down or
	// refused the message): the page can say that email does not work
	// right now and offer another method. The detail is logged.
	ErrSendFailed = errors.New("emailcode: the code could not be sent")
	// ErrNoFactor: the turn holds no email factor to send a code to (the
	// flow offered a method the user cannot use).
	ErrNoFactor = errors.New("emailcode: no email factor to send a code to")
)

// Store is the storage the method writes: enrolments, their confirmation
// and the last use of a factor.
type Store = otpcode.Store

// Method sends and checks email codes. Set the fields before use; it is
// then safe for concurrent use.
type Method struct {
	Store  Store
	Mailer Mailer
	// Sends caps the codes sent (SendLimits.Windows). Address and Account
	// are required: without them no code is sent.
	Sends Sends
	// ClientIP names the client of the request ctx belongs to, for the
	// per-network cap (httpserver.ClientIP); nil or "": not counted.
	ClientIP func(ctx context.Context) string
	// Key keys the code's hash in the state (HMAC-SHA256). With a key
	// that is not in the database (derived from the master key), someone
	// who can read auth requests there cannot try the 10^6 codes offline
	// against a hash; nil is an empty key, which only keeps the code out
	// of plain sight.
	Key []byte
	// TTL is a code's life (and a pending address's); 0 or more than
	// MaxTTL is MaxTTL.
	TTL time.Duration
	// OrgName is the user's organization's display name for the mail
	// ("" or nil: "Gatehouse"); Issuer is the public base URL for its
	// footer.
	OrgName func(ctx context.Context, u storage.User) string
	Issuer  string
	// Now is the clock and Rand the source of codes; nil: time.Now and
	// crypto/rand.
	Now  func() time.Time
	Rand io.Reader
	// Logger gets refused and failed sends; nil is slog.Default().
	Logger *slog.Logger
}

var _ authflow.Enroller = (*Method)(nil)

// Name is "email".
func (m *Method) Name() string { return Name }

// Challenge shows the mfa step: the code already sent in this login, or a
// new one to the user's most recently used address. A code is sent once
// per login: a repeated showing sends nothing, even when the code has
// expired or was burnt (the page says so and offers a new one), because
// sending a new code on a mere reload would undo the burn of MaxMisses.
// Only t.Resend sends again, and it voids the old code.
func (m *Method) Challenge(ctx context.Context, t authflow.Turn) (authflow.View, []byte, error) {
	if err := checkTurn(t); err != nil {
		return authflow.View{}, nil, err
	}
	return m.challenge(ctx, t, usable(t))
}

// Verify checks the code typed against the code this login was sent, for
// a factor that still counts, and records the factor's use. A code proves
// one login: the flow clears the state when it accepts the proof, and a
// state replayed after that fails here too, because the factor's last use
// is then later than the code's sending.
func (m *Method) Verify(ctx context.Context, t authflow.Turn, in authflow.Input) (authflow.Proof, error) {
	if err := checkTurn(t); err != nil {
		return authflow.Proof{}, err
	}
	f, err := m.check(t, usable(t), in)
	if err != nil {
		return authflow.Proof{}, err
	}
	if err := m.code().Spend(ctx, m.Store, t, f, m.now()); err != nil {
		return authflow.Proof{}, err
	}
	return proof(t), nil
}

func proof(t authflow.Turn) authflow.Proof {
	return authflow.Proof{UserID: t.User.ID, AMR: []string{AMROTP}, Event: audit.LoginEmailCode}
}

func failure(t authflow.Turn, reason string, show error, state []byte) *authflow.Failure {
	return &authflow.Failure{User: t.User, Reason: reason, Show: show, State: state}
}

// checkTurn refuses a turn without a login or a user: a code must be bound
// to both, so this is the caller's bug, not the user's.
func checkTurn(t authflow.Turn) error {
	if t.Request.ID == "" || t.User.ID == "" {
		return errors.New("emailcode: the turn names no login or no user")
	}
	return nil
}

// usable are t's confirmed email factors of t.User. The flow already
// filtered them; this keeps a stray row from receiving a code.
func usable(t authflow.Turn) []storage.Factor {
	var out []storage.Factor
	for _, f := range t.Factors {
		if f.Kind == storage.FactorEmail && f.UserID == t.User.ID && !f.ConfirmedAt.IsZero() && f.Address != "" {
			out = append(out, f)
		}
	}
	return out
}

func (m *Method) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

func (m *Method) rand() io.Reader {
	if m.Rand == nil {
		return rand.Reader
	}
	return m.Rand
}

func (m *Method) logger() *slog.Logger {
	if m.Logger == nil {
		return slog.Default()
	}
	return m.Logger
}

func (m *Method) ttl() time.Duration {
	if m.TTL <= 0 || m.TTL > MaxTTL {
		return MaxTTL
	}
	return m.TTL
}

func (m *Method) orgName(ctx context.Context, u storage.User) string {
	if m.OrgName == nil {
		return ""
	}
	return m.OrgName(ctx, u)
}
