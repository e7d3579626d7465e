package admin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// TemplateMFAReset is the notice a user gets after an MFA reset
// (idp/notify has it).
const TemplateMFAReset = "mfa_reset"

// Mailer renders a notice template and sends it: the instance's mailer,
// the one idp/selfservice sends its links and notices with.
type Mailer interface {
	Mail(ctx context.Context, template, to string, d selfservice.MailData) error
}

// MaxResetTargets bounds the users one ResetMFA call names; a whole
// organization goes through ResetOrgMFA, a page at a time.
const MaxResetTargets = 1000

// resetPage is how many users ResetOrgMFA reads and resets at a time.
const resetPage = 200

// UserRef names a user for a batch action: by Email or, when Email is
// empty, by ID.
type UserRef struct {
	Email, ID string
}

func (r UserRef) String() string {
	if r.Email != "" {
		return r.Email
	}
	return r.ID
}

// MFAReset is what an MFA reset did for one user: the user and the
// counts, or Err (an InputError for a user who does not exist or is out
// of reach, or an outage) and nothing done.
type MFAReset struct {
	Ref  UserRef
	User storage.User
	// FactorsRemoved counts every factor, recovery codes and unfinished
	// enrolments included.
	FactorsRemoved, SessionsEnded, TokensRevoked int
	// Notified: the user was emailed a notice. Only active accounts are;
	// a notice that failed is logged.
	Notified bool
	Err      error
}

// checkResetMethod normalises the one method a reset may impose: "" for
// any the policy allows, or a known method.
func checkResetMethod(method string) (string, error) {
	method = strings.ToLower(strings.TrimSpace(method))
	if method == "" {
		return "", nil
	}
	return method, checkMethod(method)
}

// ResetMFA resets the second factors of each user targets names, within
// reach, one user after the other: see resetUser. A target that names no
// user in reach, or whose reset fails, gets its Err and the others go on.
// The error is for the whole call: a method that is not one, no target, or
// too many.
func (s *Service) ResetMFA(ctx context.Context, actor string, reach Reach, targets []UserRef, method string) ([]MFAReset, error) {
	method, err := checkResetMethod(method)
	if err != nil {
		return nil, err
	}
	switch {
	case len(targets) == 0:
		return nil, inputErr("name at least one user to reset")
	case len(targets) > MaxResetTargets:
		return nil, inputErr("%d users named; one call resets at most %d (reset a whole organization with org and all)", len(targets), MaxResetTargets)
	}
	orgs := map[string]storage.Organization{}
	out := make([]MFAReset, 0, len(targets))
	for _, ref := range targets {
		u, err := s.refInReach(ctx, reach, ref)
		if err != nil {
			out = append(out, MFAReset{Ref: ref, Err: err})
			continue
		}
		o, ok := orgs[u.OrgID]
		if !ok {
			if o, err = s.Store.GetOrganization(ctx, u.OrgID); err != nil {
				out = append(out, MFAReset{Ref: ref, Err: fmt.Errorf("reset MFA: organization: %w", err)})
				continue
			}
			orgs[u.OrgID] = o
		}
		out = append(out, s.resetUser(ctx, actor, o, u, ref, method))
	}
	return out, nil
}

// ResetOrgMFA resets every user of the organization named org, which must
// be in reach, a page of users at a time: each page's results go to each
// before the next page is read, so that memory stays bounded however many
// users the organization has. It stops at the first error each returns,
// or when a page cannot be read.
func (s *Service) ResetOrgMFA(ctx context.Context, actor string, reach Reach, org, method string, each func([]MFAReset) error) error {
	const op = "reset MFA"
	method, err := checkResetMethod(method)
	if err != nil {
		return err
	}
	o, err := s.OrgInReach(ctx, reach, op, org)
	if err != nil {
		return err
	}
	after := ""
	for {
		users, err := s.Store.ListUsers(ctx, storage.UserQuery{OrgID: o.ID, AfterEmail: after, Limit: resetPage})
		if err != nil {
			return fmt.Errorf("%s: list users: %w", op, err)
		}
		page := make([]MFAReset, 0, len(users))
		for _, u := range users {
			ref := UserRef{Email: u.Email}
			if err := reach.check(u, noUserErr(u.Email)); err != nil {
				page = append(page, MFAReset{Ref: ref, Err: err})
				continue
			}
			page = append(page, s.resetUser(ctx, actor, o, u, ref, method))
		}
		if err := each(page); err != nil {
			return err
		}
		if len(users) < resetPage {
			return nil
		}
		// A reset changes no email, so the cursor stays valid.
		after = users[len(users)-1].Email
	}
}

