package passwordlogin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// RenewName is the name of the method that replaces an expired password.
const RenewName = "new_password"

// Form fields of the new-password form.
const (
	FieldNewPassword = "password"
	FieldConfirm     = "confirm"
)

// Rules checks a new password against the user's organization policy
// (the same Rules idp/selfservice uses).
type Rules interface {
	Check(ctx context.Context, u storage.User, pw string, selfService bool) error
}

// RenewUsers is the storage Renewal reads and writes.
type RenewUsers interface {
	GetUser(ctx context.Context, id string) (storage.User, error)
	UpdateUser(ctx context.Context, id string, fn func(storage.User) (storage.User, error)) (storage.User, error)
}

// Renewal is the back door of authflow.StepNewPassword: the user the
// request names sets a new password, under the policy, in place of the
// expired one. It proves no new factor; the flow goes on from there.
type Renewal struct {
	Users  RenewUsers
	Hasher *password.Hasher
	Rules  Rules
	Now    func() time.Time
}

var _ authflow.Method = (*Renewal)(nil)

func (m *Renewal) Name() string        { return RenewName }
func (m *Renewal) Step() authflow.Step { return authflow.StepNewPassword }

var (
	errMismatch = errors.New("The two passwords do not match.")
	errSame     = errors.New("Choose a password different from the one that expired.")
)

// Verify sets the new password of r's user. A password the policy refuses
// is a Failure that tells the user which rule, in plain words.
func (m *Renewal) Verify(ctx context.Context, r storage.AuthRequest, in authflow.Input) (authflow.Proof, error) {
	u, err := m.Users.GetUser(ctx, r.UserID)
	if err != nil {
		return authflow.Proof{}, fmt.Errorf("passwordlogin: renew: %w", err)
	}
	pw := in[FieldNewPassword]
	if pw != in[FieldConfirm] {
		return authflow.Proof{}, &authflow.Failure{User: u, Reason: "new_password_mismatch", Show: errMismatch}
	}
	if err := m.Rules.Check(ctx, u, pw, false); err != nil {
		var pe *password.PolicyError
		if errors.As(err, &pe) {
			return authflow.Proof{}, &authflow.Failure{User: u, Reason: "new_password_policy", Show: pe}
		}
		return authflow.Proof{}, fmt.Errorf("passwordlogin: renew: %w", err)
	}
	if same, _, err := m.Hasher.Verify(ctx, u.PasswordHash, pw); err == nil && same {
		return authflow.Proof{}, &authflow.Failure{User: u, Reason: "new_password_same", Show: errSame}
	}
	hash, err := m.Hasher.Hash(ctx, pw)
	if err != nil {
		return authflow.Proof{}, fmt.Errorf("passwordlogin: renew: %w", err)
	}
	_, err = m.Users.UpdateUser(ctx, u.ID, func(cur storage.User) (storage.User, error) {
		if cur.PasswordHash != u.PasswordHash {
			return cur, errors.New("the password changed meanwhile")
		}
		cur.PasswordHash, cur.PasswordChangedAt = hash, m.Now()
		return cur, nil
	})
	if err != nil {
		return authflow.Proof{}, fmt.Errorf("passwordlogin: renew: %w", err)
	}
	return authflow.Proof{UserID: u.ID, Event: audit.PasswordChanged}, nil
}
