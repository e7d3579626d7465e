package httpserver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by New to zero-valued Options fields.
const (
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultReadyTimeout      = 2 * time.Second
	DefaultMaxBodyBytes      = 1 << 20 // 1 MiB
	// MaxHeaderBytes bounds request headers (http.Server.MaxHeaderBytes).
	MaxHeaderBytes = 64 << 10
)

// Options configures a Server. The zero value is usable: every zero
// duration or size gets the matching Default* constant, except DrainDelay,
// where zero means no delay (tests want none; the config layer owns the
// defaults, 5 s in production and 1 s in dev mode).
type Options struct {
	// Logger is the base logger; nil means slog.Default().
	Logger *slog.Logger

	// Ready reports whether the process can serve traffic (e.g. the
	// database answers). It is called by GET /readyz with a context that
	// expires after ReadyTimeout. Nil means always ready. Its error is
	// logged, never sent to the client.
	Ready func(ctx context.Context) error

	// DrainDelay is how long Serve keeps serving, with /readyz answering
	// 503, after its context is cancelled and before it stops accepting
	// connections, so load balancers notice and stop sending. Every
	// response in that time carries Connection: close. Zero or negative
	// means no delay: Shutdown then closes idle keep-alive connections at
	// once, and a request already sent on one gets a reset.
	DrainDelay time.Duration
	// ShutdownTimeout bounds how long Serve waits for in-flight requests
	// after it stops accepting connections.
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout bounds reading request headers (slowloris).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included
	// (slow-body attacks).
	ReadTimeout time.Duration
	// IdleTimeout bounds how long an idle keep-alive connection is kept.
	IdleTimeout time.Duration
	// ReadyTimeout bounds one call of Ready.
	ReadyTimeout time.Duration

	// After is the clock used for DrainDelay, ShutdownTimeout and
	// ReadyTimeout; nil means time.After. Tests inject their own.
	After func(time.Duration) <-chan time.Time
	// Rand is the source of request ids; nil means crypto/rand.Reader.
	// It must be safe for concurrent use.
	Rand io.Reader

	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	// A request from any other peer is attributed to its RemoteAddr.
	TrustedProxies []netip.Prefix

	// MaxBodyBytes limits request bodies (http.MaxBytesReader). Zero or
	// negative means DefaultMaxBodyBytes.
	MaxBodyBytes int64

	// MetricsListener, if set, is where /metrics is served, on a listener
	// of its own (a loopback port, away from the public one); /metrics is
	// then not registered on the main route table. Serve serves it and
	// closes it together with the main listener.
	MetricsListener net.Listener

	// IssuerHTTPS says the public issuer URL is https; only then is
	// Strict-Transport-Security sent.
	IssuerHTTPS bool
}

// Server is Gatehouse's HTTP front: a route table wrapped in the common
// middleware, plus health, readiness, metrics and graceful shutdown.
// Create it with New.
type Server struct {
	opts     Options
	logger   *slog.Logger
	mux      *http.ServeMux
	draining atomic.Bool
	metrics  *metrics

	// testHookShutdown, if set, runs once http.Server.Shutdown has closed
	// the listeners (tests use it to sequence "in-flight during shutdown").
	testHookShutdown func()
	// testHookDraining, if set, runs right after Serve marks the server
	// draining (readyz answers 503 from then on).
	testHookDraining func()
}

var _ http.Handler = (*Server)(nil)

