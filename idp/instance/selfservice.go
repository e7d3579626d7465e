package instance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/lockout"
	"github.com/gatehouse-idp/gatehouse/idp/notify"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// passwordRules applies an organization's password policy to a new
// password: the one implementation behind the reset and invite pages,
// /me/password and the expired-password step of the login.
type passwordRules struct {
	policies *password.Policies
	checker  *password.Checker
	now      func() time.Time
}

// Check refuses pw as u's new password. The minimum age comes first: a
// user told "changed too recently" should not have been made to invent a
// password that meets every other rule.
func (p passwordRules) Check(ctx context.Context, u storage.User, pw string, selfService bool) error {
	pol, err := p.policies.For(ctx, u.OrgID)
	if err != nil {
		return fmt.Errorf("password policy: %w", err)
	}
	if selfService {
		if err := pol.TooSoon(u.PasswordChangedAt, p.now()); err != nil {
			return err
		}
	}
	return p.checker.Check(ctx, pol, pw)
}

// Expired: u's password is older than the policy's maximum age.
func (p passwordRules) Expired(ctx context.Context, u storage.User) (bool, error) {
	pol, err := p.policies.For(ctx, u.OrgID)
	if err != nil {
		return false, fmt.Errorf("password policy: %w", err)
	}
	return pol.Expired(u.PasswordChangedAt, p.now()), nil
}

// MinLength is the policy's minimum for u, for the forms' hint.
func (p passwordRules) MinLength(ctx context.Context, u storage.User) int {
	pol, err := p.policies.For(ctx, u.OrgID)
	if err != nil {
		return password.MinLengthFloor
	}
	return pol.MinimumLength()
}

// guard puts idp/lockout behind selfservice.Guard: the current-password
// check of /me/password counts toward the same lockout as a login.
type guard struct{ l *lockout.Limiter }

func (g guard) Unlock(ctx context.Context, userID string) error { return g.l.Unlock(ctx, userID) }

func (g guard) Reserve(ctx context.Context, userID, ip string) (selfservice.Attempt, error) {
	a, err := g.l.Reserve(ctx, userID, ip)
	if errors.Is(err, lockout.ErrLocked) || errors.Is(err, lockout.ErrThrottled) {
		return nil, fmt.Errorf("%w: %w", selfservice.ErrAttemptRefused, err)
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// AnswerFloor is the least time a request for a link takes, for every
// address alike: above a send to a mail server that answers promptly, so
// the timing of the answer does not tell whether the address has an
// account.
const AnswerFloor = 750 * time.Millisecond

func (i *Instance) newSelfService(floor time.Duration) *selfservice.Service {
	if floor <= 0 {
		floor = AnswerFloor
	}
	c := i.Config
	window := func(limit int) *lockout.Window {
		return &lockout.Window{Store: i.Store, Limit: limit, Window: c.Reset.LimitWindow, Now: i.Now}
	}
	return &selfservice.Service{Store: i.Store, Hasher: i.Hasher, Rules: i.rules, Mail: mailer{n: i.Mail, t: i.Templates, issuer: c.Issuer},
		Audit: i.Audit, Logger: i.Logger, Now: i.Now, Issuer: c.Issuer, ResetTTL: c.Reset.TTL, InviteTTL: c.Invite.TTL,
		AddressLimit: window(c.Reset.AddressLimit), IPLimit: window(c.Reset.IPLimit), Guard: guard{i.Lockout},
		AnswerFloor: floor}
}

// mailer renders idp/notify's templates and sends them.
type mailer struct {
	n      notify.Notifier
	t      *notify.Templates
	issuer string
}

func (m mailer) Mail(ctx context.Context, template, to string, d selfservice.MailData) error {
	msg, err := m.t.Message(template, to, notify.Data{Org: d.Org, User: d.User, Email: d.Email, Link: d.Link,
		Issuer: m.issuer, Expires: d.Expires, Change: d.Change, ChangedAt: d.At})
	if err != nil {
		return fmt.Errorf("render %s: %w", template, err)
	}
	return m.n.Send(ctx, msg)
}

// Probe checks the mail server as a send would, without sending; a
// notifier that cannot probe (the dev sink) always answers.
func (m mailer) Probe(ctx context.Context) error {
	if p, ok := m.n.(selfservice.Prober); ok {
		return p.Probe(ctx)
	}
	return nil
}
