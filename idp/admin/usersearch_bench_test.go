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
	const users, batch = 100_000, 5_000
	for start := 0; start < users; start += batch {
		err := storage.Atomically(ctx, st, func(ctx context.Context) error {
			for i := start; i < start+batch; i++ {
				u := storage.User{ID: fmt.Sprintf("u%06d", i), OrgID: orgs[i%2], Email: fmt.Sprintf("user%06d@example.com", i),
					Name: fmt.Sprintf("Person %06d", i), State: storage.UserActive, MFASkipped: i%10 == 0,
					LastLoginAt: now.Add(-time.Duration(i) * time.Minute), CreatedAt: now, UpdatedAt: now}
				if err := st.CreateUser(ctx, u); err != nil {
					return err
				}
				if i%7 == 0 {
					if err := st.CreateFactor(ctx, storage.Factor{ID: "f" + u.ID, UserID: u.ID, Kind: storage.FactorTOTP,
						ConfirmedAt: now, CreatedAt: now}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
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
