package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	testTwilioToken   = "twilio-hunter2-S3CRET"
	testWebhookSecret = "webhook-hunter2-S3CRET"
	testAccountSID    = "AC0123456789abcdef0123456789abcdef"
	testServiceSID    = "MG0123456789abcdef0123456789abcdef"
)

// TestSMSEnv: the GATEHOUSE_SMS_* variables derived from the yaml paths
// set the section, and both secret files are read like every *_file.
func TestSMSEnv(t *testing.T) {
	dir := t.TempDir()
	tokenFile, secretFile := filepath.Join(dir, "twilio-token"), filepath.Join(dir, "webhook-secret")
	for path, content := range map[string]string{tokenFile: testTwilioToken + "\n", secretFile: testWebhookSecret + "\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := loadYAML(t, minimal,
		"GATEHOUSE_SMS_PROVIDER=twilio",
		"GATEHOUSE_SMS_FROM=+41791234567",
		"GATEHOUSE_SMS_TIMEOUT=3s",
		"GATEHOUSE_SMS_TWILIO_ACCOUNT_SID="+testAccountSID,
		"GATEHOUSE_SMS_TWILIO_AUTH_TOKEN_FILE="+tokenFile,
		"GATEHOUSE_SMS_TWILIO_BASE_URL=http://127.0.0.1:9999",
		"GATEHOUSE_SMS_WEBHOOK_URL=https://gw.example.com/send",
		"GATEHOUSE_SMS_WEBHOOK_SECRET_FILE="+secretFile,
	)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := SMS{Provider: SMSProviderTwilio, From: "+41791234567", Timeout: 3 * time.Second,
		Twilio:  Twilio{AccountSID: testAccountSID, AuthToken: testTwilioToken, BaseURL: "http://127.0.0.1:9999"},
		Webhook: SMSWebhook{URL: "https://gw.example.com/send", Secret: testWebhookSecret}}
	if c.SMS != want {
		t.Errorf("sms = %+v, want %+v", c.SMS, want)
	}

	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "config", c)
	for _, out := range []string{buf.String(), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(out, testTwilioToken) || strings.Contains(out, testWebhookSecret) {
			t.Fatalf("output leaks an SMS secret:\n%s", out)
		}
	}
}

func TestSMSDefaults(t *testing.T) {
	for name, c := range map[string]Config{"production": Default(), "dev": DevDefault()} {
		want := SMS{Timeout: 10 * time.Second, Twilio: Twilio{BaseURL: "https://api.twilio.com"}}
		if c.SMS != want {
			t.Errorf("%s sms defaults = %+v, want %+v", name, c.SMS, want)
		}
	}
}

