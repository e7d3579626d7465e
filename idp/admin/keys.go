package admin

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/keys"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Signing keys: their timeline and rotation, as the CLI's `keys` and the
// console's Keys page show and do them. The key managers (idp/keys) own
// how a rotation works (the new key is published before it signs, the old
// one signs until then and stays published after); this records who
// rotated what.

// OIDCKeys are the OpenID Provider's signing keys (keys.Manager).
type OIDCKeys interface {
	Rotate(ctx context.Context, alg string) (storage.SigningKey, error)
	Status(ctx context.Context) ([]keys.KeyStatus, error)
}

// SAMLKeys are the SAML IdP's signing keys (keys.SAMLManager).
type SAMLKeys interface {
	Rotate(ctx context.Context) (storage.SigningKey, error)
	Status(ctx context.Context) ([]keys.KeyStatus, error)
}

// Keys are the key managers the Service rotates.
type Keys struct {
	OIDC OIDCKeys
	SAML SAMLKeys
}

// KeyRotation is one chain's rotation: the new key, and the keys it
// replaces (they stop signing when it starts, at Key.NotBefore).
type KeyRotation struct {
	Label    string // the algorithm, or "SAML"
	Key      storage.SigningKey
	Replaced []storage.SigningKey
}

// ListKeys returns every signing key with its state now: the OIDC keys by
// algorithm, then the SAML keys.
func (s *Service) ListKeys(ctx context.Context) ([]keys.KeyStatus, error) {
	if s.Keys.OIDC == nil || s.Keys.SAML == nil {
		return nil, fmt.Errorf("list keys: no key managers")
	}
	oidc, err := s.Keys.OIDC.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	saml, err := s.Keys.SAML.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return append(oidc, saml...), nil
}

// CheckKeyRotation refuses a use or algorithm that names no chain: use is
// storage.KeyUseOIDC or KeyUseSAML; alg, for OIDC, one of
// keys.Algorithms() or "" for all of them; SAML keys are RS256.
func CheckKeyRotation(use, alg string) error {
	switch {
	case use == storage.KeyUseSAML && alg != "" && alg != keys.RS256:
		return inputErr("SAML keys are %s, not %q", keys.RS256, shorten(alg))
	case use == storage.KeyUseSAML:
	case use != storage.KeyUseOIDC:
		return inputErr("key use %q: want %s or %s", shorten(use), storage.KeyUseOIDC, storage.KeyUseSAML)
	case alg != "" && !slices.Contains(keys.Algorithms(), alg):
		return inputErr("algorithm %q: want one of %s", shorten(alg), strings.Join(keys.Algorithms(), ", "))
	}
	return nil
}

// RotateKeys rotates the chains use and alg name (CheckKeyRotation) and
// records key.rotated for each. A rotation that is done stays done when
// its audit record fails: the error says so.
func (s *Service) RotateKeys(ctx context.Context, actor, use, alg string) ([]KeyRotation, error) {
	if err := CheckKeyRotation(use, alg); err != nil {
		return nil, err
	}
	if s.Keys.OIDC == nil || s.Keys.SAML == nil {
		return nil, fmt.Errorf("rotate keys: no key managers")
	}
	type chain struct {
		label, alg string
		rotate     func(context.Context) (storage.SigningKey, error)
		status     func(context.Context) ([]keys.KeyStatus, error)
	}
	var chains []chain
	if use == storage.KeyUseSAML {
		chains = []chain{{"SAML", keys.RS256, s.Keys.SAML.Rotate, s.Keys.SAML.Status}}
	} else {
		algs := keys.Algorithms()
		if alg != "" {
			algs = []string{alg}
		}
		for _, a := range algs {
			chains = append(chains, chain{a, a, func(ctx context.Context) (storage.SigningKey, error) { return s.Keys.OIDC.Rotate(ctx, a) },
				s.Keys.OIDC.Status})
		}
	}
	var out []KeyRotation
	for _, c := range chains {
		k, err := c.rotate(ctx)
		if err != nil {
			return out, fmt.Errorf("rotate %s keys: %w", c.label, err)
		}
		r := KeyRotation{Label: c.label, Key: k}
		status, err := c.status(ctx)
		if err != nil {
			return out, fmt.Errorf("rotate %s keys: %w", c.label, err)
		}
		for _, st := range status {
			if old := st.Key; old.Algorithm == c.alg && old.ID != k.ID && old.RetireAt.Equal(k.NotBefore) {
				r.Replaced = append(r.Replaced, old)
			}
		}
		out = append(out, r)
		if err := s.Audit.Record(ctx, storage.AuditEvent{Type: audit.KeyRotated, ActorID: actor,
			Details: map[string]string{"kid": k.ID, "use": k.Use, "alg": c.alg, "not_before": k.NotBefore.UTC().Format(time.RFC3339)}}); err != nil {
			return out, err
		}
	}
	return out, nil
}
