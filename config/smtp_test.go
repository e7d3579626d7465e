package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testSMTPPassword = "smtp-hunter2-S3CRET"

// TestSMTPEnv: the GATEHOUSE_SMTP_* variables derived from the yaml paths
// set the section, and the password file is read like every *_file secret.
func TestSMTPEnv(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "smtp-password")
	if err := os.WriteFile(pwFile, []byte(testSMTPPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadYAML(t, minimal,
		"GATEHOUSE_SMTP_HOST=smtp.example.com",
		"GATEHOUSE_SMTP_PORT=2525",
		"GATEHOUSE_SMTP_USERNAME=mailer",
		"GATEHOUSE_SMTP_PASSWORD_FILE="+pwFile,
		"GATEHOUSE_SMTP_FROM=Example ID <noreply@example.com>",
		"GATEHOUSE_SMTP_TLS=tls",
		"GATEHOUSE_SMTP_TIMEOUT=3s",
		"GATEHOUSE_MAIL_TEMPLATES_DIR=/etc/gatehouse/mail",
	)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := SMTP{Host: "smtp.example.com", Port: 2525, Username: "mailer", Password: testSMTPPassword,
		From: "Example ID <noreply@example.com>", TLS: SMTPTLSImplicit, Timeout: 3 * time.Second}
	if c.SMTP != want {
		t.Errorf("smtp = %+v, want %+v", c.SMTP, want)
	}
	if c.Mail.TemplatesDir != "/etc/gatehouse/mail" {
		t.Errorf("mail.templates_dir = %q", c.Mail.TemplatesDir)
	}

	// Never printed: slog and fmt of the whole config redact the password.
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "config", c)
	for _, out := range []string{buf.String(), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(out, testSMTPPassword) {
			t.Fatalf("output leaks the SMTP password:\n%s", out)
		}
	}
}

func TestSMTPDefaults(t *testing.T) {
	for name, c := range map[string]Config{"production": Default(), "dev": DevDefault()} {
		if c.SMTP.TLS != SMTPTLSStartTLS || c.SMTP.Timeout != 10*time.Second || c.SMTP.Configured() {
			t.Errorf("%s smtp defaults = %+v, want starttls, 10s, no host", name, c.SMTP)
		}
	}
	for _, tt := range []struct {
		tls  string
		port int
		want int
	}{{SMTPTLSNone, 0, 25}, {SMTPTLSStartTLS, 0, 587}, {SMTPTLSImplicit, 0, 465}, {SMTPTLSImplicit, 2465, 2465}} {
		if got := (SMTP{TLS: tt.tls, Port: tt.port}).DefaultPort(); got != tt.want {
			t.Errorf("DefaultPort(tls %s, port %d) = %d, want %d", tt.tls, tt.port, got, tt.want)
		}
	}
}

func TestValidateSMTP(t *testing.T) {
	configured := func(c *Config) {
		c.SMTP.Host, c.SMTP.From = "smtp.example.com", "noreply@example.com"
	}
	tests := []struct {
		name   string
		mutate func(s *SMTP)
		want   []string // empty: valid
	}{
		{"unset is valid", func(s *SMTP) { s.Host, s.From = "", "" }, nil},
		{"host and from", func(s *SMTP) {}, nil},
		{"from with a display name", func(s *SMTP) { s.From = `"Example ID" <noreply@example.com>` }, nil},
		{"credentials over starttls", func(s *SMTP) { s.Username, s.Password = "u", testSMTPPassword }, nil},
		{"credentials by file", func(s *SMTP) { s.Username, s.PasswordFile = "u", "/run/secrets/smtp" }, nil},
		{"credentials in the clear to localhost", func(s *SMTP) {
			s.Host, s.TLS, s.Username, s.Password = "localhost", SMTPTLSNone, "u", testSMTPPassword
		}, nil},
		{"bad tls", func(s *SMTP) { s.TLS = "ssl" }, []string{`smtp.tls: "ssl" is not one of none, starttls, tls`}},
		{"port out of range", func(s *SMTP) { s.Port = 65536 }, []string{"smtp.port: must be between 0 and 65535, got 65536"}},
		{"negative port", func(s *SMTP) { s.Port = -1 }, []string{"smtp.port: must be between"}},
		{"zero timeout", func(s *SMTP) { s.Timeout = 0 }, []string{"smtp.timeout: must be greater than 0"}},
		{"huge timeout", func(s *SMTP) { s.Timeout = time.Hour }, []string{"smtp.timeout: must be at most 5m0s"}},
		{"unparseable from", func(s *SMTP) { s.From = "not an address" }, []string{`smtp.from: "not an address" is not an email address`}},
		{"from with a newline", func(s *SMTP) { s.From = "a@example.com\r\nBcc: x@example.com" }, []string{"smtp.from: must be one line"}},
		{"host with a port", func(s *SMTP) { s.Host = "smtp.example.com:587" }, []string{"smtp.host: \"smtp.example.com:587\" is not a host name"}},
		{"from without host", func(s *SMTP) { s.Host = "" }, []string{"smtp.host: required when smtp.from is set"}},
		{"port without host", func(s *SMTP) { s.Host, s.From, s.Port = "", "", 587 }, []string{"smtp.host: required when smtp.port is set"}},
		{"password file without host", func(s *SMTP) { s.Host, s.From, s.PasswordFile = "", "", "/x" }, []string{"smtp.host: required when smtp.password is set"}},
		{"host without from", func(s *SMTP) { s.From = "" }, []string{"smtp.from: required when smtp.host is set"}},
		{"username without password", func(s *SMTP) { s.Username = "u" }, []string{"smtp.password: required when smtp.username is set"}},
		{"password without username", func(s *SMTP) { s.Password = testSMTPPassword }, []string{"smtp.username: required when smtp.password is set"}},
		{"credentials in the clear to a remote host", func(s *SMTP) { s.TLS, s.Username, s.Password = SMTPTLSNone, "u", testSMTPPassword },
			[]string{"smtp.tls: none would send the password in the clear to smtp.example.com"}},
		{"password inline and by file", func(s *SMTP) { s.Username, s.Password, s.PasswordFile = "u", testSMTPPassword, "/x" },
			[]string{"smtp.password: smtp.password and smtp.password_file are both set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fullConfig()
			configured(&c)
			tt.mutate(&c.SMTP)
			err := c.Validate()
			assertProblems(t, err, tt.want, testSMTPPassword)
		})
	}
}
