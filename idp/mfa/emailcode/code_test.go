package emailcode

import (
	"net/mail"
	"strings"
	"testing"
)

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"alice@example.com", "Alice <a@example.com>", " a@b.example ", "a@b@c", "\x00@x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		a, ok := parseAddress(typed, "")
		if !ok {
			return
		}
		p, err := mail.ParseAddress(a)
		if err != nil || p.Name != "" || p.Address != a || len(a) > maxAddress || strings.ContainsFunc(a, isControl) {
			t.Fatalf("parseAddress(%q) = %q accepted", typed, a)
		}
	})
}
