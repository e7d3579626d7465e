package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/internal/smtptest"
)

func runMailCLI(t *testing.T, env []string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, stdio{in: strings.NewReader(""), out: &out, err: &errOut}, env)
	return result{code, out.String(), errOut.String()}
}

func smtpEnv(host string, port int, extra ...string) []string {
	return append([]string{
		"GATEHOUSE_SMTP_HOST=" + host,
		"GATEHOUSE_SMTP_PORT=" + strconv.Itoa(port),
		"GATEHOUSE_SMTP_FROM=Gatehouse Test <noreply@id.example.com>",
		"GATEHOUSE_SMTP_TLS=none",
		"GATEHOUSE_SMTP_TIMEOUT=2s",
	}, extra...)
}

func TestMailTest(t *testing.T) {
	dataDir := []string{"--data-dir", filepath.Join(t.TempDir(), "data")}

	t.Run("through the configured server, printing its answer", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.WithAuth("mailer", "pw"))
		pw := filepath.Join(t.TempDir(), "smtp-password")
		if err := os.WriteFile(pw, []byte("pw\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		// localhost: credentials over tls none only go to loopback.
		env := smtpEnv("localhost", srv.Port(), "GATEHOUSE_SMTP_USERNAME=mailer", "GATEHOUSE_SMTP_PASSWORD_FILE="+pw)
		r := runMailCLI(t, env, append([]string{"mail", "test", "--to", "admin@example.com"}, dataDir...)...)
		if r.code != 0 {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.out, r.errOut)
		}
		m := srv.Wait(t, "admin@example.com", 5*time.Second)
		if !strings.Contains(r.out, "server answered: 250 2.0.0 OK: queued as "+m.QueueID) ||
			!strings.Contains(r.out, "as mailer") || !strings.Contains(r.out, m.Header.Get("Message-ID")) {
			t.Errorf("output lacks the reply:\n%s", r.out)
		}
		if m.Subject != "Test message from Gatehouse" || m.Auth != "PLAIN" || !strings.Contains(m.Text, "gatehouse mail test") {
			t.Errorf("captured %q auth %q:\n%s", m.Subject, m.Auth, m.Text)
		}
		if strings.Contains(r.out+r.errOut, "pw\n") {
			t.Error("output shows the password")
		}
	})

	t.Run("nothing listening: detail and non-zero exit", func(t *testing.T) {
		srv := smtptest.Start(t)
		srv.Stop()
		r := runMailCLI(t, smtpEnv("127.0.0.1", srv.Port()), append([]string{"mail", "test", "--to", "admin@example.com"}, dataDir...)...)
		if r.code != 1 || !strings.Contains(r.errOut, "smtp "+srv.Addr()+": connect:") ||
			!strings.Contains(r.errOut, "connection refused") || !strings.Contains(r.errOut, "check smtp.host and smtp.port") {
			t.Errorf("exit %d\nstdout: %s\nstderr: %s", r.code, r.out, r.errOut)
		}
	})

	t.Run("server refuses the recipient", func(t *testing.T) {
		srv := smtptest.Start(t)
		srv.RejectRecipients(true)
		r := runMailCLI(t, smtpEnv("127.0.0.1", srv.Port()), append([]string{"mail", "test", "--to", "nobody@example.com"}, dataDir...)...)
		if r.code != 1 || !strings.Contains(r.errOut, "rcpt to: 550 5.1.1") || !strings.Contains(r.errOut, "permanent") {
			t.Errorf("exit %d\nstderr: %s", r.code, r.errOut)
		}
	})

	t.Run("dev without smtp: the sink's file", func(t *testing.T) {
		r := runMailCLI(t, nil, append([]string{"mail", "test", "--to", "admin@example.com"}, dataDir...)...)
		path, ok := strings.CutPrefix(strings.TrimSpace(r.out), "dev mail sink (smtp.host is not set): wrote the test message to ")
		if r.code != 0 || !ok {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.out, r.errOut)
		}
		raw, err := os.ReadFile(path)
		if err != nil || smtptest.Parse(raw).Subject != "Test message from Gatehouse" {
			t.Errorf("sink file %s: %v", path, err)
		}
	})

	t.Run("usage", func(t *testing.T) {
		if r := runMailCLI(t, nil, "mail", "test"); r.code != 2 || !strings.Contains(r.errOut, "--to is required") {
			t.Errorf("exit %d\nstderr: %s", r.code, r.errOut)
		}
		r := runMailCLI(t, nil, append([]string{"mail", "test", "--to", "a@example.com\r\nBcc: x@example.com"}, dataDir...)...)
		if r.code != 1 || !strings.Contains(r.errOut, "invalid message") {
			t.Errorf("header injection from --to: exit %d\nstderr: %s", r.code, r.errOut)
		}
	})

	t.Run("invalid smtp settings are reported at once", func(t *testing.T) {
		r := runMailCLI(t, []string{"GATEHOUSE_SMTP_FROM=noreply@id.example.com", "GATEHOUSE_SMTP_TLS=ssl"},
			append([]string{"mail", "test", "--to", "a@example.com"}, dataDir...)...)
		if r.code != 1 || !strings.Contains(r.errOut, "smtp.host: required when smtp.from is set") || !strings.Contains(r.errOut, `smtp.tls: "ssl"`) {
			t.Errorf("exit %d\nstderr: %s", r.code, r.errOut)
		}
	})
}
