package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/litepull/litepull/server"
)

// Environment variables holding the daemon's tokens: never in the config
// file, never on the command line.
const (
	envAdminToken = "LITEPULL_ADMIN_TOKEN"
	envQueryToken = "LITEPULL_QUERY_TOKEN"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	config := fs.String("config", "", "the config `file` (YAML)")
	addr := fs.String("addr", "127.0.0.1:8080", "listen on this `address` (host:port)")
	verbose := fs.Bool("v", false, "log debug messages")
	wait := fs.Duration("wait", 0, waitFlag)
	maxBytes := fs.Int("query-max-bytes", server.DefaultMaxResponseBytes, "largest answer of /query and /query/raw, in bytes")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	adminToken, queryToken := os.Getenv(envAdminToken), os.Getenv(envQueryToken)
	if adminToken == "" && !loopback(*addr) {
		return fmt.Errorf("refusing to listen on %s without a token: set %s, or listen on a loopback address (127.0.0.1:8080)", *addr, envAdminToken)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	// Held for the daemon's lifetime: a CLI run on the same replica is
	// refused and told to use the API instead.
	a, err := openApp(ctx, *config, logger, &writer{command: serveCommand, wait: *wait})
	if err != nil {
		return err
	}
	defer a.Close()
	srv, err := server.New(ctx, server.Config{Engine: a.engine, Replica: a.replica, Sources: a.cfg.Sources,
		AdminToken: adminToken, QueryToken: queryToken, Logger: logger, MaxResponseBytes: *maxBytes})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if adminToken == "" {
		logger.Warn("no " + envAdminToken + ": the API is open to anyone on this machine (loopback only)")
	}
	fmt.Fprintf(stdout, "litepull serving http://%s (replica %s)\n", ln.Addr(), replicaName(a.cfg))
	err = srv.Serve(ctx, ln)
	logger.Info("stopped")
	return err
}

// loopback reports whether addr listens on a loopback address only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
