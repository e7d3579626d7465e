package passwordlogin

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Name is the method's name in forms and registrations.
const Name = "password"

// Form fields the login page posts.
const (
	FieldEmail    = "email"
	FieldPassword = "password"
)

// Users is the storage the method reads and (for a re-hash) writes.
type Users interface {
	GetUserByEmail(ctx context.Context, email string) (storage.User, error)
	UpdateUser(ctx context.Context, id string, fn func(storage.User) (storage.User, error)) (storage.User, error)
}

var _ Users = storage.Users(nil)

// Method checks a password.
type Method struct {
	Users  Users
	Hasher *password.Hasher
}

var _ authflow.Method = (*Method)(nil)

func (m *Method) Name() string        { return Name }
func (m *Method) Step() authflow.Step { return authflow.StepLogin }

// Verify checks in[FieldPassword] for the account in[FieldEmail]. Every
// failure costs one password verification.
func (m *Method) Verify(ctx context.Context, _ storage.AuthRequest, in authflow.Input) (authflow.Proof, error) {
	pw := in[FieldPassword]
	u, err := m.Users.GetUserByEmail(ctx, storage.NormalizeEmail(in[FieldEmail]))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return authflow.Proof{}, fmt.Errorf("passwordlogin: %w", err)
	}
	reason := ""
	switch {
	case err != nil:
		reason = "unknown_user"
	case u.PasswordHash == "":
		reason = "no_password"
	}
	if reason != "" {
		m.Hasher.VerifyDummy(ctx, pw)
		return authflow.Proof{}, &authflow.Failure{User: u, Reason: reason}
	}
	ok, rehash, err := m.Hasher.Verify(ctx, u.PasswordHash, pw)
	switch {
	case err != nil && !errors.Is(err, password.ErrMalformedHash):
		// Cancelled or timed out waiting for a hash slot: an outage, not a
		// wrong password, so it must not count as a failed login.
		return authflow.Proof{}, fmt.Errorf("passwordlogin: verify: %w", err)
	case err != nil:
		// A malformed hash is a data fault, not a wrong password: the
		// audit log gets it, the user the generic answer.
		return authflow.Proof{}, &authflow.Failure{User: u, Reason: "hash_error"}
	case !ok:
		return authflow.Proof{}, &authflow.Failure{User: u, Reason: "wrong_password"}
	}
	proof := authflow.Proof{UserID: u.ID, AMR: []string{authflow.AMRPassword}, Event: audit.LoginPassword}
	if rehash {
		proof.Then = func(ctx context.Context) { m.rehash(ctx, u, pw) }
	}
	return proof, nil
}

// rehash upgrades a hash made with weaker parameters. Failure changes
// nothing for the user: the login itself succeeded.
func (m *Method) rehash(ctx context.Context, u storage.User, pw string) {
	h, err := m.Hasher.Hash(ctx, pw)
	if err != nil {
		return
	}
	_, _ = m.Users.UpdateUser(ctx, u.ID, func(cur storage.User) (storage.User, error) {
		if cur.PasswordHash == u.PasswordHash { // not changed meanwhile
			cur.PasswordHash = h
		}
		return cur, nil
	})
}

var (
	_ authflow.Guarded     = (*Method)(nil)
	_ authflow.Identifying = (*Method)(nil)
)

// ClaimedEmail is the address the form names, for home-realm discovery.
func (m *Method) ClaimedEmail(in authflow.Input) string {
	return storage.NormalizeEmail(in[FieldEmail])
}

// Account names the account in[FieldEmail], checking nothing, so that the
// flow can count the guess before Verify: "" for no such account.
func (m *Method) Account(ctx context.Context, _ storage.AuthRequest, in authflow.Input) (string, error) {
	u, err := m.Users.GetUserByEmail(ctx, storage.NormalizeEmail(in[FieldEmail]))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("passwordlogin: %w", err)
	}
	return u.ID, nil
}

// Decoy costs what Verify costs, for a guess the flow refuses unchecked
// (a locked account): one dummy verification of the typed password.
func (m *Method) Decoy(ctx context.Context, in authflow.Input) {
	m.Hasher.VerifyDummy(ctx, in[FieldPassword])
}
