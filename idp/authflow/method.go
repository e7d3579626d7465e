package authflow

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Method is a back door: it checks what the browser submitted for one step
// and reports whom it proved. It decides nothing else: whether that user
// may sign in, whether another factor follows and when the login is done
// are the flow's. Adding a method is a new package that implements this
// and one RegisterMethod call.
type Method interface {
	// Name is the method's name in forms, registrations and the audit
	// log ("password", later "totp", "webauthn", "connector:<id>").
	Name() string
	// Step is the step the method proves: StepLogin for a first factor
	// (it identifies the user), StepMFA for a second factor (it proves
	// the user the request already names).
	Step() Step
	// Verify checks in against r. A failed proof is a *Failure; any other
	// error is an outage and must not count against the user.
	Verify(ctx context.Context, r storage.AuthRequest, in Input) (Proof, error)
}

// Input is a submitted form, by field name, as the page parsed it.
type Input map[string]string

// Proof is what a method proved.
type Proof struct {
	// UserID is the local user proved.
	UserID string
	// AMR are the RFC 8176 values of the proof ("pwd", "otp", "hwk").
	AMR []string
	// Event is the audit event type recorded when the flow accepts the
	// proof ("" for none).
	Event string
	// Upstream is the upstream identity the proof stands on (an
	// upstream connector's proof, or the proof of the local account that
	// a first-time upstream identity asked for): the flow keeps it with
	// the request and links it when the login is done.
	Upstream *storage.UpstreamLogin
	// Then runs once the flow has accepted the proof, for best-effort
	// follow-ups that must not run for a refused login (a rehash).
	Then func(ctx context.Context)

	// domainChecked: the flow checked the single-sign-on rule of the
	// address the form named (ssoFirst), which is the proved user's.
	domainChecked bool
}

// Failure is a failed proof. The user sees ErrInvalidCredentials; the
// audit log gets the reason and, when known, the user.
type Failure struct {
	User   storage.User // zero when the user is unknown
	Reason string       // "unknown_user", "wrong_password", ...
	// Show, when set, is what the user is told instead of the generic
	// answer: for a failure that reveals nothing (a new password that
	// breaks a rule, from a user the request already names).
	Show error
	// State is a second factor's new state for this login after the
	// failure (a miss counted, a code burnt); nil keeps the old one.
	State []byte
}

func (e *Failure) Error() string { return "authflow: proof failed: " + e.Reason }

// Is makes every Failure match ErrInvalidCredentials.
func (e *Failure) Is(target error) bool { return target == ErrInvalidCredentials }

