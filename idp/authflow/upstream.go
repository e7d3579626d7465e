package authflow

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Federation: organizations' upstream identity providers as back doors of
// the login step. A connector (federation/oidc, federation/saml) only
// proves an identity; this file decides everything that follows: which
// connector a person goes to (home-realm discovery), whether the callback
// belongs to this login and this browser, whether the identity is linked,
// may be linked now (federation.Decide), needs the local account proved
// first (StepLink) or makes a new account, and then the same lockout, MFA
// and completion as every other login (advance).

// Upstreams is what the flow needs of federation (federation.Registry).
type Upstreams interface {
	// Discover is the enabled connector for an email address or an
	// organization's name: federation.ErrNoConnector or
	// federation.ErrAmbiguous when there is none or no single one.
	Discover(ctx context.Context, input string) (storage.Connector, error)
	// Open is connector id's row, enabled or not, and its live
	// connector.
	Open(ctx context.Context, id string) (storage.Connector, federation.Connector, error)
}

// UpstreamStore is the storage federated logins need besides Store.
type UpstreamStore interface {
	GetUserByEmail(ctx context.Context, email string) (storage.User, error)
	CreateUser(ctx context.Context, u storage.User) error
	GetConnector(ctx context.Context, id string) (storage.Connector, error)
	GetLink(ctx context.Context, connectorID, subject string) (storage.Link, error)
	CreateLink(ctx context.Context, l storage.Link) error
	UpdateLink(ctx context.Context, connectorID, subject string, fn func(storage.Link) (storage.Link, error)) (storage.Link, error)
}

// Federation lets organizations' upstream identity providers sign their
// users in.
type Federation struct {
	Upstreams Upstreams
	Store     UpstreamStore
	// Address, when set, offers a code sent to the account's address as
	// the proof of a local account before a link (linkcode.go).
	Address AddressProof
}

// Identifying is a first-factor method whose form names the account by an
// email address (the password form): the flow reads the address for
// home-realm discovery, so that a domain where single sign-on is required
// refuses the method before its secret is checked.
type Identifying interface {
	ClaimedEmail(in Input) string
}

// AMRFederated is the amr value of a login an upstream identity provider
// proved (as Microsoft's and others' "fed"; RFC 8176 has none).
const AMRFederated = "fed"

// MethodSSO names the "Sign in with SSO" form (an email or organization
// name) in outcomes; it is not a back door.
const MethodSSO = "sso"

// Errors a page shows for federated logins. None says whether an account
// exists: each is the same for every address of a domain.
var (
	// ErrSSORequired: the email's domain must sign in with its
	// organization's identity provider.
	ErrSSORequired = errors.New("authflow: your organization requires single sign-on")
	// ErrPasswordNeeded: an email was given without a password, and no
	// single sign-on serves its domain.
	ErrPasswordNeeded = errors.New("authflow: enter your password")
	// ErrNoSSO: no single sign-on serves that address or organization.
	ErrNoSSO = errors.New("authflow: no single sign-on for that address or organization")
	// ErrSSOAmbiguous: the organization has several identity providers;
	// the email decides.
	ErrSSOAmbiguous = errors.New("authflow: several sign-in providers; enter your work email")
	// ErrUpstreamRefused: the upstream's answer proved nothing (it said
	// no, or a check failed); the login starts again.
	ErrUpstreamRefused = errors.New("authflow: the company sign-in did not complete")
	// ErrUpstreamUnavailable: the upstream cannot be reached now.
	ErrUpstreamUnavailable = errors.New("authflow: the company sign-in is unavailable")
	// ErrNotForThisBrowser: a callback came to a browser other than the
	// one that went to the upstream (login CSRF), or does not belong to
	// the login it names.
	ErrNotForThisBrowser = errors.New("authflow: this sign-in was started in another browser")
)

// Reasons in the audit log of refused federated steps.
const (
	ReasonSSORequired       = "sso_required"
	ReasonConnectorDisabled = "connector_disabled"
	ReasonNoAccount         = "upstream_no_account"
)

