package mfa_test

import (
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func TestAllowed(t *testing.T) {
	off := storage.MFAPolicy{}
	any := storage.MFAPolicy{Required: true}
	listed := storage.MFAPolicy{Required: true, AllowedMethods: []string{mfa.TOTP, mfa.Email}}
	tests := []struct {
		name   string
		p      storage.MFAPolicy
		method string
		want   bool
	}{
		{"off: totp", off, mfa.TOTP, true},
		{"off: email (the address decides)", off, mfa.Email, true},
		{"on, empty list: totp", any, mfa.TOTP, true},
		{"on, empty list: webauthn", any, mfa.WebAuthn, true},
		{"on, empty list: email must be named", any, mfa.Email, false},
		{"on, listed: totp", listed, mfa.TOTP, true},
		{"on, listed: email", listed, mfa.Email, true},
		{"on, listed: sms not listed", listed, mfa.SMS, false},
		{"recovery follows any method", listed, mfa.Recovery, true},
		{"recovery with the list empty", any, mfa.Recovery, true},
	}
	for _, tt := range tests {
		if got := mfa.Allowed(tt.p, tt.method); got != tt.want {
			t.Errorf("%s: Allowed = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestEmailAddressAllowed(t *testing.T) {
	u := storage.User{ID: "u", Email: "alice@example.com"}
	tests := []struct {
		name string
		p    storage.MFAPolicy
		addr string
		want bool
	}{
		{"off, own address: one channel for both factors", storage.MFAPolicy{}, "alice@example.com", false},
		{"off, own address with other case", storage.MFAPolicy{}, "Alice@Example.com", false},
		{"off, another address", storage.MFAPolicy{}, "alice@home.example", true},
		{"on, email named, own address", storage.MFAPolicy{Required: true, AllowedMethods: []string{mfa.Email}}, "alice@example.com", true},
		{"on, email named, another address not allowed", storage.MFAPolicy{Required: true, AllowedMethods: []string{mfa.Email}}, "alice@home.example", false},
		{"on, email named, other addresses allowed", storage.MFAPolicy{Required: true, AllowedMethods: []string{mfa.Email}, OtherEmail: true}, "alice@home.example", true},
		{"on, email not named", storage.MFAPolicy{Required: true, AllowedMethods: []string{mfa.TOTP}, OtherEmail: true}, "alice@home.example", false},
		{"on, empty list", storage.MFAPolicy{Required: true}, "alice@example.com", false},
	}
	for _, tt := range tests {
		if got := mfa.EmailAddressAllowed(tt.p, u, tt.addr); got != tt.want {
			t.Errorf("%s: EmailAddressAllowed = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCounts(t *testing.T) {
	u := storage.User{ID: "u", Email: "alice@example.com"}
	app := storage.Factor{ID: "f", UserID: "u", Kind: mfa.TOTP, ConfirmedAt: t0}
	pending := app
	pending.ConfirmedAt = time.Time{}
	other := app
	other.UserID = "v"
	usedCode := storage.Factor{ID: "r", UserID: "u", Kind: mfa.Recovery, ConfirmedAt: t0, LastUsedAt: t0.Add(time.Hour)}
	code := usedCode
	code.LastUsedAt = time.Time{}
	ownMail := storage.Factor{ID: "e", UserID: "u", Kind: mfa.Email, Address: "alice@example.com", ConfirmedAt: t0}
	on := storage.MFAPolicy{Required: true, AllowedMethods: []string{mfa.TOTP}}
	again := on
	again.Since = t0.Add(time.Minute)
	tests := []struct {
		name string
		p    storage.MFAPolicy
		f    storage.Factor
		want bool
	}{
		{"confirmed app, MFA off", storage.MFAPolicy{}, app, true},
		{"confirmed app, MFA on", on, app, true},
		{"pending app", on, pending, false},
		{"another user's factor", on, other, false},
		{"a method removed from the list", storage.MFAPolicy{Required: true, AllowedMethods: []string{mfa.WebAuthn}}, app, false},
		{"from before the generation", again, app, false},
		{"confirmed at the generation's start", storage.MFAPolicy{Required: true, Since: t0}, app, true},
		{"generation ignored while MFA is off", storage.MFAPolicy{Since: t0.Add(time.Hour)}, app, true},
		{"an unused recovery code", on, code, true},
		{"a used recovery code", on, usedCode, false},
		{"email to the own address, email not named", storage.MFAPolicy{}, ownMail, false},
		{"email to the own address, email named", storage.MFAPolicy{Required: true, AllowedMethods: []string{mfa.Email}}, ownMail, true},
	}
	for _, tt := range tests {
		if got := mfa.Counts(tt.p, u, tt.f); got != tt.want {
			t.Errorf("%s: Counts = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSkipped(t *testing.T) {
	p := storage.MFAPolicy{Required: true, AllowSkip: true}
	skipped := storage.User{MFASkipped: true, MFASkippedAt: t0}
	tests := []struct {
		name string
		p    storage.MFAPolicy
		u    storage.User
		want bool
	}{
		{"skipped, skip allowed", p, skipped, true},
		{"never skipped", p, storage.User{}, false},
		{"skip no longer offered", storage.MFAPolicy{Required: true}, skipped, false},
		{"MFA off: nothing to skip", storage.MFAPolicy{AllowSkip: true}, skipped, false},
		{"a new generation clears it", storage.MFAPolicy{Required: true, AllowSkip: true, Since: t0.Add(time.Second)}, skipped, false},
		{"an admin reset clears it", p, storage.User{MFASkipped: true, MFASkippedAt: t0, MFAEnrollRequired: true}, false},
		{"flag without a time (a row from before)", p, storage.User{MFASkipped: true}, false},
	}
	for _, tt := range tests {
		if got := mfa.Skipped(tt.p, tt.u); got != tt.want {
			t.Errorf("%s: Skipped = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMaskAddress(t *testing.T) {
	for in, want := range map[string]string{
		"alice@example.com": "a•••e@example.com",
		"al@example.com":    "a•••@example.com",
		"ü@example.com":     "ü•••@example.com",
		"nonsense":          "•••",
		"@example.com":      "•••",
	} {
		if got := mfa.MaskAddress(in); got != want {
			t.Errorf("MaskAddress(%q) = %q, want %q", in, got, want)
		}
	}
}
