package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// checkPassword applies org's effective policy (not its minimum age) to a
// password an administrator sets. A refusal is an InputError with the
// policy's own plain-words message.
func (s *Service) checkPassword(ctx context.Context, org storage.Organization, pw string) error {
	err := s.Checker.Check(ctx, s.Policy.WithOrg(org.PasswordPolicy), pw)
	var pe *password.PolicyError
	if errors.As(err, &pe) {
		return &InputError{Msg: pe.Message, Err: pe}
	}
	if err != nil {
		return fmt.Errorf("password policy: %w", err)
	}
	return nil
}
