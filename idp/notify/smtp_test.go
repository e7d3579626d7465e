package notify_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/notify"
	"github.com/gatehouse-idp/gatehouse/internal/smtptest"
)

// fixedNow dates every test message.
var fixedNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.FixedZone("CET", 3600))

const wait = 5 * time.Second

func smtpConfig(srv *smtptest.Server, tls string) config.SMTP {
	return config.SMTP{Host: srv.Host(), Port: srv.Port(), From: "Example ID <noreply@id.example.com>",
		TLS: tls, Timeout: 5 * time.Second}
}

func newSender(t *testing.T, cfg config.SMTP, opts notify.Options) *notify.SMTP {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixedNow }
	}
	s, err := notify.New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

var sample = notify.Message{
	To:      "Alice <alice@example.com>",
	Subject: "Reset your password",
	Text:    "Open https://id.example.com/reset/abc to choose a new password.\n",
	HTML:    `<p><a href="https://id.example.com/reset/abc">Reset</a> your password.</p>`,
}

// TestTransports: every connection mode and AUTH mechanism delivers the
// message, over the wire, to a real server.
func TestTransports(t *testing.T) {
	tests := []struct {
		name     string
		start    []smtptest.Option
		tls      string
		user     string
		wantAuth string
		wantTLS  bool
	}{
		{"plain, no auth", nil, config.SMTPTLSNone, "", "", false},
		{"plain with auth to loopback", []smtptest.Option{smtptest.WithAuth("mailer", "pw")}, config.SMTPTLSNone, "mailer", "PLAIN", false},
		{"starttls, no auth", []smtptest.Option{smtptest.WithSTARTTLS()}, config.SMTPTLSStartTLS, "", "", true},
		{"starttls, auth plain", []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth("mailer", "pw")}, config.SMTPTLSStartTLS, "mailer", "PLAIN", true},
		{"starttls, auth login only", []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth("mailer", "pw"),
			smtptest.WithAuthMechanisms(smtptest.Login)}, config.SMTPTLSStartTLS, "mailer", "LOGIN", true},
		{"implicit tls, auth plain", []smtptest.Option{smtptest.WithTLS(), smtptest.WithAuth("mailer", "pw")}, config.SMTPTLSImplicit, "mailer", "PLAIN", true},
		{"implicit tls, auth login only", []smtptest.Option{smtptest.WithTLS(), smtptest.WithAuth("mailer", "pw"),
			smtptest.WithAuthMechanisms(smtptest.Login)}, config.SMTPTLSImplicit, "mailer", "LOGIN", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.Start(t, tt.start...)
			cfg := smtpConfig(srv, tt.tls)
			if tt.user != "" {
				cfg.Username, cfg.Password = tt.user, "pw"
			}
			s := newSender(t, cfg, notify.Options{RootCAs: srv.RootCAs()})
			r, err := s.Deliver(context.Background(), sample)
			if err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			got := srv.Wait(t, "alice@example.com", wait)
			if got.Auth != tt.wantAuth || got.TLS != tt.wantTLS || got.From != "noreply@id.example.com" {
				t.Errorf("auth %q tls %v from %q; want %q %v", got.Auth, got.TLS, got.From, tt.wantAuth, tt.wantTLS)
			}
			if want := "250 2.0.0 OK: queued as " + got.QueueID; r.Reply != want {
				t.Errorf("reply %q, want %q", r.Reply, want)
			}
			if r.MessageID != got.Header.Get("Message-ID") {
				t.Errorf("receipt message id %q, header %q", r.MessageID, got.Header.Get("Message-ID"))
			}
		})
	}
}

