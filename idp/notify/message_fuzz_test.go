package notify

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net/mail"
	"slices"
	"testing"
	"time"
)

// FuzzBuild: whatever a recipient or subject holds, build either refuses
// it as an invalid message or writes exactly the headers it means to, with
// the subject intact: no value ever becomes a header of its own.
func FuzzBuild(f *testing.F) {
	for _, seed := range [][2]string{
		{"alice@example.com", "Reset"},
		{"Zoë <zoe@example.com>", "Grüße aus Köln"},
		{"a@example.com\r\nBcc: e@evil.example", "x"},
		{"a@example.com", "x\nBcc: e@evil.example"},
		{`"a\"b" <a@example.com>`, "=?utf-8?q?x?="},
		{"a@example.com", "x\u2028y\u0085z"},
	} {
		f.Add(seed[0], seed[1])
	}
	from := &mail.Address{Name: "Example ID", Address: "noreply@id.example.com"}
	want := []string{"Auto-Submitted", "Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Subject", "To"}
	f.Fuzz(func(t *testing.T, to, subject string) {
		b, err := build(Message{To: to, Subject: subject, Text: "text", HTML: "<p>html</p>"}, from, time.Unix(0, 0), rand.Reader)
		if err != nil {
			if !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("build(%q, %q): %v, not ErrInvalidMessage", to, subject, err)
			}
			return
		}
		msg, err := mail.ReadMessage(bytes.NewReader(b.raw))
		if err != nil {
			t.Fatalf("build(%q, %q) wrote an unparseable message: %v\n%s", to, subject, err, b.raw)
		}
		var got []string
		for k := range msg.Header {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("build(%q, %q) wrote headers %q\n%s", to, subject, got, b.raw)
		}
		if dec, err := msg.Header.AddressList("To"); err != nil || len(dec) != 1 || dec[0].Address != b.to {
			t.Fatalf("To %q parses to %v, %v; envelope %q", msg.Header.Get("To"), dec, err, b.to)
		}
	})
}
