package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
)

// Options are what a sender takes beyond its config; zero values are the
// production defaults.
type Options struct {
	// Logger gets one line per delivered message; nil discards.
	Logger *slog.Logger
	// Now dates messages (the Date header). Deadlines use the real clock:
	// sockets know no other.
	Now func() time.Time
	// Rand draws Message-IDs and MIME boundaries; nil is crypto/rand.
	Rand io.Reader
	// RootCAs verifies the server's certificate; nil is the system pool.
	RootCAs *x509.CertPool
	// Dial opens the TCP connection; nil is a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// LocalName is the EHLO name; "" is the host name, or "localhost".
	LocalName string
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Dial == nil {
		o.Dial = (&net.Dialer{}).DialContext
	}
	if o.LocalName == "" {
		if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsAny(h, " \r\n") {
			o.LocalName = h
		} else {
			o.LocalName = "localhost"
		}
	}
	return o
}

// SMTP sends messages through one SMTP server, one connection per
// message: transactional mail is rare enough that a pool would only add
// stale-connection failures.
type SMTP struct {
	host     string
	addr     string // host:port
	mode     string // config.SMTPTLS*
	username string
	password config.Secret
	from     *mail.Address
	timeout  time.Duration
	opts     Options
}

var _ Notifier = (*SMTP)(nil)

// Errors a *SendError may wrap when the server, not the network, is the
// reason. All are permanent: retrying changes nothing.
var (
	ErrNoSTARTTLS = errors.New("the server does not offer STARTTLS (smtp.tls is starttls)")
	// ErrCleartextAuth: credentials would cross the network unencrypted.
	ErrCleartextAuth = errors.New("refusing to send the SMTP password over an unencrypted connection: " +
		"set smtp.tls to starttls or tls (none with credentials is allowed only to a loopback server)")
	ErrNoAuthMechanism = errors.New("the server offers neither AUTH PLAIN nor AUTH LOGIN")
)

// New returns a sender for cfg, which config.Validate has checked.
func New(cfg config.SMTP, opts Options) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("notify: smtp.host is not set")
	}
	from, err := parseSender(cfg.From)
	if err != nil {
		return nil, err
	}
	switch cfg.TLS {
	case config.SMTPTLSNone, config.SMTPTLSStartTLS, config.SMTPTLSImplicit:
	default:
		return nil, fmt.Errorf("notify: smtp.tls %q is not one of none, starttls, tls", cfg.TLS)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = config.DefaultSMTPTimeout
	}
	return &SMTP{
		host: cfg.Host, addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.DefaultPort())), mode: cfg.TLS,
		username: cfg.Username, password: cfg.Password, from: from, timeout: timeout, opts: opts.withDefaults(),
	}, nil
}

// Addr is the server's host:port.
func (s *SMTP) Addr() string { return s.addr }

// Send delivers m; see Deliver.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	_, err := s.Deliver(ctx, m)
	return err
}

// Deliver sends m and returns the server's final reply. Errors wrap
// ErrInvalidMessage (m is at fault) or are a *SendError.
func (s *SMTP) Deliver(ctx context.Context, m Message) (Receipt, error) {
	b, err := build(m, s.from, s.opts.Now(), s.opts.Rand)
	if err != nil {
		return Receipt{}, err
	}
	budget := s.budget(ctx)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	reply, err := s.transact(ctx, b, budget)
	if err != nil {
		return Receipt{}, err
	}
	s.opts.Logger.Info("mail sent", "to", b.to, "message_id", b.messageID, "smtp", s.addr, "reply", reply)
	return Receipt{MessageID: b.messageID, Reply: reply}, nil
}

// budget is the nearer of smtp.timeout and the caller's deadline, so a
// timeout error names the time the send really had: smtp.timeout exactly
// when that is the nearer.
func (s *SMTP) budget(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < s.timeout {
			return left.Round(time.Millisecond)
		}
	}
	return s.timeout
}

