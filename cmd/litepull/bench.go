package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/litepull/litepull/internal/bench"
)

const benchSchema = "litepull_bench"

// benchReplica is the replica file internal/bench writes in -dir.
const benchReplica = "bench-replica.db"

// benchFlags are bench's flags; the parent passes them on to the child
// process of each phase.
type benchFlags struct {
	rows, page, rounds, reconcile int
	kind, pgDSN, myDSN, dir       string
	keep, clustered, stream       bool
	commits, clients, rate        int
	latencyFor                    time.Duration
	phase, slot, cpuProfile       string
}

func parseBenchFlags(args []string) (*benchFlags, error) {
	f := &benchFlags{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&f.rows, "rows", 1_000_000, "rows in the benchmark table")
	fs.StringVar(&f.kind, "source", "postgres", "source to load from: postgres or mysql")
	fs.StringVar(&f.pgDSN, "pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "Postgres DSN the benchmark table is created in (schema "+benchSchema+")")
	fs.StringVar(&f.myDSN, "mysql", "root@tcp(127.0.0.1:3306)/", "MySQL/MariaDB DSN the benchmark database "+benchSchema+" is created on")
	fs.IntVar(&f.page, "page", 5000, "page size")
	fs.IntVar(&f.rounds, "rounds", 1, "measure each phase this many times, alternating")
	fs.StringVar(&f.dir, "dir", os.TempDir(), "directory for the replica file")
	fs.BoolVar(&f.keep, "keep", false, "keep the benchmark table for the next run")
	fs.IntVar(&f.reconcile, "reconcile", 0, "instead: delete this many rows at the source and compare finding them by reconciliation with reading every key (postgres)")
	fs.BoolVar(&f.clustered, "clustered", false, "with -reconcile: delete rows close together instead of spread over the table")
	fs.BoolVar(&f.stream, "stream", false, "instead: measure change streams against polling: snapshot copy, one large transaction, single-row commits, commit-to-visible latency (postgres: changes: logical, wal_level = logical; mysql: changes: binlog, binlog_format = ROW)")
	fs.IntVar(&f.commits, "commits", 20_000, "with -stream: single-row transactions to commit")
	fs.IntVar(&f.clients, "clients", 4, "with -stream: connections that commit the single-row transactions")
	fs.IntVar(&f.rate, "rate", 1000, "with -stream: commits per second while latency is measured")
	fs.DurationVar(&f.latencyFor, "latency-for", 10*time.Second, "with -stream: how long latency is measured")
	fs.StringVar(&f.phase, "phase", "", "internal: run one phase and print its result as JSON")
	fs.StringVar(&f.slot, "slot", "", "internal: with -phase, the slot and publication of a stream phase")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "with -phase: write a CPU profile to this file")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	return f, f.check()
}

func (f *benchFlags) check() error {
	switch {
	case f.kind != "postgres" && f.kind != "mysql":
		return usageErrorf("-source %q: want postgres or mysql", f.kind)
	case f.reconcile > 0 && f.kind != "postgres":
		return usageErrorf("-reconcile measures the postgres source")
	case f.reconcile > 0 && f.stream:
		return usageErrorf("-reconcile or -stream, not both")
	case f.rounds < 1 || f.commits < 1 || f.clients < 1 || f.rate < 1 || f.latencyFor < time.Second:
		return usageErrorf("-rounds, -commits, -clients and -rate must be at least 1, -latency-for at least 1s")
	}
	return nil
}

// dsn is the DSN of the source being benchmarked.
func (f *benchFlags) dsn() string {
	if f.kind == "mysql" {
		return f.myDSN
	}
	return f.pgDSN
}

// childArgs run phase in a child process with the same settings.
func (f *benchFlags) childArgs(phase string) []string {
	return []string{"bench", "-source", f.kind, "-rows", strconv.Itoa(f.rows), "-pg", f.pgDSN, "-mysql", f.myDSN,
		"-page", strconv.Itoa(f.page), "-dir", f.dir, "-commits", strconv.Itoa(f.commits), "-clients", strconv.Itoa(f.clients),
		"-rate", strconv.Itoa(f.rate), "-latency-for", f.latencyFor.String(), "-phase", phase}
}

// runBench loads a Postgres table into a fresh replica and measures it
// against SQLite's write ceiling (or, with -stream, against change
// streams). Each phase runs in a child process of its own so that its
// peak RSS is its own.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseBenchFlags(args)
	if err != nil {
		return err
	}
	if f.phase != "" {
		return runPhase(ctx, f, stdout)
	}
	// The phases (child processes, or reconcile here) write one replica
	// file in -dir: held for the whole benchmark, so two benchmarks in one
	// directory do not overwrite each other's.
	unlock, err := lockReplica(ctx, filepath.Join(f.dir, benchReplica), &writer{command: "litepull bench"})
	if err != nil {
		return err
	}
	defer unlock()
	fmt.Fprintf(stdout, "preparing %d rows in %s (%s.%s) ...\n", f.rows, f.kind, benchSchema, bench.Table)
	prepare, drop := bench.Prepare, bench.Drop
	if f.kind == "mysql" {
		prepare, drop = bench.PrepareMySQL, bench.DropMySQL
	}
	if err := prepare(ctx, f.dsn(), benchSchema, f.rows); err != nil {
		return err
	}
	if !f.keep || f.reconcile > 0 { // rows were deleted: never keep that table
		defer drop(context.WithoutCancel(ctx), f.dsn(), benchSchema)
	}
	switch {
	case f.reconcile > 0:
		return benchReconcile(ctx, f, stdout)
	case f.stream:
		return benchStream(ctx, f, stdout, stderr)
	}
	return benchLoad(ctx, f, stdout, stderr)
}

