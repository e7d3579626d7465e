package httpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

var errDraining = errors.New("server is draining")

// healthz answers 200 while the process runs: liveness only.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok")
}

// readyz answers 200 when the server is not draining and Ready succeeds
// within ReadyTimeout, else 503 with a fixed body; the reason is logged.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	err := s.checkReady(r.Context())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err != nil {
		if !errors.Is(err, errDraining) {
			Logger(r.Context()).Warn("readiness check failed", "error", err)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not ready")
		return
	}
	_, _ = io.WriteString(w, "ok")
}

func (s *Server) checkReady(ctx context.Context) error {
	if s.draining.Load() {
		return errDraining
	}
	if s.opts.Ready == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReadyTimeout)
	defer cancel()
	// Run Ready on its own goroutine so a check that ignores ctx cannot
	// hold the probe past the timeout; recover there, because a panic on
	// that goroutine is out of reach of the request's panic recovery.
	res := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				res <- fmt.Errorf("readiness check panicked: %v", v)
			}
		}()
		res <- s.opts.Ready(ctx)
	}()
	select {
	case err := <-res:
		return err
	case <-s.opts.After(s.opts.ReadyTimeout):
		return fmt.Errorf("readiness check timed out after %s", s.opts.ReadyTimeout)
	case <-ctx.Done():
		return fmt.Errorf("readiness check: %w", context.Cause(ctx))
	}
}
