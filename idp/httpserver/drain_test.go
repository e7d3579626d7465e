package httpserver

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// drainResult is one request of a load client: whether it was sent before
// the server began draining, and what came back.
type drainResult struct {
	before bool
	reused bool // sent on a connection that had carried an earlier request
	close  bool
	err    error
}

// TestDrainUnderKeepAliveLoad runs the real server under many concurrent
// keep-alive clients posting (a non-idempotent request, which
// net/http.Transport never retries on its own, like a login form) and
// cancels its context mid-load. It checks, without sleeping:
//   - no request sent before the drain began fails;
//   - every response to a request sent after the drain began carries
//     Connection: close, so the client does not reuse a connection that is
//     about to close;
//   - once the listener closes, no request fails on a kept-alive
//     connection (a reset or EOF there is what the drain must prevent).
//     Requests sent after the drain began on a new connection may fail:
//     refused, or reset when the listener closes with the connection
//     still in its accept queue; no server can prevent that, and load
//     balancers stop sending before it.
func TestDrainUnderKeepAliveLoad(t *testing.T) {
	const clients = 16
	after, calls := controlledAfter()
	s, _ := newTestServer(t, Options{DrainDelay: time.Second, ShutdownTimeout: time.Minute, After: after})
	var flipped atomic.Bool
	s.testHookDraining = func() { flipped.Store(true) }
	s.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = fmt.Fprintf(w, "ok %d", len(b))
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/login"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: 0}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	warm := make(chan struct{}, clients)    // one per client: it reused a connection
	drained := make(chan struct{}, clients) // one per client: a response to a request sent while draining
	stop := make(chan struct{})
	results := make([][]drainResult, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sentWarm, sentDrained bool
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				before := !flipped.Load()
				req, _ := http.NewRequest("POST", url, strings.NewReader("email=a%40example.com&password=secret"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r := drainResult{before: before}
				req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
					GotConn: func(info httptrace.GotConnInfo) { r.reused = info.Reused },
				}))
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					r.close = resp.Close
				}
				r.err = err
				results[i] = append(results[i], r)
				if err != nil {
					return // the first error ends this client
				}
				if n >= 2 && !sentWarm {
					sentWarm = true
					warm <- struct{}{}
				}
				if !before && !sentDrained {
					sentDrained = true
					drained <- struct{}{}
				}
			}
		}()
	}
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	})

	for range clients {
		recv(t, warm, "every client to reuse its connection")
	}
	cancel()
	drain := nextAfter(t, calls, time.Second) // readyz answers 503 from here
	// Let every client see the drain before the listener closes: each has
	// then finished every request it sent before the drain.
	for range clients {
		recv(t, drained, "every client to get a response while draining")
	}
	drain.ch <- time.Now()
	if err := recv(t, served, "Serve to return"); err != nil {
		t.Fatalf("Serve = %v, want nil", err)
	}
	close(stop)
	wg.Wait()

	var total, beforeErrs, resets, missingClose int
	for _, rs := range results {
		for _, r := range rs {
			total++
			switch {
			case r.err != nil && r.before:
				beforeErrs++
				t.Logf("request sent before the drain failed: %v", r.err)
			case r.err != nil && r.reused:
				resets++
				t.Logf("request failed on a kept-alive connection: %v", r.err)
			case r.err == nil && !r.before && !r.close:
				missingClose++
			}
		}
	}
	t.Logf("%d requests from %d clients", total, clients)
	if beforeErrs > 0 {
		t.Errorf("%d requests sent before the drain failed; want 0", beforeErrs)
	}
	if resets > 0 {
		t.Errorf("%d requests failed on a kept-alive connection; want 0", resets)
	}
	if missingClose > 0 {
		t.Errorf("%d responses during the drain lack Connection: close", missingClose)
	}
}
