package httpserver

import (
	"context"
	"log/slog"
)

type ctxKey struct{}

// requestInfo is the per-request state the middleware shares with itself.
// route is written by the route wrapper and read by the access log and
// metrics after the handler returns, on the same goroutine.
type requestInfo struct {
	id      string
	ip      string
	logger  *slog.Logger
	route   string
	aborted bool
}

func withRequest(ctx context.Context, id, ip string, logger *slog.Logger, info *requestInfo) context.Context {
	info.id, info.ip, info.logger = id, ip, logger
	return context.WithValue(ctx, ctxKey{}, info)
}

func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(ctxKey{}).(*requestInfo)
	return info
}

// RequestID returns the request id of the request ctx belongs to, or ""
// outside a request served by a Server.
func RequestID(ctx context.Context) string {
	if info := requestInfoFrom(ctx); info != nil {
		return info.id
	}
	return ""
}

// Logger returns the request-scoped logger (it carries request_id), or
// slog.Default() outside a request served by a Server.
func Logger(ctx context.Context) *slog.Logger {
	if info := requestInfoFrom(ctx); info != nil && info.logger != nil {
		return info.logger
	}
	return slog.Default()
}

// ClientIP returns the client address of the request ctx belongs to (see
// Options.TrustedProxies), or "" outside a request served by a Server.
func ClientIP(ctx context.Context) string {
	if info := requestInfoFrom(ctx); info != nil {
		return info.ip
	}
	return ""
}
