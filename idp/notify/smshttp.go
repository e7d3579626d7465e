package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
)

// SMSUserAgent is the User-Agent of every request to an SMS gateway, so
// its operators can tell Gatehouse's traffic apart.
const SMSUserAgent = "Gatehouse-SMS/1 (+https://github.com/gatehouse-idp/gatehouse)"

// maxGatewayReply bounds what is read of a gateway's answer: a message id
// and an error text fit many times over, and a misdirected URL serving a
// large page cannot fill memory.
const maxGatewayReply = 64 << 10

// gateway is what the HTTP providers share: one deadline over the whole
// send, exactly one retry on a network error or a 5xx, bounded reads.
type gateway struct {
	provider string
	endpoint *url.URL
	client   *http.Client
	timeout  time.Duration
	logger   *slog.Logger
}

// reply is the gateway's final answer to one send.
type reply struct {
	status   int
	body     []byte
	attempts int
}

func newGateway(provider, endpoint string, timeout time.Duration, opts Options) (*gateway, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("notify: sms %s: %q is not an absolute https URL", provider, redactURL(u, endpoint))
	}
	// config.Validate says the same at start-up; this keeps a sender built
	// by hand from sending credentials or codes in the clear.
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("notify: sms %s: %s must use https (http only to loopback)", provider, redactURL(u, endpoint))
	}
	if timeout <= 0 {
		timeout = config.DefaultSMSTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if opts.RootCAs != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12}
	}
	client := &http.Client{
		Transport: tr,
		// A redirected POST loses its body (303) or carries credentials
		// to another host; the configured URL must be the final one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &gateway{provider: provider, endpoint: u, client: client, timeout: timeout, logger: opts.Logger}, nil
}

// isLoopbackHost is config's rule: the names, not a resolution, since a
// hosts file could make anything resolve to 127.0.0.1.
func isLoopbackHost(h string) bool { return h == "localhost" || h == "127.0.0.1" || h == "::1" }

// shown is the endpoint without query or user info, which may hold
// tokens: the form every log line and error uses.
func (g *gateway) shown() string { return redactURL(g.endpoint, "") }

func redactURL(u *url.URL, raw string) string {
	if u == nil {
		if i := strings.IndexAny(raw, "?#@"); i >= 0 {
			raw = raw[:i]
		}
		return raw
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// post sends the request newReq builds, and once more when the first try
// fails on the network or with a 5xx and time is left. It never retries
// a 4xx: the gateway has decided. A retry after a network error may
// duplicate a text the gateway did accept; a second code costs less than
// none. The error, when there is no reply at all, is an *SMSError.
func (g *gateway) post(ctx context.Context, newReq func(ctx context.Context) (*http.Request, error)) (reply, error) {
	budget := g.budget(ctx)
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	var (
		lastErr   *SMSError
		lastReply reply
	)
	for attempt := 1; attempt <= 2; attempt++ {
		req, err := newReq(ctx)
		if err != nil {
			return reply{}, fmt.Errorf("notify: sms %s: %w", g.provider, err)
		}
		req.Header.Set("User-Agent", SMSUserAgent)
		r, err := g.do(req)
		r.attempts = attempt
		if err == nil && r.status < 500 {
			return r, nil
		}
		lastErr, lastReply = nil, r
		if err != nil {
			lastErr, lastReply = g.networkError(ctx, err, attempt, budget), reply{}
		}
		if attempt == 2 || ctx.Err() != nil {
			break
		}
		why := fmt.Sprintf("HTTP %d", r.status)
		if lastErr != nil {
			why = lastErr.Error()
		}
		g.logger.Warn("sms gateway failed, retrying once", "provider", g.provider, "endpoint", g.shown(), "error", why)
	}
	if lastErr != nil {
		return reply{}, lastErr
	}
	// A 5xx both times: the caller describes it with the gateway's detail.
	return lastReply, nil
}

// do runs one request and reads a bounded reply.
func (g *gateway) do(req *http.Request) (reply, error) {
	resp, err := g.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxGatewayReply))
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, body: body}, nil
}

// budget is the nearer of sms.timeout and the caller's deadline, so a
// timeout error names the time the send really had.
func (g *gateway) budget(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < g.timeout {
			return left.Round(time.Millisecond)
		}
	}
	return g.timeout
}

// networkError describes a send that got no answer, without the URL's
// query (url.Error would print it whole).
func (g *gateway) networkError(ctx context.Context, err error, attempts int, budget time.Duration) *SMSError {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	e := &SMSError{Provider: g.provider, Endpoint: g.shown(), Attempts: attempts, Err: err, unavailable: true}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		e.Timeout = budget
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		e.Timeout, e.Err = 0, fmt.Errorf("%w (%w)", context.Canceled, err)
	}
	return e
}

// SMSError is a failed send to an SMS gateway: its answer, or the network
// error. Its text is for logs and admins, never for users, and never
// holds a credential.
type SMSError struct {
	// Provider is twilio or webhook; Endpoint the URL without query.
	Provider, Endpoint string
	// Attempts is how many requests were made (1 or 2).
	Attempts int
	// StatusCode is the HTTP status, 0 when there was no answer.
	StatusCode int
	// Code is the gateway's own error code (Twilio's 21211), 0 if none.
	Code int
	// Message and MoreInfo are the gateway's words and link, if any.
	Message, MoreInfo string
	// Hint says what Code means and which setting to look at.
	Hint string
	// Timeout is set when the deadline ended the send.
	Timeout time.Duration
	// Err is the network error when there was no answer.
	Err error

	unavailable bool
}

func (e *SMSError) Error() string {
	kind := "rejected"
	if e.unavailable {
		kind = "gateway unavailable"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "sms %s %s: %s: ", e.Provider, e.Endpoint, kind)
	switch {
	case e.StatusCode != 0:
		fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
		if e.Code != 0 {
			fmt.Fprintf(&b, ", %s error %d", e.Provider, e.Code)
		}
		if e.Hint != "" {
			b.WriteString(" (" + e.Hint + ")")
		}
		if e.Message != "" {
			b.WriteString(": " + e.Message)
		}
		if e.MoreInfo != "" {
			b.WriteString(" <" + e.MoreInfo + ">")
		}
	case e.Timeout > 0:
		fmt.Fprintf(&b, "no answer within %v", e.Timeout)
	default:
		b.WriteString(e.Err.Error())
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

func (e *SMSError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrSMSUnavailable) and errors.Is(err,
// ErrSMSRejected) work.
func (e *SMSError) Is(target error) bool {
	return (target == ErrSMSUnavailable && e.unavailable) || (target == ErrSMSRejected && !e.unavailable)
}

// statusError is the error for an answer that is not a success. 5xx and
// 429 (too many requests: the gateway's weather, not this message's
// fault) are unavailable; other statuses, 3xx included, are rejections.
func (g *gateway) statusError(r reply) *SMSError {
	return &SMSError{Provider: g.provider, Endpoint: g.shown(), Attempts: r.attempts, StatusCode: r.status,
		unavailable: r.status >= 500 || r.status == http.StatusTooManyRequests}
}

// oneLine is a gateway's text made fit for a log line: one line, bounded.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "?")), " ")
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return s
}
