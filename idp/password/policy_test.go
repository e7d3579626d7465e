package password

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// strong is not on any list: random words and digits.
const strong = "plinth-tuba-87-quasar"

func ruleOf(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var pe *PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *PolicyError", err, err)
	}
	if pe.Error() != pe.Message || pe.Message == "" {
		t.Fatalf("PolicyError %+v: Error() must be the non-empty Message", pe)
	}
	return pe.Rule
}

// TestCheck: each rule refuses what it should, with its reason, and lets
// everything else through: no maximum below 1,024 characters and no
// composition rule.
func TestCheck(t *testing.T) {
	long := func(n int) string { return strings.Repeat("abcdefghij", n/10+1)[:n] }
	tests := []struct {
		name   string
		policy Policy
		pw     string
		rule   string // "" means accepted
		reason string // in the message
	}{
		{"too short", Policy{MinLength: 12}, "short-pass", RuleTooShort, "at least 12 characters"},
		{"one below the minimum", Policy{MinLength: 12}, "elevenchars", RuleTooShort, "too short"},
		{"exactly the minimum", Policy{MinLength: 12}, "twelve-chars", "", ""},
		{"the floor is 8", Policy{MinLength: 4}, "qx7-zvb", RuleTooShort, "at least 8"},
		{"zero policy is the floor", Policy{}, "qx7-zvbk", "", ""},
		{"no composition rule: all lower case", Policy{}, "plinthtubaquasar", "", ""},
		{"64 characters", Policy{}, long(64), "", ""},
		{"200 characters", Policy{}, long(200), "", ""},
		{"1024 characters", Policy{}, long(MaxLength), "", ""},
		{"1025 characters", Policy{}, long(MaxLength + 1), RuleTooLong, "at most 1024 characters"},
		{"length in characters, not bytes", Policy{MinLength: 9}, "пароль-ок", "", ""},
		{"length in characters, not bytes: too short", Policy{MinLength: 10}, "пароль-ок", RuleTooShort, "at least 10"},
		// U+FB01 is one character that NFKC makes two ("fi").
		{"length counted after NFKC", Policy{}, "ﬁﬁﬁﬁ", "", ""},
		{"invalid UTF-8", Policy{}, "abcdefgh\xff", RuleInvalid, "not valid text"},
		{"common", Policy{}, "password", RuleCommon, "commonly used"},
		{"common digits", Policy{}, "123456789", RuleCommon, "commonly used"},
		{"common with digits", Policy{}, "qwerty123", RuleCommon, "commonly used"},
		{"common, any case", Policy{}, "PassWord", RuleCommon, "commonly used"},
		{"common, full-width letters", Policy{}, "ｐａｓｓｗｏｒｄ", RuleCommon, "commonly used"},
		{"common but too short says too short", Policy{}, "qwerty", RuleTooShort, "at least 8"},
		{"strong", Policy{MinLength: 12}, strong, "", ""},
		{"strong, breach check on but no service", Policy{BreachCheck: true}, strong, "", ""},
	}
	c := &Checker{Logger: slog.New(slog.DiscardHandler)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Check(context.Background(), tt.policy, tt.pw)
			if got := ruleOf(t, err); got != tt.rule {
				t.Fatalf("Check = %v (rule %q); want rule %q", err, got, tt.rule)
			}
			if tt.reason != "" && !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("Check = %q; want the reason %q", err, tt.reason)
			}
		})
	}
}

// TestLongPasswordsAreNotTruncated: what Check accepts is hashed whole; a
// hash of a 64-, 200- or 1,024-character password verifies with exactly
// that input and not with it one character shorter.
func TestLongPasswordsAreNotTruncated(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(cheap, 0)
	for _, n := range []int{64, 200, MaxLength} {
		// Multi-byte characters too: truncation by bytes would show.
		pw := string([]rune(strings.Repeat("aéΩx9z-q", n))[:n])
		if err := (&Checker{}).Check(ctx, Policy{}, pw); err != nil {
			t.Fatalf("%d characters: Check = %v", n, err)
		}
		enc, err := h.Hash(ctx, pw)
		if err != nil {
			t.Fatal(err)
		}
		r := []rune(pw)
		for _, tc := range []struct {
			try  string
			want bool
		}{{pw, true}, {string(r[:n-1]), false}, {string(r[:n-1]) + "!", false}} {
			if ok, _, err := h.Verify(ctx, enc, tc.try); ok != tc.want || err != nil {
				t.Fatalf("%d characters: Verify(%d characters) = %v, %v; want %v", n, len([]rune(tc.try)), ok, err, tc.want)
			}
		}
	}
}

