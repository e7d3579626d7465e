package emailcode

import (
	"context"
	"errors"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The method's codes also prove an account's own address before a login
// links an upstream identity to it (authflow.AddressProof). There is no
// factor then: the account's email is the address, and the code is bound
// to the login and to that account as a factor's would be.

var _ authflow.AddressProof = (*Method)(nil)

// addressFactor stands for the account's own address. Its id is no stored
// factor's (they are storage.NewID values), so a state made for it matches
// no factor, and a factor's state matches it not.
func addressFactor(u storage.User) storage.Factor {
	return storage.Factor{ID: "address:" + u.ID, UserID: u.ID, Kind: storage.FactorEmail, Address: u.Email,
		ConfirmedAt: u.CreatedAt}
}

// SendProof sends a code to t.User's address (the same caps as every code
// of the method), or keeps the one already sent unless t.Resend.
func (m *Method) SendProof(ctx context.Context, t authflow.Turn) (authflow.View, []byte, error) {
	if err := checkTurn(t); err != nil {
		return authflow.View{}, nil, err
	}
	if t.User.Email == "" {
		return authflow.View{}, nil, errors.New("emailcode: the account has no address")
	}
	return m.challenge(ctx, t, []storage.Factor{addressFactor(t.User)})
}

// CheckProof checks the code typed against the one sent for this login.
// The flow spends it: it clears the state when it accepts the proof.
func (m *Method) CheckProof(ctx context.Context, t authflow.Turn, in authflow.Input) (authflow.Proof, error) {
	if err := checkTurn(t); err != nil {
		return authflow.Proof{}, err
	}
	if _, err := m.check(t, []storage.Factor{addressFactor(t.User)}, in); err != nil {
		return authflow.Proof{}, err
	}
	return authflow.Proof{UserID: t.User.ID, AMR: []string{AMROTP}, Event: audit.LoginEmailCode}, nil
}
