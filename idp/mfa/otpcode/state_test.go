package otpcode

import (
	"bytes"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// TestStateFormat pins the JSON of a state: states written by an earlier
// build (emailcode's own, before this package) still read.
func TestStateFormat(t *testing.T) {
	h := bytes.Repeat([]byte{1}, 32)
	s := NewState("f1", h, t0, 3*time.Minute)
	s.Misses = 2
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"factor":"f1","hash":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=","sent_at":"2030-01-02T03:04:05Z","expires_at":"2030-01-02T03:07:05Z","misses":2}`
	if string(b) != want {
		t.Fatalf("state %s\nwant  %s", b, want)
	}
	if got, ok := Read(b); !ok || got.Factor != "f1" || got.Misses != 2 || !got.ExpiresAt.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("Read = %+v, %v", got, ok)
	}
	for _, bad := range []string{"", "{", `{"v":2,"factor":"f1","hash":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}`,
		`{"v":1,"hash":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}`, `{"v":1,"factor":"f1","hash":"AQE="}`} {
		if _, ok := Read([]byte(bad)); ok {
			t.Errorf("Read(%s) accepted", bad)
		}
	}
}

func TestCheck(t *testing.T) {
	c := Code{Key: []byte("k"), Domain: "test v1"}
	f := storage.Factor{ID: "f1"}
	sent := func(ttl time.Duration) []byte {
		b, err := NewState(f.ID, Hash(c.Key, c.Domain, "req", f.ID, "123456"), t0, ttl).Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	used := f
	used.LastUsedAt = t0
	tests := []struct {
		name    string
		req     string
		state   []byte
		factors []storage.Factor
		typed   string
		at      time.Time
		want    Verdict
	}{
		{"right", "req", sent(MaxTTL), []storage.Factor{f}, "123 456", t0, Live},
		{"malformed", "req", sent(MaxTTL), []storage.Factor{f}, "12345", t0, Malformed},
		{"no state", "req", nil, []storage.Factor{f}, "123456", t0, NoCode},
		{"factor gone", "req", sent(MaxTTL), nil, "123456", t0, UnknownFactor},
		{"expired", "req", sent(time.Minute), []storage.Factor{f}, "123456", t0.Add(time.Minute), Expired},
		{"a stored end past MaxTTL", "req", sent(time.Hour), []storage.Factor{f}, "123456", t0.Add(MaxTTL), Expired},
		{"used since", "req", sent(MaxTTL), []storage.Factor{used}, "123456", t0, Used},
		{"another login", "req2", sent(MaxTTL), []storage.Factor{f}, "123456", t0, Wrong},
		{"wrong", "req", sent(MaxTTL), []storage.Factor{f}, "654321", t0, Wrong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, v, st := c.Check(tt.req, tt.state, tt.factors, tt.typed, tt.at)
			if v != tt.want || (v == Live) != (got.ID == f.ID) {
				t.Fatalf("Check = %q, %d; want %d", got.ID, v, tt.want)
			}
			if v == Wrong && (st.Misses != 1 || st.Burnt) {
				t.Fatalf("a first miss: %+v", st)
			}
		})
	}
	// The fifth miss burns; a burnt code is refused even when right.
	state := sent(MaxTTL)
	for i := 1; i <= MaxMisses; i++ {
		_, v, st := c.Check("req", state, []storage.Factor{f}, "000000", t0)
		if v != Wrong || st.Burnt != (i == MaxMisses) {
			t.Fatalf("miss %d: %d, %+v", i, v, st)
		}
		state, _ = st.Encode()
	}
	if _, v, _ := c.Check("req", state, []storage.Factor{f}, "123456", t0); v != Burnt {
		t.Fatalf("the right code once burnt: %d", v)
	}
}

func TestShown(t *testing.T) {
	a, b := storage.Factor{ID: "a"}, storage.Factor{ID: "b", LastUsedAt: t0}
	sentTo := func(id string) []byte {
		s, err := NewState(id, bytes.Repeat([]byte{1}, 32), t0, MaxTTL).Encode()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name   string
		state  []byte
		resend bool
		want   string
		keep   bool
	}{
		{"nothing sent: the most recently used", nil, false, "b", false},
		{"sent: shown again", sentTo("a"), false, "a", true},
		{"sent: a resend goes to the same factor", sentTo("a"), true, "a", false},
		{"sent to a factor gone: the most recently used", sentTo("gone"), false, "b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, st, keep := Shown(tt.state, []storage.Factor{a, b}, tt.resend)
			if f.ID != tt.want || keep != tt.keep || (keep && st.Factor != f.ID) {
				t.Fatalf("Shown = %q, %+v, %v; want %q, %v", f.ID, st, keep, tt.want, tt.keep)
			}
		})
	}
}
