package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"
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

	// Bind first: a start that cannot serve must create nothing (no data
	// directory, master key or bootstrap admin whose password it would
	// print for an instance that never ran).
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listen on %s: the address is in use (another server runs there; choose another with --addr): %w", cfg.Server.Addr, err)
		}
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()

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
	srv, _, err := inst.NewServer(httpserver.Options{
		DrainDelay:        cfg.Server.DrainDelay,
		ShutdownTimeout:   cfg.Server.ShutdownTimeout,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		TrustedProxies:    cfg.Server.TrustedProxyPrefixes(),
	})
	if err != nil {
		return err
	}
	go inst.RunMaintenance(ctx, maintenanceEvery)
	logger.Info("gatehouse is serving", "addr", ln.Addr().String(), "issuer", cfg.Issuer,
		"storage", cfg.Storage.Type, "dev", cfg.Dev)
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	logger.Info("gatehouse stopped")
	return nil
}
