package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
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
		"GATEHOUSE_SMS_ALLOWED_COUNTRIES=ch, gb ,,de",
		"GATEHOUSE_SMS_CAPS_PER_NUMBER=2",
		"GATEHOUSE_SMS_CAPS_PER_ACCOUNT=3",
		"GATEHOUSE_SMS_CAPS_PER_IP=40",
		"GATEHOUSE_SMS_CAPS_PER_ORG=400",
	)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := SMS{Provider: SMSProviderTwilio, From: "+41791234567", Timeout: 3 * time.Second,
		Twilio:           Twilio{AccountSID: testAccountSID, AuthToken: testTwilioToken, BaseURL: "http://127.0.0.1:9999"},
		Webhook:          SMSWebhook{URL: "https://gw.example.com/send", Secret: testWebhookSecret},
		AllowedCountries: []string{"ch", "gb", "de"},
		Caps:             SMSCaps{PerNumber: 2, PerAccount: 3, PerIP: 40, PerOrg: 400}}
	if !reflect.DeepEqual(c.SMS, want) {
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
		if !reflect.DeepEqual(c.SMS, want) {
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
		{"allowed countries in any case", false, func(s *SMS) { webhook(s); s.AllowedCountries = []string{"GB", "ch", " De "} }, nil},
		{"allowed countries without a provider", false, func(s *SMS) { s.AllowedCountries = []string{"GB"} }, nil},
		{"a country of three letters", false, func(s *SMS) { s.AllowedCountries = []string{"GB", "CHE"} },
			[]string{`sms.allowed_countries[1]: "CHE" is not an ISO 3166-1 alpha-2 code (two letters, like GB or CH)`}},
		{"a calling code for a country", false, func(s *SMS) { s.AllowedCountries = []string{"+41"} },
			[]string{`sms.allowed_countries[0]: "+41" is not an ISO 3166-1 alpha-2 code`}},
		{"an empty country", false, func(s *SMS) { s.AllowedCountries = []string{""} },
			[]string{`sms.allowed_countries[0]: "" is not an ISO 3166-1 alpha-2 code`}},
		{"a region no number counts as", false, func(s *SMS) { s.AllowedCountries = []string{"GB", "xx", "GG"} },
			[]string{`sms.allowed_countries[1]: "xx": no phone number counts as that region`,
				`sms.allowed_countries[2]: "GG": no phone number counts as that region`}},
		{"UK for the United Kingdom", false, func(s *SMS) { s.AllowedCountries = []string{"uk"} },
			[]string{`sms.allowed_countries[0]: "uk" is not an ISO 3166-1 alpha-2 code (the United Kingdom is GB)`}},
		{"letters outside ASCII", false, func(s *SMS) { s.AllowedCountries = []string{"ÇH"} },
			[]string{`sms.allowed_countries[0]: "ÇH" is not an ISO 3166-1 alpha-2 code`}},
		{"caps set", false, func(s *SMS) { s.Caps = SMSCaps{PerNumber: 1, PerAccount: 2, PerIP: 3, PerOrg: 1000000} }, nil},
		{"negative caps", false, func(s *SMS) { s.Caps = SMSCaps{PerNumber: -1, PerAccount: -2, PerIP: -3, PerOrg: -4} }, []string{
			"sms.caps.per_number: must not be negative, got -1 (0 takes the default",
			"sms.caps.per_account: must not be negative, got -2",
			"sms.caps.per_ip: must not be negative, got -3",
			"sms.caps.per_org: must not be negative, got -4"}},
		{"a cap too high", false, func(s *SMS) { s.Caps.PerOrg = 1000001 }, []string{"sms.caps.per_org: must be at most 1000000, got 1000001"}},
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

func TestSMSCountries(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"none", nil, nil},
		{"upper-cased and trimmed", []string{"gb", " Ch ", "DE"}, []string{"GB", "CH", "DE"}},
		{"repeats dropped, order kept", []string{"ch", "GB", "CH", "gb"}, []string{"CH", "GB"}},
		{"invalid entries skipped", []string{"GB", "CHE", "", "+41", "de"}, []string{"GB", "DE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (SMS{AllowedCountries: tt.in}).Countries(); !slices.Equal(got, tt.want) {
				t.Errorf("Countries() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSMSYAML: the keys of the file, and a bad entry named by its key.
func TestSMSYAML(t *testing.T) {
	c, err := loadYAML(t, minimal+"sms:\n  allowed_countries: [gb, CH]\n  caps:\n    per_number: 1\n    per_org: 50\n")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if want := []string{"GB", "CH"}; !slices.Equal(c.SMS.Countries(), want) {
		t.Errorf("countries = %q, want %q", c.SMS.Countries(), want)
	}
	if want := (SMSCaps{PerNumber: 1, PerOrg: 50}); c.SMS.Caps != want {
		t.Errorf("caps = %+v, want %+v", c.SMS.Caps, want)
	}
	_, err = loadYAML(t, minimal+"sms:\n  allowed_countries: [GB, Switzerland]\n  caps:\n    per_ip: -5\n")
	for _, want := range []string{`sms.allowed_countries[1]: "Switzerland" is not an ISO 3166-1 alpha-2 code`, "sms.caps.per_ip: must not be negative, got -5"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load error %v, want it to contain %q", err, want)
		}
	}
}