// transact runs one SMTP session that delivers b.
func (s *SMTP) transact(ctx context.Context, b built, budget time.Duration) (string, error) {
	return s.session(ctx, budget, func(c *smtp.Client, fail func(string, error) error) (string, error) {
		if err := c.Mail(s.from.Address); err != nil {
			return "", fail("mail from", err)
		}
		if err := c.Rcpt(b.to); err != nil {
			return "", fail("rcpt to", err)
		}
		reply, err := data(c, b.raw)
		if err != nil {
			return "", fail("data", err)
		}
		// The message is the server's now; a failed QUIT changes nothing.
		_ = c.Quit()
		return reply, nil
	})
}

// Probe meets the server as a send would (connect, TLS, EHLO, AUTH) and
// leaves without sending, so that a request that sends nothing (a reset
// asked for an address without an account) fails in the same way, at
// about the same cost, when the server is down.
func (s *SMTP) Probe(ctx context.Context) error {
	budget := s.budget(ctx)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.session(ctx, budget, func(c *smtp.Client, fail func(string, error) error) (string, error) {
		// MAIL FROM checks the sender as a send does; RSET ends the
		// transaction before any recipient.
		if err := c.Mail(s.from.Address); err != nil {
			return "", fail("mail from", err)
		}
		_ = c.Reset()
		_ = c.Quit()
		return "", nil
	})
	return err
}

// session runs one SMTP session up to and including AUTH, then do. Every
// step is bounded by ctx: its deadline is the connection's, and
// cancelling it unblocks any read.
func (s *SMTP) session(ctx context.Context, budget time.Duration, do func(c *smtp.Client, fail func(string, error) error) (string, error)) (string, error) {
	fail := func(stage string, err error) error { return s.sendError(ctx, stage, err, budget) }
	conn, err := s.opts.Dial(ctx, "tcp", s.addr)
	if err != nil {
		return "", fail("connect", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	tlsConfig := &tls.Config{ServerName: s.host, RootCAs: s.opts.RootCAs, MinVersion: tls.VersionTLS12}
	encrypted := false
	if s.mode == config.SMTPTLSImplicit {
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return "", fail("tls handshake", err)
		}
		conn, encrypted = tc, true
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return "", fail("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(s.opts.LocalName); err != nil {
		return "", fail("ehlo", err)
	}
	if s.mode == config.SMTPTLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return "", fail("starttls", ErrNoSTARTTLS)
		}
		if err := c.StartTLS(tlsConfig); err != nil {
			return "", fail("starttls", err)
		}
		encrypted = true
	}
	if s.username != "" {
		if err := s.auth(c, conn, encrypted); err != nil {
			return "", fail("auth", err)
		}
	}
	return do(c, fail)
}

// auth picks PLAIN, else LOGIN, from what the server offers, and refuses
// to send credentials in the clear except to loopback.
func (s *SMTP) auth(c *smtp.Client, conn net.Conn, encrypted bool) error {
	clearOK := !encrypted && loopback(s.host, conn.RemoteAddr())
	if !encrypted && !clearOK {
		return ErrCleartextAuth
	}
	_, offered := c.Extension("AUTH")
	mechs := strings.Fields(strings.ToUpper(offered))
	var a smtp.Auth
	switch {
	case contains(mechs, "PLAIN"):
		a = &plainAuth{username: s.username, password: s.password, clearOK: clearOK}
	case contains(mechs, "LOGIN"):
		a = &loginAuth{username: s.username, password: s.password, clearOK: clearOK}
	default:
		return fmt.Errorf("%w (offered: %q)", ErrNoAuthMechanism, offered)
	}
	return c.Auth(a)
}

