package oidcop

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"

	jose "github.com/go-jose/go-jose/v4"
)

// lastKeys is the key set most recently loaded, kept so that a storage
// outage does not take JWKS down with it: keys change rarely and are
// published ahead of use, so the last set loaded still verifies every
// token signed before the outage.
type lastKeys struct{ set atomic.Pointer[[]PublicKey] }

// publicKeys is Keys.PublicKeys with the last good answer as a fallback.
func (p *Provider) publicKeys(ctx context.Context) ([]PublicKey, error) {
	keys, err := p.opts.Keys.PublicKeys(ctx)
	if err == nil {
		p.lastKeys.set.Store(&keys)
		return keys, nil
	}
	if last := p.lastKeys.set.Load(); last != nil {
		p.opts.Logger.WarnContext(ctx, "key set unavailable; using the last one loaded", "error", err)
		return *last, nil
	}
	return nil, err
}

// jwksDocument is the JWKS JSON, byte for byte what the library's
// handler wrote (json.Encoder: escaped HTML, a trailing newline).
func jwksDocument(keys []PublicKey) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, len(keys))}
	for i, k := range keys {
		set.Keys[i] = jose.JSONWebKey{KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig", Key: k.Key}
	}
	b, err := json.Marshal(&set)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// keys serves GET /keys. Gatehouse serves it rather than the library,
// which answers a storage error with a 500 whose body is the error itself
// (a DSN's user, host and database among it). A failure is logged, never
// shown: the last key set loaded is served again, and when none was ever
// loaded the answer is a generic 503.
func (p *Provider) keys(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	keys, err := p.publicKeys(ctx)
	var doc []byte
	if err == nil {
		doc, err = jwksDocument(keys)
	}
	if err != nil {
		p.opts.Logger.ErrorContext(ctx, "jwks unavailable", "error", err)
		w.Header().Set("Retry-After", retryAfter)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable",
			"error_description": "the key set is temporarily unavailable"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}
