package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// SeedUsers stores n users for the console's benchmarks, alternating
// between orgs, in units of 5,000: user%06d@example.com named "Person
// %06d", active, every tenth having skipped MFA, every seventh with a
// confirmed TOTP factor, each signed in a minute before the previous one
// (from now).
func SeedUsers(tb testing.TB, st storage.Storage, orgs []string, n int, now time.Time) {
	tb.Helper()
	ctx := context.Background()
	const batch = 5_000
	for start := 0; start < n; start += batch {
		err := storage.Atomically(ctx, st, func(ctx context.Context) error {
			for i := start; i < min(start+batch, n); i++ {
				u := storage.User{ID: fmt.Sprintf("u%06d", i), OrgID: orgs[i%len(orgs)], Email: fmt.Sprintf("user%06d@example.com", i),
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
			tb.Fatal(err)
		}
	}
}
