package notify_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/notify"
)

const (
	testPhone = "+41791234567"
	testText  = "Your Gatehouse code is 123456"
)

// gatewayServer is an in-process SMS gateway: check inspects each
// request (failing the test on a mismatch) and answer replies, given the
// request's 1-based number, so a test can fail the first and pass the
// second.
type gatewayServer struct {
	*httptest.Server
	hits atomic.Int32
}

func startGateway(t *testing.T, check func(t *testing.T, r *http.Request, body []byte), answer func(w http.ResponseWriter, n int)) *gatewayServer {
	t.Helper()
	g := &gatewayServer{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(g.hits.Add(1))
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading the request: %v", err)
		}
		if check != nil {
			check(t, r, body)
		}
		answer(w, n)
	}))
	t.Cleanup(g.Close)
	return g
}

// reply answers with status and body as JSON.
func reply(status int, body string) func(w http.ResponseWriter, n int) {
	return func(w http.ResponseWriter, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

// failFirst answers the first request with status, the others with ok.
func failFirst(status int, ok func(w http.ResponseWriter, n int)) func(w http.ResponseWriter, n int) {
	return func(w http.ResponseWriter, n int) {
		if n == 1 {
			w.WriteHeader(status)
			return
		}
		ok(w, n)
	}
}

func TestCheckPhoneNumber(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" valid, else a part of the message
	}{
		{"+41791234567", ""},
		{"+12025550123", ""},
		{"+49123456", ""},        // 8 digits
		{"+123456789012345", ""}, // 15 digits
		{"+1234567", "not an international (E.164)"},
		{"+1234567890123456", "not an international (E.164)"},
		{"0791234567", `"0791234567" has no country code`},
		{"079 123 45 67", "has no country code"},
		{"+41 79 123 45 67", "no spaces"},
		{"+41791234567\n", "not an international"},
		{"alice@example.com", "not an international"},
		{"", "no phone number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := notify.CheckPhoneNumber(tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckPhoneNumber(%q) = %v", tt.in, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, notify.ErrSMSRejected)):
				t.Errorf("CheckPhoneNumber(%q) = %v, want an ErrSMSRejected with %q", tt.in, err, tt.want)
			}
		})
	}
}

// TestSMSNotConfigured: the sender for "no provider, not dev" says so.
func TestSMSNotConfigured(t *testing.T) {
	_, err := notify.SMSNotConfigured{}.SendSMS(context.Background(), testPhone, testText)
	if !errors.Is(err, notify.ErrSMSNotConfigured) || !strings.Contains(err.Error(), "SMS is not configured") {
		t.Errorf("SendSMS = %v", err)
	}
}
