package webauthnmfa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// BeginEnrol stores a pending key named in[FieldLabel] (DefaultLabel when
// blank), which expires in EnrolTTL, and starts its create ceremony: the
// state holds the session and the options EnrolView shows.
func (m *Method) BeginEnrol(ctx context.Context, t authflow.Turn, in authflow.Input) (string, []byte, error) {
	if err := checkTurn(t); err != nil {
		return "", nil, err
	}
	label, ok := parseLabel(in[FieldLabel])
	if !ok {
		return "", nil, &authflow.Failure{User: t.User, Reason: ReasonBadLabel, Show: ErrBadLabel}
	}
	now := m.now()
	f := storage.Factor{ID: storage.NewID(), UserID: t.User.ID, Kind: Name, Label: label,
		CreatedAt: now, ExpiresAt: now.Add(EnrolTTL)}
	if err := m.store.CreateFactor(ctx, f); err != nil {
		return "", nil, fmt.Errorf("webauthnmfa: store the enrolment: %w", err)
	}
	state, err := m.beginCreate(t, f)
	if err != nil {
		return "", nil, err
	}
	return f.ID, state, nil
}

// beginCreate starts a create ceremony for pending factor f, excluding
// t's keys (the browser then refuses to register one of them again).
func (m *Method) beginCreate(t authflow.Turn, f storage.Factor) ([]byte, error) {
	var exclude []protocol.CredentialDescriptor
	for _, k := range m.keys(t) {
		c := k.rec.credential()
		exclude = append(exclude, c.Descriptor())
	}
	creation, session, err := m.wa.BeginRegistration(m.userOf(t.User, nil),
		webauthn.WithExclusions(exclude),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
	if err != nil {
		return nil, fmt.Errorf("webauthnmfa: begin registration: %w", err)
	}
	options, err := json.Marshal(creation.Response)
	if err != nil {
		return nil, fmt.Errorf("webauthnmfa: write creation options: %w", err)
	}
	return m.newState(ceremonyCreate, f.ID, session, options)
}

// EnrolView shows pending key f: View.Data is the
// PublicKeyCredentialCreationOptions JSON for navigator.credentials.create.
// A live ceremony for f (a reload) is shown again; a spent or expired one
// is replaced. An enrolment that expired gets a notice and no Data.
func (m *Method) EnrolView(ctx context.Context, t authflow.Turn, f storage.Factor) (authflow.View, []byte, error) {
	if err := checkTurn(t); err != nil {
		return authflow.View{}, nil, err
	}
	if err := m.enrolment(t, f); err != nil {
		var fail *authflow.Failure
		if errors.As(err, &fail) {
			return authflow.View{Notice: fail.Show}, t.State, nil
		}
		return authflow.View{}, nil, err
	}
	if s, err := m.ceremony(t, ceremonyCreate, f.ID); err == nil && len(s.Options) > 0 {
		return authflow.View{Data: s.Options}, t.State, nil
	}
	state, err := m.beginCreate(t, f)
	if err != nil {
		return authflow.View{}, nil, err
	}
	var s State
	if err := json.Unmarshal(state, &s); err != nil {
		return authflow.View{}, nil, fmt.Errorf("webauthnmfa: read state: %w", err)
	}
	return authflow.View{Data: s.Options}, state, nil
}

// ConfirmEnrol checks the attestation in in[FieldCredential] against f's
// ceremony, the issuer's origin and RP ID, then stores the key's record
// in f and confirms f, as one unit of work (joining the flow's). Every
// attempt spends the challenge.
func (m *Method) ConfirmEnrol(ctx context.Context, t authflow.Turn, f storage.Factor, in authflow.Input) (authflow.Proof, error) {
	if err := checkTurn(t); err != nil {
		return authflow.Proof{}, err
	}
	if err := m.enrolment(t, f); err != nil {
		return authflow.Proof{}, err
	}
	s, err := m.ceremony(t, ceremonyCreate, f.ID)
	if err != nil {
		return authflow.Proof{}, err
	}
	raw, err := input(t, in)
	if err != nil {
		return authflow.Proof{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(raw)
	if err != nil {
		m.refusal(ctx, t, ReasonMalformed, err)
		return authflow.Proof{}, failure(t, ReasonMalformed, ErrRetry)
	}
	cred, err := m.wa.CreateCredential(m.userOf(t.User, nil), s.Session, parsed)
	if err != nil {
		reason := m.classify(parsed.Response.CollectedClientData, parsed.Response.AttestationObject.AuthData.RPIDHash)
		m.refusal(ctx, t, reason, err)
		return authflow.Proof{}, failure(t, reason, nil)
	}
	if _, dup := find(m.keys(t), cred.ID); dup {
		return authflow.Proof{}, failure(t, ReasonDuplicate, ErrDuplicate)
	}
	if err := m.confirm(ctx, f.ID, recordOf(m.rpID, cred)); err != nil {
		switch {
		case errors.Is(err, errTaken):
			return authflow.Proof{}, failure(t, ReasonTaken, ErrTaken)
		case errors.Is(err, storage.ErrNotFound):
			return authflow.Proof{}, failure(t, ReasonEnrolExpired, authflow.ErrEnrolExpired)
		case errors.Is(err, storage.ErrAlreadyUsed):
			return authflow.Proof{}, failure(t, ReasonUsed, ErrExpired)
		}
		return authflow.Proof{}, err
	}
	return proof(t, parsed.Response.AttestationObject.AuthData.Flags, audit.LoginWebAuthn), nil
}

// errTaken: another factor (of any user) has the credential id.
var errTaken = errors.New("webauthnmfa: the credential id is registered already")

// confirm stores rec in pending factor id, with its credential id as the
// factor's Lookup (passkey sign-in finds it by that), and confirms it,
// together.
func (m *Method) confirm(ctx context.Context, id string, rec Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("webauthnmfa: write credential record: %w", err)
	}
	now := m.now()
	lookup := LookupOf(rec.ID)
	return storage.Atomically(ctx, m.store, func(ctx context.Context) error {
		// The read first, so that a taken id is a plain refusal rather
		// than a failed statement (on PostgreSQL that ends the
		// transaction); the unique index still refuses a racing twin.
		switch holder, err := m.store.FindFactor(ctx, Name, lookup); {
		case err == nil && holder.ID != id:
			return errTaken
		case err != nil && !errors.Is(err, storage.ErrNotFound):
			return fmt.Errorf("webauthnmfa: look the key up: %w", err)
		}
		if err := m.store.SetFactorLookup(ctx, id, lookup, now); errors.Is(err, storage.ErrConflict) {
			return errTaken
		} else if err != nil {
			return fmt.Errorf("webauthnmfa: store the key's id: %w", err)
		}
		if err := m.store.SetFactorData(ctx, id, data, now); err != nil {
			return fmt.Errorf("webauthnmfa: store the key: %w", err)
		}
		if _, err := m.store.ConfirmFactor(ctx, id, now); err != nil {
			return fmt.Errorf("webauthnmfa: confirm the key: %w", err)
		}
		return nil
	})
}

// enrolment checks that f is t.User's pending key at now. A factor of
// another user or kind is the caller's bug.
func (m *Method) enrolment(t authflow.Turn, f storage.Factor) error {
	switch {
	case f.UserID != t.User.ID || f.Kind != Name:
		return errors.New("webauthnmfa: the enrolment is not the user's security key")
	case !f.ConfirmedAt.IsZero():
		return failure(t, ReasonUsed, ErrExpired)
	case !f.Pending(m.now()):
		return failure(t, ReasonEnrolExpired, authflow.ErrEnrolExpired)
	}
	return nil
}
