package totp

import (
	"errors"
	"testing"
	"time"

	"github.com/pquerna/otp"
)

// rfcSecret is the SHA-1 seed of RFC 6238 Appendix B.
var rfcSecret = []byte("12345678901234567890")

func TestConstants(t *testing.T) {
	if otp.DigitsSix.Length() != Digits {
		t.Fatalf("otp.DigitsSix is %d digits, Digits is %d", otp.DigitsSix.Length(), Digits)
	}
	if SecretBytes*8 < 160 {
		t.Fatalf("SecretBytes = %d: below 160 bits", SecretBytes)
	}
}

// TestRFC6238 checks the SHA-1 vectors of RFC 6238 Appendix B. The RFC
// lists 8-digit values; a 6-digit code is the same number mod 10^6, i.e.
// its last 6 digits.
func TestRFC6238(t *testing.T) {
	tests := []struct {
		unix  int64
		step  int64
		eight string
	}{
		{59, 0x1, "94287082"},
		{1111111109, 0x23523EC, "07081804"},
		{1111111111, 0x23523ED, "14050471"},
		{1234567890, 0x273EF07, "89005924"},
		{2000000000, 0x3F940AA, "69279037"},
		{20000000000, 0x27BC86AA, "65353130"},
	}
	for _, tt := range tests {
		t.Run(tt.eight, func(t *testing.T) {
			at := time.Unix(tt.unix, 0).UTC()
			if got := Step(at); got != tt.step {
				t.Fatalf("Step = %#x; want %#x", got, tt.step)
			}
			want := tt.eight[2:]
			got, err := Code(rfcSecret, at)
			if err != nil || got != want {
				t.Fatalf("Code = %q, %v; want %q", got, err, want)
			}
			step, err := Match(rfcSecret, want, at)
			if err != nil || step != tt.step {
				t.Fatalf("Match = %#x, %v; want %#x", step, err, tt.step)
			}
		})
	}
}

func TestStep(t *testing.T) {
	tests := []struct {
		unix int64
		want int64
	}{
		{0, 0},
		{29, 0},
		{30, 1},
		{-1, -1}, // floored, not truncated toward zero
		{-30, -1},
		{-31, -2},
	}
	for _, tt := range tests {
		if got := Step(time.Unix(tt.unix, 0)); got != tt.want {
			t.Errorf("Step(%d) = %d; want %d", tt.unix, got, tt.want)
		}
	}
	// The zone of a time does not move its step.
	at := time.Unix(1234567890, 0)
	if Step(at.In(time.FixedZone("x", 5*3600))) != Step(at.UTC()) {
		t.Error("Step depends on the time zone")
	}
}

func TestMatchWindow(t *testing.T) {
	now := time.Unix(1_700_000_015, 0) // mid-step
	cur := Step(now)
	tests := []struct {
		name  string
		delta int64
		want  error
	}{
		{"two steps back", -2, ErrWrongCode},
		{"one step back", -1, nil},
		{"this step", 0, nil},
		{"one step ahead", 1, nil},
		{"two steps ahead", 2, ErrWrongCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, err := Code(rfcSecret, now.Add(time.Duration(tt.delta)*Period))
			if err != nil {
				t.Fatal(err)
			}
			step, err := Match(rfcSecret, code, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Match err = %v; want %v", err, tt.want)
			}
			if tt.want == nil && step != cur+tt.delta {
				t.Fatalf("Match step = %d; want %d", step, cur+tt.delta)
			}
		})
	}
}

// TestMatchEdges: the window is in steps, not seconds, so the first and
// last second of a step see the same three steps.
func TestMatchEdges(t *testing.T) {
	start := time.Unix(1_700_000_010, 0) // 1_700_000_010 is a step boundary
	if start.Unix()%30 != 0 {
		t.Fatal("start is not a step boundary")
	}
	end := start.Add(Period - time.Nanosecond)
	for _, now := range []time.Time{start, end} {
		prev, _ := Code(rfcSecret, start.Add(-Period))
		if step, err := Match(rfcSecret, prev, now); err != nil || step != Step(start)-1 {
			t.Errorf("at %v: previous step's code = %d, %v", now, step, err)
		}
		old, _ := Code(rfcSecret, start.Add(-2*Period))
		if _, err := Match(rfcSecret, old, now); !errors.Is(err, ErrWrongCode) {
			t.Errorf("at %v: code of two steps back = %v", now, err)
		}
	}
}

