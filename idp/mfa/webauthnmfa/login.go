package webauthnmfa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
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
	return m.requestView(ceremonyGet, assertion, session)
}

// requestView is the view and state of a get ceremony of kind begun with
// assertion and session.
func (m *Method) requestView(kind string, assertion *protocol.CredentialAssertion, session *webauthn.SessionData) (authflow.View, []byte, error) {
	data, err := json.Marshal(assertion.Response)
	if err != nil {
		return authflow.View{}, nil, fmt.Errorf("webauthnmfa: write request options: %w", err)
	}
	state, err := m.newState(kind, "", session, nil)
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
	s, k, parsed, err := m.readAssertion(ctx, t, ceremonyGet, in)
	if err != nil {
		return authflow.Proof{}, err
	}
	return m.check(ctx, t, s, k, parsed, func(u *user) (*webauthn.Credential, error) {
		return m.wa.ValidateLogin(u, s.Session, parsed)
	}, audit.LoginWebAuthn)
}

// readAssertion reads in[FieldCredential] as the answer to t's live
// ceremony of kind, by one of t's keys.
func (m *Method) readAssertion(ctx context.Context, t authflow.Turn, kind string, in authflow.Input) (State, key, *protocol.ParsedCredentialAssertionData, error) {
	s, err := m.ceremony(t, kind, "")
	if err != nil {
		return State{}, key{}, nil, err
	}
	parsed, err := m.parseAssertion(ctx, t, in)
	if err != nil {
		return State{}, key{}, nil, err
	}
	k, ok := find(m.keys(t), parsed.RawID)
	if !ok {
		return State{}, key{}, nil, failure(t, ReasonUnknownCredential, ErrUnknownKey)
	}
	return s, k, parsed, nil
}

// check runs validate (the library's checks of parsed against key k, as
// stored now) in one unit of work with the record it writes, and turns
// the outcome into the proof or the Failure; event is the proof's audit
// event.
func (m *Method) check(ctx context.Context, t authflow.Turn, s State, k key, parsed *protocol.ParsedCredentialAssertionData,
	validate func(u *user) (*webauthn.Credential, error), event string) (authflow.Proof, error) {
	var out outcome
	err := storage.Atomically(ctx, m.store, func(ctx context.Context) error {
		var err error
		out, err = m.assert(ctx, t, s, k, parsed, validate)
		return err
	})
	switch {
	case out.regressed:
		// Refused and audited (by the flow) even if the flag did not
		// reach storage.
		m.logger.WarnContext(ctx, "webauthnmfa: a security key's signature counter went backwards; the key may be cloned and is flagged",
			"factor", k.f, "user_id", t.User.ID, "stored_count", k.rec.SignCount,
			"received_count", parsed.Response.AuthenticatorData.Counter, "flag_err", err)
		return authflow.Proof{}, failure(t, ReasonSignCount, nil)
	case err != nil:
		return authflow.Proof{}, err
	case out.refusal != nil:
		m.refusal(ctx, t, out.reason, out.refusal)
		return authflow.Proof{}, failure(t, out.reason, nil)
	}
	return proof(t, parsed.Response.AuthenticatorData.Flags, event), nil
}

// outcome is what assert decided that must be committed: a flag, or a
// refusal by the library (to log once the unit is done).
type outcome struct {
	regressed bool
	reason    string
	refusal   error
}

// assert checks parsed against key k as stored now, not as t.Factors
// had it (a state used twice, or two logins racing, then see the first
// one's counter and use), and records the outcome: the new counter and
// the use, or the clone flag. It runs in one unit of work, which
// serializes it with other logins by the key on SQLite; on PostgreSQL two
// logins racing with the same key may both pass, but each challenge
// belongs to one login, whose move the flow makes once.
func (m *Method) assert(ctx context.Context, t authflow.Turn, s State, k key, parsed *protocol.ParsedCredentialAssertionData,
	validate func(u *user) (*webauthn.Credential, error)) (outcome, error) {
	f, err := m.store.GetFactor(ctx, k.f.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return outcome{}, failure(t, ReasonUnknownCredential, ErrUnknownKey) // removed meanwhile
	case err != nil:
		return outcome{}, fmt.Errorf("webauthnmfa: read the key: %w", err)
	}
	rec, err := ReadRecord(f.Data)
	if err != nil || f.UserID != t.User.ID || f.Kind != Name || f.ConfirmedAt.IsZero() || !bytes.Equal(rec.ID, k.rec.ID) {
		return outcome{}, failure(t, ReasonUnknownCredential, ErrUnknownKey)
	}
	switch {
	case rec.CloneWarning:
		return outcome{}, failure(t, ReasonFlagged, ErrFlagged)
	case !f.LastUsedAt.Before(s.Issued) || bytes.Equal(rec.LastChallenge, challengeHash(s)):
		// The key proved a login since this challenge was issued, or with
		// it: a state used twice.
		return outcome{}, failure(t, ReasonReplayed, ErrExpired)
	}
	keys := m.keys(t)
	for i := range keys {
		if bytes.Equal(keys[i].rec.ID, rec.ID) {
			keys[i].rec = rec
		}
	}
	cred, err := validate(m.userOf(t.User, keys))
	if err != nil {
		return outcome{reason: m.classify(parsed.Response.CollectedClientData, parsed.Response.AuthenticatorData.RPIDHash), refusal: err}, nil
	}
	now := m.now()
	if cred.Authenticator.CloneWarning {
		rec.CloneWarning = true
		return outcome{regressed: true}, m.write(ctx, f.ID, rec, now, false)
	}
	next := recordOf(m.rpID, cred)
	next.Transports, next.LastChallenge = rec.Transports, challengeHash(s)
	if err := m.write(ctx, f.ID, next, now, true); errors.Is(err, storage.ErrNotFound) {
		return outcome{}, failure(t, ReasonUnknownCredential, ErrUnknownKey)
	} else if err != nil {
		return outcome{}, err
	}
	return outcome{}, nil
}

// write stores a key's record and, when used, its use.
func (m *Method) write(ctx context.Context, id string, rec Record, now time.Time, used bool) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("webauthnmfa: write credential record: %w", err)
	}
	if err := m.store.SetFactorData(ctx, id, data, now); err != nil {
		return fmt.Errorf("webauthnmfa: store the key's record: %w", err)
	}
	if !used {
		return nil
	}
	if err := m.store.TouchFactor(ctx, id, now); err != nil {
		return fmt.Errorf("webauthnmfa: record the key's use: %w", err)
	}
	return nil
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
