package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Reach is which users an administrator's action may reach: every user
// (an admin, the CLI) or the users of some organizations (an organization
// admin, storage.OrgAdminRole). A user of another organization is
// answered exactly as a user who does not exist, so that an organization
// admin cannot learn which addresses other organizations have. Within
// their organizations, an organization admin cannot act on an admin's
// account (ErrOutranked): disabling it or resetting its MFA would let the
// lesser role lock out, or weaken, the greater. The zero Reach reaches
// nobody: a caller that forgot to set it fails closed.
type Reach struct {
	all  bool
	orgs []string
}

// Everyone reaches every user.
var Everyone = Reach{all: true}

// OrgsReach reaches the users of the organizations with these IDs.
func OrgsReach(orgIDs []string) Reach { return Reach{orgs: slices.Clone(orgIDs)} }

// Org reports whether users of organization orgID are in reach.
func (r Reach) Org(orgID string) bool {
	return r.all || (orgID != "" && slices.Contains(r.orgs, orgID))
}

// ErrOutranked: an organization admin named an admin's account.
var ErrOutranked = errors.New("only an admin may act on an administrator's account")

// check is nil when u is in reach, unknown when u is of an organization
// out of reach, and an InputError wrapping ErrOutranked for an admin
// under a reach that is not Everyone.
func (r Reach) check(u storage.User, unknown error) error {
	switch {
	case !r.Org(u.OrgID):
		return unknown
	case !r.all && u.HasRole(storage.RoleAdmin):
		return &InputError{Msg: fmt.Sprintf("%s holds the admin role: %s", u.Email, ErrOutranked), Err: ErrOutranked}
	}
	return nil
}

// noUserErr is the answer for an email that names no user in reach. It is
// an InputError wrapping storage.ErrNotFound, so the API answers 404.
func noUserErr(email string) error {
	return &InputError{Msg: fmt.Sprintf("no user with email %q", shorten(email)), Err: storage.ErrNotFound}
}

// noOrgErr is the answer for an organization name, given in a query or a
// body, that names none in reach: a mistake in the request (400), as
// before organization admins existed.
func noOrgErr(name string) error {
	return inputErr("organization %q does not exist", shorten(name))
}

// UserInReach finds the user email names when they are in reach; any other
// user, text no user can have (NUL, invalid UTF-8) included, is noUserErr.
func (s *Service) UserInReach(ctx context.Context, reach Reach, op, email string) (storage.User, error) {
	u, err := s.Store.GetUserByEmail(ctx, storage.NormalizeEmail(email))
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInvalid):
		return storage.User{}, noUserErr(email)
	case err != nil:
		return storage.User{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := reach.check(u, noUserErr(email)); err != nil {
		return storage.User{}, err
	}
	return u, nil
}

// OrgInReach finds the organization named name when its users are in
// reach; any other name is noOrgErr.
func (s *Service) OrgInReach(ctx context.Context, reach Reach, op, name string) (storage.Organization, error) {
	o, err := s.Store.GetOrganizationByName(ctx, name)
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInvalid):
		return storage.Organization{}, noOrgErr(name)
	case err != nil:
		return storage.Organization{}, fmt.Errorf("%s: %w", op, err)
	case !reach.Org(o.ID):
		return storage.Organization{}, noOrgErr(name)
	}
	return o, nil
}

// ListUsersInReach lists the users in reach, a page at a time: of the
// organization named org, or with org "" of every organization (Everyone)
// or of the one organization a reach holds. A reach of several
// organizations must name one: a page is of one organization.
func (s *Service) ListUsersInReach(ctx context.Context, reach Reach, org, afterEmail string, limit int) ([]storage.User, error) {
	const op = "list users"
	q := storage.UserQuery{AfterEmail: afterEmail, Limit: limit}
	switch {
	case org != "":
		o, err := s.OrgInReach(ctx, reach, op, org)
		if err != nil {
			return nil, err
		}
		q.OrgID = o.ID
	case reach.all:
	case len(reach.orgs) == 1:
		q.OrgID = reach.orgs[0]
	default:
		return nil, inputErr("you administer %d organizations: name one (org)", len(reach.orgs))
	}
	users, err := s.Store.ListUsers(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return users, nil
}

// scope is the organization a list of reach shows when orgID is asked for
// ("" : none asked): orgID itself when in reach; with none asked, every
// organization ("") for Everyone, and an organization admin's first.
// Another organization is an InputError.
func (r Reach) scope(orgID string) (string, error) {
	switch {
	case orgID != "" && !r.Org(orgID):
		return "", inputErr("no such organization")
	case orgID != "":
		return orgID, nil
	case r.all:
		return "", nil
	case len(r.orgs) > 0:
		return r.orgs[0], nil
	}
	return "", inputErr("no such organization")
}
