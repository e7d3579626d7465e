package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// auditOf lists the audit events of type typ about userID, newest first.
func (h *harness) auditOf(userID, typ string) []storage.AuditEvent {
	h.t.Helper()
	evs, err := h.inst.Store.ListAuditEvents(h.ctx, storage.AuditQuery{UserID: userID, Type: typ, Limit: 100})
	if err != nil {
		h.t.Fatal(err)
	}
	return evs
}

// TestSMSConfiguredLimits: sms.allowed_countries and sms.caps from the
// configuration reach the method. With only GB allowed, a Swiss number
// gets no text; with one text per number an hour, the second sign-in's
// code is refused with the plain-words notice. Both refusals are in the
// audit log.
func TestSMSConfiguredLimits(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) { eachSMSConfiguredLimits(t, backend) })
	}
}

func eachSMSConfiguredLimits(t *testing.T, backend string) {
	h, gw := newSMSHarness(t, backend, func(s *config.SMS) {
		s.AllowedCountries, s.Caps = []string{"gb"}, config.SMSCaps{PerNumber: 1}
	})
	h.client("web", nil)
	alice, bob := h.user(aliceEmail, alicePW), h.user(bobEmail, alicePW)
	const ukNumber, swissNumber = "+447700900123", "+41791234567"
	for email, number := range map[string]string{aliceEmail: ukNumber, bobEmail: swissNumber} {
		if _, err := h.inst.Admin.SetPhone(h.ctx, "test-admin", email, number); err != nil {
			t.Fatal(err)
		}
	}
	h.setMFAPolicy(admin.MFAPolicyInput{Required: true, Methods: []string{"sms", "totp"}})

	t.Run("country not allowed", func(t *testing.T) {
		b := h.browser()
		p := b.login(b.get(h.authURL("web", nil)), bobEmail, alicePW)
		p = b.press(p, `data-method="sms"`, nil)
		wantPage(t, "a Swiss number", p, http.StatusUnprocessableEntity, "Text messages cannot be sent to numbers in this country. Choose another method.")
		if gw.count() != 0 {
			t.Fatalf("%d texts sent to a country not allowed", gw.count())
		}
		if !strings.Contains(p.body, `data-method="totp"`) {
			t.Fatalf("the app is not offered instead:\n%s", p.body)
		}
		// authflow records the refused enrolment (the number was
		// refused before any text could be).
		evs := h.auditOf(bob, "mfa.enrol_refused")
		if len(evs) != 1 || evs[0].Details["reason"] != "country_not_allowed" || evs[0].Details["method"] != "sms" {
			t.Fatalf("audit events %+v; want an mfa.enrol_refused for country_not_allowed", evs)
		}
	})

	t.Run("per_number cap", func(t *testing.T) {
		b := h.browser()
		p := b.login(b.get(h.authURL("web", nil)), aliceEmail, alicePW)
		p = b.press(p, `data-method="sms"`, nil)
		wantPage(t, "enrolment", p, http.StatusOK, "Check your phone")
		b.press(p, `name="code"`, map[string]string{"code": gw.last(t, ukNumber)})
		if gw.count() != 1 {
			t.Fatalf("%d texts after the enrolment; want 1", gw.count())
		}
		// The next sign-in within the hour: the number's one text is
		// used up.
		c := h.browser()
		lp := c.login(c.get(h.authURL("web", nil)), aliceEmail, alicePW)
		wantPage(t, "second send", lp, http.StatusOK, "Too many codes were sent. Wait a while, then send a new code, or use another method.")
		if gw.count() != 1 {
			t.Fatalf("%d texts; the cap of 1 let a second one out", gw.count())
		}
		evs := h.auditOf(alice, audit.SMSNotSent)
		if len(evs) != 1 || evs[0].Details["reason"] != "cap_reached" || evs[0].Details["cap"] != "number" ||
			evs[0].Details["number"] != "+**********23" || evs[0].Details["purpose"] != "sign_in" {
			t.Fatalf("audit events %+v; want one mfa.sms_not_sent for the number cap", evs)
		}
		if strings.Contains(evs[0].Details["number"], "7700900") {
			t.Fatal("the audit event holds the number")
		}
		// An hour later the cap has room again.
		h.clock.Advance(61 * time.Minute)
		d := h.browser()
		wantPage(t, "after the window", d.login(d.get(h.authURL("web", nil)), aliceEmail, alicePW), http.StatusOK, "We sent a new code")
		if gw.count() != 2 {
			t.Fatalf("%d texts; want 2 after the window", gw.count())
		}
	})
}
