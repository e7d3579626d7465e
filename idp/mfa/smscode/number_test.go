package smscode

import (
	"github.com/gatehouse-idp/gatehouse/idp/phone"
	"strings"
	"testing"
)

func TestMaskNumber(t *testing.T) {
	for in, want := range map[string]string{"+447700900123": "+•••23", "+12345678": "+•••78", "": "•••", "+12": "•••"} {
		if got := maskNumber(in); got != want {
			t.Errorf("maskNumber(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestOriginHost(t *testing.T) {
	for in, want := range map[string]string{
		"https://id.example.com":       "id.example.com",
		"https://id.example.com:443/x": "id.example.com",
		"https://id.example.com:8443":  "id.example.com:8443",
		"http://localhost:80":          "localhost",
		"http://localhost:5556":        "localhost:5556",
		"http://[::1]:5556":            "[::1]:5556",
		"https://[2001:db8::1]":        "[2001:db8::1]",
		"":                             "",
		"id.example.com":               "",
		"ftp://id.example.com":         "",
		"https://":                     "",
	} {
		if got := originHost(in); got != want {
			t.Errorf("originHost(%q) = %q; want %q", in, got, want)
		}
	}
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"+447700900123", " +44 (0) 7700-900.123", "07700900123", "+", "", "+４４", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		n, show := parseNumber(typed)
		if show != nil {
			if n != "" {
				t.Fatalf("parseNumber(%q) = %q with %v", typed, n, show)
			}
			return
		}
		d := n[1:]
		if n[0] != '+' || len(d) < phone.MinDigits || len(d) > phone.MaxDigits || d[0] == '0' || strings.Trim(d, "0123456789") != "" {
			t.Fatalf("parseNumber(%q) = %q accepted", typed, n)
		}
	})
}

// A trunk "(0)" after the country code is dialled only within the
// country: it is dropped, not kept as a digit of another number.
func TestParseNumberTrunkPrefix(t *testing.T) {
	if n, show := parseNumber("+44 (0) 7700-900.123"); show != nil || n != "+447700900123" {
		t.Fatalf("parseNumber = %q, %v; want +447700900123", n, show)
	}
}
