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
//   - /healthz, /readyz and /metrics, the last on a listener of its own
//     when Options.MetricsListener is set (and then not on the main one);
//   - the server's life cycle: serve until the context is cancelled, then
//     drain (readyz answers 503 so load balancers stop sending, and every
//     response carries Connection: close so keep-alive connections close
//     gracefully instead of being cut by Shutdown), then shut down
//     gracefully so in-flight requests finish, then close the metrics
//     listener.
//
// It must not hold business logic or import storage, protocol libraries
// (zitadel/oidc, crewjam/saml) or the UI. Readiness comes in as a function
// (Options.Ready); what "ready" means belongs to the caller. It must never
// log query strings, paths, cookies or Authorization headers: they carry
// codes and tokens. Route patterns are logged instead.
package httpserver
