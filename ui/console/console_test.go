package console

import (
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
)

// TestConsolePath: a login can only return into the console, whatever the
// stored return says.
func TestConsolePath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/admin", "/admin"},
		{"/admin/users?q=ann&state=active", "/admin/users?q=ann&state=active"},
		{"", "/admin"},
		{"/administrator", "/admin"},
		{"//evil.example/admin", "/admin"},
		{"https://evil.example/admin/users", "/admin"},
		{"/admin\\..\\x", "/admin"},
		{"/me/mfa", "/admin"},
		{"javascript:alert(1)", "/admin"},
		{"/admin/../login", "/admin"},
	} {
		if got := consolePath(c.in); got != c.want {
			t.Errorf("consolePath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTemplatesParse(t *testing.T) {
	h := &Handlers{}
	if err := h.New(); err != nil {
		t.Fatal(err)
	}
}

func TestChartScales(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newChart([]admin.SignIns{{At: t0, OK: 3, Failed: 1}, {At: t0.Add(time.Hour)}, {At: t0.Add(2 * time.Hour), OK: 1, Failed: 1}}, "15:04")
	if c.Max != 4 || c.OK != 4 || c.Failed != 2 || len(c.Bars) != 3 {
		t.Fatalf("chart %+v", c)
	}
	b := c.Bars[0]
	if b.FailH != chartHeight/4 || b.OKH != 3*chartHeight/4 || b.OKY != 0 || b.FailY != chartHeight-chartHeight/4 {
		t.Errorf("the fullest bar %+v", b)
	}
	if e := c.Bars[1]; e.OKH != 0 || e.FailH != 0 || e.OKY != chartHeight {
		t.Errorf("an empty bar %+v", e)
	}
	if empty := newChart(make([]admin.SignIns, 2), "15:04"); empty.Max != 0 || empty.Bars[0].OKH != 0 {
		t.Errorf("a chart without sign-ins %+v", empty)
	}
}

func TestSpell(t *testing.T) {
	for d, want := range map[time.Duration]string{10 * time.Minute: "10 minutes", time.Hour: "1 hour", 90 * time.Second: "90 seconds",
		time.Minute: "1 minute", 36 * time.Hour: "36 hours"} {
		if got := spell(d); got != want {
			t.Errorf("spell(%v) = %q, want %q", d, got, want)
		}
	}
}