func TestMatchInput(t *testing.T) {
	at := time.Unix(59, 0)
	tests := []struct {
		name string
		code string
		want error
	}{
		{"plain", "287082", nil},
		{"grouped", "287 082", nil},
		{"pasted", " 287082\n", nil},
		{"tab", "287\t082", nil},
		{"wrong", "287083", ErrWrongCode},
		{"zeros", "000000", ErrWrongCode},
		{"empty", "", ErrMalformed},
		{"spaces only", "      ", ErrMalformed},
		{"five", "12345", ErrMalformed},
		{"seven", "1234567", ErrMalformed},
		{"eight digits of the RFC", "94287082", ErrMalformed},
		{"letter", "12a456", ErrMalformed},
		{"full width", "１２３４５６", ErrMalformed},
		{"arabic-indic", "٢٨٧٠٨٢", ErrMalformed},
		{"NUL", "287\x00082", ErrMalformed},
		{"NUL after", "287082\x00", ErrMalformed},
		{"sign", "+287082", ErrMalformed},
		{"dash", "287-082", ErrMalformed},
		{"invalid UTF-8", "287\xff082", ErrMalformed},
		{"long", "287082                                    ", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Match(rfcSecret, tt.code, at)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Match(%q) err = %v; want %v", tt.code, err, tt.want)
			}
		})
	}
}

func TestParseCode(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"123456", "123456", true},
		{"123 456", "123456", true},
		{"  123 456  ", "123456", true},
		{"1 2 3 4 5 6", "123456", true},
		{"012345", "012345", true},
		{"123456\r\n", "123456", true},
		{"", "", false},
		{"12345", "", false},
		{"1234567", "", false},
		{"12a456", "", false},
		{"１２３４５６", "", false},
		{"\x00", "", false},
		{"123\u00a0456", "", false}, // a no-break space is not a space we drop
	}
	for _, tt := range tests {
		got, err := ParseCode(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseCode(%q) = %q, %v; want %q (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseCode(%q) err = %v; want ErrMalformed", tt.in, err)
		}
	}
}

func TestBadSecretAndTime(t *testing.T) {
	at := time.Unix(59, 0)
	for _, s := range [][]byte{nil, {}, rfcSecret[:SecretBytes-1]} {
		if _, err := Code(s, at); !errors.Is(err, ErrBadSecret) {
			t.Errorf("Code(%d-byte secret) = %v; want ErrBadSecret", len(s), err)
		}
		if _, err := Match(s, "287082", at); !errors.Is(err, ErrBadSecret) {
			t.Errorf("Match(%d-byte secret) = %v; want ErrBadSecret", len(s), err)
		}
	}
	if _, err := Code(rfcSecret, time.Unix(-1, 0)); !errors.Is(err, ErrBadTime) {
		t.Errorf("Code before 1970 = %v; want ErrBadTime", err)
	}
	// At step 0 the window's step -1 does not exist; step 0 and 1 still
	// match and nothing wraps around to a huge counter.
	if step, err := Match(rfcSecret, "287082", time.Unix(0, 0)); err != nil || step != 1 {
		t.Errorf("Match at epoch = %d, %v; want 1", step, err)
	}
	if _, err := Match(rfcSecret, "287082", time.Unix(-3600, 0)); !errors.Is(err, ErrWrongCode) {
		t.Errorf("Match long before 1970 = %v; want ErrWrongCode", err)
	}
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"123456", "123 456", "", "１２３４５６", "\x00", "12a456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseCode(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v; want ErrMalformed", err)
			}
			return
		}
		if len(got) != Digits {
			t.Fatalf("ParseCode(%q) = %q", s, got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] < '0' || got[i] > '9' {
				t.Fatalf("ParseCode(%q) = %q", s, got)
			}
		}
		// Match must agree with ParseCode on what is well-formed.
		if _, err := Match(rfcSecret, s, time.Unix(59, 0)); errors.Is(err, ErrMalformed) {
			t.Fatalf("Match(%q) = %v after ParseCode accepted it", s, err)
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	now := time.Unix(1_700_000_015, 0)
	code, err := Code(rfcSecret, now.Add(Period))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Match(rfcSecret, code, now); err != nil {
			b.Fatal(err)
		}
	}
}
