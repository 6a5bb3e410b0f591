package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
	"github.com/litepull/litepull/replica/remote"
	"github.com/litepull/litepull/source/d1"
	"github.com/litepull/litepull/source/libsql"
	"github.com/litepull/litepull/source/mysql"
	"github.com/litepull/litepull/source/postgres"
	"github.com/litepull/litepull/source/sqlite"
	"github.com/litepull/litepull/source/starbase"
)

// sourceKinds maps a config kind to its constructor: adding a source is one
// package and one line here.
var sourceKinds = map[string]func(litepull.SourceConfig) (litepull.Source, error){
	"postgres": func(c litepull.SourceConfig) (litepull.Source, error) { return postgres.New(c) },
	"mysql":    func(c litepull.SourceConfig) (litepull.Source, error) { return mysql.New(c) },
	"libsql":   func(c litepull.SourceConfig) (litepull.Source, error) { return libsql.New(c) },
	"d1":       func(c litepull.SourceConfig) (litepull.Source, error) { return d1.New(c) },
	"starbase": func(c litepull.SourceConfig) (litepull.Source, error) { return starbase.New(c) },
	"sqlite":   func(c litepull.SourceConfig) (litepull.Source, error) { return sqlite.New(c) },
}

func kindNames() string {
	var names []string
	for k := range sourceKinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

type exitCoder interface{ ExitCode() int }

// exitError carries an exit code without more text to print.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }
func (e exitError) ExitCode() int { return e.code }

// app is an opened config: the replica, the sources and the engine.
type app struct {
	cfg     *litepull.Config
	replica openReplica
	local   *replica.Replica // the replica file; nil for a remote replica
	engine  *litepull.Engine
	sources []litepull.BoundSource
	unlock  func() error // releases the replica's write lock, if held
}

// serveCommand is how the daemon names itself in the replica's lock.
const serveCommand = "litepull serve"

// writer is a command that writes the replica: it holds the replica's lock
// (one writer per replica file) for as long as it runs. Read-only commands
// (status, validate) have none and take no lock.
type writer struct {
	command string        // named to a second writer: "litepull run"
	wait    time.Duration // how long to wait for another writer to end
	api     string        // the daemon's request that does the same, if any
}

// waitFlag is the -wait flag of the commands that write the replica.
const waitFlag = "if another process (litepull serve, another run) writes the replica, wait this long for it to end instead of failing at once"

// lockReplica takes the replica's write lock for w. If another writer
// holds it, the error names the holder and what to do.
func lockReplica(ctx context.Context, path string, w *writer) (func() error, error) {
	unlock, err := replica.Lock(ctx, path, w.command, w.wait)
	var held *replica.LockedError
	if errors.As(err, &held) {
		if w.wait > 0 {
			return nil, fmt.Errorf("%w (waited %s); %s", err, w.wait, lockHint(held.Holder, w))
		}
		return nil, fmt.Errorf("%w; %s", err, lockHint(held.Holder, w))
	}
	return unlock, err
}

func lockHint(h *replica.Holder, w *writer) string {
	switch {
	case h != nil && h.Command == serveCommand && w.api != "":
		return "stop it, or use " + w.api + " on it"
	case h != nil && h.Command == serveCommand:
		return "stop it first"
	}
	return "wait for it to end, or pass -wait 10m to wait for it"
}

func newLogger(stderr io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}

// openApp loads the config and opens the replica and every source. A source
// that cannot be opened becomes a failed source: its tables report the error,
// the others still run. A writer (w not nil) first takes the replica's lock.
func openApp(ctx context.Context, path string, logger *slog.Logger, w *writer) (*app, error) {
	if path == "" {
		return nil, usageErrorf("-config is required (see the config example in the README)")
	}
	cfg, err := litepull.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	return openConfig(ctx, cfg, logger, w)
}

func openConfig(ctx context.Context, cfg *litepull.Config, logger *slog.Logger, w *writer) (*app, error) {
	for _, s := range cfg.Sources {
		if _, ok := sourceKinds[s.Kind]; !ok {
			return nil, &litepull.ConfigError{Path: fmt.Sprintf("source %q kind", s.ID), Msg: fmt.Sprintf("unknown kind %q", s.Kind), Hint: "one of " + kindNames()}
		}
	}
	r, unlock, err := openReplicaOf(ctx, cfg, w)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, replica: r, unlock: unlock}
	a.local, _ = r.(*replica.Replica)
	mysql.SetLogger(logger) // the driver's own messages, at debug level
	for _, sc := range cfg.Sources {
		src, err := sourceKinds[sc.Kind](sc)
		if err != nil {
			logger.Error("open source", litepull.LogKeySource, sc.ID, litepull.LogKeyError, err)
			src = failedSource{err}
		}
		a.sources = append(a.sources, litepull.BoundSource{Config: sc, Source: src})
	}
	a.engine = litepull.NewEngine(r, a.sources, logger)
	return a, nil
}

// openReplica is an open replica: a file, or a remote service.
type openReplica interface {
	litepull.Replica
	Close() error
}

// openReplicaOf opens the config's replica. A writer (w not nil) of a
// replica file first takes its lock; a remote replica has none: its commit
// sequence refuses a second writer's commits (replica/remote).
func openReplicaOf(ctx context.Context, cfg *litepull.Config, w *writer) (openReplica, func() error, error) {
	unlock := func() error { return nil }
	if cfg.RemoteReplica != nil {
		r, err := remote.Open(ctx, *cfg.RemoteReplica)
		if err != nil {
			return nil, nil, err
		}
		return r, unlock, nil
	}
	if w != nil {
		var err error
		if unlock, err = lockReplica(ctx, cfg.Replica, w); err != nil {
			return nil, nil, err
		}
	}
	r, err := replica.Open(cfg.Replica)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return r, unlock, nil
}

// replicaName names the config's replica for messages.
func replicaName(cfg *litepull.Config) string {
	if cfg.RemoteReplica != nil {
		return cfg.RemoteReplica.String()
	}
	return cfg.Replica
}

func (a *app) Close() error {
	for _, s := range a.sources {
		s.Source.Close()
	}
	return errors.Join(a.replica.Close(), a.unlock())
}

// failedSource stands in for a source that could not be opened.
type failedSource struct{ err error }

func (f failedSource) Describe(context.Context, string) (*litepull.TableSchema, error) {
	return nil, f.err
}
func (f failedSource) ReadPage(context.Context, litepull.PageRequest) (*litepull.Page, error) {
	return nil, f.err
}
func (f failedSource) CountNullCursor(context.Context, string, string) (int64, error) {
	return 0, f.err
}
func (f failedSource) Tables(context.Context) ([]litepull.TableInfo, error) { return nil, f.err }
func (f failedSource) Ping(context.Context) error                           { return f.err }
func (f failedSource) Close() error                                         { return nil }