// TestFullWidthEqualsASCII: NFKC makes full-width letters their ASCII
// selves, for the length rule, the list and the hash alike.
func TestFullWidthEqualsASCII(t *testing.T) {
	ctx := context.Background()
	const ascii, wide = "Plinth-Tuba-87", "Ｐｌｉｎｔｈ－Ｔｕｂａ－８７"
	if Normalize(wide) != ascii {
		t.Fatalf("Normalize(%q) = %q; want %q", wide, Normalize(wide), ascii)
	}
	if err := (&Checker{}).Check(ctx, Policy{MinLength: 14}, wide); err != nil {
		t.Fatalf("Check(full-width, 14 characters) = %v", err)
	}
	h := NewHasher(cheap, 0)
	enc, err := h.Hash(ctx, wide)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(ctx, enc, ascii); !ok || err != nil {
		t.Fatalf("the ASCII form does not verify against the full-width hash: %v %v", ok, err)
	}
}

func TestBlocklist(t *testing.T) {
	n, err := BlocklistSize()
	if err != nil {
		t.Fatal(err)
	}
	if n < 10000 {
		t.Fatalf("the common-password list holds %d passwords; want at least 10,000", n)
	}
	if _, err := NewChecker(nil, nil); err != nil {
		t.Fatalf("NewChecker = %v", err)
	}
	if _, err := parseBlocklist([]byte("not gzip")); err == nil {
		t.Fatal("a corrupt list parsed")
	}
}

type fakeBreacher struct {
	breached bool
	err      error
	asked    []string
}

func (f *fakeBreacher) Breached(_ context.Context, pw string) (bool, error) {
	f.asked = append(f.asked, pw)
	return f.breached, f.err
}

// TestCheckBreach: the breach service is asked only when the policy says
// so and the offline rules passed, with the normalised password; a hit is
// refused by name, an outage accepts and logs.
func TestCheckBreach(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		policy  Policy
		pw      string
		fake    fakeBreacher
		rule    string
		asked   bool
		logged  string
		refused bool
	}{
		{"off: not asked", Policy{}, strong, fakeBreacher{breached: true}, "", false, "", false},
		{"hit", Policy{BreachCheck: true}, strong, fakeBreacher{breached: true}, RuleBreached, true, "", true},
		{"miss", Policy{BreachCheck: true}, strong, fakeBreacher{}, "", true, "", false},
		{"outage fails open and logs", Policy{BreachCheck: true}, strong, fakeBreacher{err: errors.New("pwned: the service answered 503")}, "", true, "the service answered 503", false},
		{"offline rule first: not asked", Policy{BreachCheck: true}, "password", fakeBreacher{breached: true}, RuleCommon, false, "", true},
		{"asked with the NFKC form", Policy{BreachCheck: true}, "ﬁnch-tuba-87-quasar", fakeBreacher{}, "", true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			fake := tt.fake
			c := &Checker{Breach: &fake, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			err := c.Check(ctx, tt.policy, tt.pw)
			if got := ruleOf(t, err); got != tt.rule {
				t.Fatalf("Check = %v; want rule %q", err, tt.rule)
			}
			if (len(fake.asked) > 0) != tt.asked {
				t.Fatalf("breach service asked %d times; want asked %v", len(fake.asked), tt.asked)
			}
			if tt.asked && fake.asked[0] != Normalize(tt.pw) {
				t.Fatalf("breach service asked with %q; want the NFKC form %q", fake.asked[0], Normalize(tt.pw))
			}
			if tt.logged != "" && (!strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), tt.logged)) {
				t.Fatalf("log %q; want a warning with %q", logs.String(), tt.logged)
			}
			if strings.Contains(logs.String(), tt.pw) {
				t.Fatal("the password reached the log")
			}
		})
	}
}

// TestExpired: with a maximum age, a password expires exactly MaxAge after
// it was set; without one, never.
func TestExpired(t *testing.T) {
	set := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	const day = 24 * time.Hour
	tests := []struct {
		name      string
		maxAge    time.Duration
		changedAt time.Time
		now       time.Time
		want      bool
	}{
		{"off", 0, set, set.Add(10000 * day), false},
		{"one nanosecond before", 90 * day, set, set.Add(90*day - time.Nanosecond), false},
		{"exactly max age", 90 * day, set, set.Add(90 * day), true},
		{"after", 90 * day, set, set.Add(91 * day), true},
		{"just set", 90 * day, set, set, false},
		{"unknown change time counts as old", 90 * day, time.Time{}, set, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Policy{MaxAge: tt.maxAge}).Expired(tt.changedAt, tt.now); got != tt.want {
				t.Fatalf("Expired = %v; want %v", got, tt.want)
			}
		})
	}
}