// refInReach finds the user ref names, when in reach.
func (s *Service) refInReach(ctx context.Context, reach Reach, ref UserRef) (storage.User, error) {
	const op = "reset MFA"
	if ref.Email != "" {
		return s.UserInReach(ctx, reach, op, ref.Email)
	}
	unknown := &InputError{Msg: fmt.Sprintf("no user with id %q", shorten(ref.ID)), Err: storage.ErrNotFound}
	u, err := s.Store.GetUser(ctx, ref.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInvalid):
		return storage.User{}, unknown
	case err != nil:
		return storage.User{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := reach.check(u, unknown); err != nil {
		return storage.User{}, err
	}
	return u, nil
}

// resetUser resets u's second factors (u is of organization o): in one
// unit of work it deletes every factor (recovery codes and unfinished
// enrolments too), clears "Skip for now", makes the next login enrol a
// factor (of method, when set), ends every browser session, revokes every
// refresh and access token, and records user.mfa_reset. Whoever held the
// account's factors or sessions is out, and the next login cannot skip
// enrolment. Then, once that is committed, an active user is emailed a
// notice; a notice that fails is logged and changes nothing.
func (s *Service) resetUser(ctx context.Context, actor string, o storage.Organization, u storage.User, ref UserRef, method string) MFAReset {
	r := MFAReset{Ref: ref}
	if method != "" && !mfa.Allowed(o.MFA, method) {
		r.Err = inputErr("organization %s does not allow %s; it allows %s", o.Name, method, DescribeMFAPolicy(o.MFA))
		return r
	}
	now := s.Now()
	err := storage.Atomically(ctx, s.Store, func(ctx context.Context) error {
		// The unit may run again after a conflict: every count is set
		// afresh each time.
		var err error
		if r.User, err = s.Store.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
			u.MFASkipped, u.MFASkippedAt = false, time.Time{}
			u.MFAEnrollRequired, u.MFAEnrolMethod, u.UpdatedAt = true, method, now
			return u, nil
		}); err != nil {
			return err
		}
		if r.FactorsRemoved, err = s.Store.DeleteUserFactors(ctx, u.ID); err != nil {
			return fmt.Errorf("delete factors: %w", err)
		}
		if r.SessionsEnded, err = s.Store.DeleteUserSessions(ctx, u.ID); err != nil {
			return fmt.Errorf("end sessions: %w", err)
		}
		if r.TokensRevoked, err = s.Store.RevokeUserTokens(ctx, u.ID, now); err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		return s.Audit.Record(ctx, storage.AuditEvent{Type: audit.UserMFAReset, OrgID: u.OrgID, ActorID: actor, UserID: u.ID,
			Details: map[string]string{"method": firstNonEmpty(method, "any"), "factors_removed": strconv.Itoa(r.FactorsRemoved),
				"sessions_ended": strconv.Itoa(r.SessionsEnded), "tokens_revoked": strconv.Itoa(r.TokensRevoked)}})
	})
	if errors.Is(err, storage.ErrNotFound) {
		// Deleted since it was looked up.
		return MFAReset{Ref: ref, Err: noUserErr(ref.String())}
	} else if err != nil {
		return MFAReset{Ref: ref, Err: fmt.Errorf("reset MFA: %w", err)}
	}
	r.Notified = s.noticeMFAReset(ctx, o, r.User)
	return r
}

// noticeMFAReset emails u that their two-step sign-in was reset, so that
// a reset they did not expect reaches them; it reports whether it was
// sent. Accounts that cannot sign in (invited, disabled) get none: "at
// your next sign-in" would not be true.
func (s *Service) noticeMFAReset(ctx context.Context, o storage.Organization, u storage.User) bool {
	if s.Mail == nil || u.State != storage.UserActive {
		return false
	}
	d := selfservice.MailData{Org: o.DisplayName, User: u.Name, Email: u.Email}
	if err := s.Mail.Mail(ctx, TemplateMFAReset, u.Email, d); err != nil {
		s.logger().WarnContext(ctx, "admin: the MFA reset notice was not sent", "user_id", u.ID, "err", err)
		return false
	}
	return true
}
