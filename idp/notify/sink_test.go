package notify_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/notify"
	"github.com/gatehouse-idp/gatehouse/internal/smtptest"
)

func TestSink(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail")
	var logs bytes.Buffer
	s, err := notify.NewSink(dir, notify.DevSender, notify.Options{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Now:    func() time.Time { return fixedNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Deliver(context.Background(), sample)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if filepath.Dir(r.Path) != dir || filepath.Ext(r.Path) != ".eml" || !strings.Contains(filepath.Base(r.Path), "alice@example.com") {
		t.Errorf("path %q", r.Path)
	}
	if !strings.Contains(logs.String(), "mail written to "+r.Path) || !strings.Contains(logs.String(), "https://id.example.com/reset/abc") {
		t.Errorf("log does not say where, or lacks the link:\n%s", logs.String())
	}
	raw, err := os.ReadFile(r.Path)
	if err != nil {
		t.Fatal(err)
	}
	got := smtptest.Parse(raw)
	if got.ParseErr != nil || got.Subject != sample.Subject || strings.TrimSuffix(got.Text, "\n") != strings.TrimSuffix(sample.Text, "\n") || got.HTML != sample.HTML {
		t.Errorf("eml parses to %+v", got)
	}
	if got.Header.Get("Message-ID") != r.MessageID || !strings.HasSuffix(r.MessageID, "@localhost>") {
		t.Errorf("Message-ID %q, receipt %q", got.Header.Get("Message-ID"), r.MessageID)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, r.Path: 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", path, fi.Mode().Perm(), err, want)
		}
	}

	// A second message at the same instant gets a file of its own.
	r2, err := s.Deliver(context.Background(), sample)
	if err != nil || r2.Path == r.Path {
		t.Errorf("second message: %v, path %q", err, r2.Path)
	}
	// The sink refuses what SMTP refuses.
	if err := s.Send(context.Background(), notify.Message{To: "a@example.com\r\nBcc: x@example.com", Text: "x"}); !errors.Is(err, notify.ErrInvalidMessage) {
		t.Errorf("header injection through the sink: %v", err)
	}
}

func TestFromConfig(t *testing.T) {
	srv := smtptest.Start(t)
	dev := config.DevDefault()
	dev.DataDir = t.TempDir()
	withSMTP := config.Default()
	withSMTP.SMTP = config.SMTP{Host: srv.Host(), Port: srv.Port(), From: "noreply@id.example.com", TLS: config.SMTPTLSNone, Timeout: time.Second}
	tests := []struct {
		name string
		cfg  config.Config
		want func(t *testing.T, n notify.Notifier, err error)
	}{
		{"smtp", withSMTP, func(t *testing.T, n notify.Notifier, err error) {
			if _, ok := n.(*notify.SMTP); !ok || err != nil {
				t.Errorf("%T, %v", n, err)
			}
			srv.Wait(t, "alice@example.com", wait)
		}},
		{"dev without smtp: the sink", dev, func(t *testing.T, n notify.Notifier, err error) {
			if s, ok := n.(*notify.Sink); !ok || err != nil || s.Dir() != filepath.Join(dev.DataDir, "mail") {
				t.Errorf("%T, %v", n, err)
			}
		}},
		{"production without smtp: not configured", config.Default(), func(t *testing.T, n notify.Notifier, err error) {
			if !errors.Is(err, notify.ErrNotConfigured) {
				t.Errorf("%T, %v", n, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, tpl, err := notify.FromConfig(tt.cfg, nil)
			if err != nil || tpl == nil {
				t.Fatalf("FromConfig: %v", err)
			}
			tt.want(t, n, n.Send(context.Background(), sample))
		})
	}

	bad := dev
	bad.Mail.TemplatesDir = filepath.Join(t.TempDir(), "missing")
	if _, _, err := notify.FromConfig(bad, nil); err == nil || !strings.Contains(err.Error(), "mail.templates_dir") {
		t.Errorf("missing templates_dir: %v", err)
	}
}
