package storagetest

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Proxy is a TCP proxy for tests that stands in for a database server that
// stops answering without refusing: frozen, it keeps every connection open
// and accepts new ones, but copies no bytes either way, as a server stopped
// with SIGSTOP does. Thawed, it forwards everything it held back.
type Proxy struct {
	ln     net.Listener
	target string
	closed chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	thawed chan struct{} // closed while the proxy forwards
	conns  map[net.Conn]struct{}
}

// NewProxy listens on a loopback port and forwards each connection to
// target (host:port). It closes when the test ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	thawed := make(chan struct{})
	close(thawed)
	p := &Proxy{ln: ln, target: target, closed: make(chan struct{}), thawed: thawed, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	tb.Cleanup(p.Close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Freeze stops copying bytes; connections stay open.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
		p.thawed = make(chan struct{})
	default: // already frozen
	}
}

// Thaw resumes copying, starting with what arrived while frozen.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
	default:
		close(p.thawed)
	}
}

// Close stops listening, closes every connection and waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() {
	select {
	case <-p.closed:
		return
	default:
	}
	close(p.closed)
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// track registers c to be closed by Close; false if the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.closed:
		c.Close()
		return false
	default:
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(client) {
			return
		}
		p.wg.Go(func() { p.serve(client) })
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.untrack(client)
	server, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(server) {
		return
	}
	defer p.untrack(server)
	done := make(chan struct{}, 2)
	p.wg.Go(func() { p.copy(server, client); done <- struct{}{} })
	p.wg.Go(func() { p.copy(client, server); done <- struct{}{} })
	// Either side ending ends both, as a server's close would.
	<-done
	client.Close()
	server.Close()
	<-done
}

// copy forwards src to dst, holding each chunk while the proxy is frozen.
func (p *Proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, rerr := src.Read(buf)
		if !p.wait() {
			return
		}
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if rerr != nil {
			if !errors.Is(rerr, net.ErrClosed) {
				// EOF or reset: pass the close on, once thawed, as a
				// stopped server would only notice it when resumed.
				dst.Close()
			}
			return
		}
	}
}

// wait blocks while the proxy is frozen; false once it is closed.
func (p *Proxy) wait() bool {
	p.mu.Lock()
	gate := p.thawed
	p.mu.Unlock()
	select {
	case <-gate:
		return true
	case <-p.closed:
		return false
	}
}

// ProxyDSN returns the PostgreSQL dsn (URL or key=value form) pointed at
// addr (host:port), e.g. a Proxy's.
func ProxyDSN(dsn, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", err
		}
		u.Host = addr
		q := u.Query()
		q.Del("host")
		q.Del("port")
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	// In the key=value form a later setting wins.
	return dsn + " host=" + host + " port=" + port, nil
}
