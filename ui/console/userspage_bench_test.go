package console

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/csrf"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/idp/storage/storagetest"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// signedIn is a browser whose session is the admin's, second factor
// included: the page's own work is what the benchmark measures.
type signedIn struct{ s *storage.Session }

func (f signedIn) Browser(*http.Request) (session.Browser, error) {
	return session.Browser{Session: f.s}, nil
}
func (signedIn) SetCookie(http.ResponseWriter, *http.Request, session.Started) error {
	return nil
}
func (signedIn) End(context.Context, http.ResponseWriter, *http.Request) (storage.Session, bool, error) {
	return storage.Session{}, false, nil
}

type assets struct{}

func (assets) AssetURL(name string) string { return "/static/" + name }

// BenchmarkUsersPage is GET /admin/users, the whole page (the handler, the
// search, the template), at 100,000 users on SQLite: the first page, a
// filtered page and a page 90,000 users deep. Each op renders 50 rows; the
// page reads one page of rows (keyset), never all users.
func BenchmarkUsersPage(b *testing.B) {
	ctx := context.Background()
	st := testenv.SQLite(b)
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := &admin.Service{Store: st, Now: clock, Audit: &audit.Recorder{Store: st, Now: clock, Logger: logger}, Logger: logger}
	var orgs []string
	for _, name := range []string{"org0", "org1"} {
		o, err := svc.CreateOrg(ctx, "bench", admin.CreateOrgInput{Name: name})
		if err != nil {
			b.Fatal(err)
		}
		orgs = append(orgs, o.ID)
	}
	storagetest.SeedUsers(b, st, orgs, 100_000, now)
	me := storage.User{ID: "admin", OrgID: orgs[0], Email: "admin@example.com", State: storage.UserActive, Roles: []string{storage.RoleAdmin},
		CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, me); err != nil {
		b.Fatal(err)
	}
	prot, err := csrf.New(csrf.Options{Secret: []byte(strings.Repeat("k", 32)), AllowedOrigins: []string{"http://localhost"}})
	if err != nil {
		b.Fatal(err)
	}
	h := &Handlers{Flow: &authflow.Flow{Store: st, Now: clock}, Admin: svc, CSRF: prot, Assets: assets{}, Logger: logger, RequireMFA: true,
		Sessions: signedIn{&storage.Session{UserID: me.ID, AMR: []string{"pwd", authflow.AMRMFA}, AuthTime: now}}}
	if err := h.New(); err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(func(p string, hd http.Handler) { mux.Handle(p, hd) })
	for _, c := range []struct{ name, query string }{
		{"first", ""},
		{"filtered", "?org=" + orgs[0] + "&q=person+0&state=active&mfa=skipped"},
		{"deep", "?after=user090000@example.com"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				w := httptest.NewRecorder()
				mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, PathUsers+c.query, nil))
				if w.Code != http.StatusOK || strings.Count(w.Body.String(), `name="id"`) != 50 {
					b.Fatalf("%d, %d rows", w.Code, strings.Count(w.Body.String(), `name="id"`))
				}
			}
		})
	}
}
