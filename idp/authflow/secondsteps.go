package authflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// What the pages of the mfa, enrol and notice steps may ask besides
// Submit: switch method, send a new code, skip, finish. Each checks the
// stored step and what the user's needs allow now, never the form.

// ErrEnrolExpired is shown when an enrolment's pending factor expired
// before its code was confirmed.
var ErrEnrolExpired = errors.New("this setup has expired; start again")

// Choose picks method: at mfa another of the user's usable factors, at
// enrol the method to enrol (in carries what the choice page posted, an
// email address), or "" at enrol to go back to the choice.
func (f *Flow) Choose(ctx context.Context, id string, b session.Browser, method string, in Input) (Outcome, error) {
	r, p, n, err := f.loadSecond(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	st, err := readState(r)
	if err != nil {
		return Outcome{}, err
	}
	switch StepOf(r) {
	case StepMFA:
		if !slices.Contains(n.usable(f.order()), method) {
			return Outcome{}, ErrOutOfTurn
		}
		next := flowState{Method: method}
		if st.Method == method {
			next.State = st.State
		}
		if r, err = f.saveState(ctx, r, next); err != nil {
			return Outcome{}, err
		}
		return f.mfaView(ctx, r, p, n, next, false)
	case StepEnrol:
		if method == "" {
			f.discardPending(ctx, n.user, st)
			if r, err = f.saveState(ctx, r, flowState{}); err != nil {
				return Outcome{}, err
			}
			out := Outcome{Action: Choose, Request: r, Party: p, Choices: f.choices(n), CanSkip: n.canSkip}
			if len(out.Choices) == 0 {
				out.Action = NoMethod
			}
			return out, nil
		}
		if _, ok := f.choice(n, method); !ok {
			return Outcome{}, ErrOutOfTurn
		}
		return f.beginEnrol(ctx, r, p, n, method, in)
	}
	return Outcome{}, ErrOutOfTurn
}

// Resend asks the current method for a new code (the old one is void).
func (f *Flow) Resend(ctx context.Context, id string, _ session.Browser) (Outcome, error) {
	r, p, _, err := f.loadSecond(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	if s := StepOf(r); s != StepMFA && s != StepEnrol {
		return Outcome{}, ErrOutOfTurn
	}
	return f.secondView(ctx, r, p, true)
}

// Skip is "Skip for now" at enrol, where the policy offers it: the choice
// is remembered on the account (until an administrator's reset or a new
// policy generation) and the login is done without a second factor.
func (f *Flow) Skip(ctx context.Context, id string, b session.Browser) (Outcome, error) {
	r, p, n, err := f.loadSecond(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	if StepOf(r) != StepEnrol || !n.canSkip {
		return Outcome{}, ErrOutOfTurn
	}
	st, err := readState(r)
	if err != nil {
		return Outcome{}, err
	}
	now := f.Now()
	var out Outcome
	err = storage.Atomically(ctx, f.Store, func(ctx context.Context) error {
		u, err := f.Store.UpdateUser(ctx, n.user.ID, func(u storage.User) (storage.User, error) {
			u.MFASkipped, u.MFASkippedAt = true, now
			return u, nil
		})
		if err != nil {
			return fmt.Errorf("authflow: remember the skip: %w", err)
		}
		if out, err = f.toDone(ctx, r, b, p, StepEnrol, func(r *storage.AuthRequest) { r.FlowData = nil }); err != nil {
			return err
		}
		f.record(ctx, audit.MFASkipped, r, u, nil)
		return nil
	})
	if err != nil {
		return Outcome{}, err
	}
	f.discardPending(ctx, n.user, st)
	return out, nil
}

// Finish ends the notice step: the login is done.
func (f *Flow) Finish(ctx context.Context, id string, b session.Browser) (Outcome, error) {
	r, err := f.Load(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	if StepOf(r) != StepNotice {
		return Outcome{}, ErrOutOfTurn
	}
	p, err := f.party(ctx, r)
	if err != nil {
		return Outcome{}, err
	}
	var out Outcome
	err = storage.Atomically(ctx, f.Store, func(ctx context.Context) error {
		var err error
		out, err = f.toDone(ctx, r, b, p, StepNotice, func(r *storage.AuthRequest) { r.FlowData = nil })
		return err
	})
	return out, err
}

// loadSecond loads a live request with a user, its party and the user's
// needs.
func (f *Flow) loadSecond(ctx context.Context, id string) (storage.AuthRequest, Party, needs, error) {
	r, err := f.Load(ctx, id)
	if err != nil {
		return r, Party{}, needs{}, err
	}
	if s := StepOf(r); s != StepMFA && s != StepEnrol {
		return r, Party{}, needs{}, ErrOutOfTurn
	}
	p, err := f.party(ctx, r)
	if err != nil {
		return r, p, needs{}, err
	}
	n, err := f.needsOf(ctx, r, p)
	return r, p, n, err
}

// submitSecond checks a second factor's form: at mfa a code of one of the
// user's usable factors, at enrol the code that confirms the pending
// factor. Every code is a guess at the account's secrets and is counted
// by the lockout before it is checked.
func (f *Flow) submitSecond(ctx context.Context, r storage.AuthRequest, b session.Browser, name string, in Input) (Outcome, error) {
	from := StepOf(r)
	if from != StepMFA && from != StepEnrol {
		return Outcome{}, ErrOutOfTurn
	}
	p, err := f.party(ctx, r)
	if err != nil {
		return Outcome{}, err
	}
	n, err := f.needsOf(ctx, r, p)
	if err != nil {
		return Outcome{}, err
	}
	st, err := readState(r)
	if err != nil {
		return Outcome{}, err
	}
	var pf *storage.Factor
	switch from {
	case StepMFA:
		if !slices.Contains(n.usable(f.order()), name) {
			return Outcome{}, ErrOutOfTurn
		}
	case StepEnrol:
		if st.Method != name || st.Factor == "" {
			return Outcome{}, ErrOutOfTurn
		}
		if pf, err = f.pending(ctx, n.user, st); err != nil {
			return Outcome{}, err
		}
		if pf == nil {
			out, err := f.secondView(ctx, r, p, false)
			out.Failure = ErrEnrolExpired
			return out, err
		}
	}
	m := f.factors[name]
	if st.Method != name {
		st = flowState{Method: name}
	}
	t := turn(r, n, name, st)
	att, err := f.reserve(ctx, r.UserID, b, nil)
	if err != nil {
		return f.refusedSecond(ctx, r, p, st, name, err)
	}
	var out Outcome
	var proof Proof
	if from == StepMFA {
		if proof, err = m.Verify(ctx, t, in); err == nil {
			_, err = f.proved(ctx, r, proof)
		}
		if err != nil {
			settleVerify(ctx, att, err)
			return f.refusedSecond(ctx, r, p, st, name, err)
		}
	}
	err = storage.Atomically(ctx, f.Store, func(ctx context.Context) error {
		var err error
		if from == StepEnrol {
			if proof, err = m.(Enroller).ConfirmEnrol(ctx, t, *pf, in); err != nil {
				return err
			}
			if _, err = f.proved(ctx, r, proof); err != nil {
				return err
			}
		}
		att.Succeeded(ctx)
		out, err = f.secondDone(ctx, r, b, p, n, name, proof, pf)
		return err
	})
	var fail *Failure
	if errors.As(err, &fail) {
		settleVerify(ctx, att, err)
		return f.refusedSecond(ctx, r, p, st, name, err)
	} else if err != nil {
		att.Released(context.WithoutCancel(ctx))
		return Outcome{}, err
	}
	if proof.Then != nil {
		proof.Then(ctx)
	}
	if from == StepEnrol && f.Notices != nil {
		f.Notices.FactorAdded(context.WithoutCancel(ctx), n.user, name)
	}
	return out, nil
}

// secondDone moves a request whose second factor was just proved on: to
// notice after an enrolment (with recovery codes when the user has none)
// or a fallback's use, to done otherwise.
func (f *Flow) secondDone(ctx context.Context, r storage.AuthRequest, b session.Browser, p Party, n needs, name string, proof Proof, enrolled *storage.Factor) (Outcome, error) {
	amr := union(r.AMR, proof.AMR, []string{AMRMFA})
	// The login is authenticated when its last factor is given.
	authTime := f.Now()
	if proof.Event != "" {
		f.record(ctx, proof.Event, r, n.user, map[string]string{"method": name})
	}
	var notice flowState
	var codes []string
	switch {
	case enrolled != nil:
		notice.Notice = NoticeEnrolled
		if _, err := f.Store.UpdateUser(ctx, n.user.ID, func(u storage.User) (storage.User, error) {
			u.MFAEnrollRequired, u.MFAEnrolMethod = false, ""
			u.MFASkipped, u.MFASkippedAt = false, time.Time{}
			return u, nil
		}); err != nil {
			return Outcome{}, fmt.Errorf("authflow: record the enrolment: %w", err)
		}
		f.record(ctx, audit.FactorAdded, r, n.user, map[string]string{"kind": name, "factor_id": enrolled.ID, "at": "login"})
		if f.Recovery != nil && !f.hasFallback(n) {
			var err error
			if codes, err = f.Recovery.Issue(ctx, n.user.ID); err != nil {
				return Outcome{}, fmt.Errorf("authflow: issue recovery codes: %w", err)
			}
			f.record(ctx, audit.RecoveryCodesIssued, r, n.user, map[string]string{"count": fmt.Sprint(len(codes)), "at": "login"})
		}
	case f.fallback(name):
		notice.Notice, notice.Remaining = NoticeRecovery, max(len(n.counting[name])-1, 0)
	}
	set := func(r *storage.AuthRequest) {
		r.AMR, r.AuthTime = amr, authTime
		r.FlowData = nil
	}
	if notice.Notice == "" {
		return f.toDone(ctx, r, b, p, StepOf(r), set)
	}
	next, err := f.update(ctx, r.ID, StepOf(r), func(r *storage.AuthRequest) error {
		set(r)
		r.Step = StepNotice.name
		return writeState(r, notice)
	})
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Action: Notice, Request: next, Party: p, Notice: notice.Notice, Remaining: notice.Remaining,
		Codes: codes, Account: n.user.Email}, nil
}

// hasFallback: the user has fallback factors (recovery codes) that count.
func (f *Flow) hasFallback(n needs) bool {
	for kind, list := range n.counting {
		if f.fallback(kind) && len(list) > 0 {
			return true
		}
	}
	return false
}

// refusedSecond shows a second factor's page again after a failed code,
// with the method's new state (a miss counted) stored first.
func (f *Flow) refusedSecond(ctx context.Context, r storage.AuthRequest, p Party, st flowState, name string, err error) (Outcome, error) {
	var fail *Failure
	if !errors.As(err, &fail) {
		return Outcome{}, err
	}
	f.record(ctx, audit.LoginFailed, r, storage.User{ID: r.UserID, OrgID: r.OrgID},
		map[string]string{"reason": fail.Reason, "step": r.Step, "method": name})
	next := st
	next.Method = name
	if fail.State != nil {
		next.State = fail.State
	}
	if r, err = f.saveState(ctx, r, next); err != nil {
		return Outcome{}, err
	}
	out, err := f.secondView(ctx, r, p, false)
	if err != nil {
		return Outcome{}, err
	}
	out.Failure = fail.shown()
	switch fail.Reason {
	case ReasonThrottled:
		out.Failure = ErrThrottled
	case ReasonLocked:
		out.Failure = ErrInvalidCredentials
	}
	return out, nil
}
