package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/httpserver"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
)

// maintenanceEvery is how often expired rows are deleted.
const maintenanceEvery = 10 * time.Minute

func runServe(ctx context.Context, c *cmdEnv) error {
	cfg, err := c.loadConfig(true)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, c.io.err)
	// zitadel/oidc and other libraries log through the default logger.
	slog.SetDefault(logger)

	inst, err := instance.Open(ctx, cfg, instance.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer inst.Close()
	if inst.MasterKeyCreated {
		logger.Warn("generated a dev master key; keep it with the data, it encrypts keys at rest",
			"path", instance.MasterKeyFile(cfg))
	}
	if len(inst.Migrated) > 0 {
		logger.Info("applied migrations", "versions", inst.Migrated)
	}
	res, err := inst.Bootstrap(ctx)
	if err != nil {
		return err
	}
	if res.AdminPassword != "" {
		// Printed once, to the terminal, not the log: logs are shipped
		// and kept, and this password must not be.
		fmt.Fprintf(c.io.out, "\nCreated the bootstrap admin (shown once, change it after signing in):\n  email:    %s\n  password: %s\n\n",
			res.AdminEmail, res.AdminPassword)
	}
	if res.NoUsers {
		logger.Warn("no users exist yet; create an admin with: gatehouse users create --config FILE --admin --email EMAIL --password-stdin")
	}

	if err := inst.Start(ctx); err != nil {
		return err
	}
	mln, metricsAt, err := listenMetrics(cfg.Server.MetricsAddr)
	if err != nil {
		return err
	}
	srv, _, err := inst.NewServer(httpserver.Options{
		DrainDelay:        cfg.Server.DrainDelay,
		ShutdownTimeout:   cfg.Server.ShutdownTimeout,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		TrustedProxies:    cfg.Server.TrustedProxyPrefixes(),
		MetricsListener:   mln,
	})
	if err != nil {
		closeListener(mln)
		return err
	}
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		closeListener(mln)
		return fmt.Errorf("listen: %w", err)
	}
	go inst.RunMaintenance(ctx, maintenanceEvery)
	logger.Info("gatehouse is serving", "addr", ln.Addr().String(), "metrics", metricsAt, "issuer", cfg.Issuer,
		"storage", cfg.Storage.Type, "dev", cfg.Dev)
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	logger.Info("gatehouse stopped")
	return nil
}

// listenMetrics opens server.metrics_addr's listener and says where
// /metrics is for the start-up log; an empty address keeps /metrics on
// the main listener (nil listener, "main listener").
func listenMetrics(addr string) (net.Listener, string, error) {
	if addr == "" {
		return nil, "main listener", nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen for metrics (server.metrics_addr): %w", err)
	}
	return ln, ln.Addr().String(), nil
}

func closeListener(ln net.Listener) {
	if ln != nil {
		_ = ln.Close()
	}
}