// New returns a Server with /healthz, /readyz and /metrics registered.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	setDefault(&opts.ShutdownTimeout, DefaultShutdownTimeout)
	setDefault(&opts.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDefault(&opts.ReadTimeout, DefaultReadTimeout)
	setDefault(&opts.IdleTimeout, DefaultIdleTimeout)
	setDefault(&opts.ReadyTimeout, DefaultReadyTimeout)
	if opts.After == nil {
		opts.After = time.After
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	opts.TrustedProxies = append([]netip.Prefix(nil), opts.TrustedProxies...)

	s := &Server{
		opts:    opts,
		logger:  opts.Logger,
		mux:     http.NewServeMux(),
		metrics: newMetrics(),
	}
	s.HandleFunc("GET /healthz", s.healthz)
	s.HandleFunc("GET /readyz", s.readyz)
	if opts.MetricsListener == nil {
		s.Handle("GET /metrics", s.metrics.handler(s.logger))
	}
	return s
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Handle registers h for pattern (Go 1.22 ServeMux syntax, e.g.
// "GET /authorize" or "POST /login/{step}"). Requests to it are counted
// under the label route=pattern. It panics on an invalid or conflicting
// pattern, like http.ServeMux.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.route(pattern, h))
}

// HandleFunc registers f for pattern; see Handle.
func (s *Server) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	s.Handle(pattern, http.HandlerFunc(f))
}

// Registry is where other packages register their own metrics; they are
// served on /metrics next to the HTTP ones.
func (s *Server) Registry() prometheus.Registerer {
	return s.metrics.registry
}

// Handler returns the Server as an http.Handler with all middleware, for
// httptest servers and for callers that run their own http.Server.
func (s *Server) Handler() http.Handler { return s }

// Draining reports whether Serve has begun shutting down.
func (s *Server) Draining() bool { return s.draining.Load() }

// ListenAndServe listens on the TCP address addr and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("httpserver: listen %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// closeWhileDraining serves r and, once the server is draining, answers
// with Connection: close, so net/http closes the connection after this
// response and the client opens a new one for its next request (accepted
// until the listener closes, then refused, which a client or load balancer
// can retry safely). Without it a keep-alive connection stays idle until
// Shutdown closes it, racing the client's next request on it: that request
// gets a reset or EOF, and a POST is not retried.
//
// Idle connections are deliberately not closed when the drain begins
// (http.Server.SetKeepAlivesEnabled(false) would): a request may already
// be on the wire on them. They are closed by Shutdown after DrainDelay.
func (s *Server) closeWhileDraining(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		w.Header().Set("Connection", "close")
	}
	s.ServeHTTP(w, r)
}

// Serve serves on ln until ctx is cancelled, then shuts down in phases:
// it marks the server draining (/readyz answers 503 at once, everything
// else is still served), waits DrainDelay, stops accepting connections and
// waits up to ShutdownTimeout for in-flight requests. It returns nil after
// a clean shutdown, or the error that stopped it. Serve closes ln.
//
// With Options.MetricsListener, Serve also serves /metrics there, through
// the drain, and shuts it down after the main listener (within the same
// ShutdownTimeout); if either listener fails, both stop.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           http.HandlerFunc(s.closeWhileDraining),
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	if s.testHookShutdown != nil {
		srv.RegisterOnShutdown(s.testHookShutdown)
	}

	addr := ln.Addr().String()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	s.logger.Info("http server listening", "addr", addr)
	m := s.startMetrics()

	select {
	case err := <-serveErr:
		// Serve failed on its own (e.g. the listener broke).
		m.close()
		s.logger.Error("http server stopped", "addr", addr, "error", err)
		return fmt.Errorf("httpserver: serve %s: %w", addr, err)
	case err := <-m.failed():
		return s.metricsFailed(srv, serveErr, err)
	case <-ctx.Done():
	}

	s.draining.Store(true)
	if s.testHookDraining != nil {
		s.testHookDraining()
	}
	if d := s.opts.DrainDelay; d > 0 {
		s.logger.Info("http server draining: readyz now reports 503", "addr", addr, "drain_delay", d)
		select {
		case <-s.opts.After(d):
		case err := <-serveErr:
			m.close()
			s.logger.Error("http server stopped while draining", "addr", addr, "error", err)
			return fmt.Errorf("httpserver: serve %s: %w", addr, err)
		case err := <-m.failed():
			return s.metricsFailed(srv, serveErr, err)
		}
	}

	s.logger.Info("http server shutting down: waiting for in-flight requests", "addr", addr, "timeout", s.opts.ShutdownTimeout)
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	shutdownDone := make(chan struct{})
	defer close(shutdownDone)
	timeout := s.opts.After(s.opts.ShutdownTimeout)
	go func() {
		select {
		case <-timeout:
			cancel()
		case <-shutdownDone:
		}
	}()
	err := srv.Shutdown(sctx)
	if serr := <-serveErr; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			err = fmt.Errorf("shutdown timed out after %s: %w", s.opts.ShutdownTimeout, err)
		}
		// Cut the connections that did not finish in time.
		_ = srv.Close()
		m.close()
		s.logger.Error("http server shutdown incomplete", "addr", addr, "error", err)
		return fmt.Errorf("httpserver: shutdown %s: %w", addr, err)
	}
	if err := m.shutdown(sctx); err != nil {
		s.logger.Error("metrics listener shutdown incomplete", "error", err)
		return fmt.Errorf("httpserver: shutdown metrics listener: %w", err)
	}
	s.logger.Info("http server stopped", "addr", addr)
	return nil
}

// metricsFailed handles the metrics listener stopping on its own: the
// main server is stopped too, since a process that cannot be monitored
// should be restarted rather than run on unseen.
func (s *Server) metricsFailed(srv *http.Server, serveErr <-chan error, err error) error {
	_ = srv.Close()
	<-serveErr
	s.logger.Error("metrics listener stopped", "error", err)
	return fmt.Errorf("httpserver: serve metrics: %w", err)
}