func TestValidateSMS(t *testing.T) {
	twilio := func(s *SMS) {
		s.Provider, s.From = SMSProviderTwilio, "+41791234567"
		s.Twilio.AccountSID, s.Twilio.AuthToken = testAccountSID, testTwilioToken
	}
	webhook := func(s *SMS) { s.Provider, s.Webhook.URL = SMSProviderWebhook, "https://gw.example.com/send" }
	tests := []struct {
		name   string
		dev    bool
		mutate func(s *SMS)
		want   []string // empty: valid
	}{
		{"unset is valid", false, func(s *SMS) {}, nil},
		{"twilio with from", false, twilio, nil},
		{"twilio with a token file", false, func(s *SMS) { twilio(s); s.Twilio.AuthToken, s.Twilio.AuthTokenFile = "", "/run/secrets/twilio" }, nil},
		{"twilio with a messaging service", false, func(s *SMS) { twilio(s); s.From, s.Twilio.MessagingServiceSID = "", testServiceSID }, nil},
		{"twilio from an alphanumeric sender", false, func(s *SMS) { twilio(s); s.From = "Example ID" }, nil},
		{"twilio from a short code", false, func(s *SMS) { twilio(s); s.From = "12345" }, nil},
		{"twilio at a loopback mock", false, func(s *SMS) { twilio(s); s.Twilio.BaseURL = "http://127.0.0.1:8089" }, nil},
		{"twilio without anything", false, func(s *SMS) { s.Provider = SMSProviderTwilio }, []string{
			"sms.twilio.account_sid: required when sms.provider is twilio",
			"sms.twilio.auth_token: required when sms.provider is twilio (set sms.twilio.auth_token_file",
			"sms.from: required when sms.provider is twilio, unless sms.twilio.messaging_service_sid is set"}},
		{"twilio with a bad account sid", false, func(s *SMS) { twilio(s); s.Twilio.AccountSID = testServiceSID },
			[]string{`sms.twilio.account_sid: "MG0123456789abcdef0123456789abcdef" is not a Twilio account SID`}},
		{"twilio with a bad service sid", false, func(s *SMS) { twilio(s); s.From, s.Twilio.MessagingServiceSID = "", "MGxyz" },
			[]string{`sms.twilio.messaging_service_sid: "MGxyz" is not a Messaging Service SID`}},
		{"twilio with from and a service", false, func(s *SMS) { twilio(s); s.Twilio.MessagingServiceSID = testServiceSID },
			[]string{"sms.from: set either sms.from or sms.twilio.messaging_service_sid, not both"}},
		{"twilio over http to a remote host", false, func(s *SMS) { twilio(s); s.Twilio.BaseURL = "http://api.twilio.com" },
			[]string{`sms.twilio.base_url: "http://api.twilio.com" must use https`}},
		{"twilio base url with a query", false, func(s *SMS) { twilio(s); s.Twilio.BaseURL = "https://api.twilio.com?x=1" },
			[]string{`sms.twilio.base_url: "https://api.twilio.com" must not have a query or fragment`}},
		{"token inline and by file", false, func(s *SMS) { twilio(s); s.Twilio.AuthTokenFile = "/x" },
			[]string{"sms.twilio.auth_token: sms.twilio.auth_token and sms.twilio.auth_token_file are both set"}},
		{"from without a country code", false, func(s *SMS) { twilio(s); s.From = "0791234567" },
			[]string{`sms.from: "0791234567" is not an E.164 number`}},
		{"from too long for a sender id", false, func(s *SMS) { twilio(s); s.From = "Example Identity" },
			[]string{`sms.from: "Example Identity" is not an E.164 number`}},
		{"webhook", false, webhook, nil},
		{"webhook with a secret and a query", false, func(s *SMS) { webhook(s); s.Webhook.URL += "?route=otp"; s.Webhook.SecretFile = "/s" }, nil},
		{"webhook to a loopback gateway", false, func(s *SMS) { webhook(s); s.Webhook.URL = "http://localhost:9000/sms" }, nil},
		{"webhook without url", false, func(s *SMS) { s.Provider = SMSProviderWebhook }, []string{"sms.webhook.url: required when sms.provider is webhook"}},
		{"webhook over http, query not echoed", false, func(s *SMS) { webhook(s); s.Webhook.URL = "http://gw.example.com/send?token=hunter2-s3cret" },
			[]string{`sms.webhook.url: "http://gw.example.com/send" must use https`}},
		{"webhook with user info, not echoed", false, func(s *SMS) { webhook(s); s.Webhook.URL = "https://u:hunter2-s3cret@gw.example.com/" },
			[]string{`sms.webhook.url: "https://gw.example.com/" must not contain user info`}},
		{"webhook relative", false, func(s *SMS) { webhook(s); s.Webhook.URL = "gw.example.com/send" },
			[]string{"sms.webhook.url: must be an absolute https URL"}},
		{"dev provider in dev mode", true, func(s *SMS) { s.Provider = SMSProviderDev }, nil},
		{"dev provider outside dev mode", false, func(s *SMS) { s.Provider = SMSProviderDev },
			[]string{"sms.provider: dev is allowed only in dev mode"}},
		{"unknown provider", false, func(s *SMS) { s.Provider = "nexmo" }, []string{`sms.provider: "nexmo" is not one of twilio, webhook, dev (or leave it empty)`}},
		{"twilio settings without a provider", false, func(s *SMS) { s.Twilio.AccountSID = testAccountSID },
			[]string{"sms.provider: required when sms.twilio.account_sid is set (set sms.provider: twilio)"}},
		{"webhook secret without a provider", false, func(s *SMS) { s.Webhook.SecretFile = "/s" },
			[]string{"sms.provider: required when sms.webhook.secret is set (set sms.provider: webhook)"}},
		{"zero timeout", false, func(s *SMS) { s.Timeout = 0 }, []string{"sms.timeout: must be greater than 0"}},
		{"huge timeout", false, func(s *SMS) { s.Timeout = time.Hour }, []string{"sms.timeout: must be at most 1m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fullConfig()
			c.Dev = tt.dev
			tt.mutate(&c.SMS)
			err := c.Validate()
			assertProblems(t, err, tt.want, testTwilioToken, "hunter2-s3cret")
		})
	}
}
