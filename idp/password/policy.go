package password

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Policy is the rule set a new password must meet, and how long it lives.
// The zero value is the floor: at least MinLengthFloor characters, not on
// the common-password list, no breach check, no expiry, no minimum age.
type Policy struct {
	// MinLength is in characters (runes, after NFKC). Below
	// MinLengthFloor (0 included) the floor applies.
	MinLength int
	// BreachCheck asks Have I Been Pwned whether the password appeared
	// in a breach (see Checker).
	BreachCheck bool
	// MaxAge > 0: a password older than this must be replaced at the
	// next login (Expired). 0: passwords do not expire.
	MaxAge time.Duration
	// MinAge > 0: a self-service change or reset within this time of
	// the last change is refused (TooSoon). 0: no minimum age.
	MinAge time.Duration
}

// Bounds of the settings. There is no composition rule and no maximum
// below MaxLength: long passphrases are what we want people to use.
const (
	// MinLengthFloor is the shortest minimum any policy may set (NIST SP
	// 800-63B's floor for memorised secrets).
	MinLengthFloor = 8
	// MaxLength bounds a password (in characters) so that a megabyte
	// "password" cannot be used to burn CPU. 1024 is far above any
	// passphrase a person or a password manager uses, so nothing real is
	// truncated or refused.
	MaxLength = 1024

	// MaxAge, when on, is between a day (shorter only trains people to
	// write passwords down) and ten years.
	MaxAgeLowest  = 24 * time.Hour
	MaxAgeHighest = 3650 * 24 * time.Hour
	// MinAge, when on, is between an hour and 30 days: it exists to stop
	// cycling through passwords back to a favourite one, and a longer
	// one leaves a user with a leaked password stuck.
	MinAgeLowest  = time.Hour
	MinAgeHighest = 30 * 24 * time.Hour
)

// Rules a password can fail, as PolicyError.Rule.
const (
	RuleInvalid  = "invalid"   // not valid UTF-8
	RuleTooShort = "too_short" // fewer than the minimum length
	RuleTooLong  = "too_long"  // more than MaxLength
	RuleCommon   = "common"    // on the embedded common-password list
	RuleBreached = "breached"  // Have I Been Pwned knows it
	RuleTooSoon  = "too_soon"  // changed within the minimum age
)

// PolicyError says which rule refused a password. Message is in plain
// words and safe to show to the person who typed it; Rule is for code
// (tests, metrics, a page that wants its own wording).
type PolicyError struct {
	Rule    string
	Message string
	// NotBefore is, for RuleTooSoon, when a change becomes possible.
	NotBefore time.Time
}

func (e *PolicyError) Error() string { return e.Message }

// MinimumLength is the minimum the policy enforces, in characters: MinLength,
// or MinLengthFloor when that is lower (or unset).
func (p Policy) MinimumLength() int { return max(p.MinLength, MinLengthFloor) }

// checkLength applies the rules that need no list and no network.
// n is the length of the normalised password in characters.
func (p Policy) checkLength(n int) error {
	switch {
	case n < p.MinimumLength():
		return &PolicyError{Rule: RuleTooShort,
			Message: fmt.Sprintf("The password is too short: it must be at least %d characters long.", p.MinimumLength())}
	case n > MaxLength:
		return &PolicyError{Rule: RuleTooLong,
			Message: fmt.Sprintf("The password is too long: it must be at most %d characters long.", MaxLength)}
	}
	return nil
}

// Expired reports whether a password set at changedAt must be replaced at
// now. An unknown change time (zero) counts as long ago: with a maximum
// age on, a password of unknown age is treated as too old.
func (p Policy) Expired(changedAt, now time.Time) bool {
	if p.MaxAge <= 0 {
		return false
	}
	return !now.Before(changedAt.Add(p.MaxAge))
}

// TooSoon refuses a self-service change or reset at now of a password last
// changed at changedAt, while the minimum age has not passed: a
// *PolicyError with RuleTooSoon that names when it becomes possible. A
// reset link an administrator sent overrides it: callers skip TooSoon
// then. An unknown change time (zero: never set) never blocks.
func (p Policy) TooSoon(changedAt, now time.Time) error {
	if p.MinAge <= 0 || changedAt.IsZero() {
		return nil
	}
	next := changedAt.Add(p.MinAge)
	if !now.Before(next) {
		return nil
	}
	// Rounded up so that the minute shown is never before the real one.
	shown := next.UTC().Add(time.Minute - time.Nanosecond).Truncate(time.Minute)
	return &PolicyError{Rule: RuleTooSoon, NotBefore: next,
		Message: fmt.Sprintf("The password was changed within the last %s, so it cannot be changed again yet. "+
			"It can be changed after %s.", span(p.MinAge), shown.Format("2006-01-02 15:04 MST"))}
}

