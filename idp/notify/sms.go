package notify

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// SMSSender sends text messages. Implementations are safe for concurrent
// use.
type SMSSender interface {
	// SendSMS sends text to the E.164 number to. Errors wrap
	// ErrSMSUnavailable (try later, or another way) or ErrSMSRejected
	// (this message to this number will not go: retrying changes
	// nothing), or are ErrSMSNotConfigured.
	SendSMS(ctx context.Context, to, text string) (SMSResult, error)
}

// SMSResult says what became of a sent text, for the log and for
// `gatehouse sms test`.
type SMSResult struct {
	// Provider is twilio, webhook or dev.
	Provider string
	// ID is the gateway's message id (Twilio's SM… sid), "" when the
	// gateway gave none.
	ID string
	// Status is the gateway's word for the message ("queued",
	// "accepted"), or the HTTP status when it said nothing more.
	Status string
	// Attempts is 2 when the first attempt failed and the retry worked.
	Attempts int
	// Path is the file the dev sink wrote (empty otherwise).
	Path string
}

var (
	// ErrSMSNotConfigured is returned when no SMS provider is configured
	// (no sms.provider outside dev mode).
	ErrSMSNotConfigured = errors.New("notify: SMS is not configured (set sms.provider)")
	// ErrSMSUnavailable: the gateway could not be reached or failed
	// (timeout, connection refused, 5xx after the retry, 429). A later
	// attempt may work.
	ErrSMSUnavailable = errors.New("notify: SMS gateway unavailable")
	// ErrSMSRejected: the gateway refused the message (4xx: bad
	// credentials, invalid or blocked number), or the message itself is
	// invalid. The same send fails the same way.
	ErrSMSRejected = errors.New("notify: SMS rejected")
)

// MaxSMSText is the longest text accepted, in characters: Twilio's limit
// (ten concatenated segments); a sign-in code needs one.
const MaxSMSText = 1600

// SMSNotConfigured is the SMSSender used when SMS is not configured.
type SMSNotConfigured struct{}

// SendSMS returns ErrSMSNotConfigured.
func (SMSNotConfigured) SendSMS(context.Context, string, string) (SMSResult, error) {
	return SMSResult{}, ErrSMSNotConfigured
}

var _ SMSSender = SMSNotConfigured{}

var e164 = regexp.MustCompile(`^\+[0-9]{8,15}$`)

// CheckPhoneNumber reports whether to is an E.164 number: "+" then 8 to
// 15 digits, no spaces. The error says what is wrong in words a person
// typing a number understands, and errors.Is it ErrSMSRejected.
func CheckPhoneNumber(to string) error {
	switch {
	case to == "":
		return phoneError("no phone number")
	case e164.MatchString(to):
		return nil
	case !strings.HasPrefix(to, "+") && strings.Trim(to, "0123456789 ()-./") == "":
		return phoneError(fmt.Sprintf("%q has no country code: give the number in international form, + and the country code, e.g. +41791234567", to))
	}
	return phoneError(fmt.Sprintf("%q is not an international (E.164) phone number: + then 8 to 15 digits, no spaces, e.g. +41791234567", to))
}

// phoneError is a number a person got wrong; its text is for that person.
type phoneError string

func (e phoneError) Error() string        { return string(e) }
func (e phoneError) Is(target error) bool { return target == ErrSMSRejected }

// checkSMS refuses what no gateway would send, before spending a request.
func checkSMS(to, text string) error {
	if err := CheckPhoneNumber(to); err != nil {
		return fmt.Errorf("notify: sms: %w", err)
	}
	switch n := utf8.RuneCountInString(text); {
	case text == "" || strings.TrimSpace(text) == "":
		return fmt.Errorf("%w: empty text", ErrSMSRejected)
	case !utf8.ValidString(text):
		return fmt.Errorf("%w: text is not UTF-8", ErrSMSRejected)
	case n > MaxSMSText:
		return fmt.Errorf("%w: text of %d characters is longer than %d", ErrSMSRejected, n, MaxSMSText)
	}
	return nil
}

// maskPhone keeps the country code's first digits and the last two, so a
// log line can be matched to a complaint without the log being a
// directory of users' numbers.
func maskPhone(to string) string {
	if len(to) < 8 {
		return strings.Repeat("*", len(to))
	}
	return to[:4] + strings.Repeat("*", len(to)-6) + to[len(to)-2:]
}
