package notify_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/notify"
)

const testWebhookSecret = "webhook-secret-S3CRET"

func webhookConfig(url, secret string) config.SMS {
	return config.SMS{Provider: config.SMSProviderWebhook, Timeout: 2 * time.Second,
		Webhook: config.SMSWebhook{URL: url, Secret: config.Secret(secret)}}
}

func newWebhook(t *testing.T, cfg config.SMS) *notify.Webhook {
	t.Helper()
	s, err := notify.NewWebhook(cfg, notify.Options{Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatalf("NewWebhook: %v", err)
	}
	return s
}

// checkWebhookRequest verifies a request as a gateway would, computing
// the signature here rather than with notify's own function.
func checkWebhookRequest(secret, wantBody string) func(t *testing.T, r *http.Request, body []byte) {
	return func(t *testing.T, r *http.Request, body []byte) {
		if r.Method != http.MethodPost || r.URL.Path != "/sms" || r.URL.RawQuery != "route=otp" {
			t.Errorf("%s %s", r.Method, r.URL)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("content type %q", ct)
		}
		if ua := r.Header.Get("User-Agent"); ua != notify.SMSUserAgent {
			t.Errorf("user agent %q", ua)
		}
		if string(body) != wantBody {
			t.Errorf("body %s, want %s", body, wantBody)
		}
		ts := r.Header.Get("X-Gatehouse-Timestamp")
		if ts != strconv.FormatInt(fixedNow.Unix(), 10) {
			t.Errorf("timestamp %q, want the injected clock's %d", ts, fixedNow.Unix())
		}
		sig := r.Header.Get("X-Gatehouse-Signature")
		if secret == "" {
			if sig != "" {
				t.Errorf("unsigned webhook sent a signature %q", sig)
			}
			return
		}
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(ts + "." + string(body)))
		if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); !hmac.Equal([]byte(sig), []byte(want)) {
			t.Errorf("signature %q, want %q", sig, want)
		}
	}
}

func TestWebhook(t *testing.T) {
	tests := []struct {
		name, secret, from string
		answer             func(w http.ResponseWriter, n int)
		wantBody           string
		want               notify.SMSResult
	}{
		{"signed, with the gateway's id", testWebhookSecret, "", reply(http.StatusAccepted, `{"id": "msg-42", "status": "accepted"}`),
			`{"to":"+41791234567","text":"Your Gatehouse code is 123456"}`,
			notify.SMSResult{Provider: "webhook", ID: "msg-42", Status: "accepted", Attempts: 1}},
		{"unsigned, an empty answer, a sender", "", "Example ID", func(w http.ResponseWriter, _ int) { w.WriteHeader(http.StatusNoContent) },
			`{"to":"+41791234567","text":"Your Gatehouse code is 123456","from":"Example ID"}`,
			notify.SMSResult{Provider: "webhook", Status: "HTTP 204", Attempts: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startGateway(t, checkWebhookRequest(tt.secret, tt.wantBody), tt.answer)
			cfg := webhookConfig(srv.URL+"/sms?route=otp", tt.secret)
			cfg.From = tt.from
			res, err := newWebhook(t, cfg).SendSMS(context.Background(), testPhone, testText)
			if err != nil || res != tt.want {
				t.Errorf("SendSMS = %+v, %v; want %+v", res, err, tt.want)
			}
		})
	}
	// The exported signer is the scheme the README documents: a known
	// answer (python3 -c "import hmac,hashlib;
	// print(hmac.new(b'k',b'1700000000.{}',hashlib.sha256).hexdigest())").
	if got := notify.SignWebhook("k", "1700000000", []byte(`{}`)); got != "sha256=c6ef4734033cee2367414a0939385eca0397754aa7a59716da7463a9298b5146" {
		t.Errorf("SignWebhook = %s", got)
	}
}

