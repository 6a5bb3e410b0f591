package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	config := fs.String("config", "", "the config `file` (YAML)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	a, err := openApp(ctx, *config, newLogger(io.Discard, false), nil) // reads only: no lock
	if err != nil {
		return err
	}
	defer a.Close()
	checks := a.engine.Check(ctx)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tTABLE\tDEST\tCURSOR\tPRIMARY KEY\tCOLUMNS\tSTATUS")
	bad := 0
	for _, c := range checks {
		status := "ok"
		switch {
		case c.Error != "":
			status = "ERROR: " + c.Error
			bad++
		case c.Skipped != "":
			status = "skipped: " + c.Skipped
		case len(c.Warnings) > 0:
			status = "WARNING: " + strings.Join(c.Warnings, "; ")
		case c.Note != "":
			status = "ok; " + c.Note
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", c.SourceID, c.Table, c.Dest, c.Cursor, strings.Join(c.PK, ","), c.Columns, status)
	}
	tw.Flush()
	if bad > 0 {
		return exitError{1, fmt.Sprintf("%d problem(s) found", bad)}
	}
	fmt.Fprintln(stdout, "config ok")
	return nil
}