// UpstreamStart is where the page sends the browser (Federate).
type UpstreamStart struct {
	Connector string
	// Name is the connector's name, for the page ("Continue to …").
	Name string
	// URL is the redirect, or the target of Form when Form is not nil
	// (an auto-submitting page).
	URL  string
	Form map[string]string
	// Binding is the value of the cookie the page sets for the callback
	// to present: the upstream's answer is accepted only in the browser
	// that went there, so nobody can finish a login they started in
	// someone else's browser (login CSRF).
	Binding string
}

// upstreamState is the request's FlowData while it waits at StepUpstream.
type upstreamState struct {
	Connector string    `json:"connector"`
	Relay     string    `json:"relay"`   // HashSecret of the relay's secret
	Binding   string    `json:"binding"` // HashSecret of the binding cookie
	State     []byte    `json:"state,omitempty"`
	Since     time.Time `json:"since"`
}

// upstreamTTL bounds the wait for a callback: an upstream login that takes
// longer starts again.
const upstreamTTL = 15 * time.Minute

// RelayRequest is the auth request a relay (OIDC state, SAML RelayState)
// names, for the callback's page to find the login; "" when relay is not
// one of ours.
func RelayRequest(relay string) string {
	id, _, ok := strings.Cut(relay, ".")
	if !ok || id == "" {
		return ""
	}
	return id
}

// Identify is the login form submitted with an email and no password: a
// domain served by single sign-on goes to its upstream; any other gets
// the form again, asking for the password (ErrPasswordNeeded).
func (f *Flow) Identify(ctx context.Context, id string, b session.Browser, email string) (Outcome, error) {
	return f.discover(ctx, id, email, ErrPasswordNeeded)
}

