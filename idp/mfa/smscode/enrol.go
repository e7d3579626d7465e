package smscode

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// BeginEnrol stores a pending phone factor for in[FieldPhone], once it is
// a well-formed international number in a country codes may be sent to.
// It lives TTL: the first code must come back within it. It sends
// nothing: EnrolView does, when the page shows.
func (m *Method) BeginEnrol(ctx context.Context, t authflow.Turn, in authflow.Input) (string, []byte, error) {
	if err := checkTurn(t); err != nil {
		return "", nil, err
	}
	number, show := parseNumber(in[FieldPhone])
	if show != nil {
		return "", nil, failure(t, ReasonBadNumber, show, nil)
	}
	if !m.countryAllowed(number) {
		return "", nil, failure(t, ReasonCountryRefused, ErrCountry, nil)
	}
	now := m.now()
	f := storage.Factor{ID: storage.NewID(), UserID: t.User.ID, Kind: Name, Label: number, Address: number,
		CreatedAt: now, ExpiresAt: now.Add(m.ttl())}
	if err := m.Store.CreateFactor(ctx, f); err != nil {
		return "", nil, fmt.Errorf("smscode: store the enrolment: %w", err)
	}
	return f.ID, nil, nil
}

// EnrolView texts the first code to pending factor f (once per login, as
// Challenge does, and with the same caps). An enrolment that expired, or
// to a country no longer allowed, gets a notice, and no message.
func (m *Method) EnrolView(ctx context.Context, t authflow.Turn, f storage.Factor) (authflow.View, []byte, error) {
	if err := checkTurn(t); err != nil {
		return authflow.View{}, nil, err
	}
	if err := m.enrolment(t, f); err != nil {
		var fail *authflow.Failure
		if errors.As(err, &fail) {
			return authflow.View{Address: maskNumber(f.Address), Notice: fail.Show}, t.State, nil
		}
		return authflow.View{}, nil, err
	}
	return m.challenge(ctx, t, []storage.Factor{f}, purposeEnrol)
}

// ConfirmEnrol checks the code sent to pending factor f and confirms f: a
// code proves the number reaches the user. The flow runs it in the unit
// of work that moves the login on.
func (m *Method) ConfirmEnrol(ctx context.Context, t authflow.Turn, f storage.Factor, in authflow.Input) (authflow.Proof, error) {
	if err := checkTurn(t); err != nil {
		return authflow.Proof{}, err
	}
	if err := m.enrolment(t, f); err != nil {
		return authflow.Proof{}, err
	}
	if _, err := m.check(t, []storage.Factor{f}, in); err != nil {
		return authflow.Proof{}, err
	}
	if err := m.code().Confirm(ctx, m.Store, t, f, m.now()); err != nil {
		return authflow.Proof{}, err
	}
	return proof(t), nil
}

// enrolment checks that f is t.User's phone enrolment, still pending at
// now and in a country still allowed (the list may have changed since
// BeginEnrol). A factor of another user or kind is the caller's bug.
func (m *Method) enrolment(t authflow.Turn, f storage.Factor) error {
	switch {
	case f.UserID != t.User.ID || f.Kind != Name:
		return errors.New("smscode: the enrolment is not the user's phone factor")
	case !f.ConfirmedAt.IsZero():
		return failure(t, ReasonUsed, ErrExpired, nil)
	case !f.Pending(m.now()):
		return failure(t, ReasonEnrolExpired, ErrEnrolExpired, nil)
	case !m.countryAllowed(f.Address):
		return failure(t, ReasonCountryRefused, ErrCountry, nil)
	}
	return nil
}
