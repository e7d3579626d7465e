package authflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// SecondFactor is a back door of the mfa step: one of idp/mfa's methods
// (an authenticator app, email codes, recovery codes; SMS and security
// keys next). The flow decides which of the user's factors count (the
// organization's policy and its generation, idp/mfa) and hands the method
// only those; the method checks what the browser submitted against them.
// Registered with RegisterFactor.
type SecondFactor interface {
	// Name is the method's name in forms and the audit log, and the Kind
	// of the factors it proves ("totp", "email", "recovery").
	Name() string
	// Challenge prepares the step when its page is shown: an email code
	// is sent here, once per login unless c.Resend asks for a new one.
	// It returns what the page shows and the method's new state for this
	// login (Turn.State), which the flow stores with the request.
	Challenge(ctx context.Context, c Turn) (View, []byte, error)
	// Verify checks in against c.Factors. A wrong code is a *Failure,
	// whose State (a miss counted, a code burnt) the flow stores; any
	// other error is an outage and must not count against the user.
	Verify(ctx context.Context, c Turn, in Input) (Proof, error)
}

// ErrNotSent is what a method's Challenge or EnrolView wraps when it could
// not send its code (the mail server or SMS gateway is down). The flow
// then shows the step with this as its notice, and the user's other
// methods, instead of failing the page; the method logs the detail.
var ErrNotSent = errors.New("we could not send the code; try again in a moment, or use another method")

// Unsent is a method's failure to send its code with its own words for
// the page (Show: "we could not send the text message…"), where
// ErrNotSent's would say less. It is ErrNotSent, Show and Err to
// errors.Is.
type Unsent struct {
	Show, Err error
}

func (e *Unsent) Error() string   { return e.Show.Error() + ": " + e.Err.Error() }
func (e *Unsent) Unwrap() []error { return []error{ErrNotSent, e.Show, e.Err} }

// Enroller is a SecondFactor a user can enrol during a login (and at
// /me). An enrolment is a pending factor in storage, unconfirmed and
// expiring, which proves nothing until ConfirmEnrol: an enrolment left
// behind never leaves an active factor.
type Enroller interface {
	SecondFactor
	// BeginEnrol stores a new pending factor for c.User and returns its
	// id and the method's state. in is what the choice page posted (an
	// email address, where the policy allows another); a *Failure with
	// Show says what is wrong with it.
	BeginEnrol(ctx context.Context, c Turn, in Input) (factorID string, state []byte, err error)
	// EnrolView is what the enrolment page shows of pending factor f (a
	// QR code and the secret as text, or where a code was sent), with the
	// method's new state (a code sent).
	EnrolView(ctx context.Context, c Turn, f storage.Factor) (View, []byte, error)
	// ConfirmEnrol checks in against pending factor f and confirms it in
	// storage. The flow calls it inside the unit of work that also moves
	// the login on, so that a confirmation and the login's move happen
	// together or not at all. A wrong code is a *Failure.
	ConfirmEnrol(ctx context.Context, c Turn, f storage.Factor, in Input) (Proof, error)
}

// Fallback marks a SecondFactor that stands in for a lost one (recovery
// codes): its factors satisfy the step but do not make a user enrolled,
// and a login it proved stops on a page that asks the user to look at
// their factors.
type Fallback interface {
	Fallback() bool
}

// RecoveryCodes issues a user's recovery codes (idp/mfa/recovery): a new
// set voids the old one. The flow issues them once, in the unit of work of
// the user's first enrolment, and shows them once.
type RecoveryCodes interface {
	Issue(ctx context.Context, userID string) ([]string, error)
}

// Turn is what a second factor gets to work on: one showing or one
// submission of its step.
type Turn struct {
	Request storage.AuthRequest
	User    storage.User
	// Policy is the user's organization's MFA policy (zero without one).
	Policy storage.MFAPolicy
	// Factors are the user's factors of the method that count now.
	Factors []storage.Factor
	// State is what the method returned for this login last time (nil at
	// first): a code sent, its misses. Bound to the login: another login
	// has its own.
	State []byte
	// Resend: the user asked for a new code; the old one is void.
	Resend bool
}

// View is what a second factor's page shows. A method fills what applies
// to it.
type View struct {
	// Address is where a code went, masked for the page.
	Address string
	// Sent: a code was sent for this showing.
	Sent bool
	// Secret is an authenticator app's secret as grouped text, URI its
	// otpauth URI and QR its PNG (enrolment only).
	Secret, URI string
	QR          []byte
	// Notice, when set, is what the page tells the user about the step
	// itself (too many codes sent; wait), in plain words.
	Notice error
	// Data is a method's JSON for the page's script (WebAuthn options).
	Data []byte
}

// flowState is the flow's own part of a request (AuthRequest.FlowData).
type flowState struct {
	// Method is the second factor the mfa or enrol step is on.
	Method string `json:"method,omitempty"`
	// Factor is the pending factor an enrolment is confirming.
	Factor string `json:"factor,omitempty"`
	// State is the method's own state for this login.
	State json.RawMessage `json:"state,omitempty"`
	// Notice is what the notice step acknowledges: noticeEnrolled,
	// noticeRecovery.
	Notice string `json:"notice,omitempty"`
	// Remaining counts recovery codes left (noticeRecovery).
	Remaining int `json:"remaining,omitempty"`
	// Skipped: the login went through without a second factor because
	// the user chose "Skip for now" (for the audit).
	Skipped bool `json:"skipped,omitempty"`
}

// Notices of StepNotice.
const (
	// NoticeEnrolled: a factor was enrolled; recovery codes may be shown.
	NoticeEnrolled = "enrolled"
	// NoticeRecovery: a recovery code was used; the user should check
	// their factors.
	NoticeRecovery = "recovery_used"
)

func readState(r storage.AuthRequest) (flowState, error) {
	var s flowState
	if len(r.FlowData) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(r.FlowData, &s); err != nil {
		return flowState{}, fmt.Errorf("authflow: read flow state: %w", err)
	}
	return s, nil
}

func writeState(r *storage.AuthRequest, s flowState) error {
	if s.Method == "" && s.Factor == "" && len(s.State) == 0 && s.Notice == "" && s.Remaining == 0 && !s.Skipped {
		r.FlowData = nil
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("authflow: write flow state: %w", err)
	}
	r.FlowData = b
	return nil
}

// RegisterFactor adds a second factor under m.Name().
func (f *Flow) RegisterFactor(m SecondFactor) {
	if f.factors == nil {
		f.factors = map[string]SecondFactor{}
	}
	f.factors[m.Name()] = m
}

// Factor returns the second factor registered under name.
func (f *Flow) Factor(name string) (SecondFactor, bool) {
	m, ok := f.factors[name]
	return m, ok
}
