package notify

import (
	"context"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
)

// DevSender is the From of messages the dev sink writes.
const DevSender = "Gatehouse <noreply@localhost>"

// Sink is the dev mail sink: it delivers each message as an .eml file in
// a directory and one log line that names the file and carries the text
// part, so a developer can follow an invite or reset link without a mail
// server. The files hold live links; they are written 0600.
type Sink struct {
	dir  string
	from *mail.Address
	opts Options
}

var _ Notifier = (*Sink)(nil)

// NewSink returns a sink writing to dir (created on first use) with the
// given From address.
func NewSink(dir, from string, opts Options) (*Sink, error) {
	a, err := parseSender(from)
	if err != nil {
		return nil, err
	}
	return &Sink{dir: dir, from: a, opts: opts.withDefaults()}, nil
}

// Dir is where the sink writes.
func (s *Sink) Dir() string { return s.dir }

// Send delivers m; see Deliver.
func (s *Sink) Send(ctx context.Context, m Message) error {
	_, err := s.Deliver(ctx, m)
	return err
}

// Deliver writes m to a new file and logs where.
func (s *Sink) Deliver(_ context.Context, m Message) (Receipt, error) {
	now := s.opts.Now()
	b, err := build(m, s.from, now, s.opts.Rand)
	if err != nil {
		return Receipt{}, err
	}
	stem := now.UTC().Format("20060102T150405.000Z") + "-" + fileSafe(b.to)
	path, err := createFile(s.dir, stem, ".eml", s.opts.Rand, b.raw)
	if err != nil {
		return Receipt{}, fmt.Errorf("notify: dev mail sink: %w", err)
	}
	s.opts.Logger.Info("mail written to "+path+" (dev mail sink: smtp.host is not set)",
		"path", path, "to", b.to, "subject", m.Subject, "message_id", b.messageID, "text", m.Text)
	return Receipt{MessageID: b.messageID, Path: path}, nil
}

// createFile writes data to a new file, dir/stem-<random>ext, made 0600
// in a directory made 0700: the dev sinks' files hold live links and
// codes. O_EXCL: never append to, or follow a link planted at, another
// file.
func createFile(dir, stem, ext string, rnd io.Reader, data []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	suffix, err := randomHex(rnd, 4)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, stem+"-"+suffix+ext)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", werr
	}
	return path, nil
}

// fileSafe keeps the letters of an address a file name can hold.
func fileSafe(addr string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '@', r == '.', r == '-', r == '_', r == '+':
			return r
		}
		return '_'
	}, addr)
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.TrimLeft(s, ".")
}
