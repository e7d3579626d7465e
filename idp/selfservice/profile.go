package selfservice

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/phone"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The profile at /me: the user's name and mobile number, and whether
// two-step sign-in is on.

// MaxName bounds a display name, as the admin API does.
const MaxName = 200

// Profile is what /me shows.
type Profile struct {
	User storage.User
	// Org is the organization's display name.
	Org string
	// PhoneEditable: the user may change the number themselves (see
	// phoneEditable); else only an administrator can.
	PhoneEditable bool
	// Factors counts the confirmed second factors (recovery codes left
	// out): 0 means two-step sign-in is off.
	Factors int
	// Required: the organization requires a second factor.
	Required bool
}

// ErrProfile is a profile change refused for its input; the wrapping
// error's message says what to fix, in words for the user.
var ErrProfile = errors.New("selfservice: profile refused")

// ProfileError says which field of a profile change is wrong.
type ProfileError struct{ Msg string }

func (e *ProfileError) Error() string { return e.Msg }
func (e *ProfileError) Unwrap() error { return ErrProfile }

// Profile returns the profile of userID.
func (s *Service) Profile(ctx context.Context, userID string) (Profile, error) {
	u, o, err := s.accountOrg(ctx, userID)
	if err != nil {
		return Profile{}, err
	}
	p := o.MFA
	pr := Profile{User: u, Org: o.DisplayName, Required: p.Required}
	all, err := s.Store.ListFactors(ctx, u.ID, s.now())
	if err != nil {
		return Profile{}, fmt.Errorf("selfservice: factors: %w", err)
	}
	sms := false
	for _, f := range all {
		if !f.ConfirmedAt.IsZero() && f.Kind != storage.FactorRecovery {
			pr.Factors++
			sms = sms || f.Kind == mfa.SMS
		}
	}
	pr.PhoneEditable = phoneEditable(p, sms)
	return pr, nil
}

// phoneEditable is whether a user may change the number on their own
// profile: only while the organization lets users enter their own number
// for text-message codes (mfa.SMSNumber asks them for one), and not while
// a text-message factor of theirs stands on it, whose codes the change
// would send elsewhere without a code to the new number. Otherwise the
// number is an administrator's to set.
func phoneEditable(p storage.MFAPolicy, hasSMS bool) bool {
	return !hasSMS && (p.SMSSelfEnrol || !p.Required)
}

// UpdateProfile sets the user's name and, when they may change it
// (Profile.PhoneEditable), their mobile number (as typed, with its country
// code; "" for none). Each field that changed is one audit event by the
// user. A refused field is a *ProfileError, and nothing is written.
func (s *Service) UpdateProfile(ctx context.Context, userID, name, number string) (storage.User, error) {
	name = strings.TrimSpace(name)
	if !storage.Storable(name) || utf8.RuneCountInString(name) > MaxName {
		return storage.User{}, &ProfileError{Msg: fmt.Sprintf("Use at most %d characters for your name.", MaxName)}
	}
	pr, err := s.Profile(ctx, userID)
	if err != nil {
		return storage.User{}, err
	}
	u := pr.User
	e164 := ""
	if strings.TrimSpace(number) != "" {
		if e164, err = phone.Parse(number); err != nil {
			return storage.User{}, &ProfileError{Msg: "Mobile number: " + err.Error() + "."}
		}
	}
	if e164 != u.Phone && !pr.PhoneEditable {
		return storage.User{}, &ProfileError{Msg: "Your mobile number is set by your administrator; ask them to change it."}
	}
	var old storage.User
	u, err = s.Store.UpdateUser(ctx, u.ID, func(cur storage.User) (storage.User, error) {
		old = cur
		cur.Name, cur.Phone = name, e164
		if cur.Name != old.Name || cur.Phone != old.Phone {
			cur.UpdatedAt = s.now()
		}
		return cur, nil
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("selfservice: update profile: %w", err)
	}
	if u.Name != old.Name {
		s.record(ctx, audit.UserNameChanged, u.ID, u, map[string]string{"at": "me"})
	}
	if u.Phone != old.Phone {
		s.record(ctx, audit.UserPhoneChanged, u.ID, u, map[string]string{"old": phone.Mask(old.Phone), "new": phone.Mask(u.Phone), "at": "me"})
	}
	return u, nil
}
