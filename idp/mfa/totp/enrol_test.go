package totp

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestNewSecret(t *testing.T) {
	a, err := New("Gatehouse", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	b, err := New("Gatehouse", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Secret) != SecretBytes || len(b.Secret) != SecretBytes {
		t.Fatalf("secret lengths %d, %d; want %d", len(a.Secret), len(b.Secret), SecretBytes)
	}
	if bytes.Equal(a.Secret, b.Secret) || a.URI == b.URI {
		t.Fatal("two enrolments have the same secret")
	}
	if bytes.Equal(a.Secret, make([]byte, SecretBytes)) {
		t.Fatal("secret is all zeros")
	}
	// The secret works with Code and Match.
	now := time.Unix(1_700_000_015, 0)
	code, err := Code(a.Secret, now)
	if err != nil {
		t.Fatal(err)
	}
	if step, err := Match(a.Secret, code, now); err != nil || step != Step(now) {
		t.Fatalf("Match = %d, %v", step, err)
	}
}

// TestNewURI parses the URI back the way an authenticator app would:
// path label ISSUER:ACCOUNT split at the first unescaped colon, then the
// parameters.
func TestNewURI(t *testing.T) {
	tests := []struct {
		name, issuer, account string
	}{
		{"plain", "Gatehouse", "alice@example.com"},
		{"spaces", "Acme Research Lab", "bob smith@example.com"},
		{"colons", "Acme: Research", "a:b@example.com"},
		{"ampersand and equals", "Tom & Jerry=Co", "x&issuer=evil@example.com"},
		{"plus", "C++ Guild", "carol+mfa@example.com"},
		{"percent and hash", "100% #1?", "d%40@example.com"},
		{"slash", "A/B", "e/f@example.com"},
		{"unicode", "Zürich Straße 東京", "josé@exämple.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(tt.issuer, tt.account)
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(e.URI)
			if err != nil {
				t.Fatalf("url.Parse(%q): %v", e.URI, err)
			}
			if u.Scheme != "otpauth" || u.Host != "totp" {
				t.Fatalf("scheme/host = %q/%q", u.Scheme, u.Host)
			}
			// Split the escaped label at its one literal colon, then
			// unescape each half: a colon inside either is %3A.
			raw := strings.TrimPrefix(u.EscapedPath(), "/")
			if strings.Count(raw, ":") != 1 {
				t.Fatalf("label %q has %d literal colons; want 1", raw, strings.Count(raw, ":"))
			}
			is, ac, _ := strings.Cut(raw, ":")
			gotIssuer, err1 := url.PathUnescape(is)
			gotAccount, err2 := url.PathUnescape(ac)
			if err1 != nil || err2 != nil || gotIssuer != tt.issuer || gotAccount != tt.account {
				t.Fatalf("label = %q : %q (%v, %v); want %q : %q", gotIssuer, gotAccount, err1, err2, tt.issuer, tt.account)
			}
			if strings.Contains(u.RawQuery, "+") {
				t.Fatalf("query %q has a '+': apps differ on whether it is a space", u.RawQuery)
			}
			q, err := url.ParseQuery(u.RawQuery)
			if err != nil {
				t.Fatal(err)
			}
			want := url.Values{
				"secret":    {b32.EncodeToString(e.Secret)},
				"issuer":    {tt.issuer},
				"algorithm": {"SHA1"},
				"digits":    {"6"},
				"period":    {"30"},
			}
			if fmt.Sprint(q) != fmt.Sprint(want) {
				t.Fatalf("query = %v; want %v", q, want)
			}
			if strings.Contains(q.Get("secret"), "=") {
				t.Fatal("secret is padded")
			}
		})
	}
}

