package notify

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/gatehouse-idp/gatehouse/config"
)

// MailDir is where the dev mail sink writes: <data_dir>/mail.
func MailDir(cfg config.Config) string { return filepath.Join(cfg.DataDir, "mail") }

// FromConfig picks the Notifier the config asks for (SMTP when smtp.host
// is set, the dev sink in dev mode, NotConfigured otherwise) and loads
// the templates. Call it once at start-up: its errors are configuration
// errors. The returned Notifier also has
// Deliver(ctx, Message) (Receipt, error).
func FromConfig(cfg config.Config, logger *slog.Logger) (Notifier, *Templates, error) {
	return FromConfigWith(cfg, Options{Logger: logger})
}

// FromConfigWith is FromConfig with Options, for tests (a clock, TLS
// roots) and callers that want more than a logger.
func FromConfigWith(cfg config.Config, opts Options) (Notifier, *Templates, error) {
	tpl, err := LoadTemplates(cfg.Mail.TemplatesDir)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case cfg.SMTP.Configured():
		s, err := New(cfg.SMTP, opts)
		if err != nil {
			return nil, nil, err
		}
		return s, tpl, nil
	case cfg.Dev:
		s, err := NewSink(MailDir(cfg), DevSender, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("notify: dev mail sink: %w", err)
		}
		return s, tpl, nil
	}
	return NotConfigured{}, tpl, nil
}
