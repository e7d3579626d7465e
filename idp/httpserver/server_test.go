package httpserver

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

type getResult struct {
	status int
	body   string
	close  bool
	err    error
}

func get(client *http.Client, url string) getResult {
	resp, err := client.Get(url)
	if err != nil {
		return getResult{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return getResult{status: resp.StatusCode, body: string(b), close: resp.Close, err: err}
}

// TestGracefulShutdown walks the SIGTERM sequence on a real listener:
// cancel → readyz 503 while still serving → drain delay fires → listeners
// close → the in-flight request finishes in full → Serve returns nil →
// new connections are refused.
func TestGracefulShutdown(t *testing.T) {
	after, calls := controlledAfter()
	s, logs := newTestServer(t, Options{DrainDelay: time.Hour, ShutdownTimeout: time.Minute, After: after})
	shutdownStarted := make(chan struct{})
	s.testHookShutdown = func() { close(shutdownStarted) }

	entered := make(chan struct{})
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseHandler := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseHandler)
	wantBody := strings.Repeat("gatehouse-", 20000) // 200 kB: more than one write buffer
	s.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, wantBody)
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	base := "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	if r := get(client, base+"/readyz"); r.err != nil || r.status != http.StatusOK {
		t.Fatalf("readyz before shutdown = %d, %v; want 200", r.status, r.err)
	}

	inflight := make(chan getResult, 1)
	go func() { inflight <- get(client, base+"/slow") }()
	recv(t, entered, "the slow handler to start")

	cancel()
	drain := nextAfter(t, calls, time.Hour) // Serve is now draining

	if r := get(client, base+"/readyz"); r.err != nil || r.status != http.StatusServiceUnavailable {
		t.Fatalf("readyz while draining = %d, %v; want 503", r.status, r.err)
	}
	if r := get(client, base+"/healthz"); r.err != nil || r.status != http.StatusOK {
		t.Fatalf("healthz while draining = %d, %v; want 200", r.status, r.err)
	}

	drain.ch <- time.Now()
	recv(t, shutdownStarted, "Shutdown to close the listeners") // /slow is still blocked
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v while a request was in flight", err)
	default:
	}

	releaseHandler()
	r := recv(t, inflight, "the in-flight response")
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("in-flight request = %d, %v; want 200", r.status, r.err)
	}
	if r.body != wantBody {
		t.Fatalf("in-flight body has %d bytes, want %d", len(r.body), len(wantBody))
	}
	if !r.close {
		t.Error("in-flight response lacks Connection: close; was it written before shutdown began?")
	}
	if err := recv(t, served, "Serve to return"); err != nil {
		t.Fatalf("Serve = %v, want nil", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("new connection accepted after Serve returned")
	}
	for _, phase := range []string{"draining", "shutting down", "http server stopped"} {
		if !strings.Contains(logs.String(), phase) {
			t.Errorf("log lacks phase %q", phase)
		}
	}
}

// TestShutdownTimeout: a request that outlives ShutdownTimeout makes Serve
// return an error instead of hanging.
func TestShutdownTimeout(t *testing.T) {
	after, calls := controlledAfter()
	s, _ := newTestServer(t, Options{DrainDelay: 0, ShutdownTimeout: time.Minute, After: after})
	entered := make(chan struct{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s.HandleFunc("GET /stuck", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	inflight := make(chan getResult, 1)
	go func() { inflight <- get(&http.Client{Transport: tr}, "http://"+ln.Addr().String()+"/stuck") }()
	recv(t, entered, "the stuck handler to start")
	cancel()
	nextAfter(t, calls, time.Minute).ch <- time.Now()

	err = recv(t, served, "Serve to return")
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("Serve = %v, want a shutdown timeout error", err)
	}
	if r := recv(t, inflight, "the stuck response"); r.err == nil {
		t.Fatalf("stuck request got %d; want its connection cut", r.status)
	}
}

func TestServeErrors(t *testing.T) {
	tests := []struct {
		name string
		run  func(s *Server) error
	}{
		{"listen on a bad address", func(s *Server) error {
			return s.ListenAndServe(context.Background(), "256.0.0.1:http")
		}},
		{"closed listener", func(s *Server) error {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil // reported as failure below
			}
			ln.Close()
			return s.Serve(context.Background(), ln)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{})
			if err := tt.run(s); err == nil {
				t.Fatal("got nil error")
			}
		})
	}
}

func TestListenAndServeStopsOnCancel(t *testing.T) {
	s, _ := newTestServer(t, Options{DrainDelay: 0})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.ListenAndServe(ctx, "127.0.0.1:0"); err != nil {
		t.Fatalf("ListenAndServe = %v, want nil", err)
	}
	if !s.Draining() {
		t.Error("Draining() = false after shutdown")
	}
}

func TestServeReturnsListenerErrorWhileDraining(t *testing.T) {
	after, calls := controlledAfter()
	s, _ := newTestServer(t, Options{DrainDelay: time.Hour, After: after})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	cancel()
	nextAfter(t, calls, time.Hour)
	ln.Close() // the listener breaks during the drain delay
	if err := recv(t, served, "Serve to return"); err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve = %v, want the listener error", err)
	}
}
