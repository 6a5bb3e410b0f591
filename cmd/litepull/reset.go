package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

func runReset(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reset", flag.ContinueOnError)
	config := fs.String("config", "", "config file (YAML)")
	source := fs.String("source", "", "source id")
	table := fs.String("table", "", "source table name")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *config == "" || *source == "" || *table == "" {
		return fmt.Errorf("-config, -source and -table are required")
	}
	cfg, err := litepull.LoadConfig(*config)
	if err != nil {
		return err
	}
	r, err := replica.Open(cfg.Replica)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.ResetState(ctx, *source, *table); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "forgot the watermark of %s/%s; the next run re-reads it from the start\n", *source, *table)
	return nil
}
