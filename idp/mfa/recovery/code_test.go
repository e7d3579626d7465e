package recovery

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
)

func TestNewCodeRejectsHighBytes(t *testing.T) {
	// Bytes from byteLimit up are dropped, not folded onto the first
	// symbols: a source of only such bytes and then zeros gives all '2'.
	src := append(bytes.Repeat([]byte{byte(byteLimit)}, 2*codeLen), make([]byte, 2*codeLen)...)
	c, err := newCode(bytes.NewReader(src))
	if err != nil || c != strings.Repeat(Alphabet[:1], codeLen) {
		t.Fatalf("newCode = %q, %v", c, err)
	}
	if _, err := newCode(bytes.NewReader(nil)); err == nil {
		t.Fatal("an empty source gave a code")
	}
}

// TestSymbolsUniform is a statistical sanity check: every symbol is about
// as frequent as every other.
func TestSymbolsUniform(t *testing.T) {
	const n = 20_000
	counts := make([]int, len(Alphabet))
	for range n {
		c, err := newCode(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := parse(group(c)); !ok {
			t.Fatalf("%q does not parse", group(c))
		}
		for i := range len(c) {
			counts[strings.IndexByte(Alphabet, c[i])]++
		}
	}
	want := float64(n*codeLen) / float64(len(Alphabet))
	var x float64
	for _, c := range counts {
		d := float64(c) - want
		x += d * d / want
	}
	// Chi-square at p = 10^-6 for 30 degrees of freedom.
	if x > 82.0 {
		t.Fatalf("chi-square %.1f over %d symbols: %v", x, len(Alphabet), counts)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"k7mq-2xhd-9fta", "K7MQ 2XHD 9FTA", "k7mq2xhd9fta", "0000-0000-0000", "\x00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		c, ok := parse(typed)
		if !ok {
			return
		}
		if len(c) != codeLen || strings.Trim(c, Alphabet) != "" {
			t.Fatalf("parse(%q) = %q", typed, c)
		}
		if again, ok := parse(group(c)); !ok || again != c {
			t.Fatalf("group(%q) parses as %q, %v", c, again, ok)
		}
	})
}
