package emailcode_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/emailcode"
	"github.com/gatehouse-idp/gatehouse/idp/notify"
	"github.com/gatehouse-idp/gatehouse/internal/smtptest"
)

var sixDigits = regexp.MustCompile(`(?m)^\s*(\d{6})\s*$`)

// TestOverSMTP sends the code through notify's real templates and SMTP
// client to a real server, reads it out of the mail as a person would,
// and signs in with it; then the server goes away.
func TestOverSMTP(t *testing.T) {
	e := newEnv(t)
	srv := smtptest.Start(t, smtptest.WithSTARTTLS())
	sender, err := notify.New(config.SMTP{Host: srv.Host(), Port: srv.Port(), From: "Acme ID <id@acme.example>",
		TLS: config.SMTPTLSStartTLS, Timeout: 5 * time.Second}, notify.Options{RootCAs: srv.RootCAs(), Now: func() time.Time { return *e.now }})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := notify.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	e.m.Mailer = emailcode.NotifyMailer{Notifier: sender, Templates: tpl}
	u := e.user("alice@example.com")
	l := e.login(u, e.factor(u, "alice@example.com"))
	if v := l.show(false); !v.Sent {
		t.Fatalf("Challenge: %+v", v)
	}
	msg := srv.Wait(t, "alice@example.com", 5*time.Second)
	if msg.Subject != "Your sign-in code" {
		t.Errorf("subject %q", msg.Subject)
	}
	for _, want := range []string{"Acme Corp", "10 minutes", "If you did not try to sign in, change your password", "https://id.acme.example"} {
		if !strings.Contains(msg.Text, want) || !strings.Contains(msg.HTML, want) {
			t.Errorf("%q missing from the mail:\n%s\n%s", want, msg.Text, msg.HTML)
		}
	}
	found := sixDigits.FindStringSubmatch(msg.Text)
	if found == nil || strings.Contains(msg.Subject, found[1]) {
		t.Fatalf("no code on a line of its own, or the code in the subject:\n%s", msg.Text)
	}
	p, err := l.submit(found[1])
	accepted(t, "the code from the mail", u, p, err)

	// SMTP down: an outage the page can recognise, not a wrong code.
	srv.Stop()
	_, _, err = e.m.Challenge(e.ctx, e.login(u, l.t.Factors...).t)
	var fail *authflow.Failure
	if !errors.Is(err, emailcode.ErrSendFailed) || errors.As(err, &fail) {
		t.Fatalf("Challenge with SMTP down: %v", err)
	}
}
