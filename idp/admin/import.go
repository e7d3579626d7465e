package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// ImportUser is one user brought from another IdP: the fields of a JSON
// line of `gatehouse users import`.
type ImportUser struct {
	Email         string `json:"email"`
	Name          string `json:"name"`
	Org           string `json:"org"`
	EmailVerified bool   `json:"email_verified"`
	// PasswordHash is kept as it is (argon2id PHC or bcrypt) and moves to
	// argon2id at the user's next login; empty makes the user invited.
	PasswordHash string `json:"password_hash"`
}

// maxImportProblems bounds the report of a bad file: the first problems
// say what is wrong; a thousand more say nothing new.
const maxImportProblems = 20

// ImportUsers creates users from another IdP, keeping their password
// hashes so that nobody needs a reset. Every entry is checked before any
// is created (email, name, organization, hash, duplicates in the file and
// in storage), and all problems are reported at once by entry number, so a
// bad file changes nothing. defaultOrg is used where an entry names none.
// It returns the users created; if a create fails after the checks (a
// concurrent change), the error says how many were imported.
func (s *Service) ImportUsers(ctx context.Context, actor, defaultOrg string, in []ImportUser) ([]storage.User, error) {
	inputs, err := s.checkImport(ctx, defaultOrg, in)
	if err != nil {
		return nil, err
	}
	out := make([]storage.User, 0, len(inputs))
	for i, ci := range inputs {
		u, err := s.CreateUser(ctx, actor, ci)
		if err != nil {
			return out, fmt.Errorf("import stopped at entry %d after %d users were created: %w", i+1, len(out), err)
		}
		out = append(out, u)
	}
	return out, nil
}

func (s *Service) checkImport(ctx context.Context, defaultOrg string, in []ImportUser) ([]CreateUserInput, error) {
	var problems []string
	report := func(i int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("entry %d: ", i+1)+fmt.Sprintf(format, args...))
	}
	seen := map[string]int{}
	orgs := map[string]bool{}
	inputs := make([]CreateUserInput, 0, len(in))
	for i, u := range in {
		if len(problems) >= maxImportProblems {
			break
		}
		ci := CreateUserInput{Email: u.Email, Name: u.Name, Org: u.Org, EmailVerified: u.EmailVerified, PasswordHash: u.PasswordHash}
		if ci.Org == "" {
			ci.Org = defaultOrg
		}
		email, err := ValidateEmail(u.Email)
		if err != nil {
			report(i, "%s", errMsg(err))
			continue
		}
		if j, dup := seen[email]; dup {
			report(i, "%s is already entry %d", email, j+1)
			continue
		}
		seen[email] = i
		if msg, err := s.importProblem(ctx, ci, email, orgs); err != nil {
			return nil, err
		} else if msg != "" {
			report(i, "%s", msg)
			continue
		}
		inputs = append(inputs, ci)
	}
	if len(problems) > 0 {
		return nil, &InputError{Msg: "nothing was imported:\n  " + strings.Join(problems, "\n  ")}
	}
	return inputs, nil
}

// importProblem is what is wrong with one entry beyond its email ("" for
// nothing); err is a storage failure.
func (s *Service) importProblem(ctx context.Context, ci CreateUserInput, email string, orgs map[string]bool) (string, error) {
	if err := checkText("name", strings.TrimSpace(ci.Name), MaxUserName); err != nil {
		return errMsg(err), nil
	}
	if ci.PasswordHash != "" {
		if err := CheckImportedHash(ci.PasswordHash); err != nil {
			return errMsg(err), nil
		}
	}
	if _, known := orgs[ci.Org]; !known {
		_, err := s.Store.GetOrganizationByName(ctx, ci.Org)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return "", fmt.Errorf("import: %w", err)
		}
		orgs[ci.Org] = err == nil
	}
	if !orgs[ci.Org] {
		return fmt.Sprintf("organization %q does not exist", shorten(ci.Org)), nil
	}
	switch _, err := s.Store.GetUserByEmail(ctx, email); {
	case err == nil:
		return fmt.Sprintf("a user with email %q already exists", email), nil
	case !errors.Is(err, storage.ErrNotFound):
		return "", fmt.Errorf("import: %w", err)
	}
	return "", nil
}

func errMsg(err error) string {
	var ie *InputError
	if errors.As(err, &ie) {
		return ie.Msg
	}
	return err.Error()
}
