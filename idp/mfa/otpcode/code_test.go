package otpcode

import (
	"bytes"
	"crypto/rand"
	"strconv"
	"strings"
	"testing"
)

func TestCodeFormat(t *testing.T) {
	tests := []struct {
		name string
		src  []byte
		want string
	}{
		// rand.Int reads 3 bytes for 20 bits: zeros are code 0, with its
		// leading zeros.
		{"zero", []byte{0, 0, 0}, "000000"},
		{"largest", []byte{0x0f, 0x42, 0x3f}, "999999"},
		// 0x0f4240 is 10^6: out of range, so it is drawn again, not
		// folded onto a low code.
		{"rejected then drawn again", []byte{0x0f, 0x42, 0x40, 0, 0, 7}, "000007"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(bytes.NewReader(tt.src))
			if err != nil || c != tt.want {
				t.Fatalf("New = %q, %v; want %q", c, err, tt.want)
			}
		})
	}
}

// TestCodesUniform is a statistical sanity check, not a proof: over many
// codes every digit is about as frequent in every position, and so is
// every value of the leading two digits (a modulo bias would show as low
// codes coming up more often).
func TestCodesUniform(t *testing.T) {
	const n = 100_000
	var digits [Digits][10]int
	var leading [100]int
	seen := map[string]bool{}
	for range n {
		c, err := New(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := Parse(c); !ok {
			t.Fatalf("code %q does not parse", c)
		}
		for i := range Digits {
			digits[i][c[i]-'0']++
		}
		v, _ := strconv.Atoi(c[:2])
		leading[v]++
		seen[c] = true
	}
	// Critical values of chi-square at p = 10^-6, for 9 and 99 degrees of
	// freedom: a sound generator fails this once in a million runs.
	for i := range Digits {
		if x := chiSquare(digits[i][:], n); x > 44.8 {
			t.Errorf("digit %d: chi-square %.1f over 10 values: %v", i, x, digits[i])
		}
	}
	if x := chiSquare(leading[:], n); x > 180.8 {
		t.Errorf("leading two digits: chi-square %.1f over 100 values", x)
	}
	// 100,000 draws from 10^6 repeat about 5,000 times; far more repeats
	// would mean a small or stuck source.
	if len(seen) < n-6_000 {
		t.Errorf("%d distinct codes in %d", len(seen), n)
	}
}

func chiSquare(counts []int, n int) float64 {
	want := float64(n) / float64(len(counts))
	var x float64
	for _, c := range counts {
		d := float64(c) - want
		x += d * d / want
	}
	return x
}

func TestHashBinding(t *testing.T) {
	k := []byte("k")
	base := Hash(k, "m v1", "req", "factor", "123456")
	for name, h := range map[string][]byte{
		"another method": Hash(k, "n v1", "req", "factor", "123456"),
		"another login":  Hash(k, "m v1", "req2", "factor", "123456"),
		"another factor": Hash(k, "m v1", "req", "factor2", "123456"),
		"another code":   Hash(k, "m v1", "req", "factor", "123457"),
		"shifted parts":  Hash(k, "m v1", "re", "qfactor", "123456"),
		"another key":    Hash([]byte("k2"), "m v1", "req", "factor", "123456"),
	} {
		if bytes.Equal(h, base) {
			t.Errorf("%s hashes alike", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"123456", " 123 456\n", "12345", "１２３４５６", "\x00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		c, ok := Parse(typed)
		if !ok {
			return
		}
		if len(c) != Digits || strings.Trim(c, "0123456789") != "" {
			t.Fatalf("Parse(%q) = %q", typed, c)
		}
	})
}
