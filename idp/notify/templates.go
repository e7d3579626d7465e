package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"
)

// Template names, the first argument of Templates.Message.
const (
	TemplateInvite          = "invite"           // welcome, set-password link valid Data.Expires
	TemplateReset           = "reset"            // forgot-password link valid Data.Expires
	TemplatePasswordChanged = "password_changed" // notice after a change
	TemplateMFAReset        = "mfa_reset"        // notice after an administrator's MFA reset
	TemplateTest            = "test"             // gatehouse mail test
	TemplateMFACode         = "mfa_code"         // a second-factor code, Data.Code, valid Data.Expires
	TemplateMFAChanged      = "mfa_changed"      // notice after a change to the second factors: Data.Change at Data.ChangedAt
)

// Names lists every template name.
func Names() []string {
	return []string{TemplateInvite, TemplateMFAChanged, TemplateMFACode, TemplateMFAReset, TemplatePasswordChanged, TemplateReset, TemplateTest}
}

// Each template is three files: NAME.subject and NAME.txt (text/template)
// and NAME.html (html/template, so values are escaped for their context).
var parts = []string{".subject", ".txt", ".html"}

//go:embed templates/*
var embedded embed.FS

// Data is what a template may use. Every field is optional except as the
// template needs it.
type Data struct {
	// Org is the organization's display name; "" means "Gatehouse".
	Org string
	// User is the recipient's display name; Email their address.
	User, Email string
	// Link is the invite or reset link, built from the configured issuer.
	Link string
	// Issuer is the public base URL, for a footer.
	Issuer string
	// Expires is how long Link, or Code, stays valid.
	Expires time.Duration
	// Code is a one-time code to type in (a second factor's), never a
	// link: a mail scanner that opens links must not be able to use it.
	Code string
	// Change says, in one sentence, what changed on the account (a second
	// factor added, reset or removed), for a notice; ChangedAt is when.
	Change    string
	ChangedAt time.Time
}

// When says ChangedAt in words, in UTC (the mail does not know the
// reader's zone): "2 December 2026 at 10:00 UTC". Templates use it as
// {{.When}}.
func (d Data) When() string {
	if d.ChangedAt.IsZero() {
		return "just now"
	}
	return d.ChangedAt.UTC().Format("2 January 2006 at 15:04 UTC")
}

// ExpiresIn says Expires in words: "24 hours", "1 hour", "30 minutes",
// "2 days". Templates use it as {{.ExpiresIn}}.
func (d Data) ExpiresIn() string {
	e := d.Expires
	switch {
	case e <= 0:
		return "a limited time"
	case e >= 48*time.Hour && e%(24*time.Hour) == 0:
		return plural(int(e/(24*time.Hour)), "day")
	case e >= time.Hour && e%time.Hour == 0:
		return plural(int(e/time.Hour), "hour")
	}
	// Rounded up: a link must not outlive what the mail promised less.
	return plural(int((e+time.Minute-1)/time.Minute), "minute")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// Templates renders messages. It is safe for concurrent use.
type Templates struct {
	subject map[string]*template.Template
	text    map[string]*template.Template
	html    map[string]*htmltemplate.Template
	// source names where each file came from, for errors: "embedded" or
	// its path.
	source map[string]string
}

// LoadTemplates parses the embedded templates, each file replaced by the
// file of the same name in dir when dir ("" for none) has one. A file in
// dir that is not a template's, a template that does not parse, or one
// that fails to render sample data is an error, so a broken override
// stops start-up rather than a password reset.
func LoadTemplates(dir string) (*Templates, error) {
	t := &Templates{subject: map[string]*template.Template{}, text: map[string]*template.Template{},
		html: map[string]*htmltemplate.Template{}, source: map[string]string{}}
	overrides, err := overrideFiles(dir)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, name := range Names() {
		for _, part := range parts {
			file := name + part
			src, origin, err := readTemplate(dir, file, overrides)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if err := t.parse(name, part, file, origin, src); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Render every template once with sample data: a field that does not
	// exist ({{.Nmae}}) parses fine and fails only when executed.
	sample := Data{Org: "Example", User: "Alice", Email: "alice@example.com",
		Link: "https://id.example.com/x", Issuer: "https://id.example.com", Expires: time.Hour, Code: "012345",
		Change: "An authenticator app was added.", ChangedAt: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}
	for _, name := range Names() {
		if _, err := t.Message(name, "alice@example.com", sample); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

// overrideFiles lists the template files in dir, refusing any other file:
// "reste.txt" is a typo that would otherwise be silently ignored.
func overrideFiles(dir string) (map[string]bool, error) {
	found := map[string]bool{}
	if dir == "" {
		return found, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("notify: mail.templates_dir: %w", err)
	}
	var known []string
	for _, name := range Names() {
		for _, part := range parts {
			known = append(known, name+part)
		}
	}
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || e.IsDir() {
			continue // .gitkeep, editor files, subdirectories
		}
		if !slices.Contains(known, e.Name()) {
			errs = append(errs, fmt.Errorf("notify: %s is not a mail template (want one of %s)",
				filepath.Join(dir, e.Name()), strings.Join(known, ", ")))
			continue
		}
		found[e.Name()] = true
	}
	return found, errors.Join(errs...)
}

func readTemplate(dir, file string, overrides map[string]bool) (src []byte, origin string, err error) {
	if overrides[file] {
		path := filepath.Join(dir, file)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, "", fmt.Errorf("notify: %w", err)
		}
		return b, path, nil
	}
	b, err := fs.ReadFile(embedded, "templates/"+file)
	if err != nil {
		return nil, "", fmt.Errorf("notify: embedded template %s: %w", file, err)
	}
	return b, "embedded " + file, nil
}

func (t *Templates) parse(name, part, file, origin string, src []byte) error {
	var err error
	t.source[file] = origin
	switch part {
	case ".subject":
		t.subject[name], err = template.New(file).Option("missingkey=error").Parse(string(src))
	case ".txt":
		t.text[name], err = template.New(file).Option("missingkey=error").Parse(string(src))
	case ".html":
		t.html[name], err = htmltemplate.New(file).Option("missingkey=error").Parse(string(src))
	}
	if err != nil {
		return fmt.Errorf("notify: template %s: %w", origin, err)
	}
	return nil
}

// Message renders template name for to. Org "" becomes "Gatehouse".
func (t *Templates) Message(name, to string, d Data) (Message, error) {
	st, ok := t.subject[name]
	if !ok {
		return Message{}, fmt.Errorf("notify: no mail template %q (want one of %s)", name, strings.Join(Names(), ", "))
	}
	if d.Org == "" {
		d.Org = "Gatehouse"
	}
	var subject, text, html bytes.Buffer
	if err := st.Execute(&subject, d); err != nil {
		return Message{}, fmt.Errorf("notify: template %s: %w", t.source[name+".subject"], err)
	}
	if err := t.text[name].Execute(&text, d); err != nil {
		return Message{}, fmt.Errorf("notify: template %s: %w", t.source[name+".txt"], err)
	}
	if err := t.html[name].Execute(&html, d); err != nil {
		return Message{}, fmt.Errorf("notify: template %s: %w", t.source[name+".html"], err)
	}
	// A subject file ends with a newline; a subject never holds one.
	s := strings.TrimSpace(subject.String())
	if s == "" {
		return Message{}, fmt.Errorf("notify: template %s renders an empty subject", t.source[name+".subject"])
	}
	return Message{To: to, Subject: s, Text: text.String(), HTML: html.String()}, nil
}
