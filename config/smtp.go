package config

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// SMTP TLS modes (smtp.tls).
const (
	// SMTPTLSNone sends in the clear. Credentials are then refused unless
	// the server is on loopback (a local relay).
	SMTPTLSNone = "none"
	// SMTPTLSStartTLS upgrades a plain connection with STARTTLS and fails
	// when the server does not offer it: never a silent downgrade.
	SMTPTLSStartTLS = "starttls"
	// SMTPTLSImplicit speaks TLS from the first byte ("SMTPS", port 465).
	SMTPTLSImplicit = "tls"
)

// DefaultSMTPTimeout bounds one whole send when smtp.timeout is unset.
const DefaultSMTPTimeout = 10 * time.Second

// SMTP configures outgoing email. With no host, email goes to the dev
// mail sink in dev mode and is not configured otherwise.
type SMTP struct {
	Host string `yaml:"host"`
	// Port 0 means the usual port for the TLS mode: 25 for none, 587 for
	// starttls, 465 for tls.
	Port     int    `yaml:"port"`
	Username string `yaml:"username"`
	// Password is used only with Username.
	Password     Secret `yaml:"password" secret:"password_file"`
	PasswordFile string `yaml:"password_file"`
	// From is the sender: "noreply@example.com" or
	// "Example ID <noreply@example.com>". Its domain names Message-IDs.
	From string `yaml:"from"`
	// TLS is none, starttls (the default) or tls.
	TLS string `yaml:"tls"`
	// Timeout bounds one whole send (connect, TLS, auth, transfer), so a
	// stalled server cannot hold a request.
	Timeout time.Duration `yaml:"timeout"`
}

// Configured reports whether SMTP is set up (smtp.host is set).
func (s SMTP) Configured() bool { return s.Host != "" }

// DefaultPort returns Port, or the usual port for the TLS mode when Port
// is 0.
func (s SMTP) DefaultPort() int {
	if s.Port != 0 {
		return s.Port
	}
	switch s.TLS {
	case SMTPTLSNone:
		return 25
	case SMTPTLSImplicit:
		return 465
	}
	return 587
}

// Mail configures the email messages themselves, whoever delivers them.
type Mail struct {
	// TemplatesDir holds templates that replace the embedded ones, file
	// by file (see idp/notify); "" uses only the embedded templates.
	TemplatesDir string `yaml:"templates_dir"`
}

// checkSMTP: the settings make sense together. The rule has no key of its
// own; each problem names its setting.
func checkSMTP(c *Config) error {
	s := c.SMTP
	errs := []error{
		atKey("tls", oneOf(s.TLS, SMTPTLSNone, SMTPTLSStartTLS, SMTPTLSImplicit)),
		atKey("port", between(s.Port, 0, 65535)),
		atKey("timeout", errors.Join(positive(s.Timeout), atMost(s.Timeout, 5*time.Minute))),
	}
	if s.From != "" {
		errs = append(errs, atKey("from", sender(s.From)))
	}
	if strings.ContainsAny(s.Host, " \t\r\n/:@") {
		errs = append(errs, atKey("host", fmt.Errorf("%q is not a host name or IP address (give the port in smtp.port)", s.Host)))
	}
	if s.Host == "" {
		// Anything else set without a host is a half-done setup that would
		// otherwise silently fall back to the dev sink or to no email.
		for _, set := range []struct {
			key string
			on  bool
		}{{"port", s.Port != 0}, {"username", s.Username != ""}, {"password", s.Password != "" || s.PasswordFile != ""}, {"from", s.From != ""}} {
			if set.on {
				errs = append(errs, atKey("host", fmt.Errorf("required when smtp.%s is set", set.key)))
				break
			}
		}
		return errors.Join(errs...)
	}
	if s.From == "" {
		errs = append(errs, atKey("from", errors.New("required when smtp.host is set, e.g. \"Example ID <noreply@example.com>\"")))
	}
	hasPassword := s.Password != "" || s.PasswordFile != ""
	if s.Username != "" && !hasPassword {
		errs = append(errs, atKey("password", errors.New("required when smtp.username is set (set smtp.password or smtp.password_file)")))
	}
	if s.Username == "" && hasPassword {
		errs = append(errs, atKey("username", errors.New("required when smtp.password is set")))
	}
	// The sender checks this again against the connection itself; here it
	// fails at start-up rather than at the first password reset.
	if s.Username != "" && s.TLS == SMTPTLSNone && !isLoopbackName(s.Host) {
		errs = append(errs, atKey("tls", fmt.Errorf("none would send the password in the clear to %s: use starttls or tls (none with credentials is allowed only for localhost)", s.Host)))
	}
	return errors.Join(errs...)
}

// atKey is at for a check that may have passed.
func atKey(sub string, err error) error {
	if err == nil {
		return nil
	}
	return at(sub, err)
}

func sender(s string) error {
	if strings.ContainsAny(s, "\r\n") {
		return errors.New("must be one line")
	}
	if _, err := mail.ParseAddress(s); err != nil {
		return fmt.Errorf("%q is not an email address (e.g. noreply@example.com or \"Example ID <noreply@example.com>\")", s)
	}
	return nil
}
