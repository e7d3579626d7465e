package smtptest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Security is how a client must connect.
type Security int

const (
	// PlainText: no TLS offered. AUTH is allowed in the clear, as a
	// loopback relay would.
	PlainText Security = iota
	// STARTTLS: the server offers STARTTLS and allows AUTH only after it.
	STARTTLS
	// ImplicitTLS: TLS from the first byte (SMTPS); AUTH is allowed.
	ImplicitTLS
)

func (s Security) String() string {
	switch s {
	case STARTTLS:
		return "starttls"
	case ImplicitTLS:
		return "tls"
	}
	return "none"
}

// Option configures Start.
type Option func(*options)

type options struct {
	security       Security
	username, pass string
	mechanisms     []string
}

// WithSTARTTLS offers STARTTLS with the server's self-signed certificate,
// and refuses AUTH before it.
func WithSTARTTLS() Option { return func(o *options) { o.security = STARTTLS } }

// WithTLS speaks TLS from the first byte (implicit TLS, "SMTPS").
func WithTLS() Option { return func(o *options) { o.security = ImplicitTLS } }

// WithAuth requires AUTH with this username and password before MAIL.
func WithAuth(username, password string) Option {
	return func(o *options) { o.username, o.pass = username, password }
}

// WithAuthMechanisms sets what EHLO advertises and the server accepts
// (Plain, Login); the default with WithAuth is both, PLAIN first.
func WithAuthMechanisms(mechs ...string) Option {
	return func(o *options) { o.mechanisms = mechs }
}

// Server is a running SMTP server on 127.0.0.1. Its methods are safe for
// concurrent use.
type Server struct {
	t    testing.TB
	opts options
	addr string
	cert *x509.Certificate
	tls  *tls.Config

	mu       sync.Mutex
	srv      *smtp.Server // nil while stopped
	listener net.Listener
	served   chan struct{}
	messages []Captured
	seen     []bool        // by message index: returned by Wait
	arrived  chan struct{} // closed and replaced on every message
	reject   bool
	tempfail bool
}

// Start runs a server on a free loopback port until the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, arrived: make(chan struct{})}
	for _, o := range opts {
		o(&s.opts)
	}
	if s.opts.username != "" && len(s.opts.mechanisms) == 0 {
		s.opts.mechanisms = []string{Plain, Login}
	}
	pair, cert := selfSigned(t)
	s.cert = cert
	s.tls = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.addr = l.Addr().String()
	s.serve(l)
	t.Cleanup(s.Stop)
	return s
}

// Security is how clients must connect, as chosen at Start.
func (s *Server) Security() Security { return s.opts.security }

// Addr is host:port, e.g. 127.0.0.1:40123.
func (s *Server) Addr() string { return s.addr }

// Host is the server's IP address, 127.0.0.1.
func (s *Server) Host() string { h, _, _ := net.SplitHostPort(s.addr); return h }

// Port is the server's TCP port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Certificate is the server's self-signed certificate, valid for
// 127.0.0.1, ::1 and localhost. It is generated even for PlainText.
func (s *Server) Certificate() *x509.Certificate { return s.cert }

// RootCAs is a pool holding only Certificate, for the client's
// tls.Config.RootCAs.
func (s *Server) RootCAs() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.cert)
	return p
}

// RejectRecipients makes every RCPT TO fail with 550 5.1.1 while on.
func (s *Server) RejectRecipients(on bool) { s.mu.Lock(); s.reject = on; s.mu.Unlock() }

// FailTemporarily makes every RCPT TO fail with 451 4.3.0 while on, as a
// greylisting or overloaded relay does.
func (s *Server) FailTemporarily(on bool) { s.mu.Lock(); s.tempfail = on; s.mu.Unlock() }

// Stop closes the listener and every open connection; messages already
// captured stay. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, l, served := s.srv, s.listener, s.served
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	// Also here: Close misses a listener that Serve has not registered
	// yet, and Serve would then accept forever.
	_ = l.Close()
	<-served
}

// Restart starts a stopped server again on the same address, with the
// same certificate and options. Restarting a running server does nothing.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	running := s.srv != nil
	s.mu.Unlock()
	if running {
		return
	}
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("smtptest: listen again on %s: %v", s.addr, err)
	}
	s.serve(l)
}

func (s *Server) serve(l net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "smtptest.localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0) // t.Log would race the test's end
	switch s.opts.security {
	case PlainText:
		srv.AllowInsecureAuth = true
	case STARTTLS:
		srv.TLSConfig = s.tls
	case ImplicitTLS:
		srv.TLSConfig = s.tls
		l = tls.NewListener(l, s.tls)
	}
	served := make(chan struct{})
	s.mu.Lock()
	s.srv, s.listener, s.served = srv, l, served
	s.mu.Unlock()
	go func() {
		defer close(served)
		_ = srv.Serve(l)
	}()
}

// Messages returns every message accepted so far, oldest first.
func (s *Server) Messages() []Captured {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// Wait returns the oldest message for the envelope recipient to (compared
// without case) that Wait has not returned before, waiting up to timeout
// for it to arrive; it fails the test when none does. Like reading a
// mailbox: two resets sent to one address come back from two Waits, in
// order.
func (s *Server) Wait(t testing.TB, to string, timeout time.Duration) Captured {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for i, m := range s.messages {
			if !s.seen[i] && m.hasRecipient(to) {
				s.seen[i] = true
				s.mu.Unlock()
				return m
			}
		}
		arrived := s.arrived
		n := len(s.messages)
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-deadline.C:
			t.Fatalf("smtptest: no new message to %s within %v (%d messages captured in all)", to, timeout, n)
			return Captured{}
		}
	}
}

func (s *Server) add(m Captured) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.QueueID = fmt.Sprintf("%08X", len(s.messages)+1)
	s.messages = append(s.messages, m)
	s.seen = append(s.seen, false)
	close(s.arrived)
	s.arrived = make(chan struct{})
	return m.QueueID
}

func (s *Server) faults() (reject, tempfail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reject, s.tempfail
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{srv: s, conn: c}, nil
}

// session is one SMTP transaction at a time on one connection.
type session struct {
	srv      *Server
	conn     *smtp.Conn
	authMech string
	authUser string
	from     string
	to       []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string { return ss.srv.opts.mechanisms }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	check := func(username, password string) error {
		if username != ss.srv.opts.username || password != ss.srv.opts.pass {
			return smtp.ErrAuthFailed
		}
		ss.authMech, ss.authUser = mech, username
		return nil
	}
	if !slices.Contains(ss.srv.opts.mechanisms, mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	switch mech {
	case Plain:
		return sasl.NewPlainServer(func(_, username, password string) error { return check(username, password) }), nil
	case Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.srv.opts.username != "" && ss.authMech == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	reject, tempfail := ss.srv.faults()
	switch {
	case tempfail:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
	case reject:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + to + ">: Recipient address rejected: User unknown"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.conn.TLSConnectionState()
	m := parse(raw)
	m.From, m.To, m.Auth, m.AuthUser, m.TLS = ss.from, slices.Clone(ss.to), ss.authMech, ss.authUser, isTLS
	id := ss.srv.add(m)
	// A real relay's answer, so callers can show what "queued as" looks like.
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK: queued as " + id}
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

func (m Captured) hasRecipient(to string) bool {
	return slices.ContainsFunc(m.To, func(r string) bool { return strings.EqualFold(r, to) })
}
