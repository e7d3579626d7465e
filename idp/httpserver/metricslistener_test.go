package httpserver

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestMetricsListener: with a metrics listener, /metrics is served there
// and only there (404 on the main listener), and it closes with the main
// one when Serve returns.
func TestMetricsListener(t *testing.T) {
	mln := listen(t)
	after, calls := controlledAfter()
	s, _ := newTestServer(t, Options{MetricsListener: mln, ShutdownTimeout: time.Minute, After: after})
	ln := listen(t)
	main, metricsBase := "http://"+ln.Addr().String(), "http://"+mln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	if r := get(client, main+"/healthz"); r.err != nil || r.status != http.StatusOK {
		t.Fatalf("main /healthz = %d, %v", r.status, r.err)
	}
	if r := get(client, main+"/metrics"); r.err != nil || r.status != http.StatusNotFound {
		t.Fatalf("main /metrics = %d, %v; want 404 when a metrics listener is set", r.status, r.err)
	}
	r := get(client, metricsBase+"/metrics")
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("metrics listener /metrics = %d, %v; want 200", r.status, r.err)
	}
	// The main listener's traffic is counted, the 404 under "unmatched".
	for _, want := range []string{`gatehouse_http_requests_total{code="200",method="GET",route="GET /healthz"} 1`,
		`gatehouse_http_requests_total{code="404",method="GET",route="unmatched"} 1`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if r := get(client, metricsBase+"/healthz"); r.err != nil || r.status != http.StatusNotFound {
		t.Errorf("metrics listener /healthz = %d, %v; want 404 (only /metrics there)", r.status, r.err)
	}

	cancel()
	nextAfter(t, calls, time.Minute) // shutting down
	if err := recv(t, served, "Serve to return"); err != nil {
		t.Fatalf("Serve = %v, want nil", err)
	}
	for _, addr := range []string{ln.Addr().String(), mln.Addr().String()} {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Serve returned", addr)
		}
	}
}

// TestMetricsOnMainByDefault: without a metrics listener, /metrics stays
// on the main listener (dev mode).
func TestMetricsOnMainByDefault(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	r := get(&http.Client{Transport: tr}, "http://"+ln.Addr().String()+"/metrics")
	if r.err != nil || r.status != http.StatusOK || !strings.Contains(r.body, "go_goroutines") {
		t.Errorf("main /metrics = %d, %v; want 200 with metrics", r.status, r.err)
	}
	tr.CloseIdleConnections()
	cancel()
	if err := recv(t, served, "Serve to return"); err != nil {
		t.Fatalf("Serve = %v", err)
	}
}

// TestMetricsListenerFailureStopsServe: a broken metrics listener stops
// the server instead of leaving it running unmonitored.
func TestMetricsListenerFailureStopsServe(t *testing.T) {
	mln := listen(t)
	mln.Close()
	s, _ := newTestServer(t, Options{MetricsListener: mln})
	err := s.Serve(context.Background(), listen(t))
	if err == nil || !strings.Contains(err.Error(), "metrics") {
		t.Fatalf("Serve = %v, want the metrics listener's error", err)
	}
}
