// Package httpserver is the HTTP plumbing every Gatehouse endpoint runs
// behind.
//
// It owns:
//   - the route table (an http.ServeMux with Go 1.22 patterns) and the
//     per-route Prometheus metrics, labelled by pattern so label cardinality
//     stays bounded (unknown paths share the "unmatched" label);
//   - the middleware applied to every request: request id, a request-scoped
//     slog.Logger, client IP resolution behind trusted proxies, the request
//     body limit, panic recovery, default security headers and the access
//     log;
//   - /healthz, /readyz and /metrics;
//   - the server's life cycle: serve until the context is cancelled, then
//     drain (readyz answers 503 so load balancers stop sending), then shut
//     down gracefully so in-flight requests finish.
//
// It must not hold business logic or import storage, protocol libraries
// (zitadel/oidc, crewjam/saml) or the UI. Readiness comes in as a function
// (Options.Ready); what "ready" means belongs to the caller. It must never
// log query strings, paths, cookies or Authorization headers: they carry
// codes and tokens. Route patterns are logged instead.
package httpserver