// data sends DATA through the client's textproto connection, which
// net/smtp exports for extensions, because Client.Data discards the
// server's final reply, the one line an admin debugging lost mail needs.
func data(c *smtp.Client, raw []byte) (string, error) {
	id, err := c.Text.Cmd("DATA")
	if err != nil {
		return "", err
	}
	c.Text.StartResponse(id)
	_, _, err = c.Text.ReadResponse(354)
	c.Text.EndResponse(id)
	if err != nil {
		return "", err
	}
	w := c.Text.DotWriter()
	if _, err := w.Write(raw); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	code, msg, err := c.Text.ReadResponse(250)
	if err != nil {
		return "", err
	}
	return strconv.Itoa(code) + " " + strings.ReplaceAll(msg, "\n", " "), nil
}

// loopback: the configured host names loopback and the connection really
// goes there. Both, so that neither a hosts-file entry nor a proxying
// dialer makes a remote relay look local.
func loopback(host string, remote net.Addr) bool {
	named := host == "localhost"
	if ip := net.ParseIP(host); ip != nil {
		named = ip.IsLoopback()
	}
	tcp, ok := remote.(*net.TCPAddr)
	return named && ok && tcp.IP.IsLoopback()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// SendError is a failed SMTP send: where it failed, and the server's reply
// or the network error. Its text is for logs and admins, not for users.
type SendError struct {
	// Addr is the server, host:port.
	Addr string
	// Stage is the step that failed: connect, tls handshake, greeting,
	// ehlo, starttls, auth, mail from, rcpt to, data.
	Stage string
	// Code is the SMTP reply code, 0 when the failure was not a reply.
	Code int
	// Reply is the reply's text (with any enhanced status code), "" when
	// Code is 0.
	Reply string
	// Err is the underlying error: a *textproto.Error for replies.
	Err error

	temporary bool
	timeout   time.Duration // set when the deadline ended it
}

func (e *SendError) Error() string {
	kind := "permanent"
	if e.temporary {
		kind = "temporary"
	}
	var detail string
	switch {
	case e.Code != 0:
		detail = fmt.Sprintf("%d %s", e.Code, strings.ReplaceAll(e.Reply, "\n", " "))
	case e.timeout > 0:
		detail = fmt.Sprintf("no answer within %v: %v", e.timeout, e.Err)
	default:
		detail = e.Err.Error()
	}
	return fmt.Sprintf("smtp %s: %s: %s (%s failure)", e.Addr, e.Stage, detail, kind)
}

func (e *SendError) Unwrap() error { return e.Err }

// Temporary reports whether a later retry may succeed: a 4xx reply, a
// network error or a timeout. 5xx replies, TLS verification failures and
// refusals of this package's own are permanent.
func (e *SendError) Temporary() bool { return e.temporary }

// Is makes errors.Is(err, ErrTemporary) and errors.Is(err, ErrPermanent)
// work.
func (e *SendError) Is(target error) bool {
	return (target == ErrTemporary && e.temporary) || (target == ErrPermanent && !e.temporary)
}

func (s *SMTP) sendError(ctx context.Context, stage string, err error, budget time.Duration) *SendError {
	e := &SendError{Addr: s.addr, Stage: stage, Err: err}
	var tp *textproto.Error
	var ne net.Error
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	switch {
	case errors.As(err, &tp):
		e.Code, e.Reply, e.temporary = tp.Code, tp.Msg, tp.Code/100 == 4
	case errors.Is(err, ErrNoSTARTTLS), errors.Is(err, ErrCleartextAuth), errors.Is(err, ErrNoAuthMechanism),
		errors.As(err, &certErr), errors.As(err, &recErr):
		// Configuration, not weather: the same send fails the same way.
	default:
		e.temporary = true // network errors, EOF, deadlines
		// A read cut short by the deadline, or by the cancel that set it
		// in the past: say which, since only one is the server's fault.
		if (errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, context.DeadlineExceeded) {
			e.timeout = budget
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			e.timeout, e.Err = 0, fmt.Errorf("%w (%w)", context.Canceled, err)
		}
	}
	return e
}
