package selfservice

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Authenticator apps at /me: adding one, and resetting one (a new secret
// that replaces the old only once a code from it is confirmed, so that an
// abandoned reset leaves the old app working).

// appLabel is what a new app is called until the user has a way to name
// it.
const appLabel = "Authenticator app"

// resetData is what a pending reset keeps in its factor's Data: the app
// it replaces. It is kept on the server, not in the form, so that the
// confirmation replaces what the reset was begun for and nothing else.
type resetData struct {
	Replaces string `json:"replaces"`
}

// BeginTOTP starts adding an authenticator app or, with replace set to
// the id of one of the user's apps, resetting it: a new pending factor
// that expires unconfirmed. ErrNotAllowed when apps are not offered;
// ErrNoFactor when replace is not one of the user's apps.
func (s *Service) BeginTOTP(ctx context.Context, userID, replace string) (storage.Factor, error) {
	u, p, err := s.account(ctx, userID)
	if err != nil {
		return storage.Factor{}, err
	}
	if s.TOTP == nil || !mfa.Allowed(p, mfa.TOTP) {
		return storage.Factor{}, ErrNotAllowed
	}
	label, data := appLabel, []byte(nil)
	if replace != "" {
		old, err := s.factorOf(ctx, u, replace, storage.FactorTOTP, func(f storage.Factor) bool { return !f.ConfirmedAt.IsZero() })
		if err != nil {
			return storage.Factor{}, err
		}
		label = old.Label
		if data, err = json.Marshal(resetData{Replaces: old.ID}); err != nil {
			return storage.Factor{}, fmt.Errorf("selfservice: reset data: %w", err)
		}
	}
	var f storage.Factor
	err = storage.Atomically(ctx, s.Store, func(ctx context.Context) error {
		var err error
		if f, err = s.TOTP.Begin(ctx, u, label); err != nil || data == nil {
			return err
		}
		f.Data = data
		return s.Store.SetFactorData(ctx, f.ID, data, s.now())
	})
	if err != nil {
		return storage.Factor{}, fmt.Errorf("selfservice: begin an authenticator app: %w", err)
	}
	return f, nil
}

// replaces is the app a pending factor resets ("" for a new one).
func replaces(f storage.Factor) string {
	var d resetData
	if len(f.Data) == 0 || json.Unmarshal(f.Data, &d) != nil {
		return ""
	}
	return d.Replaces
}

// TOTPSetup is what the enrolment page shows of a pending app: its QR
// code (a PNG), the secret as grouped text and its otpauth URI. The raw
// secret is not in it: the method clears its copy once the page's forms
// of it are made.
type TOTPSetup struct {
	QRPNG        []byte
	Grouped, URI string
	// Reset: it replaces an app, which works until this one is confirmed.
	Reset bool
}

// LogValue, String and GoString keep the secret out of logs and prints.
func (TOTPSetup) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }
func (TOTPSetup) String() string       { return "selfservice.TOTPSetup[REDACTED]" }
func (TOTPSetup) GoString() string     { return "selfservice.TOTPSetup[REDACTED]" }

// TOTPEnrolment is what the enrolment page shows of the user's pending
// factor id (the QR code, the secret as text): only while it is pending.
func (s *Service) TOTPEnrolment(ctx context.Context, userID, id string) (TOTPSetup, error) {
	u, _, err := s.account(ctx, userID)
	if err != nil {
		return TOTPSetup{}, err
	}
	f, err := s.pending(ctx, u, id, storage.FactorTOTP)
	if err != nil {
		return TOTPSetup{}, err
	}
	if s.TOTP == nil {
		return TOTPSetup{}, ErrNotAllowed
	}
	e, err := s.TOTP.Enrolment(ctx, u, f)
	if err != nil {
		return TOTPSetup{}, fmt.Errorf("selfservice: show enrolment: %w", err)
	}
	return TOTPSetup{QRPNG: e.QRPNG, Grouped: e.Grouped, URI: e.URI, Reset: replaces(f) != ""}, nil
}

// ConfirmTOTP confirms the user's pending factor id with its first code:
// the factor becomes usable, that code's step is spent and, for a reset,
// the old app is deleted, in one unit. A wrong code counts toward the
// account's lockout.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, id, code, ip string) (Confirmed, error) {
	u, _, err := s.account(ctx, userID)
	if err != nil {
		return Confirmed{}, err
	}
	f, err := s.pending(ctx, u, id, storage.FactorTOTP)
	if err != nil {
		return Confirmed{}, err
	}
	if s.TOTP == nil {
		return Confirmed{}, ErrNotAllowed
	}
	att, err := s.reserve(ctx, u, f.Kind, ip)
	if err != nil {
		return Confirmed{}, err
	}
	old := replaces(f)
	var replace []string
	if old != "" {
		replace = []string{old}
	}
	var c Confirmed
	err = storage.Atomically(ctx, s.Store, func(ctx context.Context) error {
		if _, err := s.TOTP.Confirm(ctx, u, f, code, replace...); err != nil {
			return err
		}
		var err error
		c, err = s.confirmed(ctx, u, f)
		return err
	})
	if err := s.settle(ctx, att, u, f, err); err != nil {
		return Confirmed{}, err
	}
	c.Reset = old != ""
	// A reset replaces the app it was (gone by now): MFA was on before.
	c.First = c.First && !c.Reset
	s.added(ctx, u, c, old)
	return c, nil
}