func TestMessageFormat(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSender(t, smtpConfig(srv, config.SMTPTLSNone), notify.Options{})
	m := sample
	m.Subject = "Réinitialisez votre mot de passe · パスワードをリセット — a subject long enough to be folded over several lines"
	m.Text = "Bonjour Zoë,\n\nOpen https://id.example.com/reset/abc?token=" + strings.Repeat("x", 120) + "\nMerci.\n"
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(t, "alice@example.com", wait)
	if got.ParseErr != nil {
		t.Fatalf("parse: %v\n%s", got.ParseErr, got.Data)
	}
	if got.Subject != m.Subject {
		t.Errorf("subject round trip: %q", got.Subject)
	}
	if got.Text != strings.ReplaceAll(m.Text, "\r\n", "\n") || got.HTML != m.HTML {
		t.Errorf("text %q\nhtml %q", got.Text, got.HTML)
	}
	if link := got.Link(t, "https://id.example.com/reset/"); !strings.HasSuffix(link, strings.Repeat("x", 120)) {
		t.Errorf("link cut by quoted-printable wrapping: %q", link)
	}

	h := got.Header
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative;") {
		t.Errorf("Content-Type %q", ct)
	}
	if !regexp.MustCompile(`^<[0-9a-f]{32}@id\.example\.com>$`).MatchString(h.Get("Message-ID")) {
		t.Errorf("Message-ID %q", h.Get("Message-ID"))
	}
	if d, err := h.Date(); err != nil || !d.Equal(fixedNow) {
		t.Errorf("Date %q: %v, %v; want %v", h.Get("Date"), d, err, fixedNow)
	}
	if from, err := mail.ParseAddress(h.Get("From")); err != nil || from.Address != "noreply@id.example.com" || from.Name != "Example ID" {
		t.Errorf("From %q: %v", h.Get("From"), err)
	}
	if h.Get("MIME-Version") != "1.0" || h.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("headers %v", h)
	}
	raw := string(got.Data)
	header, body, _ := strings.Cut(raw, "\r\n\r\n")
	for _, line := range strings.Split(header, "\r\n") {
		if len(line) > 998 || strings.HasPrefix(line, "=?") {
			t.Errorf("header line too long or unfolded: %q", line)
		}
	}
	for _, line := range strings.Split(body, "\r\n") {
		if len(line) > 76 {
			t.Errorf("body line longer than quoted-printable's 76: %q", line)
		}
	}
	if strings.Count(header, "\r\n =?utf-8?q?") < 2 {
		t.Errorf("long subject not folded between encoded words:\n%s", header)
	}
	if strings.Count(raw, "Content-Transfer-Encoding: quoted-printable") != 2 || !strings.Contains(raw, "charset=utf-8") {
		t.Errorf("parts are not UTF-8 quoted-printable:\n%s", raw)
	}
	// Text first, HTML last: the last alternative is the preferred one.
	if strings.Index(raw, "text/plain") > strings.Index(raw, "text/html") {
		t.Error("HTML part comes before the text part")
	}

	// Two messages never share a Message-ID.
	if err := s.Send(context.Background(), sample); err != nil {
		t.Fatal(err)
	}
	if again := srv.Wait(t, "alice@example.com", wait); again.Header.Get("Message-ID") == h.Get("Message-ID") {
		t.Error("Message-ID repeated")
	}
}

func TestTextOnly(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSender(t, smtpConfig(srv, config.SMTPTLSNone), notify.Options{})
	if err := s.Send(context.Background(), notify.Message{To: "bob@example.com", Subject: "Hi", Text: "only text"}); err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(t, "bob@example.com", wait)
	if strings.TrimSuffix(got.Text, "\n") != "only text" || got.HTML != "" || !strings.HasPrefix(got.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("text %q html %q type %q", got.Text, got.HTML, got.Header.Get("Content-Type"))
	}
}

// TestHeaderInjection: nothing from a message value becomes a header of
// its own, and nothing reaches the server.
func TestHeaderInjection(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSender(t, smtpConfig(srv, config.SMTPTLSNone), notify.Options{})
	tests := []struct {
		name string
		m    notify.Message
	}{
		{"CRLF in to", notify.Message{To: "alice@example.com\r\nBcc: eve@evil.example", Subject: "x", Text: "x"}},
		{"LF in to", notify.Message{To: "alice@example.com\nBcc: eve@evil.example", Subject: "x", Text: "x"}},
		{"CRLF in subject", notify.Message{To: "alice@example.com", Subject: "hi\r\nBcc: eve@evil.example", Text: "x"}},
		{"LF in subject", notify.Message{To: "alice@example.com", Subject: "hi\nBcc: eve@evil.example", Text: "x"}},
		{"CR in subject", notify.Message{To: "alice@example.com", Subject: "hi\rBcc: eve@evil.example", Text: "x"}},
		{"NUL in subject", notify.Message{To: "alice@example.com", Subject: "hi\x00", Text: "x"}},
		{"two recipients", notify.Message{To: "alice@example.com, eve@evil.example", Subject: "x", Text: "x"}},
		{"not an address", notify.Message{To: "alice", Subject: "x", Text: "x"}},
		{"empty to", notify.Message{Subject: "x", Text: "x"}},
		{"no text", notify.Message{To: "alice@example.com", Subject: "x", HTML: "<p>x</p>"}},
		{"invalid UTF-8", notify.Message{To: "alice@example.com", Subject: "x", Text: "\xff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Send(context.Background(), tt.m)
			if !errors.Is(err, notify.ErrInvalidMessage) {
				t.Fatalf("Send: %v, want ErrInvalidMessage", err)
			}
		})
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages reached the server", n)
	}
}

