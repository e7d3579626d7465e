package storage

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestFactorPending: an enrolment waits until confirmed or ended; its end
// is exclusive, and a zero end never comes.
func TestFactorPending(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name string
		f    Factor
		want bool
	}{
		{"unconfirmed, no end", Factor{}, true},
		{"unconfirmed, ends later", Factor{ExpiresAt: now.Add(time.Microsecond)}, true},
		{"unconfirmed, ends now", Factor{ExpiresAt: now}, false},
		{"unconfirmed, ended", Factor{ExpiresAt: now.Add(-time.Hour)}, false},
		{"confirmed", Factor{ConfirmedAt: now.Add(-time.Hour)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.Pending(now); got != tc.want {
				t.Errorf("Pending = %v; want %v", got, tc.want)
			}
		})
	}
}

// TestFactorLogValueRedacts: a factor logged whole shows no secret, address
// or method data.
func TestFactorLogValueRedacts(t *testing.T) {
	var buf bytes.Buffer
	f := Factor{ID: "f-1", UserID: "u-1", Kind: FactorTOTP, Secret: []byte("SEALEDSEED"), Address: "alice@acme.example",
		Data: []byte(`{"k":"DATA"}`)}
	slog.New(slog.NewTextHandler(&buf, nil)).Info("factor", "factor", f)
	out := buf.String()
	for _, secret := range []string{"SEALEDSEED", "alice@acme.example", "DATA"} {
		if strings.Contains(out, secret) {
			t.Errorf("log line %q contains %q", out, secret)
		}
	}
	if !strings.Contains(out, "f-1") {
		t.Errorf("log line %q does not name the factor", out)
	}
}
