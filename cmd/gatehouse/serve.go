package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-idp/gatehouse/config"

	"github.com/gatehouse-idp/gatehouse/idp/httpserver"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
	"github.com/gatehouse-idp/gatehouse/ui/console"
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
	mln, metricsAt, err := listenMetrics(cfg.Server.MetricsAddr)
	if err != nil {
		return err
	}
	defer closeListener(mln)
	explicit, err := c.issuerSet()
	if err != nil {
		return err
	}
	cfg.Issuer = devIssuer(cfg, explicit, ln.Addr(), logger)

	inst, err := instance.Open(ctx, cfg, withFederation(instance.Options{Logger: logger}))
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
		fmt.Fprintf(c.io.out, "\nCreated the bootstrap admin (shown once):\n  email:    %s\n  password: %s\n  console:  %s\n"+
			"Sign in to the console with them (it asks you to set up an authenticator app), or change the password with:\n"+
			"  gatehouse users set-password --email %s --password-stdin\n\n",
			res.AdminEmail, res.AdminPassword, strings.TrimSuffix(cfg.Issuer, "/")+console.PathHome, res.AdminEmail)
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
		MetricsListener:   mln,
	})
	if err != nil {
		return err
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

// issuerSet reports whether the issuer was given explicitly, in the config
// file or the environment, rather than coming from the dev defaults.
func (c *cmdEnv) issuerSet() (bool, error) {
	for _, kv := range c.environ {
		if k, v, _ := strings.Cut(kv, "="); k == config.EnvPrefix+"ISSUER" && v != "" {
			return true, nil
		}
	}
	if c.common.configPath == "" {
		return false, nil
	}
	data, err := os.ReadFile(c.common.configPath)
	if err != nil {
		return false, fmt.Errorf("config: %w", err)
	}
	var probe struct {
		Issuer *string `yaml:"issuer"`
	}
	// Load has decoded this file strictly already.
	_ = yaml.Unmarshal(data, &probe)
	return probe.Issuer != nil && *probe.Issuer != "", nil
}

// devIssuer returns the issuer to serve as. In dev mode an issuer nobody
// set follows the port actually bound (--addr, or the port picked for :0),
// so that discovery points where the server listens. An explicit issuer is
// kept, with a warning when it names a loopback host on another port.
func devIssuer(cfg config.Config, explicit bool, bound net.Addr, logger *slog.Logger) string {
	tcp, ok := bound.(*net.TCPAddr)
	if !cfg.Dev || !ok {
		return cfg.Issuer
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil {
		return cfg.Issuer
	}
	port := strconv.Itoa(tcp.Port)
	if u.Port() == port || (u.Port() == "" && ((u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443"))) {
		return cfg.Issuer
	}
	if !explicit {
		u.Host = net.JoinHostPort(u.Hostname(), port)
		return u.String()
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback()) {
		logger.Warn("the issuer names a port this server does not listen on; discovery will point there",
			"issuer", cfg.Issuer, "addr", bound.String())
	}
	return cfg.Issuer
}
