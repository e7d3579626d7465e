package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
)

// Captured is one message the server accepted.
type Captured struct {
	// From and To are the envelope: MAIL FROM and the accepted RCPT TOs.
	From string
	To   []string
	// Data is the message exactly as received (CRLF line ends, no dot
	// stuffing).
	Data []byte
	// QueueID is the id in the server's "250 … queued as" reply.
	QueueID string
	// Auth is the SASL mechanism the client authenticated with ("" when
	// it did not), AuthUser the username it gave; TLS says whether the
	// message came over TLS (implicit or STARTTLS).
	Auth, AuthUser string
	TLS            bool

	// Parsed from Data. Subject is decoded from RFC 2047 words. Text and
	// HTML are the first text/plain and text/html parts (or the body of a
	// single-part message), transfer-decoded, with LF line ends.
	Header  mail.Header
	Subject string
	Text    string
	HTML    string
	// ParseErr is why Data could not be parsed; the fields above are then
	// whatever was parsed before it.
	ParseErr error
}

// Link returns the first link in the text part that starts with prefix,
// failing the test when there is none.
func (m Captured) Link(t testing.TB, prefix string) string {
	t.Helper()
	link, ok := FirstLink(m.Text, prefix)
	if !ok {
		t.Fatalf("smtptest: no link starting with %q in the message to %v; text part:\n%s", prefix, m.To, m.Text)
	}
	return link
}

// FirstLink returns the first run of text that starts with prefix and runs
// to the next white space, quote or angle bracket (the ends of a link in
// plain text).
func FirstLink(text, prefix string) (string, bool) {
	if prefix == "" {
		return "", false
	}
	i := strings.Index(text, prefix)
	if i < 0 {
		return "", false
	}
	rest := text[i:]
	if end := strings.IndexAny(rest, " \t\r\n\"'<>"); end >= 0 {
		rest = rest[:end]
	}
	return rest, true
}

// Parse parses a raw message as the server does its captures (envelope
// fields left empty): for messages that did not come over SMTP, such as
// the .eml files of a dev mail sink.
func Parse(raw []byte) Captured { return parse(raw) }

func parse(raw []byte) Captured {
	m := Captured{Data: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		m.ParseErr = err
		return m
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		m.ParseErr = fmt.Errorf("subject: %w", err)
		return m
	}
	m.ParseErr = m.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	return m
}

// walk fills Text and HTML from one entity, descending into multiparts.
func (m *Captured) walk(contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content-type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			// Raw parts: the transfer decoding is checked here, not done
			// silently by the multipart reader.
			p, err := r.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", mediaType, err)
			}
			if err := m.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	var decoded io.Reader
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		decoded = quotedprintable.NewReader(body)
	case "base64":
		decoded = base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
	case "", "7bit", "8bit", "binary":
		decoded = body
	default:
		return fmt.Errorf("unknown content-transfer-encoding %q", encoding)
	}
	b, err := io.ReadAll(decoded)
	if err != nil {
		return fmt.Errorf("%s body: %w", mediaType, err)
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch {
	case mediaType == "text/plain" && m.Text == "":
		m.Text = text
	case mediaType == "text/html" && m.HTML == "":
		m.HTML = text
	}
	return nil
}

// newlineStripper drops CR and LF, which base64 bodies wrap at 76.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, c := range p[:k] {
			if c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
