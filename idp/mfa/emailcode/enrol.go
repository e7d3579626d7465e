package emailcode

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// maxAddress is the longest address accepted: RFC 5321's 256-octet path
// less its angle brackets.
const maxAddress = 254

// BeginEnrol stores a pending email factor for in[FieldAddress] (the
// account's own address when empty), once the organization's policy allows
// codes there. It lives TTL: the first code must come back within it. It
// sends nothing: EnrolView does, when the page shows.
func (m *Method) BeginEnrol(ctx context.Context, t authflow.Turn, in authflow.Input) (string, []byte, error) {
	if err := checkTurn(t); err != nil {
		return "", nil, err
	}
	addr, ok := parseAddress(in[FieldAddress], t.User.Email)
	if !ok {
		return "", nil, failure(t, ReasonBadAddress, ErrBadAddress, nil)
	}
	if show := addressRefusal(t.Policy, t.User, addr); show != nil {
		return "", nil, failure(t, ReasonAddressRefused, show, nil)
	}
	now := m.now()
	f := storage.Factor{ID: storage.NewID(), UserID: t.User.ID, Kind: storage.FactorEmail, Label: addr,
		Address: storage.NormalizeEmail(addr), CreatedAt: now, ExpiresAt: now.Add(m.ttl())}
	if err := m.Store.CreateFactor(ctx, f); err != nil {
		return "", nil, fmt.Errorf("emailcode: store the enrolment: %w", err)
	}
	return f.ID, nil, nil
}

// EnrolView sends the first code to pending factor f (once per login, as
// Challenge does, and with the same caps). An enrolment that expired or
// that the policy no longer allows gets a notice, and no mail.
func (m *Method) EnrolView(ctx context.Context, t authflow.Turn, f storage.Factor) (authflow.View, []byte, error) {
	if err := checkTurn(t); err != nil {
		return authflow.View{}, nil, err
	}
	if err := m.enrolment(t, f); err != nil {
		var fail *authflow.Failure
		if errors.As(err, &fail) {
			return authflow.View{Address: mfa.MaskAddress(f.Address), Notice: fail.Show}, t.State, nil
		}
		return authflow.View{}, nil, err
	}
	return m.challenge(ctx, t, []storage.Factor{f})
}

// ConfirmEnrol checks the code sent to pending factor f and confirms f: a
// code proves the address reaches the user. The flow runs it in the unit
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

// enrolment checks that f is t.User's email enrolment, still pending at
// now and still allowed by the policy (which may have changed since
// BeginEnrol). A factor of another user or kind is the caller's bug.
func (m *Method) enrolment(t authflow.Turn, f storage.Factor) error {
	switch {
	case f.UserID != t.User.ID || f.Kind != storage.FactorEmail:
		return errors.New("emailcode: the enrolment is not the user's email factor")
	case !f.ConfirmedAt.IsZero():
		return failure(t, ReasonUsed, ErrExpired, nil)
	case !f.Pending(m.now()):
		return failure(t, ReasonEnrolExpired, ErrEnrolExpired, nil)
	}
	if show := addressRefusal(t.Policy, t.User, f.Address); show != nil {
		return failure(t, ReasonAddressRefused, show, nil)
	}
	return nil
}

// addressRefusal says why p refuses codes to addr for u, nil when it
// allows them.
func addressRefusal(p storage.MFAPolicy, u storage.User, addr string) error {
	switch {
	case mfa.EmailAddressAllowed(p, u, addr):
		return nil
	case storage.NormalizeEmail(addr) == u.Email:
		return ErrOwnAddressRefused
	}
	return ErrOtherAddressRefused
}

// parseAddress accepts one bare address as typed (def when blank): no
// display name, no list, no comment, no angle brackets, no control
// characters, at most maxAddress bytes.
func parseAddress(typed, def string) (string, bool) {
	addr := strings.TrimSpace(typed)
	if addr == "" {
		addr = def
	}
	if addr == "" || len(addr) > maxAddress || !utf8.ValidString(addr) || strings.ContainsFunc(addr, isControl) {
		return "", false
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr {
		return "", false
	}
	return addr, true
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
