package notify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/notify"
)

var e164Only = regexp.MustCompile(`^\+[0-9]{8,15}$`)

// FuzzCheckPhoneNumber: only E.164 passes, and every refusal is a
// rejection a caller can tell apart.
func FuzzCheckPhoneNumber(f *testing.F) {
	for _, s := range []string{"+41791234567", "0791234567", "+41 79 123", "", "+", "+١٢٣٤٥٦٧٨٩"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := notify.CheckPhoneNumber(s)
		if (err == nil) != e164Only.MatchString(s) {
			t.Fatalf("CheckPhoneNumber(%q) = %v", s, err)
		}
		if err != nil && !errors.Is(err, notify.ErrSMSRejected) {
			t.Fatalf("CheckPhoneNumber(%q) = %v, not ErrSMSRejected", s, err)
		}
	})
}

// FuzzGatewayAnswer: whatever a gateway answers, Twilio and webhook
// senders return a result or an error of one line that is unavailable
// or rejected, never both, and never a panic.
func FuzzGatewayAnswer(f *testing.F) {
	f.Add(201, `{"sid": "SM1", "status": "queued"}`)
	f.Add(400, `{"code": 21211, "message": "bad\nnumber", "more_info": "x"}`)
	f.Add(500, "<html>")
	f.Add(299, `{"id": 5}`)
	f.Add(404, "\xff\xfe")
	var status atomic.Int32
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(status.Load()))
		w.Write([]byte(body.Load().(string)))
	}))
	f.Cleanup(srv.Close)
	tw, err := notify.NewTwilio(config.SMS{From: "+15005550006", Timeout: 2 * time.Second,
		Twilio: config.Twilio{AccountSID: testSID, AuthToken: testTwilioAuth, BaseURL: srv.URL}}, notify.Options{})
	if err != nil {
		f.Fatal(err)
	}
	wh, err := notify.NewWebhook(config.SMS{Timeout: 2 * time.Second, Webhook: config.SMSWebhook{URL: srv.URL}}, notify.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, code int, answer string) {
		if code < 200 || code > 599 {
			return
		}
		status.Store(int32(code))
		body.Store(answer)
		for _, s := range []notify.SMSSender{tw, wh} {
			_, err := s.SendSMS(context.Background(), testPhone, testText)
			if err == nil {
				continue
			}
			if errors.Is(err, notify.ErrSMSUnavailable) == errors.Is(err, notify.ErrSMSRejected) {
				t.Fatalf("%T: %v is neither or both", s, err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("%T: a gateway's answer breaks the log line: %q", s, err)
			}
		}
	})
}
