package notify

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"
)

// built is a message ready for the wire (CRLF line ends, not yet
// dot-stuffed) and its envelope.
type built struct {
	raw       []byte
	to        string // envelope recipient, a bare address
	messageID string
}

// build checks m and renders it as an RFC 5322 message from from, dated
// now, with ids drawn from random.
func build(m Message, from *mail.Address, now time.Time, random io.Reader) (built, error) {
	to, err := parseRecipient(m.To)
	if err != nil {
		return built{}, err
	}
	if err := headerValue("subject", m.Subject); err != nil {
		return built{}, err
	}
	if m.Text == "" {
		return built{}, fmt.Errorf("%w: the text part is empty", ErrInvalidMessage)
	}
	if !utf8.ValidString(m.Text) || !utf8.ValidString(m.HTML) || !utf8.ValidString(m.Subject) {
		return built{}, fmt.Errorf("%w: not valid UTF-8", ErrInvalidMessage)
	}
	id, err := randomHex(random, 16)
	if err != nil {
		return built{}, err
	}
	messageID := "<" + id + "@" + domainOf(from.Address) + ">"

	var buf bytes.Buffer
	h := func(k, v string) { buf.WriteString(k + ": " + v + "\r\n") }
	h("From", from.String()) // String quotes and Q-encodes the display name
	h("To", to.String())
	h("Subject", encodeSubject(m.Subject))
	h("Date", now.Format(time.RFC1123Z)) // RFC 5322 date-time
	h("Message-ID", messageID)
	h("MIME-Version", "1.0")
	// RFC 3834: tells auto-responders not to answer a machine.
	h("Auto-Submitted", "auto-generated")

	if m.HTML == "" {
		h("Content-Type", "text/plain; charset=utf-8")
		h("Content-Transfer-Encoding", "quoted-printable")
		buf.WriteString("\r\n")
		if err := writeQP(&buf, m.Text); err != nil {
			return built{}, err
		}
		return built{raw: buf.Bytes(), to: to.Address, messageID: messageID}, nil
	}

	boundary, err := randomHex(random, 15)
	if err != nil {
		return built{}, err
	}
	mw := multipart.NewWriter(&buf)
	if err := mw.SetBoundary("=_gatehouse_" + boundary); err != nil {
		return built{}, err
	}
	h("Content-Type", "multipart/alternative;\r\n boundary=\""+mw.Boundary()+"\"")
	buf.WriteString("\r\n")
	// Least preferred first (RFC 2046 5.1.4): text, then HTML.
	for _, part := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return built{}, err
		}
		if err := writeQP(w, part.body); err != nil {
			return built{}, err
		}
	}
	if err := mw.Close(); err != nil {
		return built{}, err
	}
	return built{raw: buf.Bytes(), to: to.Address, messageID: messageID}, nil
}

// parseRecipient accepts exactly one address, with or without a display
// name. CR and LF are refused before parsing: they are how a value becomes
// extra headers (Bcc: …).
func parseRecipient(s string) (*mail.Address, error) {
	if err := headerValue("to", s); err != nil {
		return nil, err
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%w: to %q: %v", ErrInvalidMessage, s, err)
	}
	return a, nil
}

// parseSender parses a From address (smtp.from).
func parseSender(s string) (*mail.Address, error) {
	if err := headerValue("from", s); err != nil {
		return nil, err
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("notify: from %q: %w", s, err)
	}
	return a, nil
}

// headerValue refuses what would break out of a header line: CR, LF, and
// the other control characters no header needs.
func headerValue(name, v string) error {
	for _, r := range v {
		if r == '\r' || r == '\n' {
			return fmt.Errorf("%w: %s contains a line break", ErrInvalidMessage, name)
		}
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return fmt.Errorf("%w: %s contains a control character", ErrInvalidMessage, name)
		}
	}
	return nil
}

// encodeSubject Q-encodes a subject that needs it, folding between the
// encoded words (each at most 75 characters, RFC 2047) so that a long
// subject is several short lines rather than one long one.
func encodeSubject(s string) string {
	enc := mime.QEncoding.Encode("utf-8", s)
	return strings.ReplaceAll(enc, "?= =?", "?=\r\n =?")
}

// writeQP writes s as quoted-printable; the writer turns line ends into
// CRLF and wraps long lines with soft breaks.
func writeQP(w io.Writer, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := io.WriteString(qp, s); err != nil {
		return err
	}
	return qp.Close()
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i < len(addr)-1 {
		return addr[i+1:]
	}
	return "localhost"
}

func randomHex(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("notify: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}