// Submit runs method on what the browser submitted for request id and
// returns what to show next. A failed proof is not an error: the outcome
// asks for the method again with Outcome.Failure set.
func (f *Flow) Submit(ctx context.Context, id string, b session.Browser, method string, in Input) (Outcome, error) {
	r, err := f.Load(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	if _, ok := f.factors[method]; ok {
		return f.submitSecond(ctx, r, b, method, in)
	}
	if f.Passkeys != nil && method == f.Passkeys.PasskeyName() {
		return f.submitPasskey(ctx, r, b, in)
	}
	if method == MethodLinkCode {
		return f.submitLinkCode(ctx, r, b, in)
	}
	m, ok := f.methods[method]
	if !ok {
		return Outcome{}, fmt.Errorf("%w: %q", ErrUnknownMethod, method)
	}
	// At StepLink, a first factor proves the local account an upstream
	// identity matched (proved checks it is that account).
	if m.Step() != StepOf(r) && (StepOf(r) != StepLink || m.Step() != StepLogin) {
		return Outcome{}, ErrOutOfTurn
	}
	p, err := f.party(ctx, r)
	if err != nil {
		return Outcome{}, err
	}
	if StepOf(r) == StepLogin {
		// A domain that must use single sign-on is refused before its
		// secret is checked or counted.
		if err := f.ssoFirst(ctx, m, in); err != nil {
			return f.refused(ctx, r, p, m.Name(), err)
		}
	}
	// A guess at a secret is counted before it is checked (guard.go).
	att, err := f.guard(ctx, r, b, m, in)
	if err != nil {
		return f.refused(ctx, r, p, m.Name(), err)
	}
	proof, err := m.Verify(ctx, r, in)
	if err != nil {
		settleVerify(ctx, att, err)
		return f.refused(ctx, r, p, m.Name(), err)
	}
	_, proof.domainChecked = m.(Identifying)
	u, err := f.proved(ctx, r, proof)
	if err != nil {
		settleProved(ctx, att, err)
		return f.refused(ctx, r, p, m.Name(), err)
	}
	// What a successful proof writes (the count reset, the session, the
	// request's move, the audit event, the last login) is one
	// transaction. If it fails, the reservation stays counted: a login
	// that did not complete counts as a guess, on the safe side.
	var out Outcome
	var then func(context.Context)
	err = storage.Atomically(ctx, f.Store, func(ctx context.Context) error {
		att.Succeeded(ctx)
		var err error
		out, then, err = f.accept(ctx, r, b, p, m.Name(), proof, u)
		return err
	})
	if err != nil {
		return Outcome{}, err
	}
	// After the commit: a follow-up (a rehash) is best effort, and must
	// not hold the transaction while it hashes.
	if then != nil {
		then(ctx)
	}
	return out, nil
}

// refused turns a failed proof by method into the step's form again,
// audited; any other error passes through.
func (f *Flow) refused(ctx context.Context, r storage.AuthRequest, p Party, method string, err error) (Outcome, error) {
	var fail *Failure
	if !errors.As(err, &fail) {
		return Outcome{}, err
	}
	f.record(ctx, audit.LoginFailed, r, fail.User, map[string]string{"reason": fail.Reason, "step": r.Step, "method": method})
	shown := error(ErrInvalidCredentials)
	switch {
	case fail.Reason == ReasonThrottled:
		shown = ErrThrottled // about the network, never the account
	case fail.Reason == ReasonSSORequired:
		shown = ErrSSORequired // about the domain, never the account
	case fail.Show != nil && StepOf(r) != StepLogin:
		shown = fail.Show
	}
	if StepOf(r) == StepLogin || StepOf(r) == StepLink {
		// The login form again, with a new passkey offer: the failed
		// attempt (or a password's) may have spent the last one; or the
		// link page again.
		out, err := f.view(ctx, r, p)
		out.Failure = shown
		return out, err
	}
	return Outcome{Action: Challenge, Request: r, Party: p, Method: method, Failure: shown}, nil
}

// proved loads the user a proof names and checks that they may sign in:
// the one such check for every method.
func (f *Flow) proved(ctx context.Context, r storage.AuthRequest, proof Proof) (storage.User, error) {
	if proof.UserID == "" {
		return storage.User{}, errors.New("authflow: a method proved no user")
	}
	u, err := f.Store.GetUser(ctx, proof.UserID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return u, &Failure{Reason: "unknown_user"}
	case err != nil:
		return u, fmt.Errorf("authflow: load proved user: %w", err)
	case u.State != storage.UserActive:
		return u, &Failure{User: u, Reason: "state_" + string(u.State)}
	case !u.MaySignIn(f.Now()):
		return u, &Failure{User: u, Reason: "locked"}
	case StepOf(r) != StepLogin && u.ID != r.UserID:
		return u, &Failure{User: u, Reason: "other_user"}
	}
	if StepOf(r) == StepLogin && proof.Upstream == nil && !proof.domainChecked {
		// Whatever proved a local login (a passkey; a password's address
		// was checked before its guess), a domain that must use single
		// sign-on may not sign in without it.
		req, err := f.ssoRequired(ctx, u.Email)
		if err != nil {
			return u, err
		}
		if req {
			return u, &Failure{User: u, Reason: ReasonSSORequired, Show: ErrSSORequired}
		}
	}
	return u, nil
}

// accept records an accepted proof and moves the request on. then is the
// proof's follow-up, to run once the move is committed (nil when the
// request did not move).
func (f *Flow) accept(ctx context.Context, r storage.AuthRequest, b session.Browser, p Party, method string, proof Proof, u storage.User) (out Outcome, then func(context.Context), err error) {
	now := f.Now()
	from := StepOf(r)
	if from == StepLogin && r.SubjectHint != "" && r.SubjectHint != u.ID && Prompted(r, "none") {
		return Outcome{Action: LoginRequired, Request: r, Party: p}, nil, nil
	}
	amr := slices.Clone(proof.AMR)
	authTime := now
	switch from {
	case StepNewPassword:
		// Setting a new password proves nothing more: the login stands
		// on the password it began with.
		amr, authTime = r.AMR, r.AuthTime
	case StepLink:
		amr = upstreamAMR(amr)
	}
	first := from == StepLogin || from == StepLink
	set := func(r *storage.AuthRequest) {
		r.UserID, r.OrgID, r.AuthTime, r.AMR = u.ID, u.OrgID, authTime, amr
		if proof.Upstream != nil {
			r.Upstream = proof.Upstream
		}
		if first {
			r.FlowData = nil // the login step's passkey offer is void now
		}
	}
	if expired, xerr := f.expired(ctx, from, amr, u); xerr != nil {
		return Outcome{}, nil, xerr
	} else if expired {
		var next storage.AuthRequest
		next, err = f.update(ctx, r.ID, from, func(r *storage.AuthRequest) error {
			set(r)
			r.Step = StepNewPassword.name
			return nil
		})
		if err == nil {
			out, err = f.view(ctx, next, p)
		}
	} else {
		out, err = f.advance(ctx, r, b, p, from, set, u)
	}
	if err != nil {
		return Outcome{}, nil, err
	}
	if proof.Event != "" {
		d := map[string]string{"method": method}
		if proof.Upstream != nil {
			d["connector"], d["mfa"] = proof.Upstream.ConnectorID, "local"
			if slices.Contains(amr, AMRMFA) {
				d["mfa"] = "upstream"
			}
		}
		f.record(ctx, proof.Event, out.Request, u, d)
	}
	if first {
		// Bookkeeping in the same transaction as the move. A failure of
		// the call itself (not of the database, which fails the unit) is
		// logged and must not fail the login.
		if _, err := f.Store.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
			u.LastLoginAt = now
			return u, nil
		}); err != nil && f.Audit != nil && f.Audit.Logger != nil {
			f.Audit.Logger.WarnContext(ctx, "authflow: recording the last login failed", "user_id", u.ID, "err", err)
		}
	}
	return out, proof.Then, nil
}

