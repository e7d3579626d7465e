package notify

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
)

// SMSSink is the dev SMS sink: each text becomes a log line carrying it
// and a file of its own in a directory, so a developer can read a sign-in
// code without a gateway. The files hold live codes; they are written
// 0600. Delivery never fails: when the file cannot be written the log line
// still carries the text, which is all a developer needs.
type SMSSink struct {
	dir    string
	from   string
	logger *slog.Logger
	now    func() time.Time
	opts   Options
}

var _ SMSSender = (*SMSSink)(nil)

// NewSMSSink returns a sink writing to dir (created on first use); from is
// only written into the files.
func NewSMSSink(dir, from string, opts Options) *SMSSink {
	opts = opts.withDefaults()
	return &SMSSink{dir: dir, from: from, logger: opts.Logger, now: opts.Now, opts: opts}
}

// Dir is where the sink writes.
func (s *SMSSink) Dir() string { return s.dir }

// String describes the sink for `gatehouse sms test`.
func (s *SMSSink) String() string { return "the dev SMS sink (" + s.dir + ")" }

// SendSMS logs text and writes it to a new file. It refuses only what
// every gateway refuses, so that dev finds the caller's bugs production
// would.
func (s *SMSSink) SendSMS(_ context.Context, to, text string) (SMSResult, error) {
	if err := checkSMS(to, text); err != nil {
		return SMSResult{}, err
	}
	now := s.now()
	res := SMSResult{Provider: config.SMSProviderDev, Status: "written", Attempts: 1}
	path, err := s.write(now, to, text)
	if err != nil {
		res.Status = "logged only"
		s.logger.Warn("dev SMS sink: cannot write the file; the text is in the next line", "dir", s.dir, "error", err)
	}
	msg := "sms not written, only logged (dev SMS sink)"
	if path != "" {
		res.Path, res.ID = path, filepath.Base(path)
		msg = "sms written to " + path + " (dev SMS sink)"
	}
	s.logger.Info(msg, "path", path, "to", to, "text", text)
	return res, nil
}

func (s *SMSSink) write(now time.Time, to, text string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "To: %s\n", to)
	if s.from != "" {
		fmt.Fprintf(&b, "From: %s\n", s.from)
	}
	fmt.Fprintf(&b, "Date: %s\n\n%s\n", now.UTC().Format(time.RFC3339), text)
	stem := now.UTC().Format("20060102T150405.000Z") + "-" + fileSafe(to)
	return createFile(s.dir, stem, ".txt", s.opts.Rand, []byte(b.String()))
}

// SMSDir is where the dev SMS sink writes: <data_dir>/sms.
func SMSDir(cfg config.Config) string { return filepath.Join(cfg.DataDir, "sms") }

// SMSFromConfig picks the SMSSender the config asks for: sms.provider,
// or with none the dev sink in dev mode and SMSNotConfigured otherwise.
// Call it once at start-up: its errors are configuration errors. Senders
// also have String() for `gatehouse sms test`.
func SMSFromConfig(cfg config.Config, opts Options) (SMSSender, error) {
	switch cfg.SMS.Provider {
	case config.SMSProviderTwilio:
		return NewTwilio(cfg.SMS, opts)
	case config.SMSProviderWebhook:
		return NewWebhook(cfg.SMS, opts)
	case config.SMSProviderDev:
		return NewSMSSink(SMSDir(cfg), cfg.SMS.From, opts), nil
	case "":
		if cfg.Dev {
			return NewSMSSink(SMSDir(cfg), cfg.SMS.From, opts), nil
		}
		return SMSNotConfigured{}, nil
	}
	return nil, fmt.Errorf("notify: sms.provider %q is not one of twilio, webhook, dev", cfg.SMS.Provider)
}
