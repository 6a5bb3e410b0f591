package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"

	"github.com/litepull/litepull"
)

// errNotOpened stands in for the sources, which a reset never reads.
var errNotOpened = errors.New("reset opens no source")

func runReset(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reset", flag.ContinueOnError)
	config := fs.String("config", "", "the config `file` (YAML)")
	source := fs.String("source", "", "the `id` of the source in the config")
	table := fs.String("table", "", "the source `table` name (or its replica table name)")
	wait := fs.Duration("wait", 0, waitFlag)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *config == "" || *source == "" || *table == "" {
		return usageErrorf("-config, -source and -table are required")
	}
	cfg, err := litepull.LoadConfig(*config)
	if err != nil {
		return err
	}
	api := "POST /replicate/reset?" + url.Values{"source": {*source}, "table": {*table}}.Encode()
	r, unlock, err := openReplicaOf(ctx, cfg, &writer{command: "litepull reset", wait: *wait, api: api})
	if err != nil {
		return err
	}
	defer unlock()
	defer r.Close()
	var sources []litepull.BoundSource
	for _, sc := range cfg.Sources {
		sources = append(sources, litepull.BoundSource{Config: sc, Source: failedSource{errNotOpened}})
	}
	before, err := r.States(ctx)
	if err != nil {
		return err
	}
	name, err := litepull.NewEngine(r, sources, nil).Reset(ctx, *source, *table)
	if err != nil {
		return err
	}
	if !hasState(before, *source, name) {
		fmt.Fprintf(stdout, "nothing to forget: %s/%s has no watermark yet; the next run reads it from the start\n", *source, name)
		return nil
	}
	fmt.Fprintf(stdout, "forgot the watermark of %s/%s; the next run re-reads it from the start\n", *source, name)
	return nil
}

// hasState reports whether the state table had a row for the table.
func hasState(states []litepull.State, sourceID, table string) bool {
	for _, s := range states {
		if s.SourceID == sourceID && s.Table == table {
			return true
		}
	}
	return false
}
