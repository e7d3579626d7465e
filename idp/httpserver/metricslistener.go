package httpserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
)

// metricsServer serves /metrics on Options.MetricsListener, the listener of
// its own that keeps metrics off the public one. It has only that route
// and no middleware: scrapes are not counted, logged or rate of interest.
type metricsServer struct {
	srv  *http.Server
	ln   net.Listener
	errc chan error
}

// startMetrics starts serving /metrics on Options.MetricsListener; it
// returns nil when metrics are served on the main listener instead.
func (s *Server) startMetrics() *metricsServer {
	ln := s.opts.MetricsListener
	if ln == nil {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.handler(s.logger))
	m := &metricsServer{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
			ReadTimeout:       s.opts.ReadTimeout,
			IdleTimeout:       s.opts.IdleTimeout,
			MaxHeaderBytes:    MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		},
		ln:   ln,
		errc: make(chan error, 1),
	}
	go func() { m.errc <- m.srv.Serve(ln) }()
	s.logger.Info("metrics listening", "addr", ln.Addr().String())
	return m
}

// failed is the channel on which the metrics server reports stopping on
// its own; nil (never ready) when there is no metrics listener.
func (m *metricsServer) failed() <-chan error {
	if m == nil {
		return nil
	}
	return m.errc
}

// shutdown stops the metrics listener gracefully within ctx, then cuts
// what is left. It is called once the main listener has shut down, so
// scrapes keep working through the drain.
func (m *metricsServer) shutdown(ctx context.Context) error {
	if m == nil {
		return nil
	}
	err := m.srv.Shutdown(ctx)
	if err != nil {
		_ = m.srv.Close()
	}
	if serr := <-m.errc; err == nil && !errors.Is(serr, http.ErrServerClosed) {
		err = serr
	}
	return err
}

// close stops the metrics listener at once (the main server failed).
func (m *metricsServer) close() {
	if m == nil {
		return
	}
	_ = m.srv.Close()
	<-m.errc
}
