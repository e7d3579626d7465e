package smscode

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/lockout"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/otpcode"
	"github.com/gatehouse-idp/gatehouse/idp/phone"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Sender texts one message to an E.164 number. An error is a failed send
// (the gateway is down, or refused the message); the method logs it and
// the user is offered another method.
//
// Over idp/notify's SMS sender the adapter is one function:
//
//	type NotifySender struct{ S *notify.SMSSender }
//	func (n NotifySender) SendSMS(ctx context.Context, to, text string) error {
//		_, err := n.S.SendSMS(ctx, to, text)
//		return err
//	}
type Sender interface {
	SendSMS(ctx context.Context, to, text string) error
}

// Limiter counts one event under key and reports whether it was within
// its limit (lockout.Window). An error is an outage.
type Limiter = otpcode.Limiter

// Sends are the caps on codes texted: per number (nobody's phone is
// flooded from a sign-in page), per account (an attacker with a password
// cannot spray numbers through one account), per client network (one
// client cannot cycle through accounts) and per organization (a ceiling on
// what one tenant's page can cost). All are required.
type Sends struct {
	Number, Account, Network, Org Limiter
}

// Default caps, per DefaultSendWindow.
const (
	DefaultNumberSends  = 5
	DefaultAccountSends = 10
	// DefaultNetworkSends is high because an office behind one address
	// signs in together in the morning.
	DefaultNetworkSends = 50
	DefaultOrgSends     = 500
	DefaultSendWindow   = time.Hour
)

// SendLimits configures Sends; a zero field takes its default.
type SendLimits struct {
	PerNumber, PerAccount, PerNetwork, PerOrg int
	Window                                    time.Duration
}

// Windows are the caps of l as sliding windows over st's attempt counters,
// shared by every instance on the database. now nil is time.Now.
func (l SendLimits) Windows(st storage.Attempts, now func() time.Time) Sends {
	w := otpcode.Windows(st, l.Window, DefaultSendWindow, now)
	return Sends{Number: w(l.PerNumber, DefaultNumberSends), Account: w(l.PerAccount, DefaultAccountSends),
		Network: w(l.PerNetwork, DefaultNetworkSends), Org: w(l.PerOrg, DefaultOrgSends)}
}

// Counter key prefixes, apart from the lockout's and emailcode's keys.
const (
	keyNumber  = "mfa-sms:number:"
	keyAccount = "mfa-sms:user:"
	keyOrg     = "mfa-sms:org:"
	keyNetwork = "mfa-sms:"
)

// allow counts one send to number for u under every cap and returns the
// name of the cap that refused it ("" when none did). Caps that are not
// configured fail closed: an uncapped send is what a pumping attack wants.
func (m *Method) allow(ctx context.Context, u storage.User, number string) (refused string, err error) {
	s := m.Sends
	if s.Number == nil || s.Account == nil || s.Network == nil || s.Org == nil {
		return "", errors.New("smscode: send caps are not configured")
	}
	caps := []otpcode.Cap{{Name: "number", Limiter: s.Number, Key: keyNumber + number},
		{Name: "account", Limiter: s.Account, Key: keyAccount + u.ID}}
	if m.ClientIP != nil {
		if ip := m.ClientIP(ctx); ip != "" {
			caps = append(caps, otpcode.Cap{Name: "network", Limiter: s.Network, Key: keyNetwork + lockout.NetworkKey(ip)})
		}
	}
	caps = append(caps, otpcode.Cap{Name: "org", Limiter: s.Org, Key: keyOrg + u.OrgID})
	refused, err = otpcode.Allow(ctx, caps)
	if err != nil {
		return "", fmt.Errorf("smscode: %w", err)
	}
	return refused, nil
}

// purpose is what a code is for, in the message.
type purpose string

const (
	purposeSignIn purpose = "sign-in code"
	purposeEnrol  purpose = "code to add this phone number"
)

// auditName is p in an audit.SMSNotSent.
func (p purpose) auditName() string {
	if p == purposeEnrol {
		return "enrol"
	}
	return "sign_in"
}

// notSent records a text to f that was not sent, and why.
func (m *Method) notSent(ctx context.Context, t authflow.Turn, f storage.Factor, p purpose, reason, refusedBy string) {
	if m.Audit == nil {
		return
	}
	d := map[string]string{"reason": reason, "purpose": p.auditName(), "number": phone.Mask(f.Address), "factor_id": f.ID}
	if refusedBy != "" {
		d["cap"] = refusedBy
	}
	if err := m.Audit.Record(ctx, storage.AuditEvent{Type: audit.SMSNotSent, OrgID: t.User.OrgID, UserID: t.User.ID, Details: d}); err != nil {
		// The refusal stands; only its record is lost, which the log says.
		m.logger().WarnContext(ctx, "smscode: recording a text not sent failed", "reason", reason, "err", err)
	}
}