// TestTooSoon: within the minimum age a change is refused with a message
// that names the window and when a change becomes possible.
func TestTooSoon(t *testing.T) {
	set := time.Date(2030, 1, 1, 12, 0, 30, 0, time.UTC)
	tests := []struct {
		name      string
		minAge    time.Duration
		changedAt time.Time
		now       time.Time
		want      []string // in the message; nil means allowed
	}{
		{"off", 0, set, set, nil},
		{"right after", 24 * time.Hour, set, set.Add(time.Second), []string{"within the last 24 hours", "after 2030-01-02 12:01 UTC"}},
		{"one nanosecond before", 24 * time.Hour, set, set.Add(24*time.Hour - time.Nanosecond), []string{"24 hours"}},
		{"exactly min age", 24 * time.Hour, set, set.Add(24 * time.Hour), nil},
		{"after", 24 * time.Hour, set, set.Add(25 * time.Hour), nil},
		{"days", 3 * 24 * time.Hour, set, set, []string{"within the last 3 days"}},
		{"one hour", time.Hour, set, set, []string{"within the last 1 hour"}},
		{"minutes", 90 * time.Minute, set, set, []string{"within the last 90 minutes"}},
		{"never set", 24 * time.Hour, time.Time{}, set, nil},
		{"other time zone shown in UTC", 24 * time.Hour, set.In(time.FixedZone("X", 3600)), set, []string{"12:01 UTC"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (Policy{MinAge: tt.minAge}).TooSoon(tt.changedAt, tt.now)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("TooSoon = %v; want nil", err)
				}
				return
			}
			if ruleOf(t, err) != RuleTooSoon {
				t.Fatalf("TooSoon = %v; want rule %q", err, RuleTooSoon)
			}
			var pe *PolicyError
			errors.As(err, &pe)
			if !pe.NotBefore.Equal(tt.changedAt.Add(tt.minAge)) {
				t.Fatalf("NotBefore = %v; want %v", pe.NotBefore, tt.changedAt.Add(tt.minAge))
			}
			for _, w := range tt.want {
				if !strings.Contains(pe.Message, w) {
					t.Fatalf("message %q; want %q in it", pe.Message, w)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestWithOrg: unset settings inherit the default; set ones replace it,
// including an explicit "off"; rows stored before the new settings
// existed read as "inherit".
func TestWithOrg(t *testing.T) {
	const day = 24 * time.Hour
	def := Policy{MinLength: 10, BreachCheck: true, MaxAge: 90 * day, MinAge: time.Hour}
	tests := []struct {
		name   string
		stored string // JSON as in the organizations row
		want   Policy
	}{
		{"empty row inherits everything", `{}`, def},
		{"old row with min_length", `{"min_length":8}`, Policy{MinLength: 8, BreachCheck: true, MaxAge: 90 * day, MinAge: time.Hour}},
		{"raise min length", `{"min_length":16}`, Policy{MinLength: 16, BreachCheck: true, MaxAge: 90 * day, MinAge: time.Hour}},
		{"explicitly off", `{"max_age":0,"min_age":0,"breach_check":false}`, Policy{MinLength: 10}},
		{"explicit values", `{"max_age":86400000000000,"breach_check":true}`, Policy{MinLength: 10, BreachCheck: true, MaxAge: day, MinAge: time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o storage.PasswordPolicy
			if err := json.Unmarshal([]byte(tt.stored), &o); err != nil {
				t.Fatal(err)
			}
			if got := def.WithOrg(o); got != tt.want {
				t.Fatalf("WithOrg(%s) = %+v; want %+v", tt.stored, got, tt.want)
			}
		})
	}
	// And the encoding keeps "inherit" and "off" apart.
	b, _ := json.Marshal(storage.PasswordPolicy{MaxAge: ptr(time.Duration(0)), BreachCheck: ptr(false)})
	if string(b) != `{"max_age":0,"breach_check":false}` {
		t.Fatalf("explicit off encodes as %s", b)
	}
}

type orgs map[string]storage.Organization

func (m orgs) GetOrganization(_ context.Context, id string) (storage.Organization, error) {
	o, ok := m[id]
	if !ok {
		return o, storage.ErrNotFound
	}
	return o, nil
}

func TestPoliciesFor(t *testing.T) {
	p := &Policies{Orgs: orgs{
		"o1": {ID: "o1"},
		"o2": {ID: "o2", PasswordPolicy: storage.PasswordPolicy{MinLength: 14, BreachCheck: ptr(false)}},
	}, Defaults: Policy{MinLength: 8, BreachCheck: true}}
	ctx := context.Background()
	if got, err := p.For(ctx, "o1"); err != nil || got != (Policy{MinLength: 8, BreachCheck: true}) {
		t.Fatalf("For(o1) = %+v, %v", got, err)
	}
	if got, err := p.For(ctx, "o2"); err != nil || got != (Policy{MinLength: 14}) {
		t.Fatalf("For(o2) = %+v, %v", got, err)
	}
	if _, err := p.For(ctx, "missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("For(missing) = %v; want ErrNotFound", err)
	}
}

func TestValidate(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name string
		p    Policy
		want []string // settings in error; nil means valid
	}{
		{"defaults", Policy{MinLength: 8}, nil},
		{"everything on", Policy{MinLength: 1024, BreachCheck: true, MaxAge: 90 * day, MinAge: day}, nil},
		{"bounds", Policy{MinLength: 8, MaxAge: MaxAgeHighest, MinAge: MinAgeLowest}, nil},
		{"min length 7", Policy{MinLength: 7}, []string{"min_length"}},
		{"min length 0", Policy{}, []string{"min_length"}},
		{"min length 1025", Policy{MinLength: 1025}, []string{"min_length"}},
		{"max age an hour", Policy{MinLength: 8, MaxAge: time.Hour}, []string{"max_age"}},
		{"max age 11 years", Policy{MinLength: 8, MaxAge: 4000 * day}, []string{"max_age"}},
		{"min age a minute", Policy{MinLength: 8, MinAge: time.Minute}, []string{"min_age"}},
		{"min age 31 days", Policy{MinLength: 8, MinAge: 31 * day}, []string{"min_age"}},
		{"negative", Policy{MinLength: 8, MaxAge: -day}, []string{"max_age"}},
		{"min age not below max age", Policy{MinLength: 8, MaxAge: 2 * day, MinAge: 2 * day}, []string{"min_age"}},
		{"all at once", Policy{MinLength: 2, MaxAge: time.Minute, MinAge: 40 * day}, []string{"min_length", "max_age", "min_age"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			var got []string
			for _, e := range flattenErrs(err) {
				var se *SettingError
				if !errors.As(e, &se) {
					t.Fatalf("%v is not a *SettingError", e)
				}
				got = append(got, se.Setting)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("Validate = %v; want problems with %v", err, tt.want)
			}
		})
	}
}

func flattenErrs(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestParseAndFormatAge(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
		out  string
	}{
		{"90d", 90 * day, true, "90d"},
		{"0", 0, true, "0"},
		{"off", 0, true, "0"},
		{"0d", 0, true, "0"},
		{"36h", 36 * time.Hour, true, "36h"},
		{"48h", 2 * day, true, "2d"},
		{"90m", 90 * time.Minute, true, "90m"},
		{"1h30m", 90 * time.Minute, true, "90m"},
		{"2160h", 90 * day, true, "90d"},
		{" 7d ", 7 * day, true, "7d"},
		{"1.5d", 0, false, ""},
		{"-1d", 0, false, ""},
		{"-1h", 0, false, ""},
		{"d", 0, false, ""},
		{"ninety days", 0, false, ""},
		{"99999999999999d", 0, false, ""},
		{"", 0, false, ""},
	} {
		got, err := ParseAge(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
			continue
		}
		if tc.ok && FormatAge(got) != tc.out {
			t.Errorf("FormatAge(%v) = %q; want %q", got, FormatAge(got), tc.out)
		}
	}
}

// BenchmarkCheck is the offline part of a check: NFKC, the length rule
// and one map lookup in the list.
func BenchmarkCheck(b *testing.B) {
	c, err := NewChecker(nil, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, bc := range []struct{ name, pw string }{{"strong", strong}, {"common", "qwerty123"}, {"long", strings.Repeat("plinth-tuba ", 80)}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				_ = c.Check(ctx, Policy{MinLength: 8}, bc.pw)
			}
		})
	}
}
