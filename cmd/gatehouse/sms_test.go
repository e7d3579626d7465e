package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// smsGateway is a local webhook gateway that verifies the signature as a
// gateway author would and answers with status and body.
func smsGateway(t *testing.T, secret string, status int, answer string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		var msg struct{ To, Text string }
		if err := json.Unmarshal(body, &msg); err != nil || msg.To != "+41791234567" || !strings.Contains(msg.Text, "gatehouse sms test") {
			t.Errorf("body %s: %v", body, err)
		}
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(r.Header.Get("X-Gatehouse-Timestamp") + "." + string(body)))
		if got, want := r.Header.Get("X-Gatehouse-Signature"), "sha256="+hex.EncodeToString(m.Sum(nil)); got != want {
			t.Errorf("signature %q, want %q", got, want)
		}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestSMSTest(t *testing.T) {
	dataDir := []string{"--data-dir", filepath.Join(t.TempDir(), "data")}
	secret := filepath.Join(t.TempDir(), "webhook-secret")
	if err := os.WriteFile(secret, []byte("gw-S3CRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	webhookEnv := func(url string) []string {
		return []string{"GATEHOUSE_SMS_PROVIDER=webhook", "GATEHOUSE_SMS_WEBHOOK_URL=" + url,
			"GATEHOUSE_SMS_WEBHOOK_SECRET_FILE=" + secret, "GATEHOUSE_SMS_TIMEOUT=2s"}
	}
	smsTest := func(to string) []string { return append([]string{"sms", "test", "--to", to}, dataDir...) }

	t.Run("through the webhook, printing its answer", func(t *testing.T) {
		srv, hits := smsGateway(t, "gw-S3CRET", http.StatusAccepted, `{"id": "gw-msg-7", "status": "queued"}`)
		r := runMailCLI(t, webhookEnv(srv.URL+"/sms"), smsTest("+41791234567")...)
		if r.code != 0 || hits.Load() != 1 {
			t.Fatalf("exit %d after %d requests\nstdout: %s\nstderr: %s", r.code, hits.Load(), r.out, r.errOut)
		}
		for _, want := range []string{"sent a test SMS to +41791234567 through webhook " + srv.URL + "/sms (signed)",
			"gateway answered: message id gw-msg-7, status queued"} {
			if !strings.Contains(r.out, want) {
				t.Errorf("output lacks %q:\n%s", want, r.out)
			}
		}
		if strings.Contains(r.out+r.errOut, "gw-S3CRET") {
			t.Error("output shows the secret")
		}
	})

	t.Run("the gateway refuses: its detail and exit 1, no retry", func(t *testing.T) {
		srv, hits := smsGateway(t, "gw-S3CRET", http.StatusBadRequest, `{"error": "destination blocked"}`)
		r := runMailCLI(t, webhookEnv(srv.URL+"/sms"), smsTest("+41791234567")...)
		if r.code != 1 || hits.Load() != 1 || !strings.Contains(r.errOut, "rejected: HTTP 400: destination blocked") {
			t.Errorf("exit %d after %d requests\nstderr: %s", r.code, hits.Load(), r.errOut)
		}
	})

	t.Run("nothing listening: unavailable with a hint", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String() + "/sms"
		ln.Close()
		r := runMailCLI(t, webhookEnv(url), smsTest("+41791234567")...)
		if r.code != 1 || !strings.Contains(r.errOut, "gateway unavailable") || !strings.Contains(r.errOut, "connection refused") ||
			!strings.Contains(r.errOut, "hint: check sms.webhook.url") {
			t.Errorf("exit %d\nstderr: %s", r.code, r.errOut)
		}
	})

	t.Run("dev without a provider: the sink's file", func(t *testing.T) {
		r := runMailCLI(t, nil, smsTest("+41791234567")...)
		path, ok := strings.CutPrefix(strings.TrimSpace(r.out), "dev SMS sink: wrote the test message to ")
		if r.code != 0 || !ok {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.out, r.errOut)
		}
		if raw, err := os.ReadFile(path); err != nil || !strings.Contains(string(raw), "To: +41791234567\n") {
			t.Errorf("sink file %s: %q, %v", path, raw, err)
		}
	})

	t.Run("not configured outside dev mode", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "gatehouse.yaml")
		yaml := "issuer: https://id.example.com\nmaster_key: " + strings.Repeat("A", 43) + "=\n"
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runMailCLI(t, nil, "sms", "test", "--to", "+41791234567", "--config", cfg)
		if r.code != 1 || !strings.Contains(r.errOut, "SMS is not configured: set sms.provider (GATEHOUSE_SMS_PROVIDER)") {
			t.Errorf("exit %d\nstderr: %s", r.code, r.errOut)
		}
	})

	t.Run("usage", func(t *testing.T) {
		tests := []struct{ to, want string }{
			{"", "--to is required"},
			{"0791234567", `--to "0791234567" has no country code: give the number in international form, + and the country code, e.g. +41791234567`},
			{"+41 79 123 45 67", "is not an international (E.164) phone number"},
			{"+1234567", "+ then 8 to 15 digits"},
		}
		for _, tt := range tests {
			args := []string{"sms", "test"}
			if tt.to != "" {
				args = append(args, "--to", tt.to)
			}
			if r := runMailCLI(t, nil, args...); r.code != 2 || !strings.Contains(r.errOut, tt.want) {
				t.Errorf("--to %q: exit %d\nstderr: %s", tt.to, r.code, r.errOut)
			}
		}
	})

	t.Run("invalid sms settings are reported at once", func(t *testing.T) {
		r := runMailCLI(t, []string{"GATEHOUSE_SMS_PROVIDER=twilio", "GATEHOUSE_SMS_TIMEOUT=0s"}, smsTest("+41791234567")...)
		for _, want := range []string{"sms.twilio.account_sid: required", "sms.twilio.auth_token: required", "sms.from: required", "sms.timeout: must be greater than 0"} {
			if r.code != 1 || !strings.Contains(r.errOut, want) {
				t.Errorf("exit %d, stderr lacks %q:\n%s", r.code, want, r.errOut)
			}
		}
	})
}