// challenge shows the step for one of factors: the code this login was
// already sent for one of them, unless t.Resend, or a new one.
func (m *Method) challenge(ctx context.Context, t authflow.Turn, factors []storage.Factor, p purpose) (authflow.View, []byte, error) {
	if len(factors) == 0 {
		return authflow.View{}, nil, ErrNoFactor
	}
	f, st, keep := otpcode.Shown(t.State, factors, t.Resend)
	if keep {
		return authflow.View{Address: maskNumber(f.Address), Notice: words.Notice(st, m.now())}, t.State, nil
	}
	return m.send(ctx, t, f, p)
}

// send texts a new code to f and returns the state that holds it, which
// replaces (voids) any earlier code of this login. To a country no longer
// allowed, or over a cap, it sends nothing and keeps t.State (an earlier
// code still works); the page says why in View.Notice, and the log
// names the cause.
func (m *Method) send(ctx context.Context, t authflow.Turn, f storage.Factor, p purpose) (authflow.View, []byte, error) {
	v := authflow.View{Address: maskNumber(f.Address)}
	log := m.logger().With("user_id", t.User.ID, "factor_id", f.ID, "auth_request_id", t.Request.ID)
	if !m.countryAllowed(f.Address) {
		log.WarnContext(ctx, "smscode: code not sent: the number's country is not allowed")
		m.notSent(ctx, t, f, p, ReasonCountryRefused, "")
		v.Notice = ErrCountry
		return v, t.State, nil
	}
	refused, err := m.allow(ctx, t.User, f.Address)
	if err != nil {
		return authflow.View{}, nil, err
	}
	if refused != "" {
		log.WarnContext(ctx, "smscode: code not sent: send cap reached", "cap", refused)
		m.notSent(ctx, t, f, p, ReasonCapReached, refused)
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
	if err := m.Sender.SendSMS(ctx, f.Address, m.text(ctx, t.User, p, code, ttl)); err != nil {
		log.ErrorContext(ctx, "smscode: sending a code failed", "err", err)
		m.notSent(ctx, t, f, p, ReasonSendFailed, "")
		// authflow.ErrNotSent: the flow shows the step with a notice (our
		// words, ErrSendFailed) and the user's other methods, rather than
		// an error page.
		return authflow.View{}, nil, &authflow.Unsent{Show: ErrSendFailed, Err: fmt.Errorf("smscode: %w", err)}
	}
	v.Sent = true
	return v, b, nil
}

// maxOrgName bounds the organization's name in a message, which should
// fit in one SMS.
const maxOrgName = 40

// text is the message for code: the organization, the purpose and the
// code's life, then the origin-bound line
//
//	@id.example.com #123456
//
// (the WebOTP format: the last line, "@" and the issuer's host, a space,
// "#" and the code), which a phone offers to that site only.
func (m *Method) text(ctx context.Context, u storage.User, p purpose, code string, ttl time.Duration) string {
	org := ""
	if m.OrgName != nil {
		org = m.OrgName(ctx, u)
	}
	org = oneLine(org, maxOrgName)
	if org == "" {
		org = "Gatehouse"
	}
	msg := fmt.Sprintf("Your %s %s is %s. It expires in %s. Do not share it.", org, p, code, inWords(ttl))
	if host := originHost(m.Issuer); host != "" {
		msg += "\n\n@" + host + " #" + code
	}
	return msg
}

// oneLine is s on one line (control characters and line breaks as
// spaces, runs of space as one) and at most max runes: an organization's
// name cannot add a line to the message.
func oneLine(s string, max int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if r := []rune(s); len(r) > max {
		s = strings.TrimSpace(string(r[:max]))
	}
	return s
}

// inWords is d as the message says it: whole minutes, else seconds.
func inWords(d time.Duration) string {
	n, unit := int64(d/time.Second), "second"
	if d%time.Minute == 0 {
		n, unit = int64(d/time.Minute), "minute"
	}
	if n != 1 {
		unit += "s"
	}
	return strconv.FormatInt(n, 10) + " " + unit
}

// originHost is the host of issuer's origin for the WebOTP line, with its
// port when that is not the scheme's default; "" when issuer is no
// absolute http(s) URL.
func originHost(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return ""
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" || (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		return host
	}
	return host + ":" + port
}
