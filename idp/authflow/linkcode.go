package authflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The other proof of a local account before a link: a one-time code sent
// to the account's own email address. It is for accounts without a
// password (an invited account, an account of another upstream) and for
// people who would rather not type theirs. The code proves control of the
// address the upstream identity claimed, which is what the link needs; the
// second factor the account's policy asks for still follows (advance).

// AddressProof sends and checks codes that prove control of an account's
// email address (idp/mfa/emailcode). The flow keeps its state with the
// request, counts each guess against the account (Lockout) and spends the
// state with the step.
type AddressProof interface {
	// SendProof sends a code to t.User.Email (a new one when t.Resend),
	// for the login t.Request, and returns what the page shows and the
	// new state.
	SendProof(ctx context.Context, t Turn) (View, []byte, error)
	// CheckProof checks in against t.State. A wrong code is a *Failure
	// (with its new State: a miss counted).
	CheckProof(ctx context.Context, t Turn, in Input) (Proof, error)
}

// MethodLinkCode is the form's method of a code sent to prove the account.
const MethodLinkCode = "link_code"

// SendLinkCode sends (or sends again) a code to the email address of the
// account request id waits to link, and shows the link page with the
// code's form.
func (f *Flow) SendLinkCode(ctx context.Context, id string, _ session.Browser) (Outcome, error) {
	r, err := f.Load(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	p, u, err := f.linkTurn(ctx, r)
	if err != nil {
		return Outcome{}, err
	}
	v, state, err := f.Federation.Address.SendProof(ctx, Turn{Request: r, User: u, State: r.FlowData, Resend: len(r.FlowData) > 0})
	out, verr := f.linkView(ctx, r, p)
	if verr != nil {
		return Outcome{}, verr
	}
	if errors.Is(err, ErrNotSent) {
		// The method logged the detail; the page says it in plain words.
		v.Notice = ErrNotSent
		out.View = &v
		return out, nil
	} else if err != nil {
		return Outcome{}, err
	}
	next, err := f.update(ctx, r.ID, StepLink, func(r *storage.AuthRequest) error {
		r.FlowData = state
		return nil
	})
	if err != nil {
		return Outcome{}, err
	}
	out.Request, out.View = next, &v
	return out, nil
}

// submitLinkCode checks a code typed at StepLink: the account is proved,
// and the login goes on as after its password.
func (f *Flow) submitLinkCode(ctx context.Context, r storage.AuthRequest, b session.Browser, in Input) (Outcome, error) {
	if len(r.FlowData) == 0 { // no code was sent for this login
		return Outcome{}, ErrOutOfTurn
	}
	p, u, err := f.linkTurn(ctx, r)
	if err != nil {
		return Outcome{}, err
	}
	att, err := f.reserve(ctx, u.ID, b, nil)
	if err != nil {
		return f.refused(ctx, r, p, MethodLinkCode, err)
	}
	proof, err := f.Federation.Address.CheckProof(ctx, Turn{Request: r, User: u, State: r.FlowData}, in)
	if err != nil {
		settleVerify(ctx, att, err)
		var fail *Failure
		if errors.As(err, &fail) && fail.State != nil {
			// The miss is counted with the code, so that a burnt code
			// stays burnt.
			if next, serr := f.update(ctx, r.ID, StepLink, func(r *storage.AuthRequest) error {
				r.FlowData = fail.State
				return nil
			}); serr == nil {
				r = next
			}
		}
		return f.refused(ctx, r, p, MethodLinkCode, err)
	}
	var out Outcome
	err = storage.Atomically(ctx, f.Store, func(ctx context.Context) error {
		// The code proved the address: the account's email is verified,
		// and an invited account that never set a password is activated,
		// as its invitation's link would have done.
		if _, err := f.Store.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
			u.EmailVerified = true
			if u.State == storage.UserInvited && u.PasswordHash == "" {
				u.State = storage.UserActive
			}
			return u, nil
		}); err != nil {
			return fmt.Errorf("authflow: link code: %w", err)
		}
		pu, err := f.proved(ctx, r, proof)
		if err != nil {
			return err
		}
		att.Succeeded(ctx)
		out, _, err = f.accept(ctx, r, b, p, MethodLinkCode, proof, pu)
		return err
	})
	if err != nil {
		settleProved(ctx, att, err)
		return f.refused(ctx, r, p, MethodLinkCode, err)
	}
	return out, nil
}

// linkTurn is the party and the account of r, a login waiting at StepLink
// where codes may prove the account; ErrOutOfTurn otherwise.
func (f *Flow) linkTurn(ctx context.Context, r storage.AuthRequest) (Party, storage.User, error) {
	if StepOf(r) != StepLink || f.Federation == nil || f.Federation.Address == nil {
		return Party{}, storage.User{}, ErrOutOfTurn
	}
	p, err := f.party(ctx, r)
	if err != nil {
		return Party{}, storage.User{}, err
	}
	u, err := f.Store.GetUser(ctx, r.UserID)
	if err != nil {
		return Party{}, storage.User{}, fmt.Errorf("authflow: link code: %w", err)
	}
	return p, u, nil
}
