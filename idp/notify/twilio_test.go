package notify_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/notify"
)

const (
	testSID        = "AC0123456789abcdef0123456789abcdef"
	testService    = "MG0123456789abcdef0123456789abcdef"
	testTwilioAuth = "twilio-token-S3CRET"
)

func twilioConfig(baseURL string) config.SMS {
	return config.SMS{Provider: config.SMSProviderTwilio, From: "+15005550006", Timeout: 2 * time.Second,
		Twilio: config.Twilio{AccountSID: testSID, AuthToken: testTwilioAuth, BaseURL: baseURL}}
}

func newTwilio(t *testing.T, cfg config.SMS) *notify.Twilio {
	t.Helper()
	s, err := notify.NewTwilio(cfg, notify.Options{})
	if err != nil {
		t.Fatalf("NewTwilio: %v", err)
	}
	return s
}

// checkTwilioRequest is what Twilio's Messages API expects; wantSender
// is the one sender field and its value.
func checkTwilioRequest(wantSender, value string) func(t *testing.T, r *http.Request, body []byte) {
	return func(t *testing.T, r *http.Request, body []byte) {
		if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+testSID+"/Messages.json" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		if user, pw, ok := r.BasicAuth(); !ok || user != testSID || pw != testTwilioAuth {
			t.Errorf("basic auth %q %q %v", user, pw, ok)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("content type %q", ct)
		}
		if ua := r.Header.Get("User-Agent"); ua != notify.SMSUserAgent {
			t.Errorf("user agent %q", ua)
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			t.Fatal(err)
		}
		want := url.Values{"To": {testPhone}, "Body": {testText}, wantSender: {value}}
		if form.Encode() != want.Encode() {
			t.Errorf("form %v, want %v", form, want)
		}
	}
}

func TestTwilio(t *testing.T) {
	tests := []struct {
		name          string
		mutate        func(c *config.SMS)
		sender, value string
	}{
		{"from a number", func(c *config.SMS) {}, "From", "+15005550006"},
		{"through a messaging service", func(c *config.SMS) { c.From, c.Twilio.MessagingServiceSID = "", testService }, "MessagingServiceSid", testService},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startGateway(t, checkTwilioRequest(tt.sender, tt.value),
				reply(http.StatusCreated, `{"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "to": "+41791234567"}`))
			cfg := twilioConfig(srv.URL + "/") // a trailing slash is not doubled
			tt.mutate(&cfg)
			res, err := newTwilio(t, cfg).SendSMS(context.Background(), testPhone, testText)
			if err != nil {
				t.Fatalf("SendSMS: %v", err)
			}
			want := notify.SMSResult{Provider: "twilio", ID: "SM0123456789abcdef0123456789abcdef", Status: "queued", Attempts: 1}
			if res != want || srv.hits.Load() != 1 {
				t.Errorf("result %+v after %d requests, want %+v", res, srv.hits.Load(), want)
			}
		})
	}
}