// sendErr sends sample and returns the *SendError it must fail with.
func sendErr(t *testing.T, s *notify.SMTP) *notify.SendError {
	t.Helper()
	return asSendError(t, s.Send(context.Background(), sample))
}

// asSendError returns err as the *SendError it must be.
func asSendError(t *testing.T, err error) *notify.SendError {
	t.Helper()
	var se *notify.SendError
	if !errors.As(err, &se) {
		t.Fatalf("Send: %v (%T), want a *SendError", err, err)
	}
	return se
}

func TestServerRefusals(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSender(t, smtpConfig(srv, config.SMTPTLSNone), notify.Options{})

	srv.RejectRecipients(true)
	se := sendErr(t, s)
	if se.Code != 550 || se.Stage != "rcpt to" || !strings.Contains(se.Reply, "5.1.1") || se.Temporary() ||
		!errors.Is(se, notify.ErrPermanent) || errors.Is(se, notify.ErrTemporary) {
		t.Errorf("550: %+v", se)
	}
	if msg := se.Error(); !strings.Contains(msg, "550 5.1.1") || !strings.Contains(msg, srv.Addr()) || !strings.Contains(msg, "permanent") {
		t.Errorf("550 message lacks the detail: %s", msg)
	}
	srv.RejectRecipients(false)

	srv.FailTemporarily(true)
	se = sendErr(t, s)
	if se.Code != 451 || !se.Temporary() || !errors.Is(se, notify.ErrTemporary) || !strings.Contains(se.Error(), "451 4.3.0") {
		t.Errorf("451: %v", se)
	}
	srv.FailTemporarily(false)

	// SMTP down, then back: the failure is temporary, and the next send
	// works without anything restarted on our side.
	srv.Stop()
	se = sendErr(t, s)
	if se.Code != 0 || se.Stage != "connect" || !se.Temporary() || !strings.Contains(se.Error(), "connection refused") {
		t.Errorf("server down: %v", se)
	}
	srv.Restart()
	if err := s.Send(context.Background(), sample); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	srv.Wait(t, "alice@example.com", wait)
}

func TestWrongCredentials(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("mailer", "pw"))
	cfg := smtpConfig(srv, config.SMTPTLSStartTLS)
	cfg.Username, cfg.Password = "mailer", "not-the-password"
	se := sendErr(t, newSender(t, cfg, notify.Options{RootCAs: srv.RootCAs()}))
	if se.Code != 535 || se.Stage != "auth" || se.Temporary() {
		t.Errorf("wrong password: %v", se)
	}
	if strings.Contains(se.Error(), "not-the-password") {
		t.Errorf("error leaks the password: %v", se)
	}
}

// TestTLSFailures: a bad certificate or a missing STARTTLS stops the send
// before anything is sent; neither is retried as weather.
func TestTLSFailures(t *testing.T) {
	t.Run("unknown authority", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("mailer", "pw"))
		cfg := smtpConfig(srv, config.SMTPTLSStartTLS)
		cfg.Username, cfg.Password = "mailer", "pw"
		se := sendErr(t, newSender(t, cfg, notify.Options{RootCAs: x509.NewCertPool()}))
		if se.Stage != "starttls" || se.Temporary() || !strings.Contains(se.Error(), "certificate") {
			t.Errorf("untrusted certificate: %v", se)
		}
	})
	t.Run("implicit tls to a plain server", func(t *testing.T) {
		srv := smtptest.Start(t)
		se := sendErr(t, newSender(t, smtpConfig(srv, config.SMTPTLSImplicit), notify.Options{}))
		if se.Stage != "tls handshake" || se.Temporary() {
			t.Errorf("tls to plain: %v", se)
		}
	})
	t.Run("no STARTTLS offered", func(t *testing.T) {
		srv := smtptest.Start(t)
		se := sendErr(t, newSender(t, smtpConfig(srv, config.SMTPTLSStartTLS), notify.Options{}))
		if !errors.Is(se, notify.ErrNoSTARTTLS) || se.Temporary() {
			t.Errorf("no STARTTLS: %v", se)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("sent in the clear after STARTTLS was missing")
		}
	})
}

