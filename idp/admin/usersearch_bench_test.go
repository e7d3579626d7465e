package admin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/idp/storage/storagetest"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// BenchmarkSearchUsers is the console's users list at 100,000 users (two
// organizations; every tenth user skipped MFA, every seventh has a TOTP
// factor) on SQLite: the first page, a filtered page (a search by name in
// one organization, active users who skipped MFA) and a page 90,000 users
// deep by cursor. Each op is one page of 50 rows with their MFA status.
func BenchmarkSearchUsers(b *testing.B) {
	ctx := context.Background()
	st := testenv.SQLite(b)
	clock := func() time.Time { return now }
	s := &Service{Store: st, Now: clock, Audit: &audit.Recorder{Store: st, Now: clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	var orgs [2]string
	for i := range orgs {
		o, err := s.CreateOrg(ctx, "bench", CreateOrgInput{Name: fmt.Sprintf("org%d", i)})
		if err != nil {
			b.Fatal(err)
		}
		orgs[i] = o.ID
	}
	storagetest.SeedUsers(b, st, orgs[:], 100_000, now)
	for _, c := range []struct {
		name string
		f    UserFilter
	}{
		{"first", UserFilter{}},
		{"filtered", UserFilter{OrgID: orgs[0], Search: "person 0", State: "active", MFA: storage.MFAStatusSkipped}},
		{"deep", UserFilter{After: "user090000@example.com"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				p, err := s.SearchUsers(ctx, Everyone, c.f)
				if err != nil || len(p.Rows) != 50 {
					b.Fatalf("%d rows, %v", len(p.Rows), err)
				}
			}
		})
	}
}
