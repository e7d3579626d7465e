package webauthnmfa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Challenge starts a login ceremony for t's keys: View.Data is the
// PublicKeyCredentialRequestOptions JSON for navigator.credentials.get
// (allowCredentials: the keys that count, flagged ones left out), and the
// state holds its session. Each showing starts a new one; the old
// challenge is void. With no key left to use, the view has a notice and
// no Data.
func (m *Method) Challenge(ctx context.Context, t authflow.Turn) (authflow.View, []byte, error) {
	if err := checkTurn(t); err != nil {
		return authflow.View{}, nil, err
	}
	var usable []key
	for _, k := range m.keys(t) {
		if !k.rec.CloneWarning {
			usable = append(usable, k)
		}
	}
	if len(usable) == 0 {
		return authflow.View{Notice: ErrNoKey}, spentState(), nil
	}
	assertion, session, err := m.wa.BeginLogin(m.userOf(t.User, usable),
		webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return authflow.View{}, nil, fmt.Errorf("webauthnmfa: begin login: %w", err)
	}
	data, err := json.Marshal(assertion.Response)
	if err != nil {
		return authflow.View{}, nil, fmt.Errorf("webauthnmfa: write request options: %w", err)
	}
	state, err := m.newState(ceremonyGet, "", session, nil)
	if err != nil {
		return authflow.View{}, nil, err
	}
	return authflow.View{Data: data}, state, nil
}

// Verify checks the assertion in in[FieldCredential] against this login's
// challenge, the issuer's origin and RP ID, and the key among t.Factors it
// names; then it records the key's new counter and use. Every attempt
// spends the challenge (a Failure's State). A counter that went backwards
// flags the key and fails with ReasonSignCount.
func (m *Method) Verify(ctx context.Context, t authflow.Turn, in authflow.Input) (authflow.Proof, error) {
	if err := checkTurn(t); err != nil {
		return authflow.Proof{}, err
	}
	s, err := m.ceremony(t, ceremonyGet, "")
	if err != nil {
		return authflow.Proof{}, err
	}
	raw, err := input(t, in)
	if err != nil {
		return authflow.Proof{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(raw)
	if err != nil {
		m.refusal(ctx, t, ReasonMalformed, err)
		return authflow.Proof{}, failure(t, ReasonMalformed, ErrRetry)
	}
	k, ok := find(m.keys(t), parsed.RawID)
	switch {
	case !ok:
		return authflow.Proof{}, failure(t, ReasonUnknownCredential, ErrUnknownKey)
	case k.rec.CloneWarning:
		return authflow.Proof{}, failure(t, ReasonFlagged, ErrFlagged)
	case !k.f.LastUsedAt.Before(s.Issued) || bytes.Equal(k.rec.LastChallenge, challengeHash(s)):
		// The key proved a login since this challenge was issued, or with
		// it: a state used twice.
		return authflow.Proof{}, failure(t, ReasonReplayed, ErrExpired)
	}
	cred, err := m.wa.ValidateLogin(m.userOf(t.User, m.keys(t)), s.Session, parsed)
	if err != nil {
		reason := m.classify(parsed.Response.CollectedClientData, parsed.Response.AuthenticatorData.RPIDHash)
		m.refusal(ctx, t, reason, err)
		return authflow.Proof{}, failure(t, reason, nil)
	}
	if cred.Authenticator.CloneWarning {
		m.flag(ctx, t, k, parsed.Response.AuthenticatorData.Counter)
		return authflow.Proof{}, failure(t, ReasonSignCount, nil)
	}
	rec := recordOf(m.rpID, cred)
	rec.Transports, rec.LastChallenge = k.rec.Transports, challengeHash(s)
	if err := m.used(ctx, k.f.ID, rec); errors.Is(err, storage.ErrNotFound) {
		return authflow.Proof{}, failure(t, ReasonUnknownCredential, ErrUnknownKey) // removed meanwhile
	} else if err != nil {
		return authflow.Proof{}, err
	}
	return proof(t, parsed.Response.AuthenticatorData.Flags.HasUserVerified()), nil
}

// used stores a key's record after a login it proved, and its use, as one
// unit of work.
func (m *Method) used(ctx context.Context, id string, rec Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("webauthnmfa: write credential record: %w", err)
	}
	now := m.now()
	return storage.Atomically(ctx, m.store, func(ctx context.Context) error {
		if err := m.store.SetFactorData(ctx, id, data, now); err != nil {
			return fmt.Errorf("webauthnmfa: record the key's counter: %w", err)
		}
		if err := m.store.TouchFactor(ctx, id, now); err != nil {
			return fmt.Errorf("webauthnmfa: record the key's use: %w", err)
		}
		return nil
	})
}

// flag marks key k as possibly cloned (its counter went backwards to
// got). A failure to write the flag is logged: the login fails anyway.
func (m *Method) flag(ctx context.Context, t authflow.Turn, k key, got uint32) {
	m.logger.WarnContext(ctx, "webauthnmfa: a security key's signature counter went backwards; the key may be cloned and is flagged",
		"factor", k.f, "stored_count", k.rec.SignCount, "received_count", got)
	rec := k.rec
	rec.CloneWarning = true
	data, err := json.Marshal(rec)
	if err == nil {
		err = m.store.SetFactorData(ctx, k.f.ID, data, m.now())
	}
	if err != nil {
		m.logger.ErrorContext(ctx, "webauthnmfa: flagging a possibly cloned key failed", "factor", k.f, "user_id", t.User.ID, "err", err)
	}
}

// classify names why a response that the library refused failed, for the
// audit: the library decided; this only reads the response's claims.
func (m *Method) classify(c protocol.CollectedClientData, rpIDHash []byte) string {
	want := sha256.Sum256([]byte(m.rpID))
	switch {
	case c.Origin != m.origin:
		return ReasonWrongOrigin
	case !bytes.Equal(rpIDHash, want[:]):
		return ReasonWrongRPID
	}
	return ReasonInvalid
}

// refusal logs why the library refused a response (its developer detail
// names the check, never a secret).
func (m *Method) refusal(ctx context.Context, t authflow.Turn, reason string, err error) {
	detail := err.Error()
	var pe *protocol.Error
	if errors.As(err, &pe) {
		detail = pe.Details + ": " + pe.DevInfo
	}
	m.logger.InfoContext(ctx, "webauthnmfa: response refused", "user_id", t.User.ID, "reason", reason, "detail", detail)
}