func TestNewGrouped(t *testing.T) {
	e, err := New("Gatehouse", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	groups := strings.Split(e.Grouped, " ")
	if len(groups) != 8 {
		t.Fatalf("Grouped = %q: %d groups; want 8", e.Grouped, len(groups))
	}
	for _, g := range groups {
		if len(g) != 4 {
			t.Fatalf("Grouped = %q: group %q", e.Grouped, g)
		}
	}
	back, err := b32.DecodeString(strings.ReplaceAll(e.Grouped, " ", ""))
	if err != nil || !bytes.Equal(back, e.Secret) {
		t.Fatalf("Grouped does not decode to the secret: %v", err)
	}
}

func TestGroup(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"ABC", "ABC"},
		{"ABCD", "ABCD"},
		{"ABCDE", "ABCD E"},
		{"JBSWY3DPEHPK3PXP", "JBSW Y3DP EHPK 3PXP"},
	}
	for _, tt := range tests {
		if got := group(tt.in); got != tt.want {
			t.Errorf("group(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestNewQRPNG(t *testing.T) {
	for _, account := range []string{"a@b.c", strings.Repeat("é", MaxAccount/2)} {
		e, err := New(strings.Repeat("Ω", MaxIssuer/2), account)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(e.QRPNG))
		if err != nil {
			t.Fatalf("QRPNG is not a PNG: %v", err)
		}
		b := img.Bounds()
		if b.Dx() != b.Dy() || b.Dx() < QRSize || b.Dx() > 2*QRSize {
			t.Fatalf("QRPNG is %dx%d; want square, %d to %d", b.Dx(), b.Dy(), QRSize, 2*QRSize)
		}
		// The quiet zone: the outer border is white all round.
		for i := 0; i < b.Dx(); i++ {
			for _, p := range [][2]int{{i, 0}, {0, i}, {i, b.Dy() - 1}, {b.Dx() - 1, i}} {
				if isDark(img.At(p[0], p[1])) {
					t.Fatalf("dark pixel at %v on the border", p)
				}
			}
		}
		if len(e.QRPNG) > 16<<10 {
			t.Errorf("QRPNG is %d bytes; a two-colour PNG should be small", len(e.QRPNG))
		}
	}
}

func TestNewLabelErrors(t *testing.T) {
	tests := []struct {
		name, issuer, account string
	}{
		{"no issuer", "", "a@b.c"},
		{"no account", "Gatehouse", ""},
		{"NUL in issuer", "Gate\x00house", "a@b.c"},
		{"newline in account", "Gatehouse", "a@b.c\nBcc: x"},
		{"DEL", "Gatehouse\x7f", "a@b.c"},
		{"C1 control", "Gatehouse", "a\u0085@b.c"},
		{"invalid UTF-8", "Gate\xffhouse", "a@b.c"},
		{"long issuer", strings.Repeat("x", MaxIssuer+1), "a@b.c"},
		{"long account", "Gatehouse", strings.Repeat("x", MaxAccount+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(tt.issuer, tt.account)
			if !errors.Is(err, ErrLabel) {
				t.Fatalf("New err = %v; want ErrLabel", err)
			}
			if e.Secret != nil || e.URI != "" || e.QRPNG != nil {
				t.Fatal("New returned an enrolment with its error")
			}
		})
	}
}

func TestNewRandomFails(t *testing.T) {
	boom := errors.New("no entropy")
	_, err := generate(iotest.ErrReader(boom), "Gatehouse", "a@b.c")
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v; want the reader's error", err)
	}
	// A short read is an error too, never a shorter or zero-padded secret.
	_, err = generate(bytes.NewReader(make([]byte, SecretBytes-1)), "Gatehouse", "a@b.c")
	if err == nil {
		t.Fatal("a short read made a secret")
	}
}

func TestEnrolmentRedacts(t *testing.T) {
	e, err := New("Gatehouse", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("enrol", "enrolment", e)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("enrol", "enrolment", e)
	printed := logs.String() + fmt.Sprintf("%v %s %+v %#v", e, e, e, e)
	enc := b32.EncodeToString(e.Secret)
	for _, leak := range []string{enc, enc[:8], e.Grouped[:9], strings.Trim(fmt.Sprint(e.Secret[:4]), "[]")} {
		if strings.Contains(printed, leak) {
			t.Fatalf("printed enrolment contains %q: %s", leak, printed)
		}
	}
}