// TestNoCleartextCredentials: with tls none, the password goes only to a
// server that is both named as loopback and really there. A relay given
// by name is refused even when the connection lands on loopback.
func TestNoCleartextCredentials(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithAuth("mailer", "pw"))
	cfg := smtpConfig(srv, config.SMTPTLSNone)
	cfg.Host, cfg.Username, cfg.Password = "mail.example.test", "mailer", "pw"
	viaTestServer := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Addr())
	}
	se := sendErr(t, newSender(t, cfg, notify.Options{Dial: viaTestServer}))
	if !errors.Is(se, notify.ErrCleartextAuth) || se.Stage != "auth" || se.Temporary() {
		t.Fatalf("cleartext auth to a remote name: %v", se)
	}
	if !strings.Contains(se.Error(), "unencrypted") {
		t.Errorf("error does not say why: %v", se)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Error("the message was sent")
	}

	// Named localhost and really loopback: a local relay, allowed.
	cfg.Host = "localhost"
	if err := newSender(t, cfg, notify.Options{Dial: viaTestServer}).Send(context.Background(), sample); err != nil {
		t.Fatalf("auth to localhost: %v", err)
	}
}

var callerBudgetRE = regexp.MustCompile(`no answer within (100|[89][0-9])ms`)

// TestStalledServer: a server that accepts and never answers costs one
// timeout, not a hung request.
func TestStalledServer(t *testing.T) {
	addr := smtptest.Unresponsive(t)
	host, port, _ := net.SplitHostPort(addr)
	for _, mode := range []string{config.SMTPTLSNone, config.SMTPTLSStartTLS, config.SMTPTLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			cfg := config.SMTP{Host: host, Port: atoi(t, port), From: "noreply@id.example.com", TLS: mode, Timeout: 150 * time.Millisecond}
			s := newSender(t, cfg, notify.Options{})
			start := time.Now()
			se := sendErr(t, s)
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("took %v with a 150ms timeout", took)
			}
			if !se.Temporary() || !strings.Contains(se.Error(), "no answer within 150ms") {
				t.Errorf("stalled server: %v", se)
			}
		})
	}

	// The caller's own deadline and cancellation bound it too.
	cfg := config.SMTP{Host: host, Port: atoi(t, port), From: "noreply@id.example.com", TLS: config.SMTPTLSNone, Timeout: time.Minute}
	s := newSender(t, cfg, notify.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	se := asSendError(t, s.Send(ctx, sample))
	// The message names the time the send really had: the caller's
	// deadline less what passed before the send began (a few ms on a
	// loaded machine), so 100ms or just under.
	if took := time.Since(start); took > 3*time.Second || !se.Temporary() || !callerBudgetRE.MatchString(se.Error()) {
		t.Errorf("send under a 100ms caller deadline: %v after %v", se, took)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if err := s.Send(ctx, sample); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled send: %v", err)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Probe meets the server as a send does and sends nothing; it fails as a
// send would when the server is down or refuses the credentials.
func TestProbe(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("mailer", "pw"))
	cfg := smtpConfig(srv, config.SMTPTLSStartTLS)
	cfg.Username, cfg.Password = "mailer", "pw"
	s := newSender(t, cfg, notify.Options{RootCAs: srv.RootCAs()})
	if err := s.Probe(context.Background()); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("Probe delivered %d messages", n)
	}
	srv.Stop()
	var se *notify.SendError
	if err := s.Probe(context.Background()); !errors.As(err, &se) || se.Stage != "connect" || !se.Temporary() {
		t.Fatalf("Probe with the server down: %v", err)
	}
	srv.Restart()
	cfg.Password = "wrong"
	bad := newSender(t, cfg, notify.Options{RootCAs: srv.RootCAs()})
	if err := bad.Probe(context.Background()); !errors.As(err, &se) || se.Stage != "auth" {
		t.Fatalf("Probe with a wrong password: %v", err)
	}
}
