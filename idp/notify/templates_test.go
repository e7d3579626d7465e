package notify_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/notify"
)

var data = notify.Data{Org: "Acme Inc", User: "Alice", Email: "alice@acme.example",
	Link: "https://id.acme.example/reset/tok123", Issuer: "https://id.acme.example", Expires: 2 * time.Hour, Code: "042137",
	Change: "An authenticator app was added to your account.", ChangedAt: time.Date(2026, 12, 2, 10, 5, 0, 0, time.FixedZone("CET", 3600))}

func TestEmbeddedTemplates(t *testing.T) {
	tpl, err := notify.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		subject string
		want    []string // in both the text and the HTML part
	}{
		{notify.TemplateInvite, "You are invited to Acme Inc", []string{"Alice", "Acme Inc", data.Link, "2 hours"}},
		{notify.TemplateReset, "Reset your Acme Inc password", []string{data.Link, "2 hours", "If you did not ask for this, ignore this email"}},
		{notify.TemplatePasswordChanged, "Your Acme Inc password was changed", []string{"alice@acme.example", "If this was not you, contact your administrator"}},
		{notify.TemplateMFAReset, "Your Acme Inc two-step sign-in was reset", []string{"alice@acme.example", "An administrator reset",
			"At your next sign-in you will set up two-step sign-in again", "If you did not expect this, contact your administrator"}},
		{notify.TemplateTest, "Test message from Acme Inc", []string{"gatehouse mail test", "alice@acme.example"}},
		// The subject does not carry the code: it shows on lock screens.
		{notify.TemplateMFACode, "Your sign-in code", []string{"Acme Inc", "042137", "2 hours", "If you did not try to sign in, change your password"}},
		// What changed, when (in UTC: the mail does not know the reader's
		// zone), and what to do if it was not the user.
		{notify.TemplateMFAChanged, "Your Acme Inc sign-in methods changed", []string{"alice@acme.example", data.Change,
			"2 December 2026 at 09:05 UTC", "If this was not you, reset your password and contact your administrator"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tpl.Message(tt.name, "alice@acme.example", data)
			if err != nil {
				t.Fatal(err)
			}
			if m.To != "alice@acme.example" || m.Subject != tt.subject {
				t.Errorf("to %q subject %q", m.To, m.Subject)
			}
			for _, w := range tt.want {
				if !strings.Contains(m.Text, w) || !strings.Contains(m.HTML, w) {
					t.Errorf("%q missing from text or HTML:\n%s\n%s", w, m.Text, m.HTML)
				}
			}
			if strings.Contains(m.Text, "<p>") || !strings.Contains(m.HTML, "<p>") {
				t.Error("text and HTML parts mixed up")
			}
		})
	}
	// Org "" is Gatehouse.
	if m, err := tpl.Message(notify.TemplateReset, "a@example.com", notify.Data{Link: "https://x.example/r"}); err != nil || m.Subject != "Reset your Gatehouse password" {
		t.Errorf("default org: %q, %v", m.Subject, err)
	}
	if _, err := tpl.Message("resett", "a@example.com", data); err == nil || !strings.Contains(err.Error(), "no mail template") {
		t.Errorf("unknown template: %v", err)
	}
}

// TestTemplateEscaping: the HTML part escapes what people type; the text
// part has nothing to escape. Links that are not http(s) never become
// links.
func TestTemplateEscaping(t *testing.T) {
	tpl, err := notify.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	d := data
	d.User = `<script>alert(1)</script>`
	d.Org = `Bad & "Co"`
	m, err := tpl.Message(notify.TemplateInvite, "a@example.com", d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;") || !strings.Contains(m.HTML, "Bad &amp; &#34;Co&#34;") {
		t.Errorf("HTML not escaped:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, d.User) || m.Subject != `You are invited to Bad & "Co"` {
		t.Errorf("text or subject altered: %q\n%s", m.Subject, m.Text)
	}
	d.Link = "javascript:alert(1)"
	m, err = tpl.Message(notify.TemplateReset, "a@example.com", d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, `href="javascript:`) {
		t.Errorf("javascript: link in HTML:\n%s", m.HTML)
	}
}

func writeTemplates(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTemplateOverrides(t *testing.T) {
	dir := writeTemplates(t, map[string]string{
		"reset.txt":     "Custom reset for {{.Email}}: {{.Link}} ({{.ExpiresIn}})\n",
		"reset.subject": "{{.Org}}: new password\n",
		".gitkeep":      "",
	})
	tpl, err := notify.LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tpl.Message(notify.TemplateReset, "alice@acme.example", data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != "Custom reset for alice@acme.example: "+data.Link+" (2 hours)\n" || m.Subject != "Acme Inc: new password" {
		t.Errorf("override not used: %q / %q", m.Subject, m.Text)
	}
	if !strings.Contains(m.HTML, "Reset your password") {
		t.Errorf("reset.html should stay embedded:\n%s", m.HTML)
	}
	inv, err := tpl.Message(notify.TemplateInvite, "alice@acme.example", data)
	if err != nil || inv.Subject != "You are invited to Acme Inc" {
		t.Errorf("invite should stay embedded: %q, %v", inv.Subject, err)
	}
}

// TestBrokenOverrides: every mistake is found at load, not at send time.
func TestBrokenOverrides(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"parse error", map[string]string{"reset.txt": "Hello {{.User"}, []string{"reset.txt", "unclosed action"}},
		{"unknown field", map[string]string{"invite.html": "<p>{{.Nmae}}</p>"}, []string{"invite.html", "Nmae"}},
		{"unknown file", map[string]string{"reste.txt": "x"}, []string{"reste.txt is not a mail template"}},
		{"empty subject", map[string]string{"test.subject": "{{if false}}x{{end}}\n"}, []string{"test.subject renders an empty subject"}},
		{"several at once", map[string]string{"reset.txt": "{{", "invite.txt": "{{end}}"}, []string{"reset.txt", "invite.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := notify.LoadTemplates(writeTemplates(t, tt.files))
			if err == nil {
				t.Fatal("LoadTemplates succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

func TestExpiresIn(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "a limited time"},
		{30 * time.Second, "1 minute"},
		{time.Minute, "1 minute"},
		{15 * time.Minute, "15 minutes"},
		{90 * time.Minute, "90 minutes"},
		{time.Hour, "1 hour"},
		{24 * time.Hour, "24 hours"},
		{72 * time.Hour, "3 days"},
		{7 * 24 * time.Hour, "7 days"},
	} {
		if got := (notify.Data{Expires: tt.d}).ExpiresIn(); got != tt.want {
			t.Errorf("ExpiresIn(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
