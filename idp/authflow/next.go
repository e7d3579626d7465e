package authflow

import (
	"context"
	"errors"
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
	// Choose: the user picks the second factor to enrol among
	// Outcome.Choices (and may skip when Outcome.CanSkip).
	Choose
	// Enrol: show Outcome.Method's enrolment page (Outcome.View).
	Enrol
	// Notice: show the page Outcome.Notice names (recovery codes after an
	// enrolment, a recovery code used), with Finish.
	Notice
	// Federate: send the browser to the upstream identity provider
	// (Outcome.Upstream), setting its binding cookie first.
	Federate
	// LinkAccount: an upstream identity matched the local account
	// Outcome.Account; the person proves it with Outcome.Method (the
	// password; empty when the account has none) before the link is
	// made, or starts again (Restart).
	LinkAccount
	// NoAccount: the upstream identity matches no account here and none
	// may be made; Outcome.Account is the email the upstream gave, for
	// the person who just signed in with it.
	NoAccount
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
	case Choose:
		return "choose"
	case Enrol:
		return "enrol"
	case Notice:
		return "notice"
	case Federate:
		return "federate"
	case LinkAccount:
		return "link_account"
	case NoAccount:
		return "no_account"
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

	// View is what a second factor's page shows (Challenge at mfa, Enrol).
	View *View
	// Methods are the second factors the user may answer with at mfa, in
	// the order offered (Method among them): "use another method".
	Methods []string
	// Choices are the methods the user may enrol (Choose, Enrol), and
	// CanSkip whether "Skip for now" is offered.
	Choices []Choice
	CanSkip bool
	// Notice names the page of a Notice (NoticeEnrolled,
	// NoticeRecovery); Remaining counts recovery codes left.
	Notice    string
	Remaining int
	// Codes are new recovery codes, shown once: only in the outcome of
	// the enrolment that issued them, never again; Account is the email
	// of the user they are for.
	Codes   []string
	Account string
	// Passkey is what the login step's page needs to offer passkey
	// sign-in (View.Data: the options for navigator.credentials.get),
	// nil when it is not offered. The page posts the result as method
	// Passkeys.PasskeyName().
	Passkey *View
	// Upstream is where to send the browser (Federate), or the connector
	// the outcome is about (LinkAccount, NoAccount). At LinkAccount, View
	// is set when a code was sent to prove the account: its form.
	Upstream *UpstreamStart
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
	case StepUpstream:
		// The browser came back here instead of from the upstream: the
		// person gave up on it, and may sign in another way. The callback
		// that was awaited is void.
		return f.Restart(ctx, id, b)
	case StepNewPassword, StepMFA, StepEnrol, StepNotice, StepLink:
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
		return f.offerPasskey(ctx, out)
	case StepOf(r) == StepLink:
		return f.linkView(ctx, r, p)
	case StepOf(r) == StepNewPassword:
		out.Action = NoMethod
		if m := f.methodsFor(StepNewPassword); len(m) > 0 {
			out.Action, out.Method = Challenge, m[0]
		}
	default:
		return f.secondView(ctx, r, p, false)
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
	var up *storage.UpstreamLogin
	if s.ConnectorID != "" {
		// A federated login's session stands on its link: once the link
		// is removed or its connector disabled, the person signs in
		// again.
		alive, err := f.linkAlive(ctx, s.ConnectorID, s.UpstreamSubject, u.ID)
		if err != nil {
			return Outcome{}, err
		}
		if !alive {
			return Outcome{}, errNoResume
		}
		up = &storage.UpstreamLogin{ConnectorID: s.ConnectorID, Subject: s.UpstreamSubject, Linked: true}
	}
	out, err := f.advance(ctx, r, b, p, StepLogin, func(r *storage.AuthRequest) {
		r.UserID, r.OrgID, r.SessionID = u.ID, u.OrgID, s.Hash
		r.AuthTime, r.AMR, r.Upstream = s.AuthTime, slices.Clone(s.AMR), up
	}, u)
	if err != nil {
		return Outcome{}, err
	}
	// Activity on the session; a failure leaves the login standing (a
	// session that ended meanwhile fails at Complete, which checks it).
	_, _ = f.Sessions.Touch(ctx, s)
	return out, nil
}
