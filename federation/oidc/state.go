package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-idp/gatehouse/federation"
)

// maxLoginAge is how long after Begin a callback is accepted: time for
// the upstream's own login (a password, a second factor), not for a day.
const maxLoginAge = 15 * time.Minute

const stateVersion = 1

// loginState is a login's federation.Start.State: what Finish needs back.
type loginState struct {
	V        int    `json:"v"`
	Relay    string `json:"relay"`
	Verifier string `json:"verifier"`
	Nonce    string `json:"nonce"`
	// Began is env.Now at Begin.
	Began time.Time `json:"began"`
}

// LogValue keeps the verifier and nonce out of logs.
func (s loginState) LogValue() slog.Value {
	return slog.GroupValue(slog.Time("began", s.Began))
}

// Begin starts a login at the upstream: the authorization code flow with
// PKCE S256 and a nonce, both fresh, and relay as the OAuth state.
func (c *connector) Begin(ctx context.Context, relay string) (federation.Start, error) {
	if relay == "" {
		return federation.Start{}, errors.New("federation/oidc: Begin needs a relay")
	}
	s := loginState{V: stateVersion, Relay: relay, Verifier: random(), Nonce: random(), Began: c.env.Now().UTC()}
	raw, err := json.Marshal(s)
	if err != nil {
		return federation.Start{}, fmt.Errorf("federation/oidc: login state: %w", err)
	}
	u := rp.AuthURL(relay, c.rp,
		rp.WithCodeChallenge(zoidc.NewSHACodeChallenge(s.Verifier)),
		rp.AuthURLOpt(rp.WithURLParam("nonce", s.Nonce)))
	return federation.Start{URL: u, State: raw}, nil
}

// readState decodes Begin's State. A state that does not decode is ours
// and broken, not the upstream's answer: an error, not a refusal.
func readState(raw []byte) (loginState, error) {
	var s loginState
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("federation/oidc: login state: %w", err)
	}
	if s.V != stateVersion || s.Relay == "" || s.Verifier == "" || s.Nonce == "" {
		return s, errors.New("federation/oidc: login state is incomplete")
	}
	return s, nil
}

// random is 256 bits from crypto/rand, base64url: a PKCE verifier (43
// characters, RFC 7636 section 4.1) or a nonce.
func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}
