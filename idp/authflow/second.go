package authflow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The second factor's part of a login: whether one is needed, which of the
// user's factors count, what to enrol. Every answer is computed from the
// stored state (the organization's policy, the user's factors and flags,
// the relying party's demand) each time it is asked, so that a policy
// change or an admin reset applies at the very next page.

// Choice is a method the user may enrol at the enrol step.
type Choice struct {
	Method string
	// AskAddress: the method sends codes to an address the user may
	// enter (the policy allows another than the account's); Address is
	// the default, "" when the account's own may not be used.
	AskAddress bool
	Address    string
	// AskPhone: text messages go to a number the user enters (the
	// profile has none and the policy lets users enter their own);
	// Phone is the profile's number otherwise.
	AskPhone bool
	Phone    string
	// Unavailable, when set, says why the method cannot be chosen (the
	// profile has no mobile number): the page shows it, not a button.
	Unavailable string
}

// NoPhone is why text messages cannot be chosen by a user whose profile
// has no mobile number, where users may not enter their own.
const NoPhone = "Your account has no mobile number; contact your administrator."

// needs is what the second-factor part of a login requires, for one user
// at one moment.
type needs struct {
	user   storage.User
	policy storage.MFAPolicy
	// counting are the user's factors that count now, by method, for
	// registered second factors only.
	counting map[string][]storage.Factor
	// required: a second factor must be given (or skipped, see skipped).
	required bool
	// enrolled: the user has a factor that counts, other than a fallback.
	enrolled bool
	// canSkip: "Skip for now" may be offered; skipped: it was chosen and
	// stands, so the login goes on without a second factor.
	canSkip, skipped bool
}

// needsOf computes what r's user needs for a second factor with relying
// party p. A second factor is required when the party or the request asks
// for it, when the organization requires it, when an administrator's reset
// asks for an enrolment, or when the user has a factor that counts (a user
// who turned one on is asked at every login).
func (f *Flow) needsOf(ctx context.Context, r storage.AuthRequest, p Party) (needs, error) {
	u, err := f.Store.GetUser(ctx, r.UserID)
	if err != nil {
		return needs{}, fmt.Errorf("authflow: load user for second factors: %w", err)
	}
	return f.needsFor(ctx, r, p, u)
}

// needsFor is needsOf for r's user u, already loaded (a login that just
// proved them).
func (f *Flow) needsFor(ctx context.Context, r storage.AuthRequest, p Party, u storage.User) (needs, error) {
	n := needs{user: u}
	if u.OrgID != "" {
		o, err := f.Store.GetOrganization(ctx, u.OrgID)
		if err != nil {
			return n, fmt.Errorf("authflow: organization policy: %w", err)
		}
		n.policy = o.MFA
	}
	n.counting = map[string][]storage.Factor{}
	if len(f.factors) > 0 {
		fs, err := f.Store.ListFactors(ctx, u.ID, f.Now())
		if err != nil {
			return n, fmt.Errorf("authflow: list factors: %w", err)
		}
		for kind, list := range mfa.Counting(n.policy, u, fs) {
			if _, ok := f.factors[kind]; ok {
				n.counting[kind] = list
			}
		}
	}
	for kind := range n.counting {
		if !f.fallback(kind) {
			n.enrolled = true
		}
	}
	demanded := p.RequireMFA || slices.Contains(r.ACRValues, ACRMFA)
	n.required = demanded || n.policy.Required || u.MFAEnrollRequired || n.enrolled
	n.canSkip = n.policy.Required && n.policy.AllowSkip && !demanded && !u.MFAEnrollRequired
	n.skipped = n.canSkip && !n.enrolled && mfa.Skipped(n.policy, u)
	return n, nil
}

// fallback reports whether the second factor name stands in for lost ones.
func (f *Flow) fallback(name string) bool {
	fb, ok := f.factors[name].(Fallback)
	return ok && fb.Fallback()
}

// order is the order second factors are offered in: the strongest first
// (mfa.Known), then other registered ones by name, fallbacks last.
func (f *Flow) order() []string {
	names := slices.Sorted(maps.Keys(f.factors))
	rank := func(n string) int {
		if f.fallback(n) {
			return len(mfa.Known) + 1
		}
		if i := slices.Index(mfa.Known, n); i >= 0 {
			return i
		}
		return len(mfa.Known)
	}
	slices.SortStableFunc(names, func(a, b string) int { return rank(a) - rank(b) })
	return names
}

// usable are the second factors the user can answer with now, in order.
func (n needs) usable(order []string) []string {
	var out []string
	for _, m := range order {
		if len(n.counting[m]) > 0 {
			out = append(out, m)
		}
	}
	return out
}

