package instance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

// TestStartReconcilesServiceProviders: saml.service_providers with a
// metadata_file are in storage after Start; an unreadable file stops it.
func TestStartReconcilesServiceProviders(t *testing.T) {
	ctx := context.Background()
	key, cert := upstreamtest.SPKey(t)
	file := filepath.Join(t.TempDir(), "hr.xml")
	if err := os.WriteFile(file, upstreamtest.SPMetadata(t, key, cert, "https://hr.example", time.Now().Add(48*time.Hour), nil), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.DevDefault()
	cfg.DataDir = t.TempDir()
	cfg.SAML.ServiceProviders = []config.ServiceProvider{{Name: "HR", MetadataFile: file, NameIDFormat: "emailAddress",
		AllowIdPInitiated: true, Attributes: []config.SAMLAttribute{{Source: "email", Name: "Email", NameFormat: "basic"}}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	inst, err := Open(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	if err := inst.Start(ctx); err != nil {
		t.Fatal(err)
	}
	sp, err := inst.Store.GetServiceProvider(ctx, "https://hr.example/saml/metadata")
	if err != nil || sp.Source != "config" || sp.Name != "HR" || !sp.Settings.AllowIdPInitiated || sp.Settings.NameIDFormats[0] != "emailAddress" {
		t.Fatalf("after Start: %+v %v", sp, err)
	}
	inst.Config.SAML.ServiceProviders[0].MetadataFile = file + ".missing"
	if err := inst.Start(ctx); err == nil || !strings.Contains(err.Error(), "metadata_file") {
		t.Fatalf("Start with a missing metadata file: %v", err)
	}
}
