package smscode

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
const Name = mfa.SMS

// Form fields.
const (
	FieldCode = "code"
	// FieldPhone is the number to add (BeginEnrol), in international
	// form: the caller pre-fills it with the account's number when it
	// has one.
	FieldPhone = "phone"
)

// AMROTP is the RFC 8176 value of the proof: a one-time password (RFC
// 8176's "sms" would also name the channel; "otp" is what the other code
// methods give, so a relying party sees one kind of code).
const AMROTP = "otp"

const (
	// Digits is a code's length.
	Digits = otpcode.Digits
	// MaxTTL bounds a code's life and is the default TTL.
	MaxTTL = otpcode.MaxTTL
	// MaxMisses wrong tries burn a code: the user must send a new one.
	MaxMisses = otpcode.MaxMisses
)

// Failure reasons in the audit log.
const (
	ReasonMalformed     = otpcode.ReasonMalformed
	ReasonExpired       = otpcode.ReasonExpired // none sent, expired, replaced or burnt
	ReasonWrong         = otpcode.ReasonWrong
	ReasonUnknownFactor = otpcode.ReasonUnknownFactor
	ReasonUsed          = otpcode.ReasonUsed

	ReasonBadNumber      = "malformed_number"
	ReasonCountryRefused = "country_not_allowed"
	ReasonEnrolExpired   = otpcode.ReasonEnrolExpired

	// Reasons of an audit.SMSNotSent besides ReasonCountryRefused.
	ReasonCapReached = "cap_reached"
	ReasonSendFailed = "send_failed"
)

// What a page tells the user (Failure.Show, View.Notice), in plain words.
var (
	ErrRetype       = errors.New("Enter the 6-digit code from the text message.")
	ErrWrongCode    = errors.New("This code is not right. Check the text message and try again.")
	ErrExpired      = errors.New("This code has expired or was replaced. Send a new code.")
	ErrBurnt        = errors.New("Too many wrong codes. Send a new code.")
	ErrTooManySends = errors.New("Too many codes were sent. Wait a while, then send a new code, or use another method.")
	// ErrNoCountryCode: the number does not start with + and its country
	// code.
	ErrNoCountryCode = errors.New("Enter the number with its country code, starting with +, like +44 7700 900123.")
	ErrBadNumber     = errors.New("Enter a mobile number of 8 to 15 digits with its country code, like +44 7700 900123.")
	ErrCountry       = errors.New("Text messages cannot be sent to numbers in this country. Choose another method.")
	ErrEnrolExpired  = errors.New("This number was not confirmed in time. Start again to add it.")
)

var (
	// ErrSendFailed wraps a failed send (the SMS gateway is down or
	// refused the message), with authflow.ErrNotSent: the flow shows the
	// step with its notice and the user's other methods. Its text is fit
	// for a page that shows the error itself (/me); the detail is logged.
	ErrSendFailed = errors.New("we could not send the text message; try again or use another method")
	// ErrNoFactor: the turn holds no phone factor to send a code to (the
	// flow offered a method the user cannot use).
	ErrNoFactor = errors.New("smscode: no phone factor to send a code to")
)

// Store is the storage the method writes: enrolments, their confirmation
// and the last use of a factor.
type Store = otpcode.Store

// Method sends and checks SMS codes. Set the fields before use; it is
// then safe for concurrent use.
type Method struct {
	Store  Store
	Sender Sender
	// Sends caps the codes sent (SendLimits.Windows). Every cap is
	// required: without one no code is sent.
	Sends Sends
	// ClientIP names the client of the request ctx belongs to, for the
	// per-network cap (httpserver.ClientIP); nil or "": not counted.
	ClientIP func(ctx context.Context) string
	// AllowedCountries are the ISO 3166-1 alpha-2 codes ("GB", "DE") of
	// the numbers codes may be sent to; empty: any. Country names a
	// number's country (idp/phone.Country); it is required when
	// AllowedCountries is set, and a number it cannot place is refused.
	AllowedCountries []string
	Country          func(e164 string) (string, bool)
	// Key keys the code's hash in the state (HMAC-SHA256), as in
	// emailcode: a key derived from the master key keeps someone who
	// reads auth requests in the database from trying the 10^6 codes
	// offline.
	Key []byte
	// TTL is a code's life (and a pending number's); 0 or more than
	// MaxTTL is MaxTTL.
	TTL time.Duration
	// Issuer is the public base URL: its host (and port, when not the
	// scheme's default) is the origin in the message's last line, the
	// only site a phone offers the code to.
	Issuer string
	// OrgName is the user's organization's display name for the message
	// ("" or nil: "Gatehouse").
	OrgName func(ctx context.Context, u storage.User) string
	// Now is the clock and Rand the source of codes; nil: time.Now and
	// crypto/rand.
	Now  func() time.Time
	Rand io.Reader
	// Logger gets refused and failed sends; nil is slog.Default().
	Logger *slog.Logger
	// Audit records each text not sent (audit.SMSNotSent): a refused
	// country, a cap reached, a failed gateway. nil records nothing.
	Audit Auditor
}

// Auditor records audit events (*audit.Recorder). An error is logged by
// the recorder; the method goes on, since the page's answer must not
// depend on the audit store.
type Auditor interface {
	Record(ctx context.Context, e storage.AuditEvent) error
}

var _ authflow.Enroller = (*Method)(nil)

// Name is "sms".
func (m *Method) Name() string { return Name }

// Challenge shows the mfa step: the code already sent in this login, or a
// new one to the user's most recently used number. A code is sent once per
// login: a repeated showing sends nothing, even when the code has expired
// or was burnt (the page says so and offers a new one), because sending a
// new code on a mere reload would undo the burn and run up the bill. Only
// t.Resend sends again, and it voids the old code.
func (m *Method) Challenge(ctx context.Context, t authflow.Turn) (authflow.View, []byte, error) {
	if err := checkTurn(t); err != nil {
		return authflow.View{}, nil, err
	}
	return m.challenge(ctx, t, usable(t), purposeSignIn)
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
	return authflow.Proof{UserID: t.User.ID, AMR: []string{AMROTP}, Event: audit.LoginSMSCode}
}

func failure(t authflow.Turn, reason string, show error, state []byte) *authflow.Failure {
	return &authflow.Failure{User: t.User, Reason: reason, Show: show, State: state}
}

// checkTurn refuses a turn without a login or a user: a code must be bound
// to both, so this is the caller's bug, not the user's.
func checkTurn(t authflow.Turn) error {
	if t.Request.ID == "" || t.User.ID == "" {
		return errors.New("smscode: the turn names no login or no user")
	}
	return nil
}

// usable are t's confirmed phone factors of t.User. The flow already
// filtered them; this keeps a stray row from receiving a code.
func usable(t authflow.Turn) []storage.Factor {
	var out []storage.Factor
	for _, f := range t.Factors {
		if f.Kind == Name && f.UserID == t.User.ID && !f.ConfirmedAt.IsZero() && f.Address != "" {
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