// choices are the methods the user may enrol now: the enrollers the
// policy allows (with an address the user may send codes to), or only the
// one an administrator's reset named.
func (f *Flow) choices(n needs) []Choice {
	var out []Choice
	for _, m := range f.order() {
		if _, ok := f.factors[m].(Enroller); !ok || !mfa.Allowed(n.policy, m) {
			continue
		}
		if n.user.MFAEnrolMethod != "" && m != n.user.MFAEnrolMethod {
			continue
		}
		c := Choice{Method: m}
		if m == mfa.SMS {
			if c.Phone, c.AskPhone = mfa.SMSNumber(n.policy, n.user); c.Phone == "" && !c.AskPhone {
				c.Unavailable = NoPhone
			}
		}
		if m == mfa.Email {
			own := mfa.EmailAddressAllowed(n.policy, n.user, n.user.Email)
			c.AskAddress = mfa.OtherEmailAllowed(n.policy)
			if !own && !c.AskAddress {
				continue
			}
			if own {
				c.Address = n.user.Email
			}
		}
		out = append(out, c)
	}
	if len(out) == 0 && n.user.MFAEnrolMethod != "" {
		// The named method is not registered here (or no longer
		// allowed): the user must not be stuck, so the policy decides.
		n.user.MFAEnrolMethod = ""
		return f.choices(n)
	}
	return out
}

// choice is method m among the choices of n, when it may be chosen.
func (f *Flow) choice(n needs, m string) (Choice, bool) {
	for _, c := range f.choices(n) {
		if c.Method == m && c.Unavailable == "" {
			return c, true
		}
	}
	return Choice{}, false
}

// input is what a method's enrolment gets of what the choice page
// posted: a destination the user may not choose is the profile's, whatever
// the form said.
func (c Choice) input(in Input) Input {
	out := Input{}
	for k, v := range in {
		out[k] = v
	}
	if c.Method == mfa.SMS && !c.AskPhone {
		out["phone"] = c.Phone
	}
	if c.Method == mfa.Email && !c.AskAddress {
		out["address"] = c.Address
	}
	return out
}

// turn is the Turn of method m for request r at the current needs.
func turn(r storage.AuthRequest, n needs, m string, st flowState) Turn {
	t := Turn{Request: r, User: n.user, Policy: n.policy, Factors: n.counting[m]}
	if st.Method == m {
		t.State = st.State
	}
	return t
}

// secondView is what a request at mfa, enrol or notice shows. resend asks
// the method for a new code.
func (f *Flow) secondView(ctx context.Context, r storage.AuthRequest, p Party, resend bool) (Outcome, error) {
	st, err := readState(r)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Request: r, Party: p}
	if StepOf(r) == StepNotice {
		out.Action, out.Notice, out.Remaining = Notice, st.Notice, st.Remaining
		return out, nil
	}
	n, err := f.needsOf(ctx, r, p)
	if err != nil {
		return Outcome{}, err
	}
	if StepOf(r) == StepMFA {
		return f.mfaView(ctx, r, p, n, st, resend)
	}
	return f.enrolView(ctx, r, p, n, st, resend)
}

func (f *Flow) mfaView(ctx context.Context, r storage.AuthRequest, p Party, n needs, st flowState, resend bool) (Outcome, error) {
	usable := n.usable(f.order())
	if len(usable) == 0 || !n.enrolled {
		// The user's factors stopped counting since the login reached
		// this step (a reset, a policy change): enrol instead.
		next, err := f.update(ctx, r.ID, StepMFA, func(r *storage.AuthRequest) error {
			r.Step, r.FlowData = StepEnrol.name, nil
			return nil
		})
		if err != nil {
			return Outcome{}, err
		}
		return f.enrolView(ctx, next, p, n, flowState{}, false)
	}
	m := st.Method
	if !slices.Contains(usable, m) {
		m = usable[0]
	}
	t := turn(r, n, m, st)
	t.Resend = resend
	v, state, err := f.factors[m].Challenge(ctx, t)
	if err != nil {
		if v, state, err = notSent(err, t.State); err != nil {
			return Outcome{}, fmt.Errorf("authflow: %s: challenge: %w", m, err)
		}
	}
	if r, err = f.saveState(ctx, r, flowState{Method: m, State: state}); err != nil {
		return Outcome{}, err
	}
	return Outcome{Action: Challenge, Request: r, Party: p, Method: m, View: &v, Methods: usable}, nil
}

