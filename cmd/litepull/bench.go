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

// runBench loads a Postgres table into a fresh replica and measures it
// against SQLite's write ceiling. Each phase runs in a child process of its
// own so that its peak RSS is its own.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	rows := fs.Int("rows", 1_000_000, "rows in the benchmark table")
	kind := fs.String("source", "postgres", "source to load from: postgres or mysql")
	pgDSN := fs.String("pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "Postgres DSN the benchmark table is created in (schema "+benchSchema+")")
	myDSN := fs.String("mysql", "root@tcp(127.0.0.1:3306)/", "MySQL/MariaDB DSN the benchmark database "+benchSchema+" is created on")
	page := fs.Int("page", 5000, "page size")
	rounds := fs.Int("rounds", 1, "measure each phase this many times, alternating")
	dir := fs.String("dir", os.TempDir(), "directory for the replica file")
	keep := fs.Bool("keep", false, "keep the benchmark table for the next run")
	phase := fs.String("phase", "", "internal: run one phase and print its result as JSON")
	cpuProfile := fs.String("cpuprofile", "", "with -phase: write a CPU profile to this file")
	reconcile := fs.Int("reconcile", 0, "instead: delete this many rows at the source and compare finding them by reconciliation with reading every key (postgres)")
	clustered := fs.Bool("clustered", false, "with -reconcile: delete rows close together instead of spread over the table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	switch *phase {
	case "ceiling":
		res, err := bench.Ceiling(ctx, *dir, *rows, *page)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(res)
	case "replicate":
		res, err := bench.Replicate(ctx, *dir, *kind, sourceDSN(*kind, *pgDSN, *myDSN), benchSchema, *page)
		if err != nil {
			return err
		}
		if res.Rows != int64(*rows) {
			return fmt.Errorf("replicated %d rows, want %d", res.Rows, *rows)
		}
		return json.NewEncoder(stdout).Encode(res)
	case "":
	default:
		return fmt.Errorf("unknown phase %q", *phase)
	}

	// The phases (child processes, or reconcile here) write one replica
	// file in -dir: held for the whole benchmark, so two benchmarks in one
	// directory do not overwrite each other's.
	unlock, err := lockReplica(ctx, filepath.Join(*dir, benchReplica), &writer{command: "litepull bench"})
	if err != nil {
		return err
	}
	defer unlock()
	fmt.Fprintf(stdout, "preparing %d rows in %s (%s.%s) ...\n", *rows, *kind, benchSchema, bench.Table)
	prepare, drop := bench.Prepare, bench.Drop
	switch *kind {
	case "postgres":
	case "mysql":
		prepare, drop = bench.PrepareMySQL, bench.DropMySQL
	default:
		return fmt.Errorf("-source %q: want postgres or mysql", *kind)
	}
	dsn := sourceDSN(*kind, *pgDSN, *myDSN)
	if err := prepare(ctx, dsn, benchSchema, *rows); err != nil {
		return err
	}
	if !*keep {
		defer drop(context.WithoutCancel(ctx), dsn, benchSchema)
	}
	if *reconcile > 0 {
		if *kind != "postgres" {
			return fmt.Errorf("-reconcile measures the postgres source")
		}
		defer bench.Drop(context.WithoutCancel(ctx), dsn, benchSchema) // rows were deleted: never keep this table
		res, err := bench.Reconcile(ctx, *dir, dsn, benchSchema, *page, *reconcile, *clustered)
		if err != nil {
			return err
		}
		spread := "spread over the table"
		if *clustered {
			spread = "close together"
		}
		fmt.Fprintf(stdout, "%d rows, %d deleted at the source, %s\n", res.Rows, res.Deleted, spread)
		fmt.Fprintf(stdout, "reconcile (found %d):  %8.3fs  %10d bytes read\n", res.Found, res.ReconcileTime.Seconds(), res.ReconcileBytes)
		fmt.Fprintf(stdout, "full key scan:         %8.3fs  %10d bytes read\n", res.ScanTime.Seconds(), res.ScanBytes)
		fmt.Fprintf(stdout, "reconcile / scan: %.2f of the time, %.3f of the bytes\n",
			res.ReconcileTime.Seconds()/res.ScanTime.Seconds(), float64(res.ReconcileBytes)/float64(res.ScanBytes))
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	common := []string{"bench", "-source", *kind, "-rows", strconv.Itoa(*rows), "-pg", *pgDSN, "-mysql", *myDSN, "-page", strconv.Itoa(*page), "-dir", *dir}
	fmt.Fprintf(stdout, "page size %d, %d round(s)\n\n", *page, *rounds)
	var best [2]float64
	for i := 0; i < *rounds; i++ {
		for j, ph := range []string{"ceiling", "replicate"} {
			res, rss, err := benchChild(ctx, exe, append(common, "-phase", ph), stderr)
			if err != nil {
				return fmt.Errorf("%s phase: %w", ph, err)
			}
			label := map[string]string{"ceiling": "SQLite ceiling (generated rows, same writer)", "replicate": "litepull " + *kind + " -> replica (drain)"}[ph]
			fmt.Fprintf(stdout, "%-46s %9.0f rows/s  %6.2fs  peak RSS %5.1f MB\n", label, res.RowsPerSec(), res.Duration.Seconds(), float64(rss)/1024)
			best[j] = max(best[j], res.RowsPerSec())
		}
	}
	fmt.Fprintf(stdout, "\nratio litepull / ceiling (best of each): %.2f\n", best[1]/best[0])
	return nil
}

// benchChild runs one phase in a child process and returns its result and
// peak RSS in KiB.
func benchChild(ctx context.Context, exe string, args []string, stderr io.Writer) (bench.Result, int64, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stdout, cmd.Stderr = &out, stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return bench.Result{}, 0, err
	}
	var res bench.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, 0, fmt.Errorf("child output %q: %w (after %s)", out.String(), err, time.Since(start))
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return res, rss, nil
}

// sourceDSN is the DSN of the source being benchmarked.
func sourceDSN(kind, pg, my string) string {
	if kind == "mysql" {
		return my
	}
	return pg
}