// span says a duration in words: "24 hours", "3 days", "90 minutes".
func span(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.FormatInt(n, 10) + " " + one + "s"
	}
	const day = 24 * time.Hour
	switch {
	case d >= 2*day && d%day == 0:
		return unit(int64(d/day), "day")
	case d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	}
	return unit(int64((d+time.Minute-1)/time.Minute), "minute")
}

// SettingError is a policy setting out of range. Setting is its name as
// the config file and the admin API spell it ("min_length", "max_age").
type SettingError struct {
	Setting string
	Msg     string
}

func (e *SettingError) Error() string { return e.Setting + ": " + e.Msg }

// Validate reports every setting out of range, each a *SettingError,
// joined. The config file, the admin API and the CLI share these bounds.
func (p Policy) Validate() error {
	var errs []error
	bad := func(setting, format string, args ...any) {
		errs = append(errs, &SettingError{Setting: setting, Msg: fmt.Sprintf(format, args...)})
	}
	if p.MinLength < MinLengthFloor || p.MinLength > MaxLength {
		bad("min_length", "must be between %d and %d, got %d", MinLengthFloor, MaxLength, p.MinLength)
	}
	if p.MaxAge != 0 && (p.MaxAge < MaxAgeLowest || p.MaxAge > MaxAgeHighest) {
		bad("max_age", "must be 0 (passwords do not expire) or between %s and %s, got %s",
			FormatAge(MaxAgeLowest), FormatAge(MaxAgeHighest), FormatAge(p.MaxAge))
	}
	if p.MinAge != 0 && (p.MinAge < MinAgeLowest || p.MinAge > MinAgeHighest) {
		bad("min_age", "must be 0 (no minimum age) or between %s and %s, got %s",
			FormatAge(MinAgeLowest), FormatAge(MinAgeHighest), FormatAge(p.MinAge))
	}
	// With min_age ≥ max_age an expired password could not be changed.
	// Said only when both are in range, as one problem is enough.
	if len(errs) == 0 && p.MaxAge > 0 && p.MinAge >= p.MaxAge {
		bad("min_age", "must be shorter than max_age (%s), got %s", FormatAge(p.MaxAge), FormatAge(p.MinAge))
	}
	return errors.Join(errs...)
}

// WithOrg returns p (the server defaults) with an organization's stored
// overrides applied. A setting the organization left unset (MinLength 0,
// a nil pointer) inherits p's; a set one replaces it, so a pointer to 0 or
// false turns a rule off for that organization even when the server
// default has it on.
func (p Policy) WithOrg(o storage.PasswordPolicy) Policy {
	if o.MinLength > 0 {
		p.MinLength = o.MinLength
	}
	if o.MaxAge != nil {
		p.MaxAge = *o.MaxAge
	}
	if o.MinAge != nil {
		p.MinAge = *o.MinAge
	}
	if o.BreachCheck != nil {
		p.BreachCheck = *o.BreachCheck
	}
	return p
}

// ParseAge reads a maximum or minimum age: a whole number of days ("90d")
// or a Go duration ("36h", "90m"); "0" and "off" are 0 (the rule is off).
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || n > math.MaxInt64/int64(24*time.Hour) {
			return 0, fmt.Errorf("%q is not an age: use whole days (\"90d\") or a duration such as \"36h\"", shortened(s))
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not an age: use whole days (\"90d\") or a duration such as \"36h\"", shortened(s))
	}
	return d, nil
}

// FormatAge writes an age the way ParseAge reads it, in the largest whole
// unit: "90d", "36h", "90m"; 0 is "0".
func FormatAge(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == 0:
		return "0"
	case d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// shortened bounds input quoted back in an error.
func shortened(s string) string {
	if len(s) <= 32 {
		return s
	}
	return strings.ToValidUTF8(s[:32], "") + "…"
}