func TestWebhookErrors(t *testing.T) {
	signed := checkWebhookRequest(testWebhookSecret, `{"to":"+41791234567","text":"Your Gatehouse code is 123456"}`)
	tests := []struct {
		name     string
		answer   func(w http.ResponseWriter, n int)
		want     error
		requests int32
		text     []string
	}{
		{"4xx with an error: not retried", reply(400, `{"error": "number blocked"}`), notify.ErrSMSRejected, 1,
			[]string{"/sms: rejected: HTTP 400: number blocked"}},
		{"bad signature", reply(401, `{"message": "bad signature"}`), notify.ErrSMSRejected, 1,
			[]string{"HTTP 401 (the gateway refuses Gatehouse: check sms.webhook.secret on both sides, and both clocks): bad signature"}},
		{"a text answer", reply(422, "invalid number\n  try again"), notify.ErrSMSRejected, 1, []string{"HTTP 422: invalid number try again"}},
		{"5xx twice: the same signed request again, then unavailable", reply(500, "oops"), notify.ErrSMSUnavailable, 2,
			[]string{"gateway unavailable: HTTP 500: oops (after 2 attempts)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startGateway(t, signed, tt.answer)
			_, err := newWebhook(t, webhookConfig(srv.URL+"/sms?route=otp", testWebhookSecret)).SendSMS(context.Background(), testPhone, testText)
			if !errors.Is(err, tt.want) || srv.hits.Load() != tt.requests {
				t.Fatalf("SendSMS = %v after %d requests, want %v after %d", err, srv.hits.Load(), tt.want, tt.requests)
			}
			for _, w := range tt.text {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "route=otp") || strings.Contains(err.Error(), testWebhookSecret) {
				t.Errorf("error shows the query or the secret: %v", err)
			}
		})
	}

	t.Run("retry after a 5xx succeeds", func(t *testing.T) {
		srv := startGateway(t, signed, failFirst(http.StatusBadGateway, reply(200, `{"id": "m1"}`)))
		res, err := newWebhook(t, webhookConfig(srv.URL+"/sms?route=otp", testWebhookSecret)).SendSMS(context.Background(), testPhone, testText)
		if err != nil || res.ID != "m1" || res.Attempts != 2 {
			t.Errorf("SendSMS = %+v, %v", res, err)
		}
	})
}

// TestGatewayDown: connection refused is retried once, then unavailable.
func TestGatewayDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs bytes.Buffer
	s, err := notify.NewWebhook(webhookConfig("http://"+addr+"/sms", ""), notify.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.SendSMS(context.Background(), testPhone, testText)
	var se *notify.SMSError
	if !errors.Is(err, notify.ErrSMSUnavailable) || !errors.As(err, &se) || se.Attempts != 2 || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("SendSMS = %v", err)
	}
	if !strings.Contains(logs.String(), "retrying once") {
		t.Errorf("the retry is not logged:\n%s", logs.String())
	}
}

// TestGatewayStalled: a gateway that never answers costs one sms.timeout
// (the retry included), or the caller's nearer deadline, then
// ErrSMSUnavailable naming the time the send had.
func TestGatewayStalled(t *testing.T) {
	tests := []struct {
		name            string
		timeout, caller time.Duration
	}{
		{"sms.timeout", 100 * time.Millisecond, 0},
		{"the caller's deadline", 10 * time.Second, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			var once sync.Once
			srv := startGateway(t, nil, func(w http.ResponseWriter, _ int) { <-release })
			t.Cleanup(func() { once.Do(func() { close(release) }) })
			cfg := webhookConfig(srv.URL, "")
			cfg.Timeout = tt.timeout
			ctx := context.Background()
			if tt.caller > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.caller)
				defer cancel()
			}
			start := time.Now()
			_, err := newWebhook(t, cfg).SendSMS(ctx, testPhone, testText)
			elapsed := time.Since(start)
			once.Do(func() { close(release) })
			if !errors.Is(err, notify.ErrSMSUnavailable) || !errors.Is(err, context.DeadlineExceeded) ||
				!callerBudgetRE.MatchString(err.Error()) {
				t.Fatalf("SendSMS = %v", err)
			}
			if elapsed > 2*time.Second {
				t.Errorf("took %v with 100ms to go", elapsed)
			}
			if n := srv.hits.Load(); n != 1 {
				t.Errorf("%d requests: no time was left for a retry", n)
			}
		})
	}
}

func TestNewWebhook(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"", "sms.webhook.url is not set"},
		{"http://gw.example.com/sms?token=abc", `http://gw.example.com/sms must use https`},
		{"gw.example.com/sms", "is not an absolute https URL"},
	} {
		_, err := notify.NewWebhook(webhookConfig(tt.url, ""), notify.Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "token=abc") {
			t.Errorf("NewWebhook(%q) = %v, want %q", tt.url, err, tt.want)
		}
	}
}

