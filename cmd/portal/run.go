package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"ppportal/internal/breaker"
	"ppportal/internal/portal"
	"ppportal/ppapi/simulator"
)

var commandHelp = map[string]string{
	"serve": "Serves the portal against Entra ID and the real Power Platform endpoints. Refuses to start when a required setting is missing.",
	"demo":  "Serves the portal against a simulated tenant and a dev identity provider, in one process, with no configuration. Sign-in and on-behalf-of exchanges are real; the data is not.",
}

const usage = `Usage: portal <command> [flags]

Commands:
  demo    run against a simulated tenant and a dev identity provider (no configuration)
  serve   run against Entra ID and Power Platform (configuration required)

Run "portal <command> -h" for the command's flags.
`

// run is the whole program, with its inputs injected so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd := args[1]
	switch cmd {
	case "serve", "demo":
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	cfg, err := loadConfig(cmd, args[2:], getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if cmd == "demo" {
		return runDemo(ctx, cfg, log, stdout)
	}
	return runServe(ctx, cfg, log, stdout)
}

// runServe is production: Entra ID and the configured endpoints.
func runServe(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	s, err := settingsOf(cfg)
	if err != nil {
		return err
	}
	return servePortal(ctx, cfg, s, ln, log)
}

// runDemo starts the dev identity provider and the simulator on loopback
// ports of their own, points the settings at them, and serves the portal
// with the same wiring as serve.
func runDemo(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://" + ln.Addr().String()
	}
	demo, err := portal.StartDemo(cfg.BaseURL, randomKey(24), simulator.Options{
		Seed: cfg.DemoSeed, Environments: cfg.DemoEnvironments, Latency: cfg.DemoLatency,
	})
	if err != nil {
		return err
	}
	defer demo.Close()
	s := demo.Settings(cfg.BaseURL)
	s.IdleTimeout, s.AbsoluteTimeout = cfg.IdleTimeout, cfg.AbsoluteTimeout
	s.SessionKeyPairs, s.EncryptionKey, err = sessionKeys(randomKey(32))
	if err != nil {
		return err
	}
	cfg.Authority, cfg.TenantID, cfg.ClientID = s.Authority, s.TenantID, s.ClientID
	cfg.PPAPIURL, cfg.BAPURL = s.PPAPIURL, s.BAPURL
	fmt.Fprintf(stdout, "Portal demo: open %s/environments\n(dev identity provider at %s, simulated Power Platform API at %s)\n", cfg.BaseURL, demo.IDPURL, demo.SimURL)
	return servePortal(ctx, cfg, s, ln, log)
}

// settingsOf turns a validated serve configuration into portal settings.
func settingsOf(cfg Config) (portal.Settings, error) {
	s := portal.Settings{
		BaseURL: cfg.BaseURL, Authority: cfg.Authority, TenantID: cfg.TenantID,
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, AppScope: cfg.AppScope,
		PPAPIURL: cfg.PPAPIURL, BAPURL: cfg.BAPURL, PPAPIScope: cfg.PPAPIScope, BAPScope: cfg.BAPScope,
		IdleTimeout: cfg.IdleTimeout, AbsoluteTimeout: cfg.AbsoluteTimeout,
	}
	var err error
	s.SessionKeyPairs, s.EncryptionKey, err = sessionKeys(cfg.SessionKey)
	if err != nil {
		return s, fmt.Errorf("PORTAL_SESSION_KEY: %w", err)
	}
	if cfg.RedisURL != "" {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return s, errors.New("PORTAL_REDIS_URL: not a valid Redis URL")
		}
		// Fail fast when Redis is down (SECURITY.md G10: a 503 within a
		// second), rather than go-redis's default retries of about 1.8 s.
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, time.Second, time.Second
		opt.MaxRetries, opt.DialerRetries = -1, 1
		s.Redis = redis.NewClient(opt)
	}
	return s, nil
}

func randomKey(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// servePortal builds the portal and serves it until ctx ends, then lets
// in-flight requests finish, for at most the shutdown timeout.
func servePortal(ctx context.Context, cfg Config, s portal.Settings, ln net.Listener, log *slog.Logger) error {
	log.Info("starting", "config", cfg.dump())
	s.Log = log
	s.Breaker = &breaker.Options{} // 5 consecutive failures open it for 30 s
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	p, err := portal.Build(startCtx, s)
	cancel()
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           p.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("PORTAL_METRICS_ADDR: %w", err)
		}
		msrv := &http.Server{Handler: p.Metrics.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { errc <- msrv.Serve(mln) }()
		defer msrv.Close()
		log.Info("serving metrics", "addr", mln.Addr().String())
	}
	log.Info("listening", "addr", ln.Addr().String(), "base_url", s.BaseURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: letting in-flight requests finish", "timeout", cfg.ShutdownTimeout.String())
	sctx, scancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
