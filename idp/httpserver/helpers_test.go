package httpserver

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTestServer builds a Server logging JSON to the returned buffer. A nil
// opts.After is replaced by a clock that never fires, so no test depends
// on real time passing.
func newTestServer(t *testing.T, opts Options) (*Server, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.After == nil {
		opts.After = func(time.Duration) <-chan time.Time { return nil }
	}
	return New(opts), buf
}

// serve runs one request through s synchronously, so everything it logs is
// in the buffer when serve returns.
func serve(s *Server, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// afterCall is one call of a controlled After: the duration asked for and
// the channel the test fires.
type afterCall struct {
	d  time.Duration
	ch chan time.Time
}

// controlledAfter returns an After that reports each call on calls and
// fires only when the test sends on that call's channel.
func controlledAfter() (func(time.Duration) <-chan time.Time, chan afterCall) {
	calls := make(chan afterCall, 16)
	return func(d time.Duration) <-chan time.Time {
		c := afterCall{d: d, ch: make(chan time.Time, 1)}
		calls <- c
		return c.ch
	}, calls
}

// nextAfter waits for the next After call asking for d.
func nextAfter(t *testing.T, calls chan afterCall, d time.Duration) afterCall {
	t.Helper()
	for {
		select {
		case c := <-calls:
			if c.d == d {
				return c
			}
		case <-time.After(10 * time.Second): // safety net, not a sleep
			t.Fatalf("no After(%s) call", d)
		}
	}
}

// recv waits for a value on ch, failing the test instead of hanging if it
// never comes. The timeout is a safety net, not a synchronisation device.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
