package phone

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		// Switzerland: the ways people write a mobile number.
		{"+41 79 123 45 67", "+41791234567", nil},
		{"+41791234567", "+41791234567", nil},
		{"0041 79 123 45 67", "+41791234567", nil},
		{"+41 (0)79 123 45 67", "+41791234567", nil},
		{"+41-79-123-45-67", "+41791234567", nil},
		{"+41.79.123.45.67", "+41791234567", nil},
		{"  +41 44 668 18 00\t", "+41446681800", nil},
		// Germany.
		{"+49 30 123456", "+4930123456", nil},
		{"+49 (0)30 1234567", "+49301234567", nil},
		{"0049 151 23456789", "+4915123456789", nil},
		{"+49-(0)89-12345678", "+498912345678", nil},
		// The United States and Canada.
		{"+1 (415) 555-2671", "+14155552671", nil},
		{"+1 415.555.2671", "+14155552671", nil},
		{"001 212 555 0100", "+12125550100", nil},
		{"+1-416-555-0199", "+14165550199", nil},
		// The United Kingdom.
		{"+44 20 7946 0958", "+442079460958", nil},
		{"+44 (0)20 7946 0958", "+442079460958", nil},
		{"+44 7700 900123", "+447700900123", nil},
		// France.
		{"+33 1 23 45 67 89", "+33123456789", nil},
		{"+33 (0)6 12 34 56 78", "+33612345678", nil},
		{"0033.6.12.34.56.78", "+33612345678", nil},
		// India.
		{"+91 98765 43210", "+919876543210", nil},
		{"+91-22-2345-6789", "+912223456789", nil},
		// Shortest and longest.
		{"+683 1234", "", ErrLength}, // 7 digits
		{"+298 123456", "+298123456", nil},
		{"+123456789012345", "+123456789012345", nil},

		// No country code: refused, never guessed.
		{"079 123 45 67", "", ErrNoCountryCode},
		{"(415) 555-2671", "", ErrNoCountryCode},
		{"0791234567", "", ErrNoCountryCode},
		{"41791234567", "", ErrNoCountryCode},
		// Not a number.
		{"", "", ErrLength},
		{"   ", "", ErrLength},
		{"+", "", ErrLength},
		{"+41 79 123 45 6x", "", ErrCharacters},
		{"+41/79/123/45/67", "", ErrCharacters},
		{"++41791234567", "", ErrCharacters},
		{"+41 79 +123 45 67", "", ErrCharacters},
		{"+41 79 123 45 67 ext. 12", "", ErrCharacters},
		{"call me", "", ErrCharacters},
		{"tel:+41791234567", "", ErrCharacters},
		{"+４１７９１２３４５６７", "", ErrCharacters}, // full-width digits
		{"+41\x00791234567", "", ErrCharacters},
		// Lengths and the country code.
		{"+41 79 12", "", ErrLength},
		{"+1234567890123456", "", ErrLength},
		{"+" + strings.Repeat("1", 100), "", ErrLength},
		{"+0 41 79 123 45 67", "", ErrCountryCode},
		{"000 41 79 123 45 67", "", ErrCountryCode},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Fatalf("Parse(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

// The message an administrator sees for a number without a country code
// says what to do.
func TestParseNoCountryCodeMessage(t *testing.T) {
	_, err := Parse("079 123 45 67")
	if err == nil || err.Error() != "include the country code, like +41 79 123 45 67" {
		t.Fatalf("Parse of a national number: %v", err)
	}
}

func TestValid(t *testing.T) {
	for in, want := range map[string]bool{
		"+41791234567": true, "+14155552671": true,
		"+41 79 123 45 67": false, "0041791234567": false, "41791234567": false, "": false, "+0791234567": false,
	} {
		if got := Valid(in); got != want {
			t.Errorf("Valid(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"+41791234567": "+*********67",
		"+14155552671": "+*********71",
		"":             "",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every parser of outside input has a fuzz test: whatever Parse accepts is
// E.164 and parses to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"+41 79 123 45 67", "0049 (0)30 123456", "079 123 45 67", "+", "00", "(0)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			if e != "" {
				t.Fatalf("Parse(%q) = %q with error %v", s, e, err)
			}
			return
		}
		if !Valid(e) || len(e) < 1+MinDigits || len(e) > 1+MaxDigits || e[1] == '0' {
			t.Fatalf("Parse(%q) = %q, not E.164", s, e)
		}
	})
}
