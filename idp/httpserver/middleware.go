package httpserver

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// Default security headers. Each is set only if the handler has not set
// the header itself before writing, so a route can relax or tighten it.
const (
	DefaultCSP  = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
	HSTSValue   = "max-age=63072000; includeSubDomains"
	unmatched   = "unmatched"
	headerReqID = "X-Request-Id"
)

var defaultHeaders = [...][2]string{
	{"Content-Security-Policy", DefaultCSP},
	{"X-Frame-Options", "DENY"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Content-Type-Options", "nosniff"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"Cache-Control", "no-store"},
}

// ServeHTTP runs the middleware chain and then the route table.
//
// Order, outermost first, and why:
//  1. request id, client IP, request logger and the response recorder:
//     everything below (including the panic log) needs them;
//  2. access log and metrics, in a defer: they must see the final status
//     even when a handler panics;
//  3. body limit: applied before any handler can read the body;
//  4. panic recovery: innermost around the route table, so the generic 500
//     goes through the recorder and gets the security headers;
//  5. route table; each route sets its pattern for labels and rejects a
//     declared Content-Length over the limit before the handler runs.
//
// Security headers are added by the recorder at the moment the status line
// is written, which is how "only if the handler hasn't set one" works.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := s.requestID(r)
	w.Header().Set(headerReqID, id)
	ip := s.clientIP(r)
	logger := s.logger.With("request_id", id)
	info := &requestInfo{route: unmatched}
	ctx := withRequest(r.Context(), id, ip, logger, info)
	r = r.WithContext(ctx)

	rec := &recorder{ResponseWriter: w, s: s}
	defer func() {
		// Runs on return and while an aborting panic unwinds.
		if !rec.wroteHeader && !rec.hijacked && !info.aborted {
			rec.WriteHeader(http.StatusOK) // apply headers to an empty 200
		}
		d := time.Since(start)
		status := rec.status
		s.metrics.observe(info.route, r.Method, status, d)
		attrs := []any{
			"method", r.Method,
			"route", info.route,
			"status", status,
			"duration", d,
			"bytes", rec.bytes,
			"remote_ip", ip,
		}
		if info.aborted {
			attrs = append(attrs, "aborted", true)
		}
		level := slog.LevelInfo
		if quietRoutes[info.route] && status < 400 {
			level = slog.LevelDebug // probes every few seconds would drown the log
		}
		logger.Log(r.Context(), level, "http request", attrs...)
	}()

	// MaxBytesReader gets the original writer: it uses an unexported
	// method on it to close the connection after an oversized body.
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	}

	s.serveRecover(rec, r, info)
}

// serveRecover runs the route table and turns a panic into a generic 500.
func (s *Server) serveRecover(rec *recorder, r *http.Request, info *requestInfo) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			// Deliberate abort: let net/http cut the connection quietly.
			info.aborted = true
			panic(v)
		}
		Logger(r.Context()).Error("panic in http handler",
			"route", info.route,
			"method", r.Method,
			"panic", fmt.Sprint(v),
			"stack", string(debug.Stack()),
		)
		if rec.wroteHeader || rec.hijacked {
			// Part of a response is already out; a 500 is impossible and
			// a clean end would pass a truncated body off as complete.
			info.aborted = true
			panic(http.ErrAbortHandler)
		}
		writeInternalError(rec, r)
	}()
	s.mux.ServeHTTP(rec, r)
}

// writeInternalError answers a generic 500 and drops whatever headers the
// failed handler had set (cookies, a half-built Location…).
func writeInternalError(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	id := h.Get(headerReqID)
	for k := range h {
		delete(h, k)
	}
	h.Set(headerReqID, id)
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		// id passed validRequestID, so it needs no JSON escaping.
		_, _ = io.WriteString(w, `{"error":"server_error","request_id":"`+id+`"}`+"\n")
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, "Internal Server Error (request id "+id+")\n")
}

// route wraps a registered handler: it records the pattern for the
// metrics and access log, and rejects a declared oversized body at once.
func (s *Server) route(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := requestInfoFrom(r.Context()); info != nil {
			info.route = pattern
		}
		if r.ContentLength > s.opts.MaxBodyBytes {
			if r.ProtoMajor == 1 {
				// Do not read the rest; on HTTP/2 this would send GOAWAY.
				w.Header().Set("Connection", "close")
			}
			http.Error(w, "Request Entity Too Large", http.StatusRequestEntityTooLarge)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// requestID returns the incoming X-Request-Id if it is a single
// well-formed value, otherwise a fresh random 128-bit id.
func (s *Server) requestID(r *http.Request) string {
	if v := r.Header.Values(headerReqID); len(v) == 1 && validRequestID(v[0]) {
		return v[0]
	}
	var b [16]byte
	if _, err := io.ReadFull(s.opts.Rand, b[:]); err != nil {
		// Only an injected reader can fail; fall back to the system one.
		_, _ = rand.Read(b[:])
	}
	return hex.EncodeToString(b[:])
}

// validRequestID accepts 1 to 64 characters of [A-Za-z0-9._-]: safe to
// echo in a header, a log line or a JSON string without escaping.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// recorder captures status and size, and adds the default security headers
// just before the status line goes out.
type recorder struct {
	http.ResponseWriter
	s           *Server
	status      int
	bytes       int64
	wroteHeader bool
	hijacked    bool
}

func (w *recorder) WriteHeader(code int) {
	if w.wroteHeader || (code >= 100 && code < 200 && code != http.StatusSwitchingProtocols) {
		// Informational responses may repeat; a superfluous call is
		// reported by net/http.
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.wroteHeader = true
	w.status = code
	h := w.Header()
	for _, kv := range defaultHeaders {
		if len(h.Values(kv[0])) == 0 {
			h.Set(kv[0], kv[1])
		}
	}
	if w.s.opts.IssuerHTTPS && len(h.Values("Strict-Transport-Security")) == 0 {
		h.Set("Strict-Transport-Security", HSTSValue)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Flush implements http.Flusher; it sends the headers first if needed.
func (w *recorder) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack implements http.Hijacker so the recorder knows the connection is
// no longer an HTTP response.
func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("httpserver: hijack: %w", http.ErrNotSupported)
	}
	c, rw, err := h.Hijack()
	if err == nil {
		w.hijacked = true
		w.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// quietRoutes are probed by machines; their successes are logged at debug.
var quietRoutes = map[string]bool{
	"GET /healthz": true,
	"GET /readyz":  true,
	"GET /metrics": true,
}

// knownMethods bounds the method label: r.Method is chosen by the client.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true,
	http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true,
	http.MethodConnect: true, http.MethodOptions: true, http.MethodTrace: true,
}

func methodLabel(m string) string {
	if knownMethods[m] {
		return m
	}
	return "OTHER"
}
