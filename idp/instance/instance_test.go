package instance

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/httpserver"
	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestReadyzWhenDatabaseGone drops the database under a running instance:
// /readyz must turn 503 (so a load balancer stops sending logins to an
// instance that can only fail them), and /healthz stays 200 (the process
// itself is fine; restarting it would not help).
func TestReadyzWhenDatabaseGone(t *testing.T) {
	dsn := testenv.Postgres(t)
	key, err := masterkey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Issuer = "https://id.example.com"
	cfg.Storage.Type = "postgres"
	cfg.Storage.DSN = config.Secret(dsn)
	cfg.MasterKey = config.Secret(key)
	cfg.DataDir = t.TempDir()
	cfg.Reset.Enabled = false // no SMTP outside dev mode
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	inst, err := Open(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	hs, _, err := inst.NewServer(httpserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hs.Handler())
	defer srv.Close()

	if got := status(t, srv.URL+"/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz with database = %d; want 200", got)
	}

	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE "+pc.Database+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}

	if got := status(t, srv.URL+"/readyz"); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz without database = %d; want 503", got)
	}
	if got := status(t, srv.URL+"/healthz"); got != http.StatusOK {
		t.Fatalf("/healthz without database = %d; want 200", got)
	}
}
