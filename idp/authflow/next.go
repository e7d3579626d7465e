package authflow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Action is what the page must do with an Outcome.
type Action int

const (
	// Challenge: show Outcome.Method's form (after a failed attempt,
	// with Outcome.Failure).
	Challenge Action = iota + 1
	// NoMethod: a second factor is required and no method the user can
	// use is available; the user must ask an administrator.
	NoMethod
	// Continue: the login is done; set Outcome.Session's cookie when it
	// is not nil, then send the browser to the door, which calls
	// Complete.
	Continue
	// LoginRequired: a passive request (prompt=none) cannot be satisfied
	// without a page; the door answers its relying party so.
	LoginRequired
)

func (a Action) String() string {
	switch a {
	case Challenge:
		return "challenge"
	case NoMethod:
		return "no_method"
	case Continue:
		return "continue"
	case LoginRequired:
		return "login_required"
	}
	return "invalid"
}

// Outcome is the flow's answer to a page: what to show or do next.
type Outcome struct {
	Action  Action
	Request storage.AuthRequest
	// Party is the relying party the login is for.
	Party Party
	// Method is the back door whose form to show (Challenge).
	Method string
	// Failure is set when the last submission failed: the one generic
	// error (ErrInvalidCredentials) to show above the form, or
	// ErrThrottled when the client's network is over its limit.
	Failure error
	// Session is the browser session the login started (Continue); the
	// page sets its cookie. Nil when the browser's own session resumed.
	Session *session.Started
}

// Next decides what request id needs now, given the browser b: a live
// session may satisfy the login step (single sign-on) unless the request
// demands a fresh login; otherwise the first factor's form, a second
// factor, the door, or login_required for a passive request.
func (f *Flow) Next(ctx context.Context, id string, b session.Browser) (Outcome, error) {
	r, err := f.Load(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	p, err := f.party(ctx, r)
	if err != nil {
		return Outcome{}, err
	}
	switch StepOf(r) {
	case StepLogin:
		if b.Session != nil {
			out, err := f.resume(ctx, r, b, p)
			if !errors.Is(err, errNoResume) {
				return out, err
			}
		}
		return f.view(ctx, r, p)
	case StepNewPassword, StepMFA:
		return f.view(ctx, r, p)
	case StepDone:
		return Outcome{Action: Continue, Request: r, Party: p}, nil
	default: // issued, or a value no step has: nothing left to do here
		return Outcome{}, ErrOutOfTurn
	}
}

// view is what a request at login or mfa shows, without a proof. At mfa
// it offers the first second factor the request's user can use.
func (f *Flow) view(ctx context.Context, r storage.AuthRequest, p Party) (Outcome, error) {
	out := Outcome{Request: r, Party: p}
	switch {
	case Prompted(r, "none"):
		// A silent login can show no page: no form, no second factor.
		out.Action = LoginRequired
	case StepOf(r) == StepLogin:
		out.Action, out.Method = Challenge, f.firstFactor()
	case StepOf(r) == StepNewPassword:
		out.Action = NoMethod
		if m := f.methodsFor(StepNewPassword); len(m) > 0 {
			out.Action, out.Method = Challenge, m[0]
		}
	default:
		out.Action = NoMethod
		m, err := f.usableSecondFactors(ctx, r, true)
		if err != nil {
			return Outcome{}, err
		}
		if len(m) > 0 {
			out.Action, out.Method = Challenge, m[0]
		}
	}
	return out, nil
}

// firstFactor is the method that identifies users: the password (the only
// one until upstream connectors are registered, which home-realm discovery
// will choose between).
func (f *Flow) firstFactor() string {
	for _, n := range f.methodNames() {
		if f.methods[n].Step() == StepLogin {
			return n
		}
	}
	return ""
}

// Usable is an optional interface of a second-factor method: whether u
// can use it now (for TOTP: has a confirmed authenticator app). A user
// who can use one is asked for a second factor at every login, whatever
// the policy; a method that does not implement it is offered to anyone
// (but does not make the second factor required).
type Usable interface {
	Usable(ctx context.Context, u storage.User) (bool, error)
}

// usableSecondFactors are the StepMFA methods r's user can use, in name
// order. Methods that do not implement Usable count only when plain is
// set. The user is loaded only when some method asks.
func (f *Flow) usableSecondFactors(ctx context.Context, r storage.AuthRequest, plain bool) ([]string, error) {
	var out []string
	var u *storage.User
	for _, n := range f.methodsFor(StepMFA) {
		um, ok := f.methods[n].(Usable)
		if !ok {
			if plain {
				out = append(out, n)
			}
			continue
		}
		if u == nil {
			got, err := f.Store.GetUser(ctx, r.UserID)
			if err != nil {
				return nil, fmt.Errorf("authflow: load user for second factors: %w", err)
			}
			u = &got
		}
		can, err := um.Usable(ctx, *u)
		if err != nil {
			return nil, fmt.Errorf("authflow: %s: usable: %w", n, err)
		}
		if can {
			out = append(out, n)
		}
	}
	return out, nil
}

func (f *Flow) methodsFor(step Step) []string {
	var out []string
	for _, n := range f.methodNames() {
		if f.methods[n].Step() == step {
			out = append(out, n)
		}
	}
	return out
}

func (f *Flow) methodNames() []string { return slices.Sorted(maps.Keys(f.methods)) }

// errNoResume: the browser's session cannot satisfy the request; the
// user must log in.
var errNoResume = errors.New("authflow: session cannot satisfy the request")

// resume lets the browser's live session satisfy the login step, unless
// the request demands a fresh login or another user.
func (f *Flow) resume(ctx context.Context, r storage.AuthRequest, b session.Browser, p Party) (Outcome, error) {
	now := f.Now()
	s := *b.Session
	u, err := f.Store.GetUser(ctx, s.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return Outcome{}, errNoResume
	} else if err != nil {
		return Outcome{}, err
	}
	switch {
	case !u.MaySignIn(now),
		Prompted(r, "login"),
		// max_age=0 is prompt=login (OIDC Core errata); a session
		// authenticated "in the future" (clock skew) proves nothing.
		r.MaxAge != nil && (*r.MaxAge == 0 || now.Sub(s.AuthTime) > time.Duration(*r.MaxAge)*time.Second),
		s.AuthTime.After(now),
		!now.Before(s.ExpiresAt), !s.IdleExpiresAt.IsZero() && !now.Before(s.IdleExpiresAt),
		r.SubjectHint != "" && r.SubjectHint != u.ID:
		return Outcome{}, errNoResume
	}
	out, err := f.advance(ctx, r, b, p, StepLogin, func(r *storage.AuthRequest) {
		r.UserID, r.OrgID, r.SessionID = u.ID, u.OrgID, s.Hash
		r.AuthTime, r.AMR = s.AuthTime, slices.Clone(s.AMR)
	})
	if err != nil {
		return Outcome{}, err
	}
	// Activity on the session; a failure leaves the login standing (a
	// session that ended meanwhile fails at Complete, which checks it).
	_, _ = f.Sessions.Touch(ctx, s)
	return out, nil
}
