package password

import (
	"context"
	"log/slog"
	"unicode/utf8"
)

// Breacher answers whether a password (in its NFKC form, the one that is
// hashed) appeared in a known breach. An error
// means the answer is unknown (the service is down, slow or answered
// nonsense); the Checker then accepts the password and logs it. The pwned
// package implements it against Have I Been Pwned.
type Breacher interface {
	Breached(ctx context.Context, pw string) (bool, error)
}

// Checker judges a new password against a Policy: length, the embedded
// common-password list and, when the policy asks, the breach service. The
// zero value works: no breach service, slog's default logger.
type Checker struct {
	// Breach is asked when a policy has BreachCheck; nil means no breach
	// service is configured, and such a policy is logged and skipped.
	Breach Breacher
	Logger *slog.Logger
}

// NewChecker returns a Checker using breach (nil: none) and logger (nil:
// slog.Default()). It loads the common-password list now, so that a
// broken build fails at start rather than at the first password change.
func NewChecker(breach Breacher, logger *slog.Logger) (*Checker, error) {
	if _, err := blocklist(); err != nil {
		return nil, err
	}
	return &Checker{Breach: breach, Logger: logger}, nil
}

// Check returns nil when pw meets p, or a *PolicyError naming the first
// rule it fails, in this order: invalid UTF-8, too short, too long,
// common, breached. The breach service is asked last, and only when every
// offline rule passed. When it cannot answer, Check fails open: it returns
// nil and logs a warning, since refusing every password while a
// third-party service is down would lock people out of changing theirs.
// Any other error (the embedded list unreadable) is not a *PolicyError,
// and callers treat it as an internal error.
func (c *Checker) Check(ctx context.Context, p Policy, pw string) error {
	if c == nil {
		c = &Checker{}
	}
	if !utf8.ValidString(pw) {
		return &PolicyError{Rule: RuleInvalid, Message: "The password contains characters that are not valid text."}
	}
	n := Normalize(pw)
	if err := p.checkLength(utf8.RuneCountInString(n)); err != nil {
		return err
	}
	set, err := blocklist()
	if err != nil {
		return err
	}
	if _, common := set[blockKey(n)]; common {
		return &PolicyError{Rule: RuleCommon,
			Message: "This password is one of the most commonly used passwords, so it is among the first an attacker tries. Choose a different one."}
	}
	if !p.BreachCheck {
		return nil
	}
	if c.Breach == nil {
		c.logger().WarnContext(ctx, "password: the policy asks for a breached-password check but no breach service is configured; the password was accepted without it")
		return nil
	}
	breached, err := c.Breach.Breached(ctx, n)
	if err != nil {
		// err never holds the password or its hash prefix (see pwned).
		c.logger().WarnContext(ctx, "password: breached-password check failed; the password was accepted without it",
			"err", err)
		return nil
	}
	if breached {
		return &PolicyError{Rule: RuleBreached,
			Message: "This password has appeared in a data breach (according to Have I Been Pwned), so attackers try it. Choose a different one."}
	}
	return nil
}

func (c *Checker) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}
