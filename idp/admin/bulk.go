package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Bulk actions: what the console's users list does to the users an
// administrator ticked. Each runs the one implementation of its action
// (ResetMFA, SendInvite, UnlockUser, DisableUser) user by user, within
// reach, under the administrator's reason, which every audit event of the
// action carries (audit.WithReason): one event per user.

// Bulk actions.
const (
	BulkResetMFA     = "reset-mfa"
	BulkResendInvite = "resend-invite"
	BulkUnlock       = "unlock"
	BulkDisable      = "disable"
)

// BulkActions lists the actions with the labels the console shows.
var BulkActions = [][2]string{
	{BulkResetMFA, "Manage MFA (reset)"}, {BulkResendInvite, "Resend welcome email"},
	{BulkUnlock, "Unlock"}, {BulkDisable, "Disable"},
}

// MaxReason bounds a reason's length.
const MaxReason = 500

// BulkInput is one bulk action.
type BulkInput struct {
	Action string
	IDs    []string
	// Reason is required: why the administrator does it.
	Reason string
	// Method is the one method a reset makes the users enrol ("" : any
	// the policy allows).
	Method string
	// Self is the acting administrator's user ID: disabling oneself is
	// refused, as it would end the session doing it and could leave no
	// administrator; so is resetting one's own MFA, which would end it
	// too (one's own factors are managed at /me/mfa).
	Self string
}

// BulkResult is what the action did for one user: Err, an InputError for
// a user it did not apply to, or nil.
type BulkResult struct {
	User storage.User
	Ref  UserRef
	// Note is what happened beyond "done" ("was not locked").
	Note string
	Err  error
}

// CheckBulk validates in without acting: a known action, a reason, and at
// least one user (at most MaxResetTargets).
func CheckBulk(in BulkInput) (BulkInput, error) {
	in.Reason = strings.TrimSpace(in.Reason)
	known := false
	for _, a := range BulkActions {
		known = known || a[0] == in.Action
	}
	switch {
	case !known:
		return in, inputErr("no bulk action %q", shorten(in.Action))
	case len(in.IDs) == 0:
		return in, inputErr("choose at least one user")
	case len(in.IDs) > MaxResetTargets:
		return in, inputErr("%d users chosen; one action takes at most %d", len(in.IDs), MaxResetTargets)
	case in.Reason == "":
		return in, inputErr("give a reason: it is kept in each user's audit trail")
	case utf8.RuneCountInString(in.Reason) > MaxReason || !utf8.ValidString(in.Reason) || strings.ContainsRune(in.Reason, 0):
		return in, inputErr("a reason of at most %d characters", MaxReason)
	}
	method, err := checkResetMethod(in.Method)
	in.Method = method
	return in, err
}

// Bulk runs in.Action on each user in.IDs names, within reach. A user it
// cannot apply to (unknown, out of reach, an invite for an active user)
// gets its Err and the others go on; the error is for the whole call.
func (s *Service) Bulk(ctx context.Context, actor string, reach Reach, in BulkInput) ([]BulkResult, error) {
	in, err := CheckBulk(in)
	if err != nil {
		return nil, err
	}
	ctx = audit.WithReason(ctx, in.Reason)
	if in.Action == BulkResetMFA {
		var out []BulkResult
		refs := make([]UserRef, 0, len(in.IDs))
		for _, id := range in.IDs {
			if id == in.Self && in.Self != "" {
				self, _ := s.refInReach(ctx, reach, UserRef{ID: id})
				out = append(out, BulkResult{User: self, Ref: UserRef{ID: id, Email: self.Email},
					Err: inputErr("you cannot reset your own two-step sign-in here; use your account page")})
				continue
			}
			refs = append(refs, UserRef{ID: id})
		}
		if len(refs) == 0 {
			return out, nil
		}
		resets, err := s.ResetMFA(ctx, actor, reach, refs, in.Method)
		if err != nil {
			return nil, err
		}
		for _, r := range resets {
			res := BulkResult{User: r.User, Ref: r.Ref, Err: r.Err}
			if r.Err == nil && !r.Notified {
				res.Note = "no notice was emailed"
			}
			out = append(out, res)
		}
		return out, nil
	}
	out := make([]BulkResult, 0, len(in.IDs))
	for _, id := range in.IDs {
		ref := UserRef{ID: id}
		u, err := s.refInReach(ctx, reach, ref)
		if err != nil {
			out = append(out, BulkResult{Ref: ref, Err: err})
			continue
		}
		ref.Email = u.Email
		out = append(out, s.bulkOne(ctx, actor, in, u, ref))
	}
	return out, nil
}

func (s *Service) bulkOne(ctx context.Context, actor string, in BulkInput, u storage.User, ref UserRef) BulkResult {
	r := BulkResult{User: u, Ref: ref}
	switch in.Action {
	case BulkResendInvite:
		r.User, r.Err = s.SendInvite(ctx, actor, u.Email)
	case BulkUnlock:
		var res Unlocked
		res, r.Err = s.UnlockUser(ctx, actor, u.Email)
		if r.Err == nil {
			r.User = res.User
			if res.WasLockedUntil.IsZero() {
				r.Note = "was not locked"
			}
		}
	case BulkDisable:
		switch {
		case u.ID == in.Self:
			r.Err = inputErr("you cannot disable your own account")
		case u.State == storage.UserDisabled:
			r.Note = "was already disabled"
		default:
			r.User, r.Err = s.DisableUser(ctx, actor, u.Email)
		}
	}
	if r.Err != nil && !errors.As(r.Err, new(*InputError)) {
		r.Err = fmt.Errorf("%s: %w", in.Action, r.Err)
	}
	return r
}