// TestTwilioErrors: Twilio's error JSON becomes a clear log line and the
// right sentinel; only a network error or a 5xx is retried, once.
func TestTwilioErrors(t *testing.T) {
	twilioErr := func(code int, msg string) string {
		return `{"code": ` + strconv.Itoa(code) + `, "message": "` + msg + `", "more_info": "https://www.twilio.com/docs/errors/` + strconv.Itoa(code) + `", "status": 400}`
	}
	tests := []struct {
		name     string
		answer   func(w http.ResponseWriter, n int)
		want     error
		code     int
		requests int32
		text     []string
	}{
		{"bad credentials", reply(401, twilioErr(20003, "Authenticate")), notify.ErrSMSRejected, 20003, 1,
			[]string{"sms twilio http://", "rejected: HTTP 401, twilio error 20003 (authentication failed: check sms.twilio.account_sid and sms.twilio.auth_token): Authenticate <https://www.twilio.com/docs/errors/20003>"}},
		{"invalid to", reply(400, twilioErr(21211, "The 'To' number +4179 is not a valid phone number.")), notify.ErrSMSRejected, 21211, 1,
			[]string{"twilio error 21211 (invalid 'To' number): The 'To' number"}},
		{"region not enabled", reply(400, twilioErr(21408, "Permission to send an SMS has not been enabled for the region")), notify.ErrSMSRejected, 21408, 1,
			[]string{"(permission to send to this region is not enabled"}},
		{"unsubscribed", reply(400, twilioErr(21610, "Attempt to send to unsubscribed recipient")), notify.ErrSMSRejected, 21610, 1,
			[]string{"(the recipient has unsubscribed (replied STOP))"}},
		{"landline", reply(400, twilioErr(21614, "'To' number is not a valid mobile number")), notify.ErrSMSRejected, 21614, 1,
			[]string{"(not a mobile number)"}},
		{"carrier filtered", reply(400, twilioErr(30007, "Message filtered")), notify.ErrSMSRejected, 30007, 1,
			[]string{"(the carrier filtered the message)"}},
		{"unknown code", reply(400, twilioErr(21999, "Something new")), notify.ErrSMSRejected, 21999, 1,
			[]string{"HTTP 400, twilio error 21999: Something new"}},
		{"too many requests: unavailable, not retried", reply(429, twilioErr(20429, "Too Many Requests")), notify.ErrSMSUnavailable, 20429, 1,
			[]string{"gateway unavailable: HTTP 429, twilio error 20429 (too many requests)"}},
		{"5xx twice: one retry, then unavailable", reply(503, twilioErr(20500, "Internal Server Error")), notify.ErrSMSUnavailable, 20500, 2,
			[]string{"gateway unavailable: HTTP 503, twilio error 20500: Internal Server Error", "(after 2 attempts)"}},
		{"a non-JSON 502 twice", reply(502, "<html>Bad Gateway</html>"), notify.ErrSMSUnavailable, 0, 2,
			[]string{"HTTP 502: <html>Bad Gateway</html> (after 2 attempts)"}},
		{"a 2xx without a sid", reply(200, "<html>Welcome to the hotel wifi</html>"), notify.ErrSMSUnavailable, 0, 1,
			[]string{"a success without a message sid: <html>Welcome"}},
		{"a redirect is not followed", func(w http.ResponseWriter, _ int) {
			w.Header().Set("Location", "https://elsewhere.example.com/")
			w.WriteHeader(http.StatusFound)
		},
			notify.ErrSMSRejected, 0, 1, []string{"rejected: HTTP 302"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startGateway(t, nil, tt.answer)
			_, err := newTwilio(t, twilioConfig(srv.URL)).SendSMS(context.Background(), testPhone, testText)
			var se *notify.SMSError
			if !errors.Is(err, tt.want) || !errors.As(err, &se) {
				t.Fatalf("SendSMS = %v, want an *SMSError wrapping %v", err, tt.want)
			}
			other := notify.ErrSMSRejected
			if tt.want == notify.ErrSMSRejected {
				other = notify.ErrSMSUnavailable
			}
			if errors.Is(err, other) {
				t.Errorf("%v is both unavailable and rejected", err)
			}
			if se.Code != tt.code || srv.hits.Load() != tt.requests {
				t.Errorf("code %d after %d requests, want %d after %d", se.Code, srv.hits.Load(), tt.code, tt.requests)
			}
			for _, w := range tt.text {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), testTwilioAuth) {
				t.Errorf("error shows the auth token: %v", err)
			}
		})
	}
}

func TestTwilioRetrySucceeds(t *testing.T) {
	srv := startGateway(t, checkTwilioRequest("From", "+15005550006"),
		failFirst(http.StatusInternalServerError, reply(http.StatusCreated, `{"sid": "SMabc", "status": "accepted"}`)))
	res, err := newTwilio(t, twilioConfig(srv.URL)).SendSMS(context.Background(), testPhone, testText)
	if err != nil || res.ID != "SMabc" || res.Attempts != 2 || srv.hits.Load() != 2 {
		t.Errorf("SendSMS = %+v, %v after %d requests", res, err, srv.hits.Load())
	}
}

func TestNewTwilio(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *config.SMS)
		want   string
	}{
		{"no account", func(c *config.SMS) { c.Twilio.AccountSID = "" }, "sms.twilio.account_sid is not set"},
		{"no token", func(c *config.SMS) { c.Twilio.AuthToken = "" }, "sms.twilio.auth_token is not set"},
		{"no sender", func(c *config.SMS) { c.From = "" }, "needs sms.from or sms.twilio.messaging_service_sid"},
		{"http to a remote host", func(c *config.SMS) { c.Twilio.BaseURL = "http://api.twilio.com" }, "must use https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := twilioConfig("")
			tt.mutate(&cfg)
			if _, err := notify.NewTwilio(cfg, notify.Options{}); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewTwilio = %v, want %q", err, tt.want)
			}
		})
	}
	s := newTwilio(t, twilioConfig(""))
	if s.Endpoint() != "https://api.twilio.com/2010-04-01/Accounts/"+testSID+"/Messages.json" {
		t.Errorf("default endpoint %s", s.Endpoint())
	}
	// The message is checked before any request.
	if _, err := s.SendSMS(context.Background(), "0791234567", testText); !errors.Is(err, notify.ErrSMSRejected) {
		t.Errorf("a number without country code: %v", err)
	}
	if _, err := s.SendSMS(context.Background(), testPhone, " "); !errors.Is(err, notify.ErrSMSRejected) {
		t.Errorf("empty text: %v", err)
	}
}
