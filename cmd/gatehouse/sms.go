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

const smsTestUsage = "--to +41791234567"

// smsTestText is short and says where it came from, so whoever gets it by
// mistake knows it is harmless.
const smsTestText = "Gatehouse test message: SMS delivery works. (sent by gatehouse sms test)"

func smsTestFlags(fs *flag.FlagSet, c *cmdEnv) {
	fs.StringVar(&c.phone, "to", "", "the phone number to text, in international form: + and the country code (required)")
}

// runSMSTest sends a test text with the configured settings and prints
// the gateway's answer: the first thing to try when "the code never
// came". It opens no storage, so it works before `migrate`.
func runSMSTest(ctx context.Context, c *cmdEnv) error {
	if c.phone == "" {
		return fmt.Errorf("%w: --to is required", errUsage)
	}
	if err := notify.CheckPhoneNumber(c.phone); err != nil {
		return fmt.Errorf("%w: --to %v", errUsage, err)
	}
	cfg, err := c.loadConfig(false)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(c.io.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := notify.SMSFromConfig(cfg, notify.Options{Logger: logger})
	if err != nil {
		return err
	}
	res, err := s.SendSMS(ctx, c.phone, smsTestText)
	switch {
	case errors.Is(err, notify.ErrSMSNotConfigured):
		return errors.New("SMS is not configured: set sms.provider (GATEHOUSE_SMS_PROVIDER) to twilio or webhook, with its settings; " +
			"in dev mode, texts go to the dev SMS sink instead")
	case err != nil:
		return smsFailure(cfg.SMS, err)
	}
	if res.Provider == config.SMSProviderDev {
		if res.Path == "" {
			fmt.Fprintln(c.io.out, "dev SMS sink: could not write a file; the test text is in the log")
			return nil
		}
		fmt.Fprintf(c.io.out, "dev SMS sink: wrote the test message to %s\n", res.Path)
		return nil
	}
	fmt.Fprintf(c.io.out, "sent a test SMS to %s through %v\n", c.phone, s)
	id := res.ID
	if id == "" {
		id = "(none given)"
	}
	fmt.Fprintf(c.io.out, "gateway answered: message id %s, status %s\n", id, res.Status)
	if res.Attempts > 1 {
		fmt.Fprintf(c.io.out, "(after %d attempts: the first failed)\n", res.Attempts)
	}
	return nil
}

// smsFailure adds to the gateway's detail a hint at the setting to look
// at, when the detail itself has none.
func smsFailure(cfg config.SMS, err error) error {
	var se *notify.SMSError
	if !errors.As(err, &se) || se.Hint != "" {
		return err
	}
	where := "sms.webhook.url"
	if cfg.Provider == config.SMSProviderTwilio {
		where = "sms.twilio.base_url"
	}
	hint := ""
	switch {
	case se.Timeout > 0:
		hint = "the gateway did not answer in time: check " + where + ", or raise sms.timeout"
	case se.StatusCode == 0:
		hint = "check " + where + " and that this machine may reach it"
	case errors.Is(err, notify.ErrSMSUnavailable):
		hint = "the gateway is failing on its side: try again later"
	case se.StatusCode >= 300 && se.StatusCode < 400:
		hint = where + " redirects: set it to the final URL"
	}
	if hint != "" {
		return fmt.Errorf("%w\nhint: %s", err, hint)
	}
	return err
}