// runPhase runs one phase (in a child process) and prints its result as
// JSON.
func runPhase(ctx context.Context, f *benchFlags, stdout io.Writer) (err error) {
	if f.cpuProfile != "" {
		stop, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	var res any
	switch f.phase {
	case "ceiling":
		res, err = bench.Ceiling(ctx, f.dir, f.rows, f.page)
	case "replicate":
		res, err = expectRows(f.rows)(bench.Replicate(ctx, f.dir, f.kind, f.dsn(), benchSchema, f.page))
	case "snapshot":
		res, err = expectRows(f.rows)(bench.Snapshot(ctx, f.dir, f.kind, f.dsn(), benchSchema, f.slot, f.page))
	case "bigtx":
		res, err = expectRows(f.rows)(bench.BigTx(ctx, f.dir, f.kind, f.dsn(), benchSchema, f.slot))
	case "commits":
		res, err = bench.Commits(ctx, f.dir, f.kind, f.dsn(), benchSchema, f.slot, f.commits, f.clients)
	case "latency":
		res, err = bench.Latency(ctx, f.dir, f.kind, f.dsn(), benchSchema, f.slot, f.rate, f.clients, f.latencyFor)
	default:
		return fmt.Errorf("unknown phase %q", f.phase)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(res)
}

// expectRows fails a load that did not load rows rows.
func expectRows(rows int) func(bench.Result, error) (bench.Result, error) {
	return func(res bench.Result, err error) (bench.Result, error) {
		if err == nil && res.Rows != int64(rows) {
			err = fmt.Errorf("replicated %d rows, want %d", res.Rows, rows)
		}
		return res, err
	}
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// benchLoad measures the replica writer's ceiling and a load through the
// engine, alternating, each in a child process.
func benchLoad(ctx context.Context, f *benchFlags, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "page size %d, %d round(s)\n\n", f.page, f.rounds)
	var best [2]float64
	for range f.rounds {
		for j, ph := range []string{"ceiling", "replicate"} {
			res, rss, err := benchChild[bench.Result](ctx, exe, f.childArgs(ph), stderr)
			if err != nil {
				return fmt.Errorf("%s phase: %w", ph, err)
			}
			label := map[string]string{"ceiling": "SQLite ceiling (generated rows, same writer)", "replicate": "litepull " + f.kind + " -> replica (drain)"}[ph]
			fmt.Fprintf(stdout, "%-46s %9.0f rows/s  %6.2fs  peak RSS %5.1f MB\n", label, res.RowsPerSec(), res.Duration.Seconds(), mb(rss))
			best[j] = max(best[j], res.RowsPerSec())
		}
	}
	fmt.Fprintf(stdout, "\nratio litepull / ceiling (best of each): %.2f\n", best[1]/best[0])
	return nil
}

// benchReconcile compares finding deletes by reconciliation with reading
// every key.
func benchReconcile(ctx context.Context, f *benchFlags, stdout io.Writer) error {
	res, err := bench.Reconcile(ctx, f.dir, f.pgDSN, benchSchema, f.page, f.reconcile, f.clustered)
	if err != nil {
		return err
	}
	spread := "spread over the table"
	if f.clustered {
		spread = "close together"
	}
	fmt.Fprintf(stdout, "%d rows, %d deleted at the source, %s\n", res.Rows, res.Deleted, spread)
	fmt.Fprintf(stdout, "reconcile (found %d):  %8.3fs  %10d bytes read\n", res.Found, res.ReconcileTime.Seconds(), res.ReconcileBytes)
	fmt.Fprintf(stdout, "full key scan:         %8.3fs  %10d bytes read\n", res.ScanTime.Seconds(), res.ScanBytes)
	fmt.Fprintf(stdout, "reconcile / scan: %.2f of the time, %.3f of the bytes\n",
		res.ReconcileTime.Seconds()/res.ScanTime.Seconds(), float64(res.ReconcileBytes)/float64(res.ScanBytes))
	return nil
}

// benchChild runs one phase in a child process and returns its result and
// peak RSS in KiB.
func benchChild[T any](ctx context.Context, exe string, args []string, stderr io.Writer) (T, int64, error) {
	var out bytes.Buffer
	var res T
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stdout, cmd.Stderr = &out, stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return res, 0, err
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, 0, fmt.Errorf("child output %q: %w (after %s)", out.String(), err, time.Since(start))
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return res, rss, nil
}

// mb is KiB in MB, as peak RSS is shown.
func mb(kib int64) float64 { return float64(kib) / 1024 }