func (f *Flow) enrolView(ctx context.Context, r storage.AuthRequest, p Party, n needs, st flowState, resend bool) (Outcome, error) {
	choices := f.choices(n)
	out := Outcome{Request: r, Party: p, Choices: choices, CanSkip: n.canSkip}
	if st.Factor != "" {
		pending, err := f.pending(ctx, n.user, st)
		if err != nil {
			return Outcome{}, err
		}
		if pending != nil && slices.ContainsFunc(choices, func(c Choice) bool { return c.Method == st.Method }) {
			e := f.factors[st.Method].(Enroller)
			t := turn(r, n, st.Method, st)
			t.Resend = resend
			v, state, err := e.EnrolView(ctx, t, *pending)
			if err != nil {
				if v, state, err = notSent(err, t.State); err != nil {
					return Outcome{}, fmt.Errorf("authflow: %s: enrolment view: %w", st.Method, err)
				}
			}
			next := st
			next.State = state
			if out.Request, err = f.saveState(ctx, r, next); err != nil {
				return Outcome{}, err
			}
			out.Action, out.Method, out.View = Enrol, st.Method, &v
			return out, nil
		}
		// The enrolment expired or its method is no longer allowed:
		// back to the choice.
		if out.Request, err = f.saveState(ctx, r, flowState{}); err != nil {
			return Outcome{}, err
		}
	}
	var open []Choice
	for _, c := range choices {
		if c.Unavailable == "" {
			open = append(open, c)
		}
	}
	switch {
	case len(choices) == 0:
		out.Action = NoMethod
	case len(open) == 1 && !open[0].AskAddress && !open[0].AskPhone:
		// One method the user can take: straight to it (one they cannot
		// take, such as text messages without a number, is no choice).
		return f.beginEnrol(ctx, out.Request, p, n, open[0].Method, Input{})
	default:
		out.Action = Choose
	}
	return out, nil
}

// notSent turns a method's failure to send its code into the step's page
// with a notice, the method's state unchanged; any other error stays one.
func notSent(err error, state []byte) (View, []byte, error) {
	if !errors.Is(err, ErrNotSent) {
		return View{}, nil, err
	}
	var u *Unsent
	if errors.As(err, &u) && u.Show != nil {
		return View{Notice: u.Show}, state, nil
	}
	return View{Notice: ErrNotSent}, state, nil
}

// pending is the enrolment's pending factor when it is still the user's
// and pending; nil otherwise.
func (f *Flow) pending(ctx context.Context, u storage.User, st flowState) (*storage.Factor, error) {
	pf, err := f.Store.GetFactor(ctx, st.Factor)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("authflow: load pending factor: %w", err)
	case pf.UserID != u.ID || pf.Kind != st.Method || !pf.Pending(f.Now()):
		return nil, nil
	}
	return &pf, nil
}

// saveState writes the request's flow state when it changed, at the step
// it is at.
func (f *Flow) saveState(ctx context.Context, r storage.AuthRequest, next flowState) (storage.AuthRequest, error) {
	var probe storage.AuthRequest
	if err := writeState(&probe, next); err != nil {
		return r, err
	}
	if string(probe.FlowData) == string(r.FlowData) {
		return r, nil
	}
	return f.update(ctx, r.ID, StepOf(r), func(r *storage.AuthRequest) error {
		r.FlowData = probe.FlowData
		return nil
	})
}

// beginEnrol starts enrolling method m: a new pending factor, replacing
// the request's previous one.
func (f *Flow) beginEnrol(ctx context.Context, r storage.AuthRequest, p Party, n needs, m string, in Input) (Outcome, error) {
	e := f.factors[m].(Enroller)
	st, err := readState(r)
	if err != nil {
		return Outcome{}, err
	}
	c, ok := f.choice(n, m)
	if !ok {
		return Outcome{}, ErrOutOfTurn
	}
	id, state, err := e.BeginEnrol(ctx, turn(r, n, m, flowState{}), c.input(in))
	var fail *Failure
	if errors.As(err, &fail) {
		f.record(ctx, "mfa.enrol_refused", r, n.user, map[string]string{"method": m, "reason": fail.Reason})
		return Outcome{Action: Choose, Request: r, Party: p, Choices: f.choices(n), CanSkip: n.canSkip, Method: m, Failure: fail.shown()}, nil
	} else if err != nil {
		return Outcome{}, fmt.Errorf("authflow: %s: begin enrolment: %w", m, err)
	}
	if st.Factor != "" {
		f.discardPending(ctx, n.user, st)
	}
	next, err := f.update(ctx, r.ID, StepEnrol, func(r *storage.AuthRequest) error {
		return writeState(r, flowState{Method: m, Factor: id, State: state})
	})
	if err != nil {
		return Outcome{}, err
	}
	return f.enrolView(ctx, next, p, n, flowState{Method: m, Factor: id, State: state}, false)
}

// discardPending deletes the request's pending factor, if it is still a
// pending factor of the user: an abandoned enrolment leaves nothing.
func (f *Flow) discardPending(ctx context.Context, u storage.User, st flowState) {
	pf, err := f.pending(ctx, u, st)
	if err != nil || pf == nil {
		return
	}
	if err := f.Store.DeleteFactor(ctx, pf.ID); err != nil && !errors.Is(err, storage.ErrNotFound) && f.Audit != nil && f.Audit.Logger != nil {
		f.Audit.Logger.WarnContext(ctx, "authflow: discarding a pending factor failed; it expires by itself", "factor_id", pf.ID, "err", err)
	}
}

// shown is what the user is told of a second factor's failure.
func (e *Failure) shown() error {
	if e.Show != nil {
		return e.Show
	}
	return ErrInvalidCredentials
}
