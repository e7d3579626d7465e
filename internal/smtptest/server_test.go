package smtptest_test

import (
	"crypto/tls"
	"errors"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/internal/smtptest"
)

const sample = "From: a@example.com\r\nTo: b@example.com\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=XX\r\n\r\n" +
	"--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
	"Open https://id.example.com/reset/abc?x=1 now=\r\n, caf=C3=A9.\r\n" +
	"--XX\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
	"PHA+aGk8L3A+\r\n--XX--\r\n"

// send is a minimal client from the standard library: the server is
// tested against something other than the code it will test.
func send(t *testing.T, srv *smtptest.Server, starttls bool, auth smtp.Auth, to string) error {
	t.Helper()
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		return err
	}
	defer c.Close()
	if starttls {
		if err := c.StartTLS(&tls.Config{ServerName: "127.0.0.1", RootCAs: srv.RootCAs()}); err != nil {
			return err
		}
	}
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	if err := c.Mail("a@example.com"); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(sample)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func TestCaptureAndParse(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("mailer", "pw"))
	if err := send(t, srv, true, smtp.PlainAuth("", "mailer", "pw", "127.0.0.1"), "B@example.com"); err != nil {
		t.Fatal(err)
	}
	m := srv.Wait(t, "b@example.com", 5*time.Second)
	if m.ParseErr != nil || m.Subject != "Grüße" || m.From != "a@example.com" || m.Auth != "PLAIN" || !m.TLS || m.QueueID == "" {
		t.Fatalf("captured %+v", m)
	}
	if m.Text != "Open https://id.example.com/reset/abc?x=1 now, café." || m.HTML != "<p>hi</p>" {
		t.Errorf("text %q html %q", m.Text, m.HTML)
	}
	if got := m.Link(t, "https://id.example.com/reset/"); got != "https://id.example.com/reset/abc?x=1" {
		t.Errorf("Link = %q", got)
	}
	if _, ok := smtptest.FirstLink(m.Text, "https://other.example/"); ok {
		t.Error("FirstLink found a link that is not there")
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("Messages() has %d", n)
	}
}

func TestAuthRequiredAndTLSBeforeAuth(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("mailer", "pw"))
	var tpErr *textproto.Error
	if err := send(t, srv, true, nil, "b@example.com"); !errors.As(err, &tpErr) || tpErr.Code != 502 {
		t.Errorf("MAIL without AUTH: %v, want 502", err)
	}
	if err := send(t, srv, true, smtp.PlainAuth("", "mailer", "wrong", "127.0.0.1"), "b@example.com"); !errors.As(err, &tpErr) || tpErr.Code != 535 {
		t.Errorf("wrong password: %v, want 535", err)
	}
	// Before STARTTLS the server advertises no AUTH at all.
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH offered before STARTTLS")
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Error("STARTTLS not offered")
	}
}

func TestImplicitTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithTLS())
	conn, err := tls.Dial("tcp", srv.Addr(), &tls.Config{ServerName: "localhost", RootCAs: srv.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClient(conn, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
}

func TestFaults(t *testing.T) {
	srv := smtptest.Start(t)
	var tpErr *textproto.Error
	srv.RejectRecipients(true)
	if err := send(t, srv, false, nil, "b@example.com"); !errors.As(err, &tpErr) || tpErr.Code != 550 {
		t.Errorf("rejecting: %v, want 550", err)
	}
	srv.RejectRecipients(false)
	srv.FailTemporarily(true)
	if err := send(t, srv, false, nil, "b@example.com"); !errors.As(err, &tpErr) || tpErr.Code != 451 {
		t.Errorf("failing temporarily: %v, want 451", err)
	}
	srv.FailTemporarily(false)

	srv.Stop()
	if err := send(t, srv, false, nil, "b@example.com"); err == nil {
		t.Fatal("sent to a stopped server")
	}
	srv.Restart()
	for i := range 2 {
		if err := send(t, srv, false, nil, "b@example.com"); err != nil {
			t.Fatalf("send %d after restart on %s: %v", i, srv.Addr(), err)
		}
	}
	first, second := srv.Wait(t, "b@example.com", 5*time.Second), srv.Wait(t, "b@example.com", 5*time.Second)
	if first.QueueID == second.QueueID {
		t.Errorf("Wait returned the same message twice: %s", first.QueueID)
	}
	if srv.Host() != "127.0.0.1" || srv.Port() == 0 || !strings.HasSuffix(srv.Addr(), ":"+strconv.Itoa(srv.Port())) {
		t.Errorf("addr %s host %s port %d", srv.Addr(), srv.Host(), srv.Port())
	}
}

func TestLoginMechanism(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithAuth("mailer", "pw"), smtptest.WithAuthMechanisms(smtptest.Login))
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		t.Fatal(err)
	}
	if _, mechs := c.Extension("AUTH"); mechs != "LOGIN" {
		t.Errorf("AUTH advertises %q, want LOGIN", mechs)
	}
	if err := c.Auth(loginAuth{}); err != nil {
		t.Fatalf("AUTH LOGIN: %v", err)
	}
}

type loginAuth struct{}

func (loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) { return "LOGIN", nil, nil }
func (loginAuth) Next(from []byte, more bool) ([]byte, error) {
	switch {
	case !more:
		return nil, nil
	case strings.HasPrefix(string(from), "User"):
		return []byte("mailer"), nil
	}
	return []byte("pw"), nil
}

func TestUnresponsive(t *testing.T) {
	addr := smtptest.Unresponsive(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := conn.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("read from the unresponsive server: %v, want a timeout", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestStopAtOnce: a server stopped before anything connects still stops
// (Serve may not have registered its listener yet).
func TestStopAtOnce(t *testing.T) {
	for range 20 {
		srv := smtptest.Start(t)
		srv.Stop()
		srv.Restart()
		srv.Stop()
	}
}
