package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/notify"
)

const mailTestUsage = "--to ADDRESS"

func mailTestFlags(fs *flag.FlagSet, c *cmdEnv) {
	// The recipient is kept in c.email, like every command's one address.
	fs.StringVar(&c.email, "to", "", "where to send the test message (required)")
}

// deliverer is what mail test needs of a notifier: the server's answer,
// not only success. Every notify notifier has it.
type deliverer interface {
	Deliver(ctx context.Context, m notify.Message) (notify.Receipt, error)
}

// runMailTest sends the test template with the configured settings and
// prints what the server answered: the first thing to try when "the email
// never arrived". It opens no storage, so it works before `migrate`.
func runMailTest(ctx context.Context, c *cmdEnv) error {
	if c.email == "" {
		return fmt.Errorf("%w: --to is required", errUsage)
	}
	cfg, err := c.loadConfig(false)
	if err != nil {
		return err
	}
	// Warnings only, as for every management command: what matters is
	// printed below.
	logger := slog.New(slog.NewTextHandler(c.io.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, tpl, err := notify.FromConfig(cfg, logger)
	if err != nil {
		return err
	}
	d, ok := n.(deliverer)
	if !ok {
		return fmt.Errorf("notifier %T cannot report delivery", n)
	}
	m, err := tpl.Message(notify.TemplateTest, c.email, notify.Data{Email: c.email, Issuer: cfg.Issuer})
	if err != nil {
		return err
	}
	r, err := d.Deliver(ctx, m)
	switch {
	case errors.Is(err, notify.ErrNotConfigured):
		return errors.New("email is not configured: set smtp.host and smtp.from (GATEHOUSE_SMTP_HOST, GATEHOUSE_SMTP_FROM); " +
			"in dev mode, messages go to the dev mail sink instead")
	case err != nil:
		return mailFailure(err)
	}
	if r.Path != "" {
		fmt.Fprintf(c.io.out, "dev mail sink (smtp.host is not set): wrote the test message to %s\n", r.Path)
		return nil
	}
	fmt.Fprintf(c.io.out, "sent a test message to %s through %s\n", c.email, smtpSummary(cfg.SMTP))
	fmt.Fprintf(c.io.out, "server answered: %s\n", r.Reply)
	fmt.Fprintf(c.io.out, "Message-ID: %s\n", r.MessageID)
	return nil
}

func smtpSummary(s config.SMTP) string {
	out := fmt.Sprintf("%s:%d (tls: %s", s.Host, s.DefaultPort(), s.TLS)
	if s.Username != "" {
		out += ", as " + s.Username
	}
	return out + ")"
}

// mailFailure adds to the SMTP detail a hint at the setting to look at.
func mailFailure(err error) error {
	var se *notify.SendError
	if !errors.As(err, &se) {
		return err
	}
	hint := ""
	switch {
	case se.Stage == "connect":
		hint = "check smtp.host and smtp.port, and that this machine may reach the server"
	case se.Code == 0 && se.Temporary():
		hint = "the server did not answer in time: check smtp.port and smtp.tls (465 is usually tls, 587 starttls), or raise smtp.timeout"
	case se.Stage == "tls handshake" || se.Stage == "starttls":
		hint = "check smtp.tls and that the server's certificate is valid for smtp.host"
	case se.Stage == "auth":
		hint = "check smtp.username and smtp.password"
	case se.Stage == "mail from":
		hint = "the server refuses the sender: check smtp.from"
	case se.Stage == "rcpt to":
		hint = "the server refuses the recipient"
	}
	if hint != "" {
		return fmt.Errorf("%w\nhint: %s", err, hint)
	}
	return err
}