// SSOForm is what the "Sign in with SSO" page shows for request id: the
// form (Challenge with Method MethodSSO) at the login step, or what the
// request needs instead (Next).
func (f *Flow) SSOForm(ctx context.Context, id string, b session.Browser) (Outcome, error) {
	r, err := f.Load(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	if StepOf(r) != StepLogin || f.Federation == nil {
		return f.Next(ctx, id, b)
	}
	p, err := f.party(ctx, r)
	if err != nil {
		return Outcome{}, err
	}
	if Prompted(r, "none") {
		return Outcome{Action: LoginRequired, Request: r, Party: p}, nil
	}
	return Outcome{Action: Challenge, Request: r, Party: p, Method: MethodSSO}, nil
}

// SSO is the "Sign in with SSO" form submitted with an email address or an
// organization's name: the upstream that serves it, or the form again
// with ErrNoSSO or ErrSSOAmbiguous.
func (f *Flow) SSO(ctx context.Context, id string, b session.Browser, input string) (Outcome, error) {
	return f.discover(ctx, id, input, nil)
}

// discover sends request id to the upstream serving input. Without one,
// fallback (non-nil) is the login form's failure; nil means the SSO form
// again.
func (f *Flow) discover(ctx context.Context, id, input string, fallback error) (Outcome, error) {
	r, err := f.Load(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	if StepOf(r) != StepLogin {
		return Outcome{}, ErrOutOfTurn
	}
	p, err := f.party(ctx, r)
	if err != nil {
		return Outcome{}, err
	}
	if Prompted(r, "none") {
		return Outcome{Action: LoginRequired, Request: r, Party: p}, nil
	}
	if f.Federation != nil {
		c, err := f.Federation.Upstreams.Discover(ctx, input)
		switch {
		case err == nil:
			return f.startUpstream(ctx, r, p, c)
		case errors.Is(err, federation.ErrAmbiguous) && fallback == nil:
			return Outcome{Action: Challenge, Request: r, Party: p, Method: MethodSSO, Failure: ErrSSOAmbiguous}, nil
		case errors.Is(err, federation.ErrNoConnector), errors.Is(err, federation.ErrAmbiguous):
		default:
			return Outcome{}, fmt.Errorf("authflow: discovery: %w", err)
		}
	}
	if fallback == nil {
		return Outcome{Action: Challenge, Request: r, Party: p, Method: MethodSSO, Failure: ErrNoSSO}, nil
	}
	out, err := f.view(ctx, r, p)
	out.Failure = fallback
	return out, err
}

// startUpstream begins a login at connector c and moves the request to
// StepUpstream, where it waits for the callback that this login, in this
// browser, alone may give.
func (f *Flow) startUpstream(ctx context.Context, r storage.AuthRequest, p Party, c storage.Connector) (Outcome, error) {
	_, conn, err := f.Federation.Upstreams.Open(ctx, c.ID)
	if err != nil {
		return Outcome{}, fmt.Errorf("%w: %w", ErrUpstreamUnavailable, err)
	}
	relaySecret, binding := storage.NewID(), storage.NewID()
	relay := r.ID + "." + relaySecret
	start, err := conn.Begin(ctx, relay)
	if err != nil {
		return Outcome{}, fmt.Errorf("%w: %w", ErrUpstreamUnavailable, err)
	}
	data, err := json.Marshal(upstreamState{Connector: c.ID, Relay: storage.HashSecret(relaySecret),
		Binding: storage.HashSecret(binding), State: start.State, Since: f.Now()})
	if err != nil {
		return Outcome{}, fmt.Errorf("authflow: upstream state: %w", err)
	}
	next, err := f.update(ctx, r.ID, StepLogin, func(r *storage.AuthRequest) error {
		r.Step, r.FlowData = StepUpstream.name, data
		return nil
	})
	if err != nil {
		return Outcome{}, err
	}
	name := c.Name
	if name == "" {
		name = c.ID
	}
	return Outcome{Action: Federate, Request: next, Party: p, Upstream: &UpstreamStart{
		Connector: c.ID, Name: name, URL: start.URL, Form: start.Form, Binding: binding}}, nil
}

// Callback is an upstream's answer to connector's login: relay is what it
// sent back (OIDC state, SAML RelayState), binding the cookie the browser
// presents, in the callback's query or form. The callback is spent before
// anything is checked, so a replay finds nothing to answer.
func (f *Flow) Callback(ctx context.Context, b session.Browser, connector, relay, binding string, in url.Values) (Outcome, error) {
	if f.Federation == nil {
		return Outcome{}, ErrRequestGone
	}
	id := RelayRequest(relay)
	if id == "" {
		return Outcome{}, ErrRequestGone
	}
	r, err := f.Load(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	if StepOf(r) != StepUpstream {
		return Outcome{}, ErrOutOfTurn
	}
	p, err := f.party(ctx, r)
	if err != nil {
		return Outcome{}, err
	}
	var st upstreamState
	if err := json.Unmarshal(r.FlowData, &st); err != nil {
		return Outcome{}, fmt.Errorf("authflow: upstream state: %w", err)
	}
	_, secret, _ := strings.Cut(relay, ".")
	switch {
	case st.Connector != connector, !same(storage.HashSecret(secret), st.Relay):
		// Not this login's callback: leave the login waiting for its
		// own.
		f.record(ctx, audit.LoginFailed, r, storage.User{}, map[string]string{"reason": "upstream_relay", "connector": connector})
		return Outcome{}, ErrNotForThisBrowser
	case !same(storage.HashSecret(binding), st.Binding):
		f.record(ctx, audit.LoginFailed, r, storage.User{}, map[string]string{"reason": "upstream_binding", "connector": connector})
		return Outcome{}, ErrNotForThisBrowser
	}
	// Spend the callback: back to the login step, the upstream's state
	// gone. Of two concurrent callbacks one moves it; the other is out of
	// turn.
	r, err = f.update(ctx, r.ID, StepUpstream, func(r *storage.AuthRequest) error {
		r.Step, r.FlowData = StepLogin.name, nil
		return nil
	})
	if err != nil {
		return Outcome{}, err
	}
	if f.Now().Sub(st.Since) > upstreamTTL {
		return f.upstreamRefused(ctx, r, p, connector, "upstream_timeout", nil)
	}
	c, conn, err := f.Federation.Upstreams.Open(ctx, connector)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return f.upstreamRefused(ctx, r, p, connector, "connector_deleted", nil)
	case err != nil:
		return Outcome{}, fmt.Errorf("%w: %w", ErrUpstreamUnavailable, err)
	case !c.Enabled:
		return f.upstreamRefused(ctx, r, p, connector, ReasonConnectorDisabled, nil)
	}
	ident, err := conn.Finish(ctx, st.State, in)
	var refusal *federation.Refusal
	switch {
	case errors.As(err, &refusal):
		return f.upstreamRefused(ctx, r, p, connector, "upstream_"+refusal.Reason, refusal)
	case err != nil:
		return Outcome{}, fmt.Errorf("%w: %w", ErrUpstreamUnavailable, err)
	case ident.Subject == "" || !storage.Storable(ident.Subject) || !storage.Storable(ident.Email):
		return f.upstreamRefused(ctx, r, p, connector, "upstream_no_subject", nil)
	}
	return f.federated(ctx, r, b, p, c, ident)
}

// federated decides what the upstream identity ident of connector c
// becomes: the user its link names, a link made now, a proof of the local
// account first, a new account, or nothing.
func (f *Flow) federated(ctx context.Context, r storage.AuthRequest, b session.Browser, p Party, c storage.Connector, ident federation.Identity) (Outcome, error) {
	fs := f.Federation.Store
	up := &storage.UpstreamLogin{ConnectorID: c.ID, Subject: ident.Subject, Email: storage.NormalizeEmail(ident.Email),
		EmailVerified: ident.EmailVerified, Name: ident.Name, Groups: federation.Groups(c, ident),
		AMR: ident.AMR, ACR: ident.ACR}
	amr := []string{AMRFederated}
	if c.TrustMFA && federation.UpstreamMFA(c, ident) {
		// The organization trusts this upstream's second factor, and it
		// said it did one: that is the login's MFA.
		amr = append(amr, AMRMFA)
	}
	proof := Proof{AMR: amr, Event: audit.LoginUpstream, Upstream: up}

	link, err := fs.GetLink(ctx, c.ID, ident.Subject)
	if err == nil {
		// A returning identity: its link decides the user, whatever
		// email it brings now.
		up.Linked = true
		proof.UserID = link.UserID
		return f.acceptUpstream(ctx, r, b, p, c, proof, nil)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return Outcome{}, fmt.Errorf("authflow: load link: %w", err)
	}

	var local *storage.User
	if up.Email != "" {
		u, err := fs.GetUserByEmail(ctx, up.Email)
		if err == nil {
			local = &u
		} else if !errors.Is(err, storage.ErrNotFound) {
			return Outcome{}, fmt.Errorf("authflow: load user: %w", err)
		}
	}
	decision, why := federation.Decide(c, ident, local)
	up.LinkHow = decision.String()
	details := map[string]string{"connector": c.ID, "decision": decision.String(), "why": why}
	switch decision {
	case federation.AutoLink:
		proof.UserID = local.ID
		var activate func(context.Context) error
		if local.State == storage.UserInvited {
			// An invited account that never set a password, vouched for
			// by its organization's trusted upstream: activated, never a
			// dead end.
			activate = func(ctx context.Context) error {
				_, err := f.Store.UpdateUser(ctx, local.ID, func(u storage.User) (storage.User, error) {
					if u.State == storage.UserInvited {
						u.State, u.EmailVerified = storage.UserActive, true
					}
					return u, nil
				})
				return err
			}
		}
		return f.acceptUpstream(ctx, r, b, p, c, proof, activate)
	case federation.Provision:
		nu := storage.User{ID: storage.NewID(), OrgID: c.OrgID, Email: up.Email,
			EmailVerified: ident.EmailVerified && c.TrustEmail, Name: ident.Name, State: storage.UserActive,
			CreatedAt: f.Now(), UpdatedAt: f.Now()}
		proof.UserID = nu.ID
		return f.acceptUpstream(ctx, r, b, p, c, proof, func(ctx context.Context) error {
			if err := fs.CreateUser(ctx, nu); err != nil {
				return fmt.Errorf("authflow: provision: %w", err)
			}
			f.record(ctx, audit.UserProvisioned, r, nu, map[string]string{"connector": c.ID})
			return nil
		})
	case federation.Prove:
		f.record(ctx, audit.LoginFailed, r, *local, map[string]string{"reason": "upstream_link_needs_proof", "connector": c.ID, "why": why})
		next, err := f.update(ctx, r.ID, StepLogin, func(r *storage.AuthRequest) error {
			r.Step, r.UserID, r.OrgID, r.Upstream, r.FlowData = StepLink.name, local.ID, local.OrgID, up, nil
			return nil
		})
		if err != nil {
			return Outcome{}, err
		}
		return f.view(ctx, next, p)
	}
	u := storage.User{}
	if local != nil {
		u = *local
	}
	details["reason"] = ReasonNoAccount
	f.record(ctx, audit.LoginFailed, r, u, details)
	// The address is shown only to the person who just signed in
	// upstream with it.
	return Outcome{Action: NoAccount, Request: r, Party: p, Account: up.Email, Upstream: &UpstreamStart{Connector: c.ID, Name: c.Name}}, nil
}

// acceptUpstream accepts an upstream proof as the login's first factor,
// in one transaction with before (an account provisioned or activated)
// and the link's refresh: the user must be one who may sign in, then the
// flow goes on as after any first factor (MFA unless the upstream's
// counts, then done, where the link is made).
func (f *Flow) acceptUpstream(ctx context.Context, r storage.AuthRequest, b session.Browser, p Party, c storage.Connector, proof Proof, before func(context.Context) error) (Outcome, error) {
	var out Outcome
	err := storage.Atomically(ctx, f.Store, func(ctx context.Context) error {
		if before != nil {
			if err := before(ctx); err != nil {
				return err
			}
		}
		u, err := f.proved(ctx, r, proof)
		if err != nil {
			return err
		}
		if u.OrgID != c.OrgID {
			// A link made before the user moved organization: a
			// connector speaks for its own organization only.
			return &Failure{User: u, Reason: "upstream_other_org"}
		}
		if proof.Upstream.Linked {
			now := f.Now()
			if _, err := f.Federation.Store.UpdateLink(ctx, c.ID, proof.Upstream.Subject, func(l storage.Link) (storage.Link, error) {
				l.Email, l.Groups, l.LastLoginAt = proof.Upstream.Email, proof.Upstream.Groups, now
				return l, nil
			}); err != nil {
				return fmt.Errorf("authflow: refresh link: %w", err)
			}
		}
		out, _, err = f.accept(ctx, r, b, p, "connector:"+c.ID, proof, u)
		return err
	})
	var fail *Failure
	if errors.As(err, &fail) {
		f.record(ctx, audit.LoginFailed, r, fail.User, map[string]string{"reason": fail.Reason, "connector": c.ID, "step": r.Step})
		view, verr := f.view(ctx, r, p)
		view.Failure = ErrUpstreamRefused
		return view, verr
	}
	if err != nil {
		return Outcome{}, err
	}
	return out, nil
}

// upstreamRefused answers a callback that proved nothing: the login form
// again (the request is back at the login step), with ErrUpstreamRefused.
func (f *Flow) upstreamRefused(ctx context.Context, r storage.AuthRequest, p Party, connector, reason string, cause error) (Outcome, error) {
	d := map[string]string{"reason": reason, "connector": connector}
	if cause != nil {
		d["detail"] = cause.Error()
	}
	f.record(ctx, audit.LoginFailed, r, storage.User{}, d)
	out, err := f.view(ctx, r, p)
	out.Failure = ErrUpstreamRefused
	return out, err
}

// ssoRequired reports the connector that requires single sign-on for
// email's domain, if any.
func (f *Flow) ssoRequired(ctx context.Context, email string) (bool, error) {
	if f.Federation == nil {
		return false, nil
	}
	c, err := f.Federation.Upstreams.Discover(ctx, email)
	switch {
	case errors.Is(err, federation.ErrNoConnector), errors.Is(err, federation.ErrAmbiguous):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("authflow: discovery: %w", err)
	}
	return c.RequireSSO && strings.Contains(email, "@"), nil
}

// ssoFirst refuses a first-factor method whose form names an address of a
// domain that must use single sign-on, before its secret is checked or
// counted.
func (f *Flow) ssoFirst(ctx context.Context, m Method, in Input) error {
	id, ok := m.(Identifying)
	if !ok {
		return nil
	}
	email := id.ClaimedEmail(in)
	if !strings.Contains(email, "@") {
		return nil
	}
	req, err := f.ssoRequired(ctx, email)
	if err != nil {
		return err
	}
	if req {
		return &Failure{Reason: ReasonSSORequired, Show: ErrSSORequired}
	}
	return nil
}

// linkOnDone makes the link a login's upstream identity waits for, once
// the login is done (its local account proved, its second factor given):
// a link made before that would let whoever knows only a password tie
// their upstream identity to the account. It reports the request's
// upstream as linked.
func (f *Flow) linkOnDone(ctx context.Context, r storage.AuthRequest) (*storage.UpstreamLogin, error) {
	up := *r.Upstream
	now := f.Now()
	err := f.Federation.Store.CreateLink(ctx, storage.Link{ConnectorID: up.ConnectorID, Subject: up.Subject,
		UserID: r.UserID, Email: up.Email, Groups: up.Groups, CreatedAt: now, LastLoginAt: now})
	if errors.Is(err, storage.ErrConflict) {
		// The identity was linked meanwhile (another login of it, or the
		// connector went away): the login stands on nothing.
		return nil, ErrUpstreamRefused
	} else if err != nil {
		return nil, fmt.Errorf("authflow: create link: %w", err)
	}
	f.record(ctx, audit.LinkCreated, r, storage.User{ID: r.UserID, OrgID: r.OrgID},
		map[string]string{"connector": up.ConnectorID, "subject": up.Subject, "how": up.LinkHow})
	up.Linked = true
	return &up, nil
}

// linkView is what StepLink shows: the proof of the local account the
// upstream identity's email matched, with the methods that may give it.
func (f *Flow) linkView(ctx context.Context, r storage.AuthRequest, p Party) (Outcome, error) {
	u, err := f.Store.GetUser(ctx, r.UserID)
	if err != nil {
		return Outcome{}, fmt.Errorf("authflow: link: %w", err)
	}
	out := Outcome{Action: LinkAccount, Request: r, Party: p, Account: u.Email}
	if u.PasswordHash != "" {
		out.Method = f.firstFactor()
		out.Methods = []string{out.Method}
	}
	if f.Federation != nil && f.Federation.Address != nil {
		out.Methods = append(out.Methods, MethodLinkCode)
		if len(r.FlowData) > 0 {
			// A code was sent for this login: its form (View set).
			out.View = &View{Sent: true}
		}
	}
	if r.Upstream != nil {
		out.Upstream = &UpstreamStart{Connector: r.Upstream.ConnectorID}
	}
	return out, nil
}

// Restart abandons what a login at the upstream or link step waits for (a
// callback, a proof of the local account) and shows the login form again.
func (f *Flow) Restart(ctx context.Context, id string, b session.Browser) (Outcome, error) {
	r, err := f.Load(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	from := StepOf(r)
	if from != StepUpstream && from != StepLink {
		return f.Next(ctx, id, b)
	}
	if _, err := f.update(ctx, id, from, func(r *storage.AuthRequest) error {
		r.Step, r.FlowData, r.Upstream, r.UserID, r.OrgID = StepLogin.name, nil, nil, "", ""
		return nil
	}); err != nil {
		return Outcome{}, err
	}
	return f.Next(ctx, id, b)
}

func same(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// upstreamAMR is the amr of a proof of the local account at StepLink: the
// login stands on the upstream identity and that proof.
func upstreamAMR(amr []string) []string {
	if slices.Contains(amr, AMRFederated) {
		return amr
	}
	return append([]string{AMRFederated}, amr...)
}

// linkAlive reports whether a session's link still holds: its connector
// exists and is enabled, and the identity is still linked to userID. A
// session of a federated login resumes only while it does.
func (f *Flow) linkAlive(ctx context.Context, connector, subject, userID string) (bool, error) {
	if f.Federation == nil {
		return false, nil
	}
	c, err := f.Federation.Store.GetConnector(ctx, connector)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("authflow: load connector: %w", err)
	}
	l, err := f.Federation.Store.GetLink(ctx, connector, subject)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("authflow: load link: %w", err)
	}
	return c.Enabled && l.UserID == userID, nil
}