// expired: a first-factor password proof whose password has expired
// under the policy must be replaced before the login goes on.
func (f *Flow) expired(ctx context.Context, from Step, amr []string, u storage.User) (bool, error) {
	if f.Expiry == nil || from != StepLogin || !slices.Contains(amr, AMRPassword) {
		return false, nil
	}
	x, err := f.Expiry.Expired(ctx, u)
	if err != nil {
		return false, fmt.Errorf("authflow: password expiry: %w", err)
	}
	return x, nil
}

// advance is the authenticate transition: it records who was proved (set)
// and moves the request, in one write that re-checks it is still at step
// from: to mfa when the user must give a second factor they have, to
// enrol when they must set one up, and to done otherwise.
func (f *Flow) advance(ctx context.Context, r storage.AuthRequest, b session.Browser, p Party, from Step, set func(*storage.AuthRequest), u storage.User) (Outcome, error) {
	probe := r
	set(&probe)
	if !slices.Contains(probe.AMR, AMRMFA) {
		n, err := f.needsFor(ctx, probe, p, u)
		if err != nil {
			return Outcome{}, err
		}
		if n.required && !n.skipped {
			step := StepEnrol
			if n.enrolled {
				step = StepMFA
			}
			next, err := f.update(ctx, r.ID, from, func(r *storage.AuthRequest) error {
				set(r)
				r.SessionID, r.Step, r.FlowData = "", step.name, nil
				return nil
			})
			if err != nil {
				return Outcome{}, err
			}
			return f.view(ctx, next, p)
		}
	}
	return f.toDone(ctx, r, b, p, from, set)
}

// toDone moves the request from step from to done, with set applied, and
// starts the browser session: a new one for a proof, the browser's own
// when it resumed (set then names it).
func (f *Flow) toDone(ctx context.Context, r storage.AuthRequest, b session.Browser, p Party, from Step, set func(*storage.AuthRequest)) (Outcome, error) {
	probe := r
	set(&probe)
	var started *session.Started
	if probe.SessionID == "" {
		l := session.Login{UserID: probe.UserID, AMR: probe.AMR, AuthTime: probe.AuthTime}
		if up := probe.Upstream; up != nil {
			// Linked at the latest by the move below (linkOnDone).
			l.ConnectorID, l.UpstreamSubject = up.ConnectorID, up.Subject
		}
		st, err := f.Sessions.Create(ctx, b, l)
		if err != nil {
			return Outcome{}, fmt.Errorf("authflow: start session: %w", err)
		}
		started = &st
	}
	var next storage.AuthRequest
	err := storage.Atomically(ctx, f.Store, func(ctx context.Context) error {
		final := set
		if probe.Upstream != nil && !probe.Upstream.Linked && f.Federation != nil {
			// The login is done: now, and only now, the link it waits
			// for, in one unit with the move.
			up, err := f.linkOnDone(ctx, probe)
			if err != nil {
				return err
			}
			final = func(r *storage.AuthRequest) { set(r); r.Upstream = up }
		}
		var err error
		next, err = f.update(ctx, r.ID, from, func(r *storage.AuthRequest) error {
			final(r)
			if started != nil {
				r.SessionID = started.Session.Hash
			}
			r.Step = StepDone.name
			return nil
		})
		return err
	})
	if err != nil {
		if started != nil {
			// Another request moved it first, or the link could not be
			// made; this session reaches no browser.
			_ = f.Sessions.Discard(context.WithoutCancel(ctx), *started)
		}
		return Outcome{}, err
	}
	return Outcome{Action: Continue, Request: next, Party: p, Session: started}, nil
}

// union is a, then what b and c add, without repeats.
func union(a, b, c []string) []string {
	out := slices.Clone(a)
	for _, v := range append(slices.Clone(b), c...) {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
