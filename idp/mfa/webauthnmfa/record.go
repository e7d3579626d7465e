package webauthnmfa

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Record is a registered key: the JSON in its factor's Data. Byte fields
// are base64 (encoding/json's []byte).
type Record struct {
	// RPID is the relying party the key was registered for: a key proves
	// nothing to another one (the issuer's host changed).
	RPID      string `json:"rpId"`
	ID        []byte `json:"id"`
	PublicKey []byte `json:"publicKey"` // COSE_Key
	// SignCount is the last signature counter seen (0: the key keeps
	// none).
	SignCount  uint32   `json:"signCount"`
	Transports []string `json:"transports,omitempty"`
	AAGUID     []byte   `json:"aaguid,omitempty"`
	// Flags is the authenticator data's flags octet as last recorded
	// (UP, UV as uvInitialized, BE, BS).
	Flags             byte   `json:"flags"`
	AttestationFormat string `json:"attestationFormat,omitempty"`
	Attachment        string `json:"attachment,omitempty"`
	// CloneWarning: a login saw the counter go backwards. The key proves
	// nothing from then on.
	CloneWarning bool `json:"cloneWarning,omitempty"`
	// LastChallenge is the SHA-256 of the challenge of the last login it
	// proved: that challenge is not accepted again.
	LastChallenge []byte `json:"lastChallenge,omitempty"`
}

func recordOf(rpID string, c *webauthn.Credential) Record {
	r := Record{RPID: rpID, ID: c.ID, PublicKey: c.PublicKey, SignCount: c.Authenticator.SignCount,
		AAGUID: c.Authenticator.AAGUID, Flags: byte(c.Flags.ProtocolValue()), AttestationFormat: c.AttestationFormat,
		Attachment: string(c.Authenticator.Attachment), CloneWarning: c.Authenticator.CloneWarning}
	for _, t := range c.Transport {
		r.Transports = append(r.Transports, string(t))
	}
	return r
}

// credential is go-webauthn's view of r.
func (r Record) credential() webauthn.Credential {
	c := webauthn.Credential{ID: r.ID, PublicKey: r.PublicKey, AttestationFormat: r.AttestationFormat,
		Flags: webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(r.Flags)),
		Authenticator: webauthn.Authenticator{AAGUID: r.AAGUID, SignCount: r.SignCount, CloneWarning: r.CloneWarning,
			Attachment: protocol.AuthenticatorAttachment(r.Attachment)}}
	for _, t := range r.Transports {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c
}

// ReadRecord decodes a factor's Data.
func ReadRecord(data []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return Record{}, fmt.Errorf("webauthnmfa: read credential record: %w", err)
	}
	if len(r.ID) == 0 || len(r.PublicKey) == 0 {
		return Record{}, errors.New("webauthnmfa: credential record without id or key")
	}
	return r, nil
}

// Flagged reports whether f is a security key flagged as possibly cloned
// (its counter went backwards at a login), for the pages and commands that
// list factors.
func Flagged(f storage.Factor) bool {
	if f.Kind != Name {
		return false
	}
	r, err := ReadRecord(f.Data)
	return err == nil && r.CloneWarning
}

// key is a confirmed factor of the method with its record.
type key struct {
	f   storage.Factor
	rec Record
}

// keys are t's confirmed factors of t.User for this RP whose records
// read. The flow already filtered them; this keeps a stray row out.
func (m *Method) keys(t authflow.Turn) []key {
	var out []key
	for _, f := range t.Factors {
		if f.Kind != Name || f.UserID != t.User.ID || f.ConfirmedAt.IsZero() {
			continue
		}
		r, err := ReadRecord(f.Data)
		if err != nil {
			m.logger.Warn("webauthnmfa: a factor's record does not read; skipped", "factor", f, "err", err)
			continue
		}
		if r.RPID != m.rpID {
			continue
		}
		out = append(out, key{f, r})
	}
	return out
}

func find(keys []key, id []byte) (key, bool) {
	for _, k := range keys {
		if bytes.Equal(k.rec.ID, id) {
			return k, true
		}
	}
	return key{}, false
}

// Ceremony kinds of a state.
const (
	ceremonyCreate = "create"
	ceremonyGet    = "get"
)

// State is the method's state for a login (Turn.State): one ceremony in
// progress, or none once spent.
type State struct {
	Ceremony string `json:"ceremony,omitempty"` // "create", "get"; "" spent
	// Factor is the pending factor a create ceremony registers.
	Factor  string               `json:"factor,omitempty"`
	Session webauthn.SessionData `json:"session"`
	// Options is the create ceremony's PublicKeyCredentialCreationOptions
	// JSON, shown again on a reload while the ceremony lives.
	Options json.RawMessage `json:"options,omitempty"`
	Issued  time.Time       `json:"issued"`
	Expires time.Time       `json:"expires"`
}

// spentState replaces a state after a finish attempt: its challenge is
// gone.
func spentState() []byte { return []byte(`{}`) }

func (m *Method) newState(kind, factor string, s *webauthn.SessionData, options []byte) ([]byte, error) {
	now := m.now()
	b, err := json.Marshal(State{Ceremony: kind, Factor: factor, Session: *s, Options: options,
		Issued: now, Expires: now.Add(CeremonyTTL)})
	if err != nil {
		return nil, fmt.Errorf("webauthnmfa: write state: %w", err)
	}
	return b, nil
}

// ceremony reads t's state as a live ceremony of kind (for factor, when
// not ""): a *Failure when there is none or it expired.
func (m *Method) ceremony(t authflow.Turn, kind, factor string) (State, error) {
	var s State
	if len(t.State) == 0 || json.Unmarshal(t.State, &s) != nil || s.Ceremony != kind || s.Factor != factor ||
		s.Session.Challenge == "" {
		return State{}, failure(t, ReasonNoChallenge, ErrExpired)
	}
	if !m.now().Before(s.Expires) {
		return State{}, failure(t, ReasonExpired, ErrExpired)
	}
	return s, nil
}

func challengeHash(s State) []byte {
	h := sha256.Sum256([]byte(s.Session.Challenge))
	return h[:]
}

// input is in[FieldCredential], bounded.
func input(t authflow.Turn, in authflow.Input) ([]byte, error) {
	raw := in[FieldCredential]
	if raw == "" || len(raw) > MaxInput || !utf8.ValidString(raw) {
		return nil, failure(t, ReasonMalformed, ErrRetry)
	}
	return []byte(raw), nil
}

// parseLabel is the label typed, trimmed (DefaultLabel when blank): at
// most MaxLabel characters, no control characters.
func parseLabel(typed string) (string, bool) {
	if !utf8.ValidString(typed) {
		return "", false
	}
	l := strings.TrimSpace(typed)
	if l == "" {
		return DefaultLabel, true
	}
	if utf8.RuneCountInString(l) > MaxLabel {
		return "", false
	}
	for _, r := range l {
		if unicode.IsControl(r) {
			return "", false
		}
	}
	return l, true
}
