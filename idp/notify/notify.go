package notify

import (
	"context"
	"errors"
)

// Message is one email to one recipient. Text is required; HTML is
// optional and, when set, is sent as the preferred alternative.
type Message struct {
	To, Subject, Text, HTML string
}

// Notifier sends messages. Implementations are safe for concurrent use.
type Notifier interface {
	Send(ctx context.Context, m Message) error
}

// Receipt says what became of a delivered message, for the people
// debugging it: `gatehouse mail test` prints it.
type Receipt struct {
	// MessageID is the message's Message-ID header, with angle brackets.
	MessageID string
	// Reply is the SMTP server's answer to the message, e.g.
	// "250 2.0.0 OK: queued as 1A2B3C" (empty for the sink).
	Reply string
	// Path is the .eml file the sink wrote (empty for SMTP).
	Path string
}

var (
	// ErrNotConfigured is returned by Send when no email delivery is
	// configured (no smtp.host outside dev mode).
	ErrNotConfigured = errors.New("notify: email is not configured (set smtp.host)")
	// ErrInvalidMessage wraps every problem with a Message itself: a bad
	// address, CR or LF in a header, no text. It is the caller's bug or
	// bad input, never worth a retry.
	ErrInvalidMessage = errors.New("notify: invalid message")
	// ErrTemporary and ErrPermanent classify a *SendError for errors.Is.
	ErrTemporary = errors.New("notify: temporary failure")
	ErrPermanent = errors.New("notify: permanent failure")
)

// NotConfigured is the Notifier used when email is not configured.
type NotConfigured struct{}

// Send returns ErrNotConfigured.
func (NotConfigured) Send(context.Context, Message) error { return ErrNotConfigured }

// Deliver returns ErrNotConfigured.
func (NotConfigured) Deliver(context.Context, Message) (Receipt, error) {
	return Receipt{}, ErrNotConfigured
}

var _ Notifier = NotConfigured{}
