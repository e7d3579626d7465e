package emailcode

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/lockout"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/otpcode"
	"github.com/gatehouse-idp/gatehouse/idp/notify"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Mailer renders one of notify's templates for an address and sends it.
type Mailer interface {
	Mail(ctx context.Context, template, to string, d notify.Data) error
}

// NotifyMailer is the Mailer over idp/notify.
type NotifyMailer struct {
	Notifier  notify.Notifier
	Templates *notify.Templates
}

var _ Mailer = NotifyMailer{}

// Mail renders template for to and sends it.
func (n NotifyMailer) Mail(ctx context.Context, template, to string, d notify.Data) error {
	msg, err := n.Templates.Message(template, to, d)
	if err != nil {
		return fmt.Errorf("emailcode: render %s: %w", template, err)
	}
	return n.Notifier.Send(ctx, msg)
}

// Limiter counts one event under key and reports whether it was within
// its limit (lockout.Window). An error is an outage.
type Limiter = otpcode.Limiter

// Sends are the caps on codes sent: per address (nobody's mailbox is
// flooded from a sign-in page), per account (an attacker with a password
// cannot spray every address a user has) and, optionally, per client
// network (one client cannot cycle through accounts).
type Sends struct {
	Address, Account Limiter
	// Network is counted only when Method.ClientIP names the client; nil:
	// no network cap.
	Network Limiter
}

// Default caps, per DefaultSendWindow.
const (
	DefaultAddressSends = 5
	DefaultAccountSends = 10
	// DefaultNetworkSends is high because an office behind one address
	// signs in together in the morning.
	DefaultNetworkSends = 50
	DefaultSendWindow   = time.Hour
)

// SendLimits configures Sends; a zero field takes its default.
type SendLimits struct {
	PerAddress, PerAccount, PerNetwork int
	Window                             time.Duration
}

// Windows are the caps of l as sliding windows over st's attempt counters,
// shared by every instance on the database. now nil is time.Now.
func (l SendLimits) Windows(st storage.Attempts, now func() time.Time) Sends {
	w := otpcode.Windows(st, l.Window, DefaultSendWindow, now)
	return Sends{Address: w(l.PerAddress, DefaultAddressSends), Account: w(l.PerAccount, DefaultAccountSends),
		Network: w(l.PerNetwork, DefaultNetworkSends)}
}

// Counter key prefixes, apart from the lockout's own keys.
const (
	keyAddress = "mfa-email:address:"
	keyAccount = "mfa-email:user:"
	keyNetwork = "mfa-email:"
)

// allow counts one send to addr for userID under every cap and returns the
// name of the cap that refused it ("" when none did). Caps that are not
// configured fail closed: an uncapped send is what a pumping attack wants.
func (m *Method) allow(ctx context.Context, userID, addr string) (refused string, err error) {
	s := m.Sends
	if s.Address == nil || s.Account == nil {
		return "", errors.New("emailcode: send caps are not configured")
	}
	caps := []otpcode.Cap{{Name: "address", Limiter: s.Address, Key: keyAddress + storage.NormalizeEmail(addr)},
		{Name: "account", Limiter: s.Account, Key: keyAccount + userID}}
	if s.Network != nil && m.ClientIP != nil {
		if ip := m.ClientIP(ctx); ip != "" {
			caps = append(caps, otpcode.Cap{Name: "network", Limiter: s.Network, Key: keyNetwork + lockout.NetworkKey(ip)})
		}
	}
	refused, err = otpcode.Allow(ctx, caps)
	if err != nil {
		return "", fmt.Errorf("emailcode: %w", err)
	}
	return refused, nil
}

// challenge shows the step for one of factors: the code this login was
// already sent for one of them, unless t.Resend, or a new one.
func (m *Method) challenge(ctx context.Context, t authflow.Turn, factors []storage.Factor) (authflow.View, []byte, error) {
	if len(factors) == 0 {
		return authflow.View{}, nil, ErrNoFactor
	}
	f, st, keep := otpcode.Shown(t.State, factors, t.Resend)
	if keep {
		return authflow.View{Address: mfa.MaskAddress(f.Address), Notice: words.Notice(st, m.now())}, t.State, nil
	}
	return m.send(ctx, t, f)
}

// send mails a new code to f and returns the state that holds it, which
// replaces (voids) any earlier code of this login. Over a cap it sends
// nothing and keeps t.State: an earlier code still works.
func (m *Method) send(ctx context.Context, t authflow.Turn, f storage.Factor) (authflow.View, []byte, error) {
	v := authflow.View{Address: mfa.MaskAddress(f.Address)}
	refused, err := m.allow(ctx, t.User.ID, f.Address)
	if err != nil {
		return authflow.View{}, nil, err
	}
	if refused != "" {
		m.logger().WarnContext(ctx, "emailcode: code not sent: send cap reached", "cap", refused,
			"user_id", t.User.ID, "factor_id", f.ID, "auth_request_id", t.Request.ID)
		v.Notice = ErrTooManySends
		return v, t.State, nil
	}
	code, err := otpcode.New(m.rand())
	if err != nil {
		return authflow.View{}, nil, err
	}
	now, ttl := m.now(), m.ttl()
	b, err := otpcode.NewState(f.ID, m.code().Hash(t.Request.ID, f.ID, code), now, ttl).Encode()
	if err != nil {
		return authflow.View{}, nil, err
	}
	d := notify.Data{Org: m.orgName(ctx, t.User), User: t.User.Name, Email: f.Address, Issuer: m.Issuer, Expires: ttl, Code: code}
	if err := m.Mailer.Mail(ctx, notify.TemplateMFACode, f.Address, d); err != nil {
		m.logger().ErrorContext(ctx, "emailcode: sending a code failed", "user_id", t.User.ID, "factor_id", f.ID, "err", err)
		// authflow.ErrNotSent: the flow shows the step with a notice and
		// the user's other methods, rather than an error page.
		return authflow.View{}, nil, fmt.Errorf("%w: %w: %w", ErrSendFailed, authflow.ErrNotSent, err)
	}
	v.Sent = true
	return v, b, nil
}