func TestSMSSink(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sms")
	var logs bytes.Buffer
	s := notify.NewSMSSink(dir, "Gatehouse", notify.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return fixedNow }})
	res, err := s.SendSMS(context.Background(), testPhone, testText)
	if err != nil || res.Provider != "dev" || filepath.Dir(res.Path) != dir || !strings.Contains(res.Path, testPhone) {
		t.Fatalf("SendSMS = %+v, %v", res, err)
	}
	raw, err := os.ReadFile(res.Path)
	if want := "To: +41791234567\nFrom: Gatehouse\nDate: 2026-03-14T14:09:26Z\n\n" + testText + "\n"; err != nil || string(raw) != want {
		t.Errorf("file %q, %v; want %q", raw, err, want)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, res.Path: 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, want mode %v", path, err, want)
		}
	}
	if !strings.Contains(logs.String(), "sms written to "+res.Path) || !strings.Contains(logs.String(), "123456") {
		t.Errorf("log lacks the path or the text:\n%s", logs.String())
	}
	if res2, err := s.SendSMS(context.Background(), testPhone, testText); err != nil || res2.Path == res.Path {
		t.Errorf("second message: %+v, %v", res2, err)
	}
	if _, err := s.SendSMS(context.Background(), "0791234567", testText); !errors.Is(err, notify.ErrSMSRejected) {
		t.Errorf("the sink takes what gateways refuse: %v", err)
	}

	// A directory that cannot be made: the text still reaches the log.
	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	s = notify.NewSMSSink(filepath.Join(blocked, "sms"), "", notify.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if res, err := s.SendSMS(context.Background(), testPhone, testText); err != nil || res.Path != "" || res.Status != "logged only" ||
		!strings.Contains(logs.String(), "123456") {
		t.Errorf("unwritable sink: %+v, %v\n%s", res, err, logs.String())
	}
}

func TestSMSFromConfig(t *testing.T) {
	dev := config.DevDefault()
	dev.DataDir = t.TempDir()
	devExplicit := dev
	devExplicit.SMS.Provider = config.SMSProviderDev
	twilio := config.Default()
	twilio.SMS = twilioConfig("")
	webhook := config.Default()
	webhook.SMS = webhookConfig("https://gw.example.com/sms", "")
	tests := []struct {
		name string
		cfg  config.Config
		want func(s notify.SMSSender) bool
	}{
		{"twilio", twilio, func(s notify.SMSSender) bool { _, ok := s.(*notify.Twilio); return ok }},
		{"webhook", webhook, func(s notify.SMSSender) bool { _, ok := s.(*notify.Webhook); return ok }},
		{"dev without a provider: the sink", dev, func(s notify.SMSSender) bool {
			k, ok := s.(*notify.SMSSink)
			return ok && k.Dir() == filepath.Join(dev.DataDir, "sms")
		}},
		{"provider dev", devExplicit, func(s notify.SMSSender) bool { _, ok := s.(*notify.SMSSink); return ok }},
		{"production without a provider: not configured", config.Default(), func(s notify.SMSSender) bool { return s == notify.SMSNotConfigured{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := notify.SMSFromConfig(tt.cfg, notify.Options{})
			if err != nil || !tt.want(s) {
				t.Errorf("SMSFromConfig = %T, %v", s, err)
			}
		})
	}
	bad := config.Default()
	bad.SMS.Provider = "nexmo"
	if _, err := notify.SMSFromConfig(bad, notify.Options{}); err == nil || !strings.Contains(err.Error(), `"nexmo"`) {
		t.Errorf("unknown provider: %v", err)
	}
}

// TestSentLogLine: the line a production send logs masks the number and
// never carries the text, which holds a code.
func TestSentLogLine(t *testing.T) {
	srv := startGateway(t, nil, reply(http.StatusOK, `{"id": "m9", "status": "queued"}`))
	var logs bytes.Buffer
	s, err := notify.NewWebhook(webhookConfig(srv.URL, testWebhookSecret), notify.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendSMS(context.Background(), testPhone, testText); err != nil {
		t.Fatal(err)
	}
	line := logs.String()
	if !strings.Contains(line, "msg=\"sms sent\"") || !strings.Contains(line, "to=+417******67") || !strings.Contains(line, "id=m9") {
		t.Errorf("log line lacks the masked number or the id:\n%s", line)
	}
	for _, leak := range []string{testPhone, "123456", testWebhookSecret} {
		if strings.Contains(line, leak) {
			t.Errorf("log line shows %q:\n%s", leak, line)
		}
	}
}
