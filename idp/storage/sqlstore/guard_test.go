package sqlstore

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// recorder is a Querier that records what reaches it.
type recorder struct{ calls int }

func (r *recorder) Exec(context.Context, string, ...any) (int64, error) { r.calls++; return 1, nil }
func (r *recorder) QueryRow(context.Context, string, ...any) Row        { r.calls++; return fakeRow{} }
func (r *recorder) Query(context.Context, string, ...any) (Rows, error) {
	r.calls++
	return emptyRows{}, nil
}

// The guard keeps unstorable text from the driver: statements that match
// by it match nothing, and an INSERT carrying it (one no encoder checked)
// is refused, never silently dropped.
func TestGuard(t *testing.T) {
	ctx := context.Background()
	for _, bad := range []any{"a\x00b", "\xff", ptrTo("caf\xc3")} {
		rec := &recorder{}
		g := guardQuerier{rec}
		if n, err := g.Exec(ctx, `DELETE FROM users WHERE id = $1`, bad); n != 0 || err != nil {
			t.Errorf("DELETE by %q = %d, %v; want 0, nil", bad, n, err)
		}
		if n, err := g.Exec(ctx, `UPDATE users SET state = $2 WHERE id = $1`, bad, "active"); n != 0 || err != nil {
			t.Errorf("UPDATE by %q = %d, %v; want 0, nil", bad, n, err)
		}
		if _, err := g.Exec(ctx, "  insert INTO org_domains (domain) VALUES ($1)", bad); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("INSERT of %q: %v; want ErrInvalid", bad, err)
		}
		if err := g.QueryRow(ctx, `SELECT id FROM users WHERE email = $1`, bad).Scan(); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("SELECT by %q: %v; want ErrNotFound", bad, err)
		}
		rows, err := g.Query(ctx, `SELECT id FROM users WHERE org_id = $1 LIMIT $2`, bad, 10)
		if err != nil || rows.Next() {
			t.Errorf("list by %q: rows or %v; want none", bad, err)
		}
		if rec.calls != 0 {
			t.Errorf("%d statements with %q reached the driver", rec.calls, bad)
		}
	}
	rec := &recorder{}
	if _, err := (guardQuerier{rec}).Exec(ctx, `DELETE FROM users WHERE id = $1`, "ünïcode ✓"); err != nil || rec.calls != 1 {
		t.Errorf("valid text: %v, %d calls; want it passed to the driver", err, rec.calls)
	}
}

func ptrTo(s string) *string { return &s }
