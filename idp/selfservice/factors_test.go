package selfservice_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/totp"
	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func withSealer(t *testing.T, e *env) {
	t.Helper()
	k, err := masterkey.New(bytes.Repeat([]byte{7}, 32))
	must(t, err)
	e.svc.Sealer = k
}

func TestAddTOTP(t *testing.T) {
	e := newEnv(t)
	withSealer(t, e)
	f, err := e.svc.BeginTOTP(e.ctx, e.alice.ID)
	must(t, err)
	if bytes.Contains(f.Secret, []byte("otpauth")) || len(f.Secret) < 20 {
		t.Fatalf("stored secret looks unsealed: %d bytes", len(f.Secret))
	}
	en, err := e.svc.TOTPEnrolment(e.ctx, e.alice.ID, f.ID)
	must(t, err)
	if en.Grouped == "" || len(en.QRPNG) == 0 {
		t.Fatal("enrolment without text or QR")
	}
	// Another user cannot see or confirm it.
	if _, err := e.svc.TOTPEnrolment(e.ctx, e.ivy.ID, f.ID); !errors.Is(err, selfservice.ErrNoFactor) {
		t.Fatalf("another user's enrolment: %v", err)
	}
	// Not usable until confirmed.
	if fs, _ := e.svc.Factors(e.ctx, e.alice.ID); len(fs) != 0 {
		t.Fatalf("factors before confirmation: %v", fs)
	}
	if err := e.svc.ConfirmTOTP(e.ctx, e.alice.ID, f.ID, "000000", ""); !errors.Is(err, selfservice.ErrWrongCode) {
		t.Fatalf("wrong code: %v", err)
	}
	if e.guard.failures != 1 {
		t.Errorf("a wrong confirming code counted %d failures, want 1", e.guard.failures)
	}
	code, err := totp.Code(en.Secret, e.now)
	must(t, err)
	must(t, e.svc.ConfirmTOTP(e.ctx, e.alice.ID, f.ID, code, ""))
	fs, err := e.svc.Factors(e.ctx, e.alice.ID)
	must(t, err)
	if len(fs) != 1 || fs[0].LastStep != totp.Step(e.now) {
		t.Fatalf("after confirmation: %+v", fs)
	}
	// Confirmed once; the enrolment page is gone.
	if _, err := e.svc.TOTPEnrolment(e.ctx, e.alice.ID, f.ID); !errors.Is(err, selfservice.ErrNoFactor) {
		t.Fatalf("enrolment page after confirmation: %v", err)
	}
	// Removing the last factor is refused while the org requires MFA.
	_, err = e.st.UpdateOrganization(e.ctx, e.org.ID, func(o storage.Organization) (storage.Organization, error) {
		o.MFA.Required = true
		return o, nil
	})
	must(t, err)
	if err := e.svc.RemoveFactor(e.ctx, e.alice.ID, f.ID); !errors.Is(err, selfservice.ErrLastFactor) {
		t.Fatalf("removing the last factor under required MFA: %v", err)
	}
	_, err = e.st.UpdateOrganization(e.ctx, e.org.ID, func(o storage.Organization) (storage.Organization, error) {
		o.MFA.Required = false
		return o, nil
	})
	must(t, err)
	if err := e.svc.RemoveFactor(e.ctx, e.ivy.ID, f.ID); !errors.Is(err, selfservice.ErrNoFactor) {
		t.Fatalf("another user removing it: %v", err)
	}
	must(t, e.svc.RemoveFactor(e.ctx, e.alice.ID, f.ID))
}

func TestEnrolmentExpires(t *testing.T) {
	e := newEnv(t)
	withSealer(t, e)
	f, err := e.svc.BeginTOTP(e.ctx, e.alice.ID)
	must(t, err)
	en, err := e.svc.TOTPEnrolment(e.ctx, e.alice.ID, f.ID)
	must(t, err)
	e.now = e.now.Add(selfservice.EnrolTTL)
	code, err := totp.Code(en.Secret, e.now)
	must(t, err)
	if err := e.svc.ConfirmTOTP(e.ctx, e.alice.ID, f.ID, code, ""); !errors.Is(err, selfservice.ErrNoFactor) {
		t.Fatalf("confirming an expired enrolment: %v", err)
	}
}
